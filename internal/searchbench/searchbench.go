// Package searchbench measures the name search on a large synthetic
// population: it fills an empty database with generated people, each with a
// Latin name, a Chinese name and a romanization or misspelling, opens a case
// for each across several desks, then times searches of every kind a
// consular officer types, as an HQ officer whose need-to-know covers one
// desk in ten.
package searchbench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mozillazg/go-pinyin"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/names"
)

// Options configure a run.
type Options struct {
	People  int // people to generate (each with 3 name variants and a case)
	Queries int // searches to time
	Seed    uint64
}

var given = strings.Fields(`Michael John David James Robert William Richard Thomas Charles Daniel Matthew Anthony Mark Paul Steven
Andrew Kenneth Joshua Kevin Brian George Edward Ronald Timothy Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry
Justin Scott Brandon Benjamin Samuel Gregory Frank Alexander Raymond Patrick Jack Dennis Jerry Tyler Aaron Jose Adam Henry Nathan
Douglas Zachary Peter Kyle Walter Ethan Jeremy Harold Keith Christian Roger Noah Gerald Carl Terry Sean Austin Arthur Lawrence
Jesse Dylan Bryan Joe Jordan Billy Bruce Albert Willie Gabriel Logan Alan Juan Wayne Roy Ralph Randy Eugene Vincent Russell Elijah
Louis Bobby Philip Johnny Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Nancy Lisa Betty Margaret Sandra
Ashley Kimberly Emily Donna Michelle Dorothy Carol Amanda Melissa Deborah Stephanie Rebecca Sharon Laura Cynthia Kathleen Amy
Shirley Angela Helen Anna Brenda Pamela Nicole Emma Samantha Katherine Christine Debra Rachel Catherine Carolyn Janet Ruth Maria
Heather Diane Virginia Julie Joyce Victoria Olivia Kelly Christina Lauren Joan Evelyn Judith Megan Cheryl Andrea Hannah Martha
Jacqueline Frances Gloria Ann Teresa Kathryn Sara Janice Jean Alice Madison Doris Abigail Julia Judy Grace Denise Amber Marilyn
Beverly Danielle Theresa Sophia Marie Diana Brittany Natalie Isabella Charlotte Rose Alexis Kayla Vina Dominic Ivan Olga Nadia
Pierre Marc Luc Sylvie Chantal Amir Reza Leila Omar Yusuf Fatima Hana Mei Wei Lin Tariq Kofi Ama Sipho Thabo Aiko Kenji`)

var family = strings.Fields(`Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez
Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young
Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez
Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan
Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz
Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman
Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace
Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez
McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter
Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox
Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer
Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane
Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Pena Richards Contreras Willis Carpenter Lawrence
Sandoval Guerrero George Chapman Rios Estrada Ortega Watkins Greene Nunez Wheeler Valdez Harper Burke Larson Santiago Maldonado
Morrison Franklin Carlson Austin Dominguez Carr Lawson Jacobs Obrien Lynch Singh Vega Bishop Montgomery Oliver Jensen Harvey
Williamson Gilbert Dean Sims Espinoza Howell Li Wong Reid Hanson Le McCoy Garrett Burton Fuller Wang Weber Welch Rojas Lucas
Marquez Fields Park Yang Little Banks Padilla Day Walsh Bowman Schultz Luna Fowler Mejia Davidson Acosta Brewer May Holland Juarez
Newman Pearson Curtis Cortez Douglas Schneider Joseph Barrett Navarro Figueroa Keller Avila Wade Molina Stanley Hopkins Campos
Barnett Bates Chambers Caldwell Beck Lambert Miranda Byrd Craig Ayala Lowe Frazier Powers Neal Leonard Gregory Carrillo Sutton
Fleming Rhodes Shelton Schwartz Norris Jennings Watts Duran Walters Cohen McDaniel Moran Parks Steele Vaughn Becker Holt Deleon
Barker Terry Hale Leon Hail Benson Haynes Horton Miles Lyons Pham Graves Bush Thornton Wolfe Warner Cabrera McKinney Mann Zimmerman
Dawson Lara Fletcher Page McCarthy Love Robles Cervantes Solis Erickson Reeves Chang Klein Salinas Fuentes Baldwin Daniel Simon
Velasquez Hardy Higgins Aguirre Lin Cummings Chandler Sharp Barber Bowen Ochoa Dennis Robbins Liu Ramsey Francis Griffith Paul
Blair Oconnor Cardenas Pacheco Cross Calderon Quinn Moss Swanson Chan Rivas Khan Rodgers Serrano Fitzgerald Rosales Stevenson
Christensen Manning Gill Curry McLaughlin Harmon McGee Gross Doyle Garner Newton Burgess Reese Walton Blake Trujillo Adkins Brady
Goodman Roman Webster Goodwin Fischer Huang Potter Delacruz Montoya Todd Wu Hines Mullins Castaneda Malone Cannon Tate Mack Sherman
Kovrig Spavor Nadjibulla Barton Petrov Ivanov Kowalski Novak Horvat Popescu Nagy Dubois Lefebvre Tremblay Gagnon Roy Cote Bouchard`)

var hanSurnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤康")
var hanGiven = []rune("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕建国志强文辉鹏飞晓东海波宇浩然子涵欣怡梓轩一诺思远佳琪俊杰雨桐嘉怡晨阳天佑博文雅婷慧敏立新永强德明凯晚舟达民")

// person is one generated person.
type person struct {
	id, caseID, desk string
	names            [3]cases.Name
	keys             [3][]string
	nameIDs          [3]string
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// misspell swaps two neighbouring letters of a word.
func misspell(r *rand.Rand, w string) string {
	b := []rune(w)
	if len(b) < 4 {
		return w
	}
	i := 1 + r.IntN(len(b)-2)
	b[i], b[i+1] = b[i+1], b[i]
	return string(b)
}

func generate(r *rand.Rand, i int) person {
	g, f := pick(r, given), pick(r, family)
	han := string(pick(r, hanSurnames)) + string(pick(r, hanGiven))
	if r.IntN(3) > 0 {
		han += string(pick(r, hanGiven))
	}
	p := person{id: db.NewID(), caseID: db.NewID(), desk: fmt.Sprintf("Desk %d", i%10)}
	p.names[0] = cases.Name{Value: g + " " + f, Script: "Latn", Kind: "legal", Display: true}
	p.names[1] = cases.Name{Value: han, Script: "Hans", Lang: "zh", Kind: "local_chosen"}
	if r.IntN(2) == 0 {
		py := pinyin.LazyPinyin(han, pinyin.NewArgs())
		p.names[2] = cases.Name{Value: strings.ToUpper(py[0][:1]) + py[0][1:] + " " + strings.Join(py[1:], ""), Script: "Latn", Kind: "romanization"}
	} else {
		p.names[2] = cases.Name{Value: g + " " + misspell(r, f), Script: "Latn", Kind: "misspelling"}
	}
	return p
}

// Run fills d (which must be empty of cases, or hold a previous run of the
// same size) and times the searches, writing a report to out.
func Run(ctx context.Context, d *db.DB, o Options, out io.Writer) error {
	folder, err := names.NewFolder()
	if err != nil {
		return err
	}
	if err := d.Migrate(ctx); err != nil {
		return err
	}
	marker := fmt.Sprintf("searchbench people=%d seed=%d", o.People, o.Seed)
	var have string
	_ = d.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'searchbench'`).Scan(&have)
	var existing int
	if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM cases`).Scan(&existing); err != nil {
		return err
	}
	switch {
	case have == marker:
		fmt.Fprintf(out, "reusing the %d generated people already in the database\n", o.People)
	case existing > 0 || have != "":
		return fmt.Errorf("the database already holds cases (or another benchmark run): use an empty database")
	default:
		start := time.Now()
		if err := fill(ctx, d, folder, o, out); err != nil {
			return err
		}
		if _, err := d.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ('searchbench', $1, 0)`, marker); err != nil {
			return err
		}
		if _, err := d.ExecContext(ctx, `ANALYZE`); err != nil {
			return err
		}
		fmt.Fprintf(out, "generated %d people, %d names and their cases in %s\n", o.People, 3*o.People, time.Since(start).Round(time.Second))
	}
	if err := reportSize(ctx, d, out); err != nil {
		return err
	}
	return timeQueries(ctx, d, folder, o, out)
}

const batch = 400

func fill(ctx context.Context, d *db.DB, folder *names.Folder, o Options, out io.Writer) error {
	people := make(chan []person, 4)
	var genErr error
	go func() {
		defer close(people)
		r := rand.New(rand.NewPCG(o.Seed, 7))
		workers := runtime.GOMAXPROCS(0)
		for done := 0; done < o.People; done += batch * workers {
			chunks := make([][]person, workers)
			var wg sync.WaitGroup
			for w := range workers {
				start := done + w*batch
				n := min(batch, o.People-start)
				if n <= 0 {
					break
				}
				list := make([]person, n)
				for i := range list {
					list[i] = generate(r, start+i)
				}
				chunks[w] = list
				wg.Go(func() {
					for i := range list {
						for v := range 3 {
							list[i].keys[v] = folder.Keys(list[i].names[v].Value)
							list[i].nameIDs[v] = db.NewID()
						}
					}
				})
			}
			wg.Wait()
			for _, c := range chunks {
				if len(c) > 0 {
					select {
					case people <- c:
					case <-ctx.Done():
						genErr = ctx.Err()
						return
					}
				}
			}
		}
	}()
	// People, names and cases have time-ordered ids and go in as they are
	// made; the search keys are kept and written at the end in key order,
	// so that the key index grows at its end instead of at random places.
	var keys []keyRow
	written, last := 0, time.Now()
	for list := range people {
		if err := insertBatch(ctx, d, list); err != nil {
			return err
		}
		for _, p := range list {
			for v := range 3 {
				for _, k := range p.keys[v] {
					keys = append(keys, keyRow{k, p.id, p.nameIDs[v]})
				}
			}
		}
		written += len(list)
		if time.Since(last) > 10*time.Second {
			fmt.Fprintf(out, "  %d people written\n", written)
			last = time.Now()
		}
	}
	if genErr != nil {
		return genErr
	}
	slices.SortFunc(keys, func(a, b keyRow) int {
		return strings.Compare(a.key+"\x00"+a.person+"\x00"+a.name, b.key+"\x00"+b.person+"\x00"+b.name)
	})
	keys = slices.CompactFunc(keys, func(a, b keyRow) bool { return a == b })
	fmt.Fprintf(out, "  writing %d search keys in key order\n", len(keys))
	for len(keys) > 0 {
		n := min(len(keys), 20000)
		if err := insertKeys(ctx, d, keys[:n]); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

type keyRow struct{ key, person, name string }

// values builds a multi-row INSERT. SQLite looks named parameters up one by
// one: thousands of $N in one statement cost quadratic time, so it gets ?.
func values(engine db.Engine, table, cols string, n, width int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + cols + ") VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range width {
			if j > 0 {
				b.WriteByte(',')
			}
			if engine == db.SQLite {
				b.WriteByte('?')
			} else {
				fmt.Fprintf(&b, "$%d", i*width+j+1)
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

func insertKeys(ctx context.Context, d *db.DB, keys []keyRow) error {
	return d.InTx(ctx, func(tx *sql.Tx) error {
		for len(keys) > 0 {
			n := min(len(keys), 2000)
			args := make([]any, 0, 3*n)
			for _, k := range keys[:n] {
				args = append(args, k.key, k.person, k.name)
			}
			if _, err := tx.ExecContext(ctx, values(d.Engine, "name_keys", "key, person_id, name_id", n, 3), args...); err != nil {
				return fmt.Errorf("insert keys: %w", err)
			}
			keys = keys[n:]
		}
		return nil
	})
}

// insertBatch writes people with multi-row INSERTs in one transaction.
func insertBatch(ctx context.Context, d *db.DB, list []person) error {
	return d.InTx(ctx, func(tx *sql.Tx) error {
		now := db.Instant(time.Now())
		rows := func(table, cols string, n, width int, args []any) error {
			_, err := tx.ExecContext(ctx, values(d.Engine, table, cols, n, width), args...)
			return err
		}
		var args []any
		for _, p := range list {
			args = append(args, p.id, p.names[0].Value, "unknown", "", now, now)
		}
		if err := rows("people", "id, display_name, sex, birth, created_at, updated_at", len(list), 6, args); err != nil {
			return fmt.Errorf("insert people: %w", err)
		}
		args = args[:0]
		for _, p := range list {
			for v, n := range p.names {
				args = append(args, p.nameIDs[v], p.id, n.Value, n.Script, n.Lang, n.Kind, n.Display, now)
			}
		}
		if err := rows("person_names", "id, person_id, value, script, lang, kind, is_display, created_at", 3*len(list), 8, args); err != nil {
			return fmt.Errorf("insert names: %w", err)
		}
		args = args[:0]
		for _, p := range list {
			args = append(args, p.caseID, "BENCH-"+p.caseID, p.id, "open", "pretrial", "CN", "criminal_detention", "normal", "protected_b", "Beijing", p.desk, now, now, now)
		}
		if err := rows("cases", "id, reference, person_id, status, legal_status, detaining_state, detention_type, priority, classification, post, desk, opened_at, created_at, updated_at", len(list), 14, args); err != nil {
			return fmt.Errorf("insert cases: %w", err)
		}
		return nil
	})
}

func reportSize(ctx context.Context, d *db.DB, out io.Writer) error {
	var rows int64
	if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM name_keys`).Scan(&rows); err != nil {
		return err
	}
	if d.Engine == db.Postgres {
		var table, indexes int64
		if err := d.QueryRowContext(ctx, `SELECT pg_table_size('name_keys'), pg_indexes_size('name_keys')`).Scan(&table, &indexes); err != nil {
			return err
		}
		fmt.Fprintf(out, "search keys: %d rows; name_keys table %s, its indexes %s\n", rows, mib(table), mib(indexes))
		return nil
	}
	var keysBytes int64
	err := d.QueryRowContext(ctx, `SELECT SUM(pgsize) FROM dbstat WHERE name IN ('name_keys', 'sqlite_autoindex_name_keys_1', 'name_keys_name')`).Scan(&keysBytes)
	fi, ferr := os.Stat(d.Path)
	if ferr != nil {
		return ferr
	}
	if err != nil {
		fmt.Fprintf(out, "search keys: %d rows; database file %s (this SQLite build has no dbstat)\n", rows, mib(fi.Size()))
		return nil
	}
	fmt.Fprintf(out, "search keys: %d rows; name_keys with its indexes %s; database file %s (%s)\n", rows, mib(keysBytes), mib(fi.Size()), filepath.Base(d.Path))
	return nil
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// queryKinds are what officers type, made from a generated person.
var queryKinds = []struct {
	name string
	make func(r *rand.Rand, p person) string
}{
	{"full name", func(_ *rand.Rand, p person) string { return p.names[0].Value }},
	{"reversed, upper case", func(_ *rand.Rand, p person) string {
		f := strings.Fields(p.names[0].Value)
		return strings.ToUpper(f[1] + ", " + f[0])
	}},
	{"surname only", func(_ *rand.Rand, p person) string { return strings.Fields(p.names[0].Value)[1] }},
	{"Chinese name", func(_ *rand.Rand, p person) string { return p.names[1].Value }},
	{"pinyin, no spaces", func(_ *rand.Rand, p person) string {
		return strings.Join(pinyin.LazyPinyin(p.names[1].Value, pinyin.NewArgs()), "")
	}},
	{"misspelt surname", func(r *rand.Rand, p person) string {
		f := strings.Fields(p.names[0].Value)
		return f[0] + " " + misspell(r, f[1])
	}},
	{"prefix while typing", func(_ *rand.Rand, p person) string {
		f := strings.Fields(p.names[0].Value)
		return f[0] + " " + f[1][:min(4, len(f[1]))]
	}},
}

func timeQueries(ctx context.Context, d *db.DB, folder *names.Folder, o Options, out io.Writer) error {
	a := audit.New(d)
	svc := cases.NewService(d, a, folder)
	// An HQ officer of one desk in ten: the need-to-know filter is at work.
	officer := &auth.User{ID: "bench-officer", Username: "bench", Role: auth.RoleHQOfficer, Desk: "Desk 3"}
	actor := cases.Actor{User: officer, Address: "127.0.0.1"}
	r := rand.New(rand.NewPCG(o.Seed, 7))
	// Regenerate the same population's first people as query sources.
	sources := make([]person, min(o.People, 20000))
	for i := range sources {
		sources[i] = generate(r, i)
	}
	qr := rand.New(rand.NewPCG(o.Seed+1, 11))
	perKind := map[string][]time.Duration{}
	var all []time.Duration
	found, visible := map[string]int{}, map[string]int{}
	for i := range o.Queries {
		p := sources[qr.IntN(len(sources))]
		k := queryKinds[i%len(queryKinds)]
		q := k.make(qr, p)
		start := time.Now()
		ms, err := svc.SearchPeople(ctx, actor, q, 20)
		el := time.Since(start)
		if err != nil {
			return fmt.Errorf("search %q: %w", q, err)
		}
		perKind[k.name] = append(perKind[k.name], el)
		all = append(all, el)
		if p.desk == officer.Desk {
			visible[k.name]++
			for _, m := range ms {
				if m.DisplayName == p.names[0].Value && slices.ContainsFunc(m.Names, func(n cases.Name) bool { return n.Value == p.names[1].Value }) {
					found[k.name]++
					break
				}
			}
		}
	}
	fmt.Fprintf(out, "%d searches as an HQ officer of one desk in ten (%s, %d people):\n", o.Queries, d.Engine, o.People)
	fmt.Fprintf(out, "  %-22s %8s %8s %8s  %s\n", "query", "p50", "p99", "max", "found (of the searches for someone the officer may see)")
	tf, tv := 0, 0
	for _, k := range queryKinds {
		p50, p99, mx := percentiles(perKind[k.name])
		fmt.Fprintf(out, "  %-22s %8s %8s %8s  %d/%d\n", k.name, p50, p99, mx, found[k.name], visible[k.name])
		tf, tv = tf+found[k.name], tv+visible[k.name]
	}
	p50, p99, mx := percentiles(all)
	fmt.Fprintf(out, "  %-22s %8s %8s %8s  %d/%d\n", "all", p50, p99, mx, tf, tv)
	if tv > 0 {
		fmt.Fprintf(out, "the searched person was among the first 20 results in %.1f%% of the searches for people the officer may see\n",
			100*float64(tf)/float64(tv))
	}
	fmt.Fprintf(out, "engine=%s people=%d p50=%s p99=%s\n", d.Engine, o.People, p50, p99)
	return nil
}

func percentiles(ds []time.Duration) (p50, p99, mx time.Duration) {
	if len(ds) == 0 {
		return
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		return s[min(len(s)-1, int(q*float64(len(s))))].Round(10 * time.Microsecond)
	}
	return at(0.50), at(0.99), s[len(s)-1].Round(10 * time.Microsecond)
}

package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/edate"
	"github.com/attache-org/attache/internal/names"
	"github.com/attache-org/attache/internal/problem"
)

// Service reads and changes case files for users, under the authorization
// policy, writing every read and change to the audit log.
type Service struct {
	db     *db.DB
	audit  *audit.Log
	policy auth.Policy
	names  *names.Folder
	now    func() time.Time
}

// NewService returns the case service.
func NewService(d *db.DB, a *audit.Log, f *names.Folder) *Service {
	return &Service{db: d, audit: a, names: f, now: time.Now}
}

// SetClock replaces the clock, for tests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Names returns the name folder, for callers that rank or fold names.
func (s *Service) Names() *names.Folder { return s.names }

// Actor is who is acting, and from where.
type Actor struct {
	User    *auth.User
	Address string
}

func (a Actor) audit() audit.Actor { return a.User.Actor(a.Address) }

var errNoCase = problem.New(problem.NotFound, "No such case, or it is not yours to see.")
var errNoPerson = problem.New(problem.NotFound, "No such person, or they are not yours to see.")

// ---- facilities ----

// FacilityInput is what a form gives for a facility.
type FacilityInput struct {
	Names    []FacilityName
	Country  string
	City     string
	TimeZone string
	Address  string
	Kind     string
	Post     string // the post that keeps its record; a consular officer's own by default
}

func (in *FacilityInput) validate() error {
	f := problem.Fields{}
	in.Post = clean(in.Post)
	in.Country, in.City, in.TimeZone, in.Address, in.Kind = strings.ToUpper(clean(in.Country)), clean(in.City), clean(in.TimeZone), clean(in.Address), clean(in.Kind)
	var kept []FacilityName
	for _, n := range in.Names {
		n.Value, n.Lang = clean(n.Value), clean(n.Lang)
		if n.Value == "" {
			continue
		}
		if names.Misleading(n.Value) {
			f.Add("names", "A name has an invisible control character: type it again.")
		}
		if n.Lang == "" || !ValidLanguage(n.Lang) {
			f.Add("names", "Give each name's language as a code such as en or zh.")
		}
		kept = append(kept, n)
	}
	in.Names = kept
	if len(in.Names) == 0 {
		f.Add("names", "Give the facility at least one name.")
	}
	if _, ok := CountryName(in.Country); !ok {
		f.Add("country", "Choose the country the facility is in.")
	}
	if _, err := edate.LoadZone(in.TimeZone); err != nil {
		f.Add("time_zone", "Choose a time zone that exists, e.g. Asia/Shanghai.")
	}
	return f.Err()
}

// CreateFacility adds a facility to the registry.
func (s *Service) CreateFacility(ctx context.Context, a Actor, in FacilityInput) (*Facility, error) {
	if !s.policy.Can(a.User, auth.ManageFacility, nil) {
		return nil, problem.New(problem.Forbidden, "You may not change the facility registry.")
	}
	if in.Post == "" && a.User.Role != auth.RoleAdmin && a.User.Role != auth.RoleHQOfficer {
		in.Post = a.User.Post
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	if !s.policy.CanManageFacility(a.User, in.Post) {
		return nil, problem.Field("post", "You keep the facilities of your own post only.")
	}
	fac := &Facility{ID: db.NewID(), Names: in.Names, Country: in.Country, City: in.City, TimeZone: in.TimeZone, Address: in.Address, Kind: in.Kind, Post: in.Post}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		now := db.Instant(s.now())
		if _, err := tx.ExecContext(ctx, `INSERT INTO facilities (id, country, city, time_zone, address, kind, post, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`, fac.ID, fac.Country, fac.City, fac.TimeZone, fac.Address, fac.Kind, fac.Post, now); err != nil {
			return fmt.Errorf("insert facility: %w", err)
		}
		if err := writeFacilityNames(ctx, tx, fac); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.audit(), Action: "facility.create", ObjectType: "facility", ObjectID: fac.ID, Detail: fac.Name()})
	})
	if err != nil {
		return nil, err
	}
	return fac, nil
}

func writeFacilityNames(ctx context.Context, tx *sql.Tx, fac *Facility) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM facility_names WHERE facility_id = $1`, fac.ID); err != nil {
		return fmt.Errorf("replace facility names: %w", err)
	}
	for i, n := range fac.Names {
		if _, err := tx.ExecContext(ctx, `INSERT INTO facility_names (facility_id, position, lang, value) VALUES ($1, $2, $3, $4)`,
			fac.ID, i, n.Lang, n.Value); err != nil {
			return fmt.Errorf("insert facility name: %w", err)
		}
	}
	return nil
}

// MayManageFacility says whether a may change the record of facility id
// (its details, terminals, windows and suspensions): nil, or why not.
// Other domains ask it before changing what hangs on a facility.
func (s *Service) MayManageFacility(ctx context.Context, a Actor, id string) error {
	post, err := s.FacilityPost(ctx, id)
	if err != nil {
		return err
	}
	if !s.policy.CanManageFacility(a.User, post) {
		if post == "" {
			return problem.New(problem.Forbidden, "This facility is kept by HQ: ask the desk to change it.")
		}
		return problem.New(problem.Forbidden, "This facility is kept by the post in %s: its officers change it.", post)
	}
	return nil
}

// FacilityPost returns the post that keeps facility id's record.
func (s *Service) FacilityPost(ctx context.Context, id string) (string, error) {
	var post string
	err := s.db.QueryRowContext(ctx, `SELECT post FROM facilities WHERE id = $1`, id).Scan(&post)
	if errors.Is(err, sql.ErrNoRows) {
		return "", problem.New(problem.NotFound, "No such facility.")
	}
	if err != nil {
		return "", fmt.Errorf("read facility: %w", err)
	}
	return post, nil
}

// UpdateFacility changes a facility.
func (s *Service) UpdateFacility(ctx context.Context, a Actor, id string, in FacilityInput) (*Facility, error) {
	if !s.policy.Can(a.User, auth.ManageFacility, nil) {
		return nil, problem.New(problem.Forbidden, "You may not change the facility registry.")
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	if err := s.MayManageFacility(ctx, a, id); err != nil {
		return nil, err
	}
	if !s.policy.CanManageFacility(a.User, in.Post) {
		return nil, problem.Field("post", "You keep the facilities of your own post only.")
	}
	fac := &Facility{ID: id, Names: in.Names, Country: in.Country, City: in.City, TimeZone: in.TimeZone, Address: in.Address, Kind: in.Kind, Post: in.Post}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE facilities SET country = $2, city = $3, time_zone = $4, address = $5, kind = $6, post = $7, updated_at = $8 WHERE id = $1`,
			id, fac.Country, fac.City, fac.TimeZone, fac.Address, fac.Kind, fac.Post, db.Instant(s.now()))
		if err != nil {
			return fmt.Errorf("update facility: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.New(problem.NotFound, "No such facility.")
		}
		if err := writeFacilityNames(ctx, tx, fac); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.audit(), Action: "facility.update", ObjectType: "facility", ObjectID: id, Detail: fac.Name()})
	})
	if err != nil {
		return nil, err
	}
	return fac, nil
}

// Facilities lists the registry, by country and name.
func (s *Service) Facilities(ctx context.Context, a Actor) ([]*Facility, error) {
	if !s.policy.Can(a.User, auth.ReadFacility, nil) {
		return nil, problem.New(problem.Forbidden, "You may not see the facility registry.")
	}
	return s.loadFacilities(ctx, s.db, "")
}

// Facility returns one facility.
func (s *Service) Facility(ctx context.Context, a Actor, id string) (*Facility, error) {
	if !s.policy.Can(a.User, auth.ReadFacility, nil) {
		return nil, problem.New(problem.Forbidden, "You may not see the facility registry.")
	}
	list, err := s.loadFacilities(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, problem.New(problem.NotFound, "No such facility.")
	}
	return list[0], nil
}

func (s *Service) loadFacilities(ctx context.Context, q db.Querier, id string) ([]*Facility, error) {
	rows, err := q.QueryContext(ctx, `SELECT f.id, f.country, f.city, f.time_zone, f.address, f.kind, f.post, n.lang, n.value
		FROM facilities f JOIN facility_names n ON n.facility_id = f.id
		WHERE $1 = '' OR f.id = $1 ORDER BY f.id, n.position`, id)
	if err != nil {
		return nil, fmt.Errorf("list facilities: %w", err)
	}
	defer rows.Close()
	var out []*Facility
	for rows.Next() {
		var f Facility
		var n FacilityName
		if err := rows.Scan(&f.ID, &f.Country, &f.City, &f.TimeZone, &f.Address, &f.Kind, &f.Post, &n.Lang, &n.Value); err != nil {
			return nil, fmt.Errorf("list facilities: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != f.ID {
			out = append(out, &f)
		}
		last := out[len(out)-1]
		last.Names = append(last.Names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list facilities: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Country != out[j].Country {
			return out[i].Country < out[j].Country
		}
		return out[i].Name() < out[j].Name()
	})
	return out, nil
}

// ---- people ----

// insertPerson writes a new person with their names and search keys.
func (s *Service) insertPerson(ctx context.Context, tx *sql.Tx, p *Person) error {
	now := db.Instant(s.now())
	_, err := tx.ExecContext(ctx, `INSERT INTO people (id, display_name, sex, birth, birth_earliest, birth_latest, languages, vulnerabilities, notes, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
		p.ID, p.DisplayName, p.Sex, p.Birth.String(), db.NullInstant(p.Birth.Earliest()), db.NullInstant(p.Birth.Latest()),
		strings.Join(p.Languages, " "), strings.Join(p.Vulnerabilities, " "), p.Notes, now)
	if err != nil {
		return fmt.Errorf("insert person: %w", err)
	}
	for i := range p.Names {
		if err := s.insertName(ctx, tx, p.ID, &p.Names[i]); err != nil {
			return err
		}
	}
	return writeNationalities(ctx, tx, p)
}

func writeNationalities(ctx context.Context, tx *sql.Tx, p *Person) error {
	for _, q := range []string{`DELETE FROM person_nationalities WHERE person_id = $1`, `DELETE FROM person_passports WHERE person_id = $1`} {
		if _, err := tx.ExecContext(ctx, q, p.ID); err != nil {
			return fmt.Errorf("replace nationalities: %w", err)
		}
	}
	seen := map[string]bool{}
	for _, n := range p.Nationalities {
		if seen[n.Country] {
			continue
		}
		seen[n.Country] = true
		if _, err := tx.ExecContext(ctx, `INSERT INTO person_nationalities (person_id, country, recognised, evidence) VALUES ($1, $2, $3, $4)`,
			p.ID, n.Country, n.Recognised, n.Evidence); err != nil {
			return fmt.Errorf("insert nationality: %w", err)
		}
	}
	seen = map[string]bool{}
	for _, pp := range p.Passports {
		if seen[pp.Country+pp.Number] {
			continue
		}
		seen[pp.Country+pp.Number] = true
		if _, err := tx.ExecContext(ctx, `INSERT INTO person_passports (person_id, country, number) VALUES ($1, $2, $3)`, p.ID, pp.Country, pp.Number); err != nil {
			return fmt.Errorf("insert passport: %w", err)
		}
	}
	return nil
}

// insertName writes a name variant and its search keys.
func (s *Service) insertName(ctx context.Context, tx *sql.Tx, personID string, n *Name) error {
	if n.ID == "" {
		n.ID = db.NewID()
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO person_names (id, person_id, value, script, lang, kind, source, is_display, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, n.ID, personID, n.Value, n.Script, n.Lang, n.Kind, n.Source, n.Display, db.Instant(s.now()))
	if err != nil {
		return fmt.Errorf("insert name: %w", err)
	}
	for _, k := range s.names.Keys(n.Value) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO name_keys (key, name_id, person_id) VALUES ($1, $2, $3)`, k, n.ID, personID); err != nil {
			return fmt.Errorf("insert name key: %w", err)
		}
	}
	return nil
}

// preparePerson validates a new person and makes their record.
func (s *Service) preparePerson(in PersonInput) (*Person, error) {
	f := problem.Fields{}
	birth := validatePerson(f, &in)
	display := -1
	for i := range in.Names {
		checkName(f, fmt.Sprintf("names.%d.", i), &in.Names[i], s.names.Simplified)
		if in.Names[i].Display && display < 0 {
			display = i
		}
		in.Names[i].Display = false
	}
	if len(in.Names) == 0 {
		f.Add("names.0.value", "Enter at least one name.")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	if display < 0 {
		display = 0
	}
	in.Names[display].Display = true
	return &Person{ID: db.NewID(), DisplayName: in.Names[display].Value, Names: in.Names, Sex: in.Sex, Birth: birth,
		Nationalities: in.Nationalities, Passports: in.Passports, Languages: in.Languages, Vulnerabilities: in.Vulnerabilities,
		Notes: in.Notes, CreatedAt: s.now().UTC(), UpdatedAt: s.now().UTC()}, nil
}

// person loads a person with names, nationalities and passports.
func (s *Service) person(ctx context.Context, q db.Querier, id string) (*Person, error) {
	var p Person
	var birth, langs, vulns string
	var created, updated int64
	err := q.QueryRowContext(ctx, `SELECT id, display_name, sex, birth, languages, vulnerabilities, notes, created_at, updated_at FROM people WHERE id = $1`, id).
		Scan(&p.ID, &p.DisplayName, &p.Sex, &birth, &langs, &vulns, &p.Notes, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoPerson
	}
	if err != nil {
		return nil, fmt.Errorf("read person: %w", err)
	}
	p.Birth, _ = edate.Decode(birth)
	p.Languages, p.Vulnerabilities = strings.Fields(langs), strings.Fields(vulns)
	p.CreatedAt, p.UpdatedAt = db.Time(created), db.Time(updated)
	byPerson, err := s.namesOf(ctx, q, []string{id})
	if err != nil {
		return nil, err
	}
	p.Names = byPerson[id]
	rows, err := q.QueryContext(ctx, `SELECT country, recognised, evidence FROM person_nationalities WHERE person_id = $1 ORDER BY country`, id)
	if err != nil {
		return nil, fmt.Errorf("read nationalities: %w", err)
	}
	for rows.Next() {
		var n Nationality
		if err := rows.Scan(&n.Country, &n.Recognised, &n.Evidence); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read nationalities: %w", err)
		}
		p.Nationalities = append(p.Nationalities, n)
	}
	rows.Close()
	rows, err = q.QueryContext(ctx, `SELECT country, number FROM person_passports WHERE person_id = $1 ORDER BY country, number`, id)
	if err != nil {
		return nil, fmt.Errorf("read passports: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pp Passport
		if err := rows.Scan(&pp.Country, &pp.Number); err != nil {
			return nil, fmt.Errorf("read passports: %w", err)
		}
		p.Passports = append(p.Passports, pp)
	}
	return &p, rows.Err()
}

// namesOf loads the name variants of several people, display name first.
func (s *Service) namesOf(ctx context.Context, q db.Querier, ids []string) (map[string][]Name, error) {
	out := map[string][]Name{}
	if len(ids) == 0 {
		return out, nil
	}
	ph, args := placeholders(1, ids)
	rows, err := q.QueryContext(ctx, `SELECT person_id, id, value, script, lang, kind, source, is_display FROM person_names
		WHERE person_id IN (`+ph+`) ORDER BY person_id, is_display DESC, created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pid string
		var n Name
		if err := rows.Scan(&pid, &n.ID, &n.Value, &n.Script, &n.Lang, &n.Kind, &n.Source, &n.Display); err != nil {
			return nil, fmt.Errorf("read names: %w", err)
		}
		out[pid] = append(out[pid], n)
	}
	return out, rows.Err()
}

// placeholders returns "$n, $n+1, …" for values, and the values as arguments.
func placeholders(start int, values []string) (string, []any) {
	var b strings.Builder
	args := make([]any, len(values))
	for i, v := range values {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", start+i)
		args[i] = v
	}
	return b.String(), args
}

// personScope loads the scope for acting on a person: the scopes of their
// cases. A user may act on a person when they may act on one of their cases.
func (s *Service) mayActOnPerson(ctx context.Context, q db.Querier, u *auth.User, action auth.Action, personID string) error {
	rows, err := q.QueryContext(ctx, `SELECT id FROM cases WHERE person_id = $1`, personID)
	if err != nil {
		return fmt.Errorf("read cases of person: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		scope, err := s.scope(ctx, q, id)
		if err != nil {
			return err
		}
		if s.policy.Can(u, action, scope) {
			return nil
		}
	}
	return errNoPerson
}

// Person returns a person the user may see, audited.
func (s *Service) Person(ctx context.Context, a Actor, id string) (*Person, error) {
	if err := s.mayActOnPerson(ctx, s.db, a.User, auth.ReadCase, id); err != nil {
		return nil, err
	}
	p, err := s.person(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	return p, s.audit.Record(ctx, audit.Entry{Actor: a.audit(), Action: "person.view", ObjectType: "person", ObjectID: id})
}

// UpdatePerson changes a person's details other than names.
func (s *Service) UpdatePerson(ctx context.Context, a Actor, id string, in PersonInput) (*Person, error) {
	f := problem.Fields{}
	birth := validatePerson(f, &in)
	if err := f.Err(); err != nil {
		return nil, err
	}
	var out *Person
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.mayActOnPerson(ctx, tx, a.User, auth.UpdateCase, id); err != nil {
			return err
		}
		p, err := s.person(ctx, tx, id)
		if err != nil {
			return err
		}
		p.Sex, p.Birth, p.Languages, p.Vulnerabilities, p.Notes = in.Sex, birth, in.Languages, in.Vulnerabilities, in.Notes
		p.Nationalities, p.Passports = in.Nationalities, in.Passports
		_, err = tx.ExecContext(ctx, `UPDATE people SET sex = $2, birth = $3, birth_earliest = $4, birth_latest = $5, languages = $6,
			vulnerabilities = $7, notes = $8, updated_at = $9 WHERE id = $1`,
			id, p.Sex, p.Birth.String(), db.NullInstant(p.Birth.Earliest()), db.NullInstant(p.Birth.Latest()),
			strings.Join(p.Languages, " "), strings.Join(p.Vulnerabilities, " "), p.Notes, db.Instant(s.now()))
		if err != nil {
			return fmt.Errorf("update person: %w", err)
		}
		if err := writeNationalities(ctx, tx, p); err != nil {
			return err
		}
		out = p
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.audit(), Action: "person.update", ObjectType: "person", ObjectID: id})
	})
	return out, err
}

// AddName adds a name variant to a person.
func (s *Service) AddName(ctx context.Context, a Actor, personID string, n Name) (*Name, error) {
	f := problem.Fields{}
	checkName(f, "", &n, s.names.Simplified)
	if err := f.Err(); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.mayActOnPerson(ctx, tx, a.User, auth.UpdateCase, personID); err != nil {
			return err
		}
		display := n.Display
		n.Display = false
		if err := s.insertName(ctx, tx, personID, &n); err != nil {
			return err
		}
		if display {
			if err := s.setDisplay(ctx, tx, personID, n.ID); err != nil {
				return err
			}
			n.Display = true
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.audit(), Action: "person.name_add", ObjectType: "person", ObjectID: personID,
			Detail: fmt.Sprintf("%s (%s, %s)", n.Value, n.Script, n.Kind)})
	})
	if err != nil {
		return nil, err
	}
	return &n, nil
}

func (s *Service) setDisplay(ctx context.Context, tx *sql.Tx, personID, nameID string) error {
	var value string
	err := tx.QueryRowContext(ctx, `SELECT value FROM person_names WHERE id = $1 AND person_id = $2`, nameID, personID).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return problem.New(problem.NotFound, "No such name.")
	}
	if err != nil {
		return fmt.Errorf("read name: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE person_names SET is_display = (id = $2) WHERE person_id = $1`, personID, nameID); err != nil {
		return fmt.Errorf("set display name: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE people SET display_name = $2, updated_at = $3 WHERE id = $1`, personID, value, db.Instant(s.now())); err != nil {
		return fmt.Errorf("set display name: %w", err)
	}
	return nil
}

// SetDisplayName makes one of a person's names the one shown.
func (s *Service) SetDisplayName(ctx context.Context, a Actor, personID, nameID string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.mayActOnPerson(ctx, tx, a.User, auth.UpdateCase, personID); err != nil {
			return err
		}
		if err := s.setDisplay(ctx, tx, personID, nameID); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.audit(), Action: "person.name_display", ObjectType: "person", ObjectID: personID, Detail: nameID})
	})
}

// DeleteName removes a name variant; the last name cannot go, and when the
// shown name goes the oldest remaining one is shown.
func (s *Service) DeleteName(ctx context.Context, a Actor, personID, nameID string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.mayActOnPerson(ctx, tx, a.User, auth.UpdateCase, personID); err != nil {
			return err
		}
		byPerson, err := s.namesOf(ctx, tx, []string{personID})
		if err != nil {
			return err
		}
		list := byPerson[personID]
		var gone *Name
		for i := range list {
			if list[i].ID == nameID {
				gone = &list[i]
			}
		}
		if gone == nil {
			return problem.New(problem.NotFound, "No such name.")
		}
		if len(list) == 1 {
			return problem.Field("name", "A person keeps at least one name: add another before removing this one.")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM person_names WHERE id = $1`, nameID); err != nil {
			return fmt.Errorf("delete name: %w", err)
		}
		for _, k := range s.names.Keys(gone.Value) {
			if _, err := tx.ExecContext(ctx, `DELETE FROM name_keys WHERE key = $1 AND person_id = $2 AND name_id = $3`, k, personID, nameID); err != nil {
				return fmt.Errorf("delete name key: %w", err)
			}
		}
		if gone.Display {
			for _, n := range list {
				if n.ID != nameID {
					if err := s.setDisplay(ctx, tx, personID, n.ID); err != nil {
						return err
					}
					break
				}
			}
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.audit(), Action: "person.name_delete", ObjectType: "person", ObjectID: personID, Detail: gone.Value})
	})
}

// PersonOfCase returns the id of a case's person, when the user may do
// action on the case.
func (s *Service) PersonOfCase(ctx context.Context, u *auth.User, action auth.Action, caseID string) (string, error) {
	if err := s.authorize(ctx, s.db, u, action, caseID); err != nil {
		return "", err
	}
	var id string
	if err := s.db.QueryRowContext(ctx, `SELECT person_id FROM cases WHERE id = $1`, caseID).Scan(&id); err != nil {
		return "", fmt.Errorf("read case: %w", err)
	}
	return id, nil
}

// HasPersonNamed reports whether any person has a name with exactly this
// value. It serves loaders (demo data, imports) that must not add someone
// twice; it reveals nothing to users and is not audited.
func (s *Service) HasPersonNamed(ctx context.Context, value string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM person_names WHERE value = $1`, value).Scan(&n); err != nil {
		return false, fmt.Errorf("look up name: %w", err)
	}
	return n > 0, nil
}

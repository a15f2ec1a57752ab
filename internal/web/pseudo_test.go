package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/net/html"

	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/demo"
	"github.com/attache-org/attache/internal/i18n"
)

// Pseudo-locale markers: every French text of the catalog is shown between
// them, so that a text outside them is one that skipped the catalog.
const (
	openMark  = "⟦"
	closeMark = "⟧"
)

// pseudoCatalog is the shipped catalog with every French translation
// wrapped in the markers.
func pseudoCatalog(t *testing.T) (*i18n.Catalog, []string) {
	t.Helper()
	fsys := fstest.MapFS{}
	var keys []string
	for _, lang := range []string{"en", "fr"} {
		raw, err := os.ReadFile("../i18n/messages/" + lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if lang == "fr" {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			out := map[string]any{}
			for k, v := range m {
				keys = append(keys, k)
				var text string
				var forms map[string]string
				switch {
				case json.Unmarshal(v, &text) == nil:
					out[k] = openMark + text + closeMark
				case json.Unmarshal(v, &forms) == nil:
					for c, f := range forms {
						forms[c] = openMark + f + closeMark
					}
					out[k] = forms
				}
			}
			if raw, err = json.Marshal(out); err != nil {
				t.Fatal(err)
			}
		}
		fsys["messages/"+lang+".json"] = &fstest.MapFile{Data: raw}
	}
	c, err := i18n.LoadFS(fsys, "messages")
	if err != nil {
		t.Fatal(err)
	}
	return c, keys
}

// wordRE finds words: runs of letters (apostrophes inside).
var wordRE = regexp.MustCompile(`\p{L}+(?:['’]\p{L}+)*`)

func words(s string) []string {
	var out []string
	for _, w := range wordRE.FindAllString(s, -1) {
		out = append(out, strings.ToLower(w))
	}
	return out
}

// codeRE is the shape of a stored code ("remote_video", "held", "zh").
var codeRE = regexp.MustCompile(`^[a-z0-9_.:/+-]*$`)

// leaves are the string values of s if it is a JSON document, else s.
func leaves(s string) []string {
	var v any
	if !strings.HasPrefix(s, "{") && !strings.HasPrefix(s, "[") || json.Unmarshal([]byte(s), &v) != nil {
		return []string{s}
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// inData reports whether part is within a stored value that text shows
// ("terminal" of the link holder named "Michael Kovrig (terminal)").
func inData(values map[string]bool, text, part string) bool {
	for v := range values {
		if len(v) > len(part) && strings.Contains(v, part) && strings.Contains(text, v) {
			return true
		}
	}
	return false
}

// partRE splits a text where a value or a code may stand alone.
var partRE = regexp.MustCompile(`[()\[\],;:·•|\n]`)

// machineRE is the shape of a text written for machines: "role=host".
var machineRE = regexp.MustCompile(`\b[a-z_]+=`)

// dataWords are the words of the data a page may show: every text stored
// in the database that is not a code (a code shown as it is would be a
// text that skipped the catalog), and the user names.
func dataWords(t *testing.T, d *db.DB) (map[string]bool, map[string]bool) {
	t.Helper()
	out, values := map[string]bool{}, map[string]bool{}
	dbtest.EachText(t, d, func(table, column, value string) {
		if table == "audit_log" { // records for auditors, shown as they are (translate="no")
			return
		}
		for _, s := range leaves(value) { // a JSON document's values, not its keys
			if codeRE.MatchString(s) && !(table == "users" && column == "username") || machineRE.MatchString(s) {
				continue
			}
			values[strings.ToLower(strings.TrimSpace(s))] = true
			for _, w := range words(s) {
				out[w] = true
			}
		}
	})
	return out, values
}

// visibleTexts returns the texts of a page that a person reads: its text
// (not scripts, styles or what a person typed into a text area) and the
// placeholders, titles, labels and alternative texts of its elements.
func visibleTexts(doc *html.Node) []string {
	var out []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "style", "textarea", "template":
				return
			}
			for _, a := range n.Attr {
				if a.Key == "translate" && a.Val == "no" { // codes and records: an audit entry's action and detail
					return
				}
			}
			typ := ""
			for _, a := range n.Attr {
				if a.Key == "type" {
					typ = a.Val
				}
			}
			for _, a := range n.Attr {
				switch {
				case a.Key == "placeholder", a.Key == "title", a.Key == "aria-label", a.Key == "alt",
					a.Key == "value" && n.Data == "input" && (typ == "submit" || typ == "button"):
					out = append(out, a.Val)
				}
			}
		}
		if n.Type == html.TextNode && strings.TrimSpace(n.Data) != "" {
			out = append(out, n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

// unmarked removes what is between the markers (nested or not).
func unmarked(s string) string {
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case string(r) == openMark:
			depth++
		case string(r) == closeMark:
			depth = max(0, depth-1)
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestPseudoLocale renders every page of the demo data, as every role that
// reads pages and as a link holder, in a pseudo-locale in which every
// French text carries markers, and fails when a page shows a word of the
// interface's English outside them: a text that skipped the catalog (a
// code shown as it is, an English label put into a message, a text written
// in Go without T). Data (names, notes, references) is told apart by the
// words stored in the database.
func TestPseudoLocale(t *testing.T) {
	cat, keys := pseudoCatalog(t)
	d := dbtest.Open(t, db.SQLite)
	h := newHarnessCatalog(t, d, io.Discard, cat)
	ctx := context.Background()
	var out bytes.Buffer
	if err := demo.Load(ctx, demo.Env{Auth: h.auth, Cases: h.cases, Access: h.access, Visits: h.visits, Reports: h.reports, Family: h.family,
		BaseURL: "http://attache.test", Out: &out}); err != nil {
		t.Fatal(err)
	}

	// The interface's English: the words of the catalog's texts, less the
	// words of the data.
	ui := map[string]bool{}
	for _, k := range keys {
		for _, w := range words(k) {
			if len([]rune(w)) > 2 {
				ui[w] = true
			}
		}
	}
	data, values := dataWords(t, d)
	// Whole texts of the interface: a part of a page equal to one of them,
	// and to no stored value, is a text or a code shown untranslated
	// ("Michael Kovrig (detainee)").
	whole := map[string]bool{}
	for _, k := range keys {
		whole[strings.ToLower(strings.TrimRight(strings.TrimSpace(k), ".:"))] = true
	}
	for _, w := range []string{"attaché", "utc"} { // the product's name, the zone
		data[w] = true
	}

	ids := func(q string, args ...any) []string {
		rows, err := d.QueryContext(ctx, q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			out = append(out, id)
		}
		return out
	}
	kovrig := ids(`SELECT id FROM cases WHERE reference = 'CN-2018-0001'`)
	if len(kovrig) != 1 {
		t.Fatal("no demo case")
	}
	params := map[string][]string{
		"{id}":      kovrig,
		"{visit}":   ids(`SELECT id FROM visits WHERE case_id = $1`, kovrig[0]),
		"{contact}": ids(`SELECT id FROM family_contacts WHERE case_id = $1`, kovrig[0]),
		"{token}":   regexp.MustCompile(`/join/(\S+)`).FindAllString(out.String(), -1),
	}
	for i, tok := range params["{token}"] {
		params["{token}"][i] = strings.TrimPrefix(tok, "/join/")
	}
	facilities := ids(`SELECT id FROM facilities ORDER BY id LIMIT 2`)
	users := ids(`SELECT id FROM users WHERE username IN ('barton', 'vina')`)

	var paths []string
	for _, rt := range h.srv.Routes() {
		if rt.Method != "GET" || rt.API || strings.HasSuffix(rt.Path, "/ws") || strings.Contains(rt.Path, "{file}") ||
			strings.Contains(rt.Path, "{rec}") || strings.Contains(rt.Path, ".pdf") || strings.Contains(rt.Path, ".csv") ||
			strings.HasPrefix(rt.Path, "/family/invite/") || strings.HasPrefix(rt.Path, "/login/sso") {
			continue
		}
		expand := []string{rt.Path}
		for name, vals := range params {
			var next []string
			for _, p := range expand {
				if !strings.Contains(p, name) {
					next = append(next, p)
					continue
				}
				local := vals
				switch {
				case name == "{id}" && strings.HasPrefix(p, "/facilities/"):
					local = facilities
				case name == "{id}" && strings.HasPrefix(p, "/admin/users/"):
					local = users
				}
				for _, v := range local {
					next = append(next, strings.Replace(p, name, v, 1))
				}
			}
			expand = next
		}
		for _, p := range expand {
			paths = append(paths, strings.Replace(p, "{$}", "", 1))
		}
	}
	sort.Strings(paths)

	readers := []string{"", "admin", "hq", "officer", "supervisor", "auditor", "barton", "vina"}
	leaks := map[string][]string{} // word → where
	pages := 0
	for _, who := range readers {
		c := h.anonymous()
		if who != "" {
			u, err := h.auth.UserByName(ctx, who)
			if err != nil {
				t.Fatal(err)
			}
			c = h.asUser(u)
		}
		c.cookies["attache_lang"] = "fr"
		for _, p := range paths {
			res := c.get(p)
			body := readBody(t, res)
			if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
				continue
			}
			pages++
			// PSEUDO_DUMP=/join/ logs the pages whose path holds it, to see
			// what the test read.
			if os.Getenv("PSEUDO_DUMP") != "" && strings.Contains(p, os.Getenv("PSEUDO_DUMP")) {
				t.Logf("%s as %s:\n%s", p, who, body)
			}
			doc, err := html.Parse(strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			for _, text := range visibleTexts(doc) {
				rest := unmarked(text)
				for _, part := range partRE.Split(rest, -1) {
					part = strings.ToLower(strings.TrimSpace(part))
					if len(words(part)) > 0 && whole[part] && !values[part] && !inData(values, strings.ToLower(rest), part) {
						where := fmt.Sprintf("%s as %s: %q", p, orAnonymous(who), strings.TrimSpace(rest))
						if !slices.Contains(leaks[part], where) && len(leaks[part]) < 3 {
							leaks[part] = append(leaks[part], where)
						}
					}
				}
				for _, w := range words(rest) {
					if ui[w] && !data[w] {
						where := fmt.Sprintf("%s as %s: %q", p, orAnonymous(who), strings.TrimSpace(rest))
						if !slices.Contains(leaks[w], where) && len(leaks[w]) < 3 {
							leaks[w] = append(leaks[w], where)
						}
					}
				}
			}
		}
	}
	if pages < 60 {
		t.Errorf("only %d pages rendered: the list of pages or the demo data changed", pages)
	}
	var found []string
	for w, where := range leaks {
		found = append(found, fmt.Sprintf("%q at %s", w, strings.Join(where, "; ")))
	}
	sort.Strings(found)
	for _, f := range found {
		t.Errorf("untranslated: %s", f)
	}
	t.Logf("%d pages checked as %d readers", pages, len(readers))
}

func orAnonymous(who string) string {
	if who == "" {
		return "anonymous"
	}
	return who
}

// TestFormErrorsInFrench posts forms with mistakes whose messages carry
// values (a date, a label, a number) on a French page: each comes back
// whole in French.
func TestFormErrorsInFrench(t *testing.T) {
	h := onSQLite(t)
	c := h.as("consular_officer")
	c.cookies["attache_lang"] = "fr"
	bad := kovrigForm()
	bad.Set("arrested", "2018-02-30")
	res := c.post("/cases", bad)
	if body := readBody(t, res); res.StatusCode != 400 || !strings.Contains(body, "&#34;2018-02-30&#34; : il n&#39;y a pas de jour 30 dans ce mois (il compte 28 jours)") {
		t.Errorf("a bad date in French: %d\n%s", res.StatusCode, body)
	}
	bad = kovrigForm()
	bad.Set("arrested_zone", "Asia/Beijing")
	res = c.post("/cases", bad)
	if body := readBody(t, res); res.StatusCode != 400 || !strings.Contains(body, "Fuseau horaire inconnu") {
		t.Errorf("an unknown zone in French: %d", res.StatusCode)
	}
	// What a French officer types for "recognised" is read in French.
	good := kovrigForm()
	good.Set("nationalities", "CA oui passeport")
	res = c.post("/cases", good)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("a case with a nationality in French: %d %s", res.StatusCode, readBody(t, res))
	}
	if body := readBody(t, c.get(res.Header.Get("Location"))); !strings.Contains(body, "Canada (Reconnue; passeport)") {
		t.Errorf("the nationality typed in French is not recognised as such")
	}
	res = c.post("/account/password", url.Values{"current": {testPassword}, "password": {"court"}, "confirm": {"court"}})
	if body := readBody(t, res); res.StatusCode != 400 || !strings.Contains(body, "au moins 12 caractères") {
		t.Errorf("a short password in French: %d", res.StatusCode)
	}
}

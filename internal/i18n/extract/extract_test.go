package extract

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func scanFixture(t *testing.T) map[string]Message {
	t.Helper()
	msgs, err := Scan("testdata/repo")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Message{}
	for i, m := range msgs {
		if i > 0 && msgs[i-1].ID >= m.ID {
			t.Errorf("not sorted or not unique: %q then %q", msgs[i-1].ID, m.ID)
		}
		byID[m.ID] = m
	}
	return byID
}

// TestScanFixture checks each kind of text, where it is found, and what
// is left out, on a small repository made for it.
func TestScanFixture(t *testing.T) {
	got := scanFixture(t)
	const (
		page     = "internal/web/templates/page.html:"
		handlers = "internal/web/handlers.go:"
		render   = "internal/web/render.go:"
	)
	cases := []struct {
		id     string
		kinds  []string
		places []string
		plural bool
	}{
		// Templates: T with a literal, a format, a pipe, a variable; the
		// labels and blank choice given to field and sel; data-* texts.
		{"Sign in", []string{"template", "title"}, []string{"internal/web/more.go:12", page + "2"}, false},
		{"You have %d new messages.", []string{"template"}, []string{page + "3"}, true},
		{"Full name", []string{"template"}, []string{page + "4"}, false},
		{"Sex", []string{"template"}, []string{page + "5"}, false},
		{"Choose…", []string{"template"}, []string{page + "5"}, false},
		{"Connecting…", []string{"template"}, []string{page + "6"}, false},
		{"Signed in as %s", []string{"template"}, []string{page + "7"}, false},
		{`say "hi"`, []string{"template"}, []string{page + "8"}, false},
		{"frames", []string{"template"}, []string{page + "9"}, true},
		{"Via a variable", []string{"template"}, []string{page + "10"}, false},
		{"Piped text", []string{"template"}, []string{page + "11"}, false},
		// Problems: New (a constant concatenation, a plural), Field,
		// Fields.Add directly and through a helper's parameter, and the
		// text of an error shown through err.Error().
		{"Welcome, friend.", []string{"problem"}, []string{handlers + "20"}, false},
		{`Say "hi" first.`, []string{"problem"}, []string{handlers + "42"}, false},
		{"Write the note.", []string{"problem"}, []string{handlers + "44"}, false},
		{"Try again in %d seconds.", []string{"problem"}, []string{handlers + "52"}, true},
		{"The name is too long.", []string{"problem"}, []string{handlers + "55"}, false},
		{"Please correct the highlighted field.", []string{"problem"}, []string{"internal/problem/problem.go:26"}, false},
		{"%q is not a date: write YYYY-MM-DD", []string{"error", "problem"}, []string{"internal/edate/edate.go:14"}, false},
		// Titles, menus, flashes, roles, vocabularies, notices.
		{"Fixture home", []string{"title"}, []string{handlers + "27"}, false},
		{"Home", []string{"nav"}, []string{render + "32"}, false},
		{"You have signed out.", []string{"flash"}, []string{render + "42"}, false},
		{"Consular officer", []string{"role", "t"}, []string{render + "46"}, false},
		{"Not known", []string{"vocab"}, []string{"internal/cases/vocab.go:19"}, false},
		{"A visit I take part in is scheduled", []string{"notice"}, []string{"internal/notify/notify.go:12"}, false},
		// E-mail (a format, a builder's line, a word put in it), calendar,
		// PDF (through T and not), CSV.
		{"Visit %s: case %s", []string{"mail"}, []string{handlers + "76"}, false},
		{"When: %s\n", []string{"mail"}, []string{handlers + "74"}, false},
		{"moved", []string{"mail"}, []string{handlers + "71"}, false},
		{"Consular visit, case %s", []string{"ical"}, []string{handlers + "78"}, false},
		{"Person", []string{"pdf", "t"}, []string{handlers + "83"}, false},
		{"No consular contact recorded.", []string{"pdf"}, []string{handlers + "84"}, false},
		{"Updated (UTC)", []string{"csv", "t"}, []string{handlers + "90"}, false},
		// Form errors set by a handler, a warning, a consent refusal, the
		// label of a struct, a fact written into the timeline, a
		// placeholder for withheld data, a JSON error written by hand.
		{"Enter your username.", []string{"form"}, []string{"internal/web/more.go:13"}, false},
		{"The form was not saved.", []string{"form"}, []string{"internal/web/more.go:14"}, false},
		{"%s access is suspended.", []string{"warning"}, []string{"internal/web/more.go:15"}, false},
		{"The detainee has not consented.", []string{"refusal"}, []string{"internal/family/family.go:9"}, false},
		{"Sign in with the ministry account", []string{"label"}, []string{"internal/sso/config.go:11"}, false},
		{"Consular contact: %s", []string{"record"}, []string{"internal/cases/link.go:15"}, false},
		{"a case you cannot see", []string{"placeholder"}, []string{"internal/cases/link.go:6"}, false},
		{"Someone with this name is on file.", []string{"api"}, []string{"internal/web/more.go:16"}, false},
		// Scripts: a fallback, a local function that shows its argument,
		// confirm.
		{"Copied", []string{"js"}, []string{"internal/web/static/app.js:6"}, false},
		{"Connecting to the server", []string{"js"}, []string{"internal/web/static/app.js:9"}, false},
		{"Leave the call?", []string{"js"}, []string{"internal/web/static/app.js:11"}, false},
	}
	for _, tc := range cases {
		m, ok := got[tc.id]
		if !ok {
			t.Errorf("%q not found", tc.id)
			continue
		}
		if !slices.Equal(m.Kinds, tc.kinds) {
			t.Errorf("%q: kinds %v, want %v", tc.id, m.Kinds, tc.kinds)
		}
		if !slices.Equal(m.Places, tc.places) {
			t.Errorf("%q: places %v, want %v", tc.id, m.Places, tc.places)
		}
		if m.Plural != tc.plural {
			t.Errorf("%q: plural %v, want %v", tc.id, m.Plural, tc.plural)
		}
	}
	for _, id := range []string{
		"Only in a test.",                        // a _test.go file
		"request failed",                         // a log message
		"read things: %w",                        // a wrapped error
		"load date: %w",                          // a wrapped error shown nowhere
		"internal failure",                       // an error that is not a problem
		"/login",                                 // a route
		"SELECT name FROM things WHERE id = $1",  // SQL
		"visit:%s", "REQUEST", "visit.scheduled", // codes next to texts
		"display_name", "sexes", "video", "male", "X-1", // template and T arguments that are codes
		"warn-text", "POST", "short", "muted", "Copied!", "/api/v1/ping", // script codes, comments
		"conflict", "https://login.example.org", "username", // codes in the same statements as texts
	} {
		if _, ok := got[id]; ok {
			t.Errorf("%q is not a text for people, yet found: %+v", id, got[id])
		}
	}
}

func TestPlural(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"%d days", true},
		{"%d days ago", true},
		{"The chain is whole: %d entries checked.", true},
		{"%d open cases: %d overdue, %d possibly overdue.", true},
		{"The %d most urgent are shown.", true},
		{"Try again in %d seconds.", true},
		{"%d people", true},
		{"Page %d of %d", false},
		{"For how many days (1 to %d)", false},
		{"%d h", false},
		{"%d%%", false},
		{"Entry %d is broken.", false},
		{"%s days", false},
		{"%d is the limit", false},
		{"%[1]d files", true},
	} {
		if got := plural(tc.s); got != tc.want {
			t.Errorf("plural(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
	if !pluralWord("frames") || pluralWord("or") || pluralWord("access") {
		t.Error("pluralWord")
	}
}

func TestLooksLikeCode(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"/login", true},
		{"case.charge_delete", true},
		{"family-invite:%s", true},
		{"%s/cases/%s", true},
		{"user=%s role=%s", true},
		{"msgNoDevice", true},
		{"REQUEST", true},
		{"SELECT id FROM users", true},
		{"https://example.org", true},
		{"Sign in", false},
		{"moved", false},
		{"Copied", false},
		{"Visit %s: case %s", false},
		{"Use at most 100 characters.", false},
	} {
		if got := looksLikeCode(tc.s); got != tc.want {
			t.Errorf("looksLikeCode(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestJSUnquote(t *testing.T) {
	for lit, want := range map[string]string{
		`"Copied"`:        "Copied",
		`'It\'s over'`:    "It's over",
		`"say \"hi\""`:    `say "hi"`,
		`"caf\u00e9\n"`:   "café\n",
		`"\x41\u{1F600}"`: "A😀",
		`"back\\slash"`:   `back\slash`,
		`"unterminated \`: `unterminated `,
	} {
		if got := jsUnquote(lit); got != want {
			t.Errorf("jsUnquote(%s) = %q, want %q", lit, got, want)
		}
	}
}

// TestBrokenTemplate checks that a template that does not parse is an
// error, not texts silently missed.
func TestBrokenTemplate(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/broken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "page.html"), []byte(`{{if .X}}{{.T "Open"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Scan(dir); err == nil || !strings.Contains(err.Error(), "page.html") {
		t.Errorf("Scan of a broken template: %v", err)
	}
	if _, err := Scan(t.TempDir()); err == nil {
		t.Error("Scan without go.mod succeeded")
	}
}

// TestScanRepository runs Scan on the application itself.
func TestScanRepository(t *testing.T) {
	msgs, err := Scan("../../..")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Message{}
	for _, m := range msgs {
		byID[m.ID] = m
	}
	for _, tc := range []struct {
		id, kind string
		plural   bool
	}{
		{"Sign in", "template", false},
		{"Wrong username or password.", "problem", false},
		{"The chain is whole: %d entries checked.", "template", true},
		{"Pretrial detention", "vocab", false},
		{"You have signed out.", "flash", false},
		{"Find a person", "title", false},
		{"HQ case officer", "role", false},
		{"New family messages", "notice", false},
		{"Escalation on case %s", "mail", false},
		{"Page %d of %d", "pdf", false},
		{"Updated (UTC)", "csv", false},
		{"Copied", "js", false},
	} {
		m, ok := byID[tc.id]
		switch {
		case !ok:
			t.Errorf("%q not found", tc.id)
		case !slices.Contains(m.Kinds, tc.kind):
			t.Errorf("%q: kinds %v, want %s among them", tc.id, m.Kinds, tc.kind)
		case m.Plural != tc.plural:
			t.Errorf("%q: plural %v", tc.id, m.Plural)
		case len(m.Places) == 0:
			t.Errorf("%q: no place", tc.id)
		}
	}
	for _, id := range []string{"/login", "/cases", "request failed", "request abandoned by the client", "read message catalogs: %w",
		"text/html; charset=utf-8", "SELECT", "no-store", "case.charge_delete"} {
		if m, ok := byID[id]; ok {
			t.Errorf("%q is not a text for people, yet found in %v", id, m.Places)
		}
	}
	for _, m := range msgs {
		if sqlStart.MatchString(m.ID) || strings.Contains(m.ID, " FROM ") {
			t.Errorf("SQL found as a text: %q (%v)", m.ID, m.Places)
		}
		for _, p := range m.Places {
			if strings.HasSuffix(strings.SplitN(p, ":", 2)[0], "_test.go") || strings.Contains(p, "testdata/") {
				t.Errorf("%q found in a test file: %s", m.ID, p)
			}
		}
		if len(m.Kinds) == 0 {
			t.Errorf("%q has no kind", m.ID)
		}
	}
}

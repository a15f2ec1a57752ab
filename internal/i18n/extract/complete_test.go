package extract

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// verbRE finds the fmt verbs of a text, which a translation must keep in
// the same order.
var verbRE = regexp.MustCompile(`%(?:\[\d+\])?[-+# 0]*\d*(?:\.\d+)?[a-zA-Z%]`)

func verbs(s string) []string {
	var out []string
	for _, v := range verbRE.FindAllString(s, -1) {
		if v != "%%" {
			out = append(out, v)
		}
	}
	return out
}

// outsiders' files are the pages and mails that people outside the
// ministry read (a detainee at a terminal, the detaining state's monitor,
// an interpreter, a family member): their texts must be in Chinese too.
var outsiders = []string{
	"internal/web/templates/join.html", "internal/web/templates/_call.html", "internal/web/templates/family.html",
	"internal/web/templates/family_invite.html", "internal/web/templates/layout.html", "internal/web/templates/error.html",
	"internal/web/templates/login.html", "internal/web/static/call.js", "internal/web/static/precall.js",
	"internal/family/invite.go", "internal/family/messages.go", "internal/family/portal.go",
	"internal/visits/links.go", // the roles a join page names
}

// TestChineseForOutsiders fails when a text of a page that people outside
// the ministry read has no Chinese translation.
func TestChineseForOutsiders(t *testing.T) {
	msgs, err := Scan("../../..")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../messages/zh.json")
	if err != nil {
		t.Fatal(err)
	}
	var zh map[string]json.RawMessage
	if err := json.Unmarshal(raw, &zh); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		outside := slices.ContainsFunc(m.Places, func(p string) bool {
			return slices.ContainsFunc(outsiders, func(f string) bool { return strings.HasPrefix(p, f+":") })
		})
		if !outside {
			continue
		}
		n++
		if tr, ok := zh[m.ID]; !ok || string(tr) == `""` {
			t.Errorf("%q (%s) has no Chinese translation", m.ID, m.Places[0])
		}
	}
	if n < 100 {
		t.Errorf("only %d texts on the outsiders' pages: the list of their files is out of date", n)
	}
}

// TestCatalogComplete fails when a text a person reads has no French
// translation, or a translation that loses or reorders a value, or a
// plural text that is not given its plural forms.
func TestCatalogComplete(t *testing.T) {
	msgs, err := Scan("../../..")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../messages/fr.json")
	if err != nil {
		t.Fatal(err)
	}
	var fr map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fr); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, m := range msgs {
		tr, ok := fr[m.ID]
		if !ok {
			missing = append(missing, m.ID)
			continue
		}
		var forms []string
		var text string
		var plural map[string]string
		switch {
		case json.Unmarshal(tr, &text) == nil:
			forms = []string{text}
		case json.Unmarshal(tr, &plural) == nil:
			for _, f := range plural {
				forms = append(forms, f)
			}
			if plural["other"] == "" {
				t.Errorf("%q: plural forms without \"other\"", m.ID)
			}
		default:
			t.Errorf("%q: neither a text nor plural forms", m.ID)
			continue
		}
		for _, f := range forms {
			if strings.TrimSpace(f) == "" && strings.TrimSpace(m.ID) != "" {
				t.Errorf("%q: empty translation", m.ID)
			}
			// A plural form may leave its number out ("tous les jours").
			if got, want := verbs(f), verbs(m.ID); !slices.Equal(got, want) && !(plural != nil && len(got) < len(want)) {
				t.Errorf("%q → %q: values %v, want %v", m.ID, f, got, want)
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d texts have no French translation (go run ./internal/i18n/extract/cmd/extract -o - lists them all), e.g.:\n%s",
			len(missing), strings.Join(missing[:min(len(missing), 20)], "\n"))
	}
}

// TestComposedTextsTranslated fails when a mail, a calendar invitation, a
// PDF or a CSV file is composed from a text that does not pass through the
// catalog: those are written in Go, not in a template, so their reader's
// language must be chosen where they are composed.
func TestComposedTextsTranslated(t *testing.T) {
	msgs, err := Scan("../../..")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if !slices.ContainsFunc(m.Kinds, func(k string) bool { return k == KindMail || k == KindICal || k == KindPDF || k == KindCSV }) {
			continue
		}
		n++
		if !slices.Contains(m.Kinds, KindT) {
			t.Errorf("%q (%s, %v) reaches its reader in English: pass it through T in the reader's language", m.ID, m.Places[0], m.Kinds)
		}
	}
	if n < 20 {
		t.Errorf("only %d texts of mails, calendars and files found: the scan no longer sees them", n)
	}
}

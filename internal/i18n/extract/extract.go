// Package extract finds every text of the application that a person reads,
// so that the message catalogs (internal/i18n/messages) can be checked and
// translated: the texts that templates pass to T, the labels of form fields,
// the messages of problems, page titles, flashes, vocabularies, role names,
// notice kinds, and the texts composed for e-mails, calendars, PDFs, CSV
// files and the browser's scripts.
//
// Go code is read with go/parser and type-checked with go/types (each
// package of the repository from source; packages outside it are left
// unresolved, which is enough to follow the repository's own calls).
// Templates are parsed with text/template/parse, with the names of the
// template functions taken from the template.FuncMap literals of the code.
// Scripts are read with a small tokenizer.
//
// A text is kept only where it is known to reach people; log messages,
// wrapped errors, SQL, routes and codes are not texts.
//
// "go run ./internal/i18n/extract/cmd/extract -o -" prints the list, the
// work of a translator adding a language (docs/translating.md).
package extract

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// Message is one translatable text and where it is used.
type Message struct {
	ID     string   // the English text, exactly as the catalog key (Go-unquoted)
	Places []string // "internal/web/templates/case.html:12", "internal/cases/casefile.go:88", …
	Kinds  []string // "template", "problem", "title", "flash", "vocab", "role", "notice", "mail", "pdf", "csv", "ical", "js", … (why it is user-facing)
	Plural bool     // has a %d whose number decides a plural form ("%d days", "1 days ago" style)
}

// The kinds of use. A text has one kind per road by which it reaches
// people; KindT is added when the road already passes it through the
// catalog's T in Go code.
const (
	KindTemplate = "template" // passed to T, or as a label to field/sel/area, in a template
	KindT        = "t"        // passed to T (view.T, Catalog.T) in Go code
	KindProblem  = "problem"  // the message of a problem: problem.New, problem.Field, Fields.Add
	KindError    = "error"    // an error's text shown as a problem's message through err.Error()
	KindForm     = "form"     // set as a form's error in a handler (view.Form.Error, Form.Errors)
	KindWarning  = "warning"  // the message of a Warning shown after a saved form
	KindRefusal  = "refusal"  // a consent decision's reason, shown to officers and families
	KindTitle    = "title"    // a page title (Server.view, view.Title)
	KindFlash    = "flash"    // a flash notice after a redirect
	KindVocab    = "vocab"    // the label of a vocabulary term (cases.Term)
	KindLabel    = "label"    // another code → label table shown on pages
	KindNav      = "nav"      // a menu item
	KindRole     = "role"     // a role's name
	KindNotice   = "notice"   // the label of a kind of e-mail notice
	KindMail     = "mail"     // the subject or text of an e-mail
	KindICal     = "ical"     // the summary, description or location of a calendar invitation
	KindPDF      = "pdf"      // a title, heading, key, header or paragraph of a PDF
	KindCSV      = "csv"      // a CSV header
	KindJS       = "js"       // a literal a script shows
	KindAPI      = "api"      // the message of a JSON error written by hand

	KindRecord      = "record"      // written by the system into a case's timeline (stored, in English)
	KindPlaceholder = "placeholder" // shown in place of data withheld from the viewer
)

// Scan walks the repository at root and returns every translatable
// message, sorted by ID, deduplicated (places and kinds merged).
func Scan(root string) ([]Message, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	c := newCollector(abs)
	files, err := listFiles(abs)
	if err != nil {
		return nil, err
	}
	funcs, err := c.scanGo(files.goDirs)
	if err != nil {
		return nil, err
	}
	for _, f := range files.templates {
		if err := c.scanTemplate(f, funcs); err != nil {
			return nil, err
		}
	}
	for _, f := range files.scripts {
		if err := c.scanScript(f); err != nil {
			return nil, err
		}
	}
	return c.messages(), nil
}

// repoFiles are the files Scan reads.
type repoFiles struct {
	goDirs    map[string][]string // directory → its .go files (no tests)
	templates []string            // .html and .tmpl files
	scripts   []string            // .js files
}

// listFiles walks root as the go tool does: no testdata, vendor, hidden or
// underscore directories, and no nested modules.
func listFiles(root string) (*repoFiles, error) {
	out := &repoFiles{goDirs: map[string][]string{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p == root {
				return nil
			}
			if name == "testdata" || name == "vendor" || name == "node_modules" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
			return nil
		}
		switch {
		case strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go"):
			dir := filepath.Dir(p)
			out.goDirs[dir] = append(out.goDirs[dir], p)
		case strings.HasSuffix(name, ".html") || strings.HasSuffix(name, ".tmpl"):
			out.templates = append(out.templates, p)
		case strings.HasSuffix(name, ".js") && !strings.HasSuffix(name, ".min.js"):
			out.scripts = append(out.scripts, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", root, err)
	}
	sort.Strings(out.templates)
	sort.Strings(out.scripts)
	return out, nil
}

// collector gathers the texts found.
type collector struct {
	root  string
	found map[string]*found
}

type found struct {
	places map[string]bool
	kinds  map[string]bool
	plural bool
}

func newCollector(root string) *collector {
	return &collector{root: root, found: map[string]*found{}}
}

// place writes a file and line relative to the root, with slashes.
func (c *collector) place(file string, line int) string {
	rel, err := filepath.Rel(c.root, file)
	if err != nil {
		rel = file
	}
	return filepath.ToSlash(rel) + ":" + fmt.Sprint(line)
}

// add records a text. Texts given to T are keys whatever they look like;
// other texts (inferred from where they go) must look like words, not
// codes.
func (c *collector) add(id, place string, kinds ...string) {
	if strings.TrimSpace(id) == "" || !hasWords(id) {
		return
	}
	f := c.found[id]
	if f == nil {
		f = &found{places: map[string]bool{}, kinds: map[string]bool{}}
		c.found[id] = f
	}
	f.places[place] = true
	for _, k := range kinds {
		if k != "" {
			f.kinds[k] = true
		}
	}
	if plural(id) {
		f.plural = true
	}
}

// addInferred records a text that is not given to T by name, after
// checking that it reads as words.
func (c *collector) addInferred(id, place string, kinds ...string) {
	if looksLikeCode(id) {
		return
	}
	c.add(id, place, kinds...)
}

// markPlural marks a text whose form depends on a number written before it
// in a template ("{{.Frames}} {{$.T "frames"}}").
func (c *collector) markPlural(id string) {
	if f := c.found[id]; f != nil {
		f.plural = true
	}
}

func (c *collector) messages() []Message {
	out := make([]Message, 0, len(c.found))
	for id, f := range c.found {
		m := Message{ID: id, Plural: f.plural}
		for p := range f.places {
			m.Places = append(m.Places, p)
		}
		for k := range f.kinds {
			m.Kinds = append(m.Kinds, k)
		}
		sort.Slice(m.Places, func(i, j int) bool { return placeLess(m.Places[i], m.Places[j]) })
		sort.Strings(m.Kinds)
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// placeLess orders places by file, then by line as a number.
func placeLess(a, b string) bool {
	fa, la := splitPlace(a)
	fb, lb := splitPlace(b)
	if fa != fb {
		return fa < fb
	}
	return la < lb
}

func splitPlace(p string) (string, int) {
	i := strings.LastIndexByte(p, ':')
	if i < 0 {
		return p, 0
	}
	n := 0
	for _, r := range p[i+1:] {
		if r < '0' || r > '9' {
			return p, 0
		}
		n = n*10 + int(r-'0')
	}
	return p[:i], n
}

// verb matches a fmt verb.
var verb = regexp.MustCompile(`%(\[\d+\])?[-+# 0]*(\d+|\*)?(\.(\d+|\*)?)?[a-zA-Z%]`)

// hasWords reports whether s has a letter outside its fmt verbs.
func hasWords(s string) bool {
	return strings.IndexFunc(verb.ReplaceAllString(s, ""), unicode.IsLetter) >= 0
}

var (
	codeShape = regexp.MustCompile(`^[a-z0-9]+([_.:/-][a-z0-9]+)+$|^[a-z]+[A-Z][A-Za-z0-9]*$|^[A-Z0-9_]{2,}$|^[a-z0-9_]+=`)
	sqlStart  = regexp.MustCompile(`^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP)\s`)
)

// looksLikeCode reports whether a text inferred from where it goes is a
// code, a route, an address or SQL rather than words for people.
func looksLikeCode(s string) bool {
	t := strings.TrimSpace(s)
	switch {
	case codeShape.MatchString(t), sqlStart.MatchString(t):
		return true
	case strings.HasPrefix(t, "/"), strings.Contains(t, "://"):
		return true
	}
	if w := verb.ReplaceAllString(t, ""); strings.IndexFunc(w, unicode.IsSpace) < 0 && strings.ContainsAny(w, "/_=:@") {
		return true // "%s/cases/%s", "family-invite:%s", "user=%s"
	}
	// Texts joined with links: "%s %s\n%s/family\n", every word a path.
	for _, w := range strings.Fields(verb.ReplaceAllString(t, " ")) {
		if !strings.ContainsAny(w, "/_=@?") {
			return false
		}
	}
	return true
}

// plural reports whether a format has a %d followed by a word whose form
// depends on the number: a plural noun ("%d days", "%d entries checked",
// "%d open cases") or a plural verb ("%d most urgent are shown").
func plural(s string) bool {
	for _, loc := range numberVerb.FindAllStringIndex(s, -1) {
		if pluralWordsAfter(s[loc[1]:]) {
			return true
		}
	}
	return false
}

var numberVerb = regexp.MustCompile(`%(\[\d+\])?[-+ 0]*\d*d`)

var (
	stopWords      = map[string]bool{"of": true, "to": true, "and": true, "or": true, "in": true, "at": true, "by": true, "for": true, "from": true, "per": true, "on": true, "with": true, "than": true}
	notPlural      = map[string]bool{"is": true, "was": true, "has": true, "this": true, "its": true, "us": true, "as": true, "yes": true, "does": true, "less": true, "across": true, "always": true, "plus": true, "minus": true, "thus": true, "his": true}
	pluralWords    = map[string]bool{"people": true, "children": true, "men": true, "women": true, "are": true, "were": true, "have": true}
	pluralMaxWords = 3
)

// pluralWordsAfter reads the words after a number, up to punctuation, a
// preposition or three words.
func pluralWordsAfter(rest string) bool {
	if rest == "" || rest[0] != ' ' {
		return false // "%d%%", "%dh", "%d)" …
	}
	n := 0
	for _, w := range strings.Fields(rest) {
		if n == pluralMaxWords {
			break
		}
		word := strings.TrimRightFunc(w, func(r rune) bool { return !unicode.IsLetter(r) })
		if word == "" || strings.IndexFunc(word, func(r rune) bool { return !unicode.IsLetter(r) }) >= 0 {
			break
		}
		lower := strings.ToLower(word)
		if stopWords[lower] {
			break
		}
		if pluralWords[lower] || (len(lower) > 2 && strings.HasSuffix(lower, "s") && !notPlural[lower] && !strings.HasSuffix(lower, "ss")) {
			return true
		}
		n++
		if word != w { // punctuation after the word ends the phrase
			break
		}
	}
	return false
}

// pluralWord reports whether a text given to T starts with a plural word,
// for "{{.N}} {{$.T "frames"}}".
func pluralWord(s string) bool { return pluralWordsAfter(" " + s) }

// errNoModule is returned when the root has no go.mod.
var errNoModule = errors.New("no go.mod at the root")

// Package i18n is the message catalog through which every user-facing text
// passes. Texts are written in English in the code and templates, and the
// English text is the key: a catalog file for another language maps each
// English text (a fmt format when the text has values) to its translation.
// A text whose number decides its form ("%d days") maps to an object of
// CLDR plural categories, {"one": "%d jour", "other": "%d jours"}, chosen by
// the first integer among the values with the language's CLDR rules; the
// English forms are in messages/en.json. Adding a language is adding
// messages/LANG.json and its line in Languages' names (see docs).
package i18n

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

//go:embed messages/*.json
var files embed.FS

// Source is the language the texts are written in.
const Source = "en"

// Catalog holds the translations of every language.
type Catalog struct {
	langs map[string]map[string]entry
}

// entry is one translation: a text, or its plural forms by CLDR category
// ("zero", "one", "two", "few", "many", "other").
type entry struct {
	text   string
	plural map[string]string
}

func (e *entry) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &e.text); err == nil {
		return nil
	}
	if err := json.Unmarshal(b, &e.plural); err != nil {
		return fmt.Errorf("want a text or an object of plural forms: %w", err)
	}
	if e.plural["other"] == "" {
		return errors.New(`plural forms without "other"`)
	}
	return nil
}

// Load reads the embedded catalogs.
func Load() (*Catalog, error) { return LoadFS(files, "messages") }

// LoadFS reads catalogs from dir in fsys: one LANG.json per language.
func LoadFS(fsys fs.FS, dir string) (*Catalog, error) {
	c := &Catalog{langs: map[string]map[string]entry{Source: {}}}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read message catalogs: %w", err)
	}
	for _, e := range entries {
		lang, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read catalog %s: %w", e.Name(), err)
		}
		m := map[string]entry{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("catalog %s: %w", e.Name(), err)
		}
		c.langs[lang] = m
	}
	return c, nil
}

// Languages lists the languages, the source first.
func (c *Catalog) Languages() []string {
	out := []string{Source}
	for l := range c.langs {
		if l != Source {
			out = append(out, l)
		}
	}
	sort.Strings(out[1:])
	return out
}

// Has reports whether lang is in the catalog.
func (c *Catalog) Has(lang string) bool {
	if c == nil {
		return false
	}
	_, ok := c.langs[lang]
	return ok
}

// T translates the English text msg into lang and formats it with args.
// A text without a translation is shown in English.
func (c *Catalog) T(lang, msg string, args ...any) string {
	if c == nil {
		c, lang = english(), Source
	}
	e, ok := c.langs[lang][msg]
	if !ok || e.empty() {
		// Untranslated: the English text, with English plural forms.
		lang, e = Source, c.langs[Source][msg]
	}
	switch {
	case e.plural != nil:
		msg = e.form(lang, args)
	case e.text != "":
		msg = e.text
	}
	return format(msg, args)
}

func format(msg string, args []any) string {
	if len(args) == 0 || !strings.Contains(msg, "%") { // a plural form may leave the number out: "every day"
		return msg
	}
	return fmt.Sprintf(msg, args...)
}

// english is the catalog of the source language alone (its plural forms),
// for a nil Catalog.
var english = sync.OnceValue(func() *Catalog {
	m := map[string]entry{}
	if b, err := files.ReadFile("messages/" + Source + ".json"); err == nil {
		_ = json.Unmarshal(b, &m) // the embedded file is checked by the tests
	}
	return &Catalog{langs: map[string]map[string]entry{Source: m}}
})

// Words are the texts and formats of one language: what composes a mail,
// a calendar invitation or a file for one reader.
type Words struct {
	*Locale
	c *Catalog
}

// In returns the words of lang: the first of langs that the catalog has
// (a preference, then a person's recorded languages), else English. A nil
// catalog writes English.
func (c *Catalog) In(langs ...string) Words {
	lang := Source
	for _, l := range langs {
		if c.Has(l) {
			lang = l
			break
		}
	}
	return Words{Locale: c.Locale(lang), c: c}
}

// T translates msg (a fmt format) and formats it with args. The zero
// Words write English.
func (w Words) T(msg string, args ...any) string {
	lang := Source
	if w.Locale != nil {
		lang = w.Lang
	}
	return w.c.T(lang, msg, args...)
}

func (e entry) empty() bool { return e.text == "" && e.plural == nil }

// form picks the plural form for the first integer among args.
func (e entry) form(lang string, args []any) string {
	n, ok := firstInt(args)
	if !ok {
		return e.plural["other"]
	}
	cat := "other"
	switch plural.Cardinal.MatchPlural(language.Make(lang), n, 0, 0, 0, 0) {
	case plural.Zero:
		cat = "zero"
	case plural.One:
		cat = "one"
	case plural.Two:
		cat = "two"
	case plural.Few:
		cat = "few"
	case plural.Many:
		cat = "many"
	}
	if f, ok := e.plural[cat]; ok && f != "" {
		return f
	}
	return e.plural["other"]
}

func firstInt(args []any) (int, bool) {
	for _, a := range args {
		switch v := a.(type) {
		case int:
			return abs(v), true
		case int64:
			return abs(int(v)), true
		case int32:
			return abs(int(v)), true
		case uint:
			return int(v), true
		case uint64:
			return int(v), true
		}
	}
	return 0, false
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// Translated reports whether lang has a translation of msg.
func (c *Catalog) Translated(lang, msg string) bool {
	_, ok := c.langs[lang][msg]
	return lang == Source || ok
}

// Match picks the language for a user: their preference when the catalog
// has it, else the first of the browser's Accept-Language that it has, else
// the source language.
func (c *Catalog) Match(preference, acceptLanguage string) string {
	if c.Has(preference) {
		return preference
	}
	type choice struct {
		lang string
		q    float64
	}
	var choices []choice
	for i, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0 - float64(i)*0.001 // keep the browser's order among equal weights
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			var f float64
			if _, err := fmt.Sscanf(v, "%g", &f); err == nil {
				q = f
			}
		}
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if q > 0 && c.Has(base) {
			choices = append(choices, choice{base, q})
		}
	}
	sort.SliceStable(choices, func(i, j int) bool { return choices[i].q > choices[j].q })
	if len(choices) > 0 {
		return choices[0].lang
	}
	return Source
}

// Package i18n is the message catalog through which every user-facing text
// passes. Texts are written in English in the code and templates, and the
// English text is the key: a catalog file for another language maps each
// English text (a fmt format when the text has values) to its translation.
// Adding a language is adding messages/LANG.json; no template changes.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed messages/*.json
var files embed.FS

// Source is the language the texts are written in.
const Source = "en"

// Catalog holds the translations of every language.
type Catalog struct {
	langs map[string]map[string]string
}

// Load reads the embedded catalogs.
func Load() (*Catalog, error) { return LoadFS(files, "messages") }

// LoadFS reads catalogs from dir in fsys: one LANG.json per language.
func LoadFS(fsys fs.FS, dir string) (*Catalog, error) {
	c := &Catalog{langs: map[string]map[string]string{Source: {}}}
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
		m := map[string]string{}
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
func (c *Catalog) Has(lang string) bool { _, ok := c.langs[lang]; return ok }

// T translates the English text msg into lang and formats it with args.
// A text without a translation is shown in English.
func (c *Catalog) T(lang, msg string, args ...any) string {
	if tr, ok := c.langs[lang][msg]; ok && tr != "" {
		msg = tr
	}
	if len(args) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, args...)
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

package i18n_test

import (
	"testing"
	"testing/fstest"

	"github.com/attache-org/attache/internal/i18n"
)

func TestCatalog(t *testing.T) {
	c, err := i18n.LoadFS(fstest.MapFS{
		"m/fr.json": {Data: []byte(`{"Sign in": "Se connecter", "%d cases": "%d dossiers"}`)},
	}, "m")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ lang, msg, want string }{
		{"fr", "Sign in", "Se connecter"},
		{"en", "Sign in", "Sign in"},
		{"fr", "Untranslated", "Untranslated"},
		{"de", "Sign in", "Sign in"},
	}
	for _, tc := range cases {
		if got := c.T(tc.lang, tc.msg); got != tc.want {
			t.Errorf("T(%s, %q) = %q, want %q", tc.lang, tc.msg, got, tc.want)
		}
	}
	if got := c.T("fr", "%d cases", 3); got != "3 dossiers" {
		t.Errorf("formatted: %q", got)
	}
	for _, tc := range []struct{ pref, accept, want string }{
		{"", "fr-CA,fr;q=0.9,en;q=0.8", "fr"},
		{"", "de-DE,en;q=0.5,fr;q=0.7", "fr"},
		{"en", "fr-CA", "en"},
		{"", "zh-CN", "en"},
		{"", "", "en"},
		{"xx", "fr;q=0", "en"},
	} {
		if got := c.Match(tc.pref, tc.accept); got != tc.want {
			t.Errorf("Match(%q, %q) = %q, want %q", tc.pref, tc.accept, got, tc.want)
		}
	}
	if _, err := i18n.LoadFS(fstest.MapFS{"m/fr.json": {Data: []byte(`{`)}}, "m"); err == nil {
		t.Error("broken catalog accepted")
	}
}

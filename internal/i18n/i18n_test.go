package i18n_test

import (
	"testing"
	"testing/fstest"
	"time"

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

func TestPlurals(t *testing.T) {
	c, err := i18n.LoadFS(fstest.MapFS{
		"m/en.json": {Data: []byte(`{"%d days ago": {"one": "%d day ago", "other": "%d days ago"}}`)},
		"m/fr.json": {Data: []byte(`{"%d days ago": {"one": "il y a %d jour", "other": "il y a %d jours"}, "Untranslated plural %d": ""}`)},
		"m/zh.json": {Data: []byte(`{"%d days ago": {"other": "%d天前"}}`)},
	}, "m")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		lang string
		n    int
		want string
	}{
		{"en", 1, "1 day ago"}, {"en", 0, "0 days ago"}, {"en", 2, "2 days ago"},
		// French counts 0 and 1 as one (CLDR), 2 and more as other.
		{"fr", 0, "il y a 0 jour"}, {"fr", 1, "il y a 1 jour"}, {"fr", 2, "il y a 2 jours"},
		{"zh", 1, "1天前"}, {"zh", 5, "5天前"},
		// A language without the text falls back to English, English forms.
		{"de", 1, "1 day ago"},
		{"en", -1, "-1 day ago"},
	} {
		if got := c.T(tc.lang, "%d days ago", tc.n); got != tc.want {
			t.Errorf("T(%s, %d) = %q, want %q", tc.lang, tc.n, got, tc.want)
		}
	}
	if got := c.T("fr", "Untranslated plural %d", 3); got != "Untranslated plural 3" {
		t.Errorf("empty translation: %q", got)
	}
	for _, bad := range []string{`{"x": 5}`, `{"x": {"one": "a"}}`, `{"x": ["a"]}`} {
		if _, err := i18n.LoadFS(fstest.MapFS{"m/fr.json": {Data: []byte(bad)}}, "m"); err == nil {
			t.Errorf("catalog %s accepted", bad)
		}
	}
}

func TestLocale(t *testing.T) {
	c, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 10, 12, 0, 0, time.UTC)
	for _, tc := range []struct{ lang, dateTime, number, china, germany, chinese string }{
		{"en", "Dec. 7, 2026, 6:12 p.m. (Asia/Shanghai)", "1,234,567.5", "China", "Germany", "Chinese"},
		{"fr", "7 déc. 2026, 18 h 12 (Asia/Shanghai)", "1\u00a0234\u00a0567,5", "Chine", "Allemagne", "chinois"},
		{"zh", "2026年12月7日 下午6:12 (Asia/Shanghai)", "1,234,567.5", "中国", "德国", "中文"},
	} {
		l := c.Locale(tc.lang)
		if got := l.DateTime(at, "Asia/Shanghai"); got != tc.dateTime {
			t.Errorf("%s: DateTime %q, want %q", tc.lang, got, tc.dateTime)
		}
		if got := l.Number(1234567.5, 1); got != tc.number {
			t.Errorf("%s: Number %q, want %q", tc.lang, got, tc.number)
		}
		if got := l.Country("CN") + "|" + l.Country("DE") + "|" + l.Language("zh"); got != tc.china+"|"+tc.germany+"|"+tc.chinese {
			t.Errorf("%s: names %q", tc.lang, got)
		}
		list := l.Countries()
		if len(list) != 249 {
			t.Errorf("%s: %d countries, want ISO 3166-1's 249", tc.lang, len(list))
		}
		seen := map[string]bool{}
		for _, co := range list {
			if co.Name == "" || seen[co.Name] {
				t.Errorf("%s: country %s named %q (blank or twice)", tc.lang, co.Code, co.Name)
			}
			seen[co.Name] = true
		}
	}
	l := c.Locale("en")
	for _, withdrawn := range []string{"DD", "SU", "YU", "CS", "AN", "ZR", "UK", "EU", "XK", "AC", "QO", "ZZ"} {
		if n := l.Country(withdrawn); n != "" {
			t.Errorf("%s named %q: not a current country", withdrawn, n)
		}
	}
	if got := c.Locale("en").DateTime(at, "Mars/Olympus"); got != "Dec. 7, 2026, 10:12 a.m. (UTC)" {
		t.Errorf("unknown zone: %q", got)
	}
	if i18n.SelfName("fr") != "Français" || i18n.SelfName("zh") != "中文" {
		t.Errorf("self names %q %q", i18n.SelfName("fr"), i18n.SelfName("zh"))
	}
}

func TestShippedCatalogs(t *testing.T) {
	c, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		lang, msg string
		n         int
		want      string
	}{
		{"en", "every %d days", 1, "every day"},
		{"en", "every %d days", 14, "every 14 days"},
		{"en", "Too many wrong codes. Try again in %d seconds.", 1, "Too many wrong codes. Try again in 1 second."},
		{"en", "%d days ago", 1, "1 day ago"},
	} {
		if got := c.T(tc.lang, tc.msg, tc.n); got != tc.want {
			t.Errorf("T(%s, %q, %d) = %q, want %q", tc.lang, tc.msg, tc.n, got, tc.want)
		}
	}
	if got := c.T("fr", "Sign in"); got == "Sign in" || got == "" {
		t.Errorf("French sign-in: %q", got)
	}
	if langs := c.Languages(); len(langs) < 2 || langs[0] != "en" {
		t.Errorf("languages %v", langs)
	}
}

func TestWeekdays(t *testing.T) {
	c, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	fr, en := c.Locale("fr"), c.Locale("en")
	if got := fr.Weekday(time.Monday); got != "lun" {
		t.Errorf("French Monday %q", got)
	}
	if got := en.Weekday(time.Monday); got != "Mon" {
		t.Errorf("English Monday %q", got)
	}
	for _, tc := range []struct {
		l    *i18n.Locale
		in   string
		want time.Weekday
		ok   bool
	}{
		{fr, "lun", time.Monday, true}, {fr, "Lun.", time.Monday, true}, {fr, "mercredi", time.Wednesday, true},
		{fr, "Mon", time.Monday, true}, {fr, "sunday", time.Sunday, true}, {en, "Tue", time.Tuesday, true},
		{en, "lun", 0, false}, {fr, "lu", 0, false}, {fr, "", 0, false}, {c.Locale("zh"), "周三", time.Wednesday, true},
	} {
		if d, ok := tc.l.ParseWeekday(tc.in); d != tc.want || ok != tc.ok {
			t.Errorf("%s: ParseWeekday(%q) = %v, %v; want %v, %v", tc.l.Lang, tc.in, d, ok, tc.want, tc.ok)
		}
	}
}

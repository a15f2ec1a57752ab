package web

import (
	"net/http"
	"slices"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/i18n"
	"github.com/attache-org/attache/internal/problem"
)

// The language of a page: the one chosen with the switch in the header (a
// cookie), else the account's preference, else the browser's
// Accept-Language, else English.

const langCookie = "attache_lang"

// officialLanguages are those the staff pages switch between (the sending
// state's official languages, Canadian convention: "Français" / "English"
// in the header). Pages for people outside the ministry (join links, the
// family portal) offer every language of the catalog.
var officialLanguages = []string{"en", "fr"}

// chosenLang is the language the switch chose, else preference.
func (s *Server) chosenLang(r *http.Request, preference string) string {
	if c, err := r.Cookie(s.cookieName(langCookie)); err == nil && s.Catalog.Has(c.Value) {
		return c.Value
	}
	return preference
}

// userLang is the language chosen for a signed-in user's pages: staff
// pages stay in the official languages, whatever a join page's switch set.
func (s *Server) userLang(r *http.Request, u *auth.User) string {
	lang := s.chosenLang(r, u.Lang)
	if u.Role != auth.RoleFamily && !slices.Contains(officialLanguages, lang) {
		return u.Lang
	}
	return lang
}

// switchLanguage keeps the language chosen in the header and goes back to
// the page (post, redirect, get).
func (s *Server) switchLanguage(w http.ResponseWriter, r *http.Request) error {
	lang := r.PostFormValue("lang")
	if !s.Catalog.Has(lang) {
		return problem.Field("lang", "Choose a language from the list.")
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(langCookie), Value: lang, Path: "/", MaxAge: 400 * 24 * 3600,
		HttpOnly: true, Secure: s.Config.TLS(), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
	return nil
}

// langChoice is one entry of the header's language switch.
type langChoice struct {
	Code string // BCP 47
	Name string // in itself: "Français"
}

// languageSwitch lists the languages a page offers besides its own: the
// official ones on staff pages, all on pages for people outside the
// ministry.
func (s *Server) languageSwitch(current string, everyone bool) []langChoice {
	list := officialLanguages
	if everyone {
		list = s.Catalog.Languages()
	}
	var out []langChoice
	for _, l := range list {
		if l != current && s.Catalog.Has(l) {
			out = append(out, langChoice{Code: l, Name: i18n.SelfName(l)})
		}
	}
	return out
}

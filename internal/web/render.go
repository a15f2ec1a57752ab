package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/access"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/edate"
	"github.com/attache-org/attache/internal/family"
	"github.com/attache-org/attache/internal/i18n"
	"github.com/attache-org/attache/internal/visits"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// assets are the embedded static files, served under content-hashed names
// (app.css becomes app.3f2a9c1e.css) so that browsers may cache them forever.
type assets struct {
	byHashed map[string]asset
	hashed   map[string]string // plain name → hashed name
}

type asset struct {
	body        []byte
	contentType string
}

func loadAssets() (*assets, error) {
	a := &assets{byHashed: map[string]asset{}, hashed: map[string]string{}}
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		name := path.Base(p)
		sum := sha256.Sum256(body)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:4]) + ext
		a.byHashed[hashed] = asset{body: body, contentType: mime.TypeByExtension(ext)}
		a.hashed[name] = hashed
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load assets: %w", err)
	}
	return a, nil
}

// url returns the hashed URL of a static file; an unknown name fails the
// template at parse-time use, so a typo shows up in tests.
func (a *assets) url(name string) (string, error) {
	h, ok := a.hashed[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return "/static/" + h, nil
}

func (s *Server) static(w http.ResponseWriter, r *http.Request) error {
	a, ok := s.assets.byHashed[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return nil
	}
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(a.body)
	return nil
}

// view is the data of every page.
type view struct {
	s       *Server
	Lang    string
	Title   string
	User    *auth.User
	CSRF    string
	Flash   string
	Nav     []navItem
	Path    string
	Version string
	// Languages are the header's language switch (the other languages);
	// Here is the page's address, where the switch comes back to.
	Languages []langChoice
	Here      string
	Form      form
	Data      any
}

type navItem struct {
	Label, Href string
	Active      bool
}

// form carries a form's values and the error of each field back to the page.
type form struct {
	Values map[string]string
	Errors map[string]string
	Error  string // about the whole form
}

// T translates a text of the page into the page's language.
func (v *view) T(msg string, args ...any) string { return v.s.Catalog.T(v.Lang, msg, args...) }

// Value and FieldError read the form.
func (v *view) Value(name string) string      { return v.Form.Values[name] }
func (v *view) FieldError(name string) string { return v.Form.Errors[name] }

// Can reports whether the signed-in user may do an action (for links and buttons).
func (v *view) Can(action string) bool { return v.s.policy.Can(v.User, auth.Action(action), nil) }

// vocabulary finds a vocabulary by name, in the general table or the
// reports' own.
func vocabulary(name string) (cases.Vocab, bool) {
	if v, ok := vocabularies[name]; ok {
		return v, true
	}
	v, ok := reportVocabularies[name]
	return v, ok
}

// vocabularies are the controlled vocabularies templates can list.
var vocabularies = map[string]cases.Vocab{
	"scripts": cases.Scripts, "name_kinds": cases.NameKinds, "sexes": cases.Sexes,
	"vulnerabilities": cases.Vulnerabilities, "recognition": cases.Recognition,
	"detention_types": cases.DetentionTypes, "legal_statuses": cases.LegalStatuses,
	"case_statuses": cases.CaseStatuses, "priorities": cases.Priorities,
	"classifications": cases.Classifications, "event_kinds": cases.EventKinds,
	"source_kinds": cases.SourceKinds, "sort_orders": cases.SortOrders, "countries": cases.Countries(),
	"modes": access.Modes, "learned_via": access.LearnedVia, "assistance": access.Assistance,
	"channels": access.Channels, "levels": access.Levels, "request_statuses": access.Statuses,
	"visit_modalities": visits.Modalities, "visit_statuses": visits.Statuses, "link_roles": visits.LinkRoles, "participant_roles": visits.ParticipantRoles,
	"call_outcomes": visits.Outcomes, "visit_kinds": visits.Kinds, "recordable_kinds": visits.RecordableKinds, "recording_policies": visits.RecordingPolicies,
	"family_categories": family.Categories, "family_relationships": family.Relationships, "consent_methods": family.ConsentMethods,
	"delivery_methods": family.DeliveryMethods, "family_message_statuses": family.MessageStatuses,
	"exception_reasons": family.ExceptionReasons, "exception_categories": exceptionCategories,
}

// exceptionCategories are the family categories an exception may cover.
var exceptionCategories = func() cases.Vocab {
	var out cases.Vocab
	for _, c := range family.ExceptionCategories {
		out = append(out, cases.Term{Code: string(c), Label: c.Label()})
	}
	return out
}()

// OpensMinutes is how long before a visit's start its room opens.
func (v *view) OpensMinutes() int { return int(v.s.Visits.Times().OpensBefore.Minutes()) }

// Now is the time the page is made, for durations still running.
func (v *view) Now() time.Time { return time.Now() }

// Local writes an instant in an IANA zone, the zone named.
func (v *view) Local(t time.Time, zone string) string {
	return v.s.Catalog.Locale(v.Lang).DateTime(t, zone)
}

// Human writes a date of uncertain precision (a year, a month, a day, a
// time in a zone; perhaps approximate) in the page's language.
func (v *view) Human(d edate.Date) string {
	l := v.s.Catalog.Locale(v.Lang)
	var s string
	switch d.Precision {
	case edate.Year:
		s = strconv.Itoa(d.Year)
	case edate.Month:
		s = l.MonthYear(d.Year, d.Month)
	case edate.Day:
		s = l.LongDate(time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC))
	case edate.Minute:
		t := time.Date(d.Year, d.Month, d.Day, d.Hour, d.Minute, 0, 0, time.UTC)
		s = l.LongDate(t) + " " + l.Time(t)
		if d.Zone != "" {
			s += " (" + d.Zone + ")"
		}
	default:
		return v.T("unknown")
	}
	if d.Approx {
		return v.T("about %s", s)
	}
	return s
}

// LocalInput writes an instant in an IANA zone as a form value,
// YYYY-MM-DD HH:MM, for a field that takes the time in that zone.
func (v *view) LocalInput(t time.Time, zone string) string {
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04")
}

// RoleName names a role in the page's language.
func (v *view) RoleName(r auth.Role) string { return v.T(roleNames[r]) }

// Country names a country in the page's language (its code when it names
// no current country).
func (v *view) Country(code string) string {
	if n := v.s.Catalog.Locale(v.Lang).Country(code); n != "" {
		return n
	}
	return code
}

// EventTitle is a timeline entry's title: one the system wrote in the
// page's language, one a person wrote as they wrote it.
func (v *view) EventTitle(e cases.TimelineEntry) string {
	if !e.TitleText.IsZero() {
		return e.TitleText.Localize(v.T)
	}
	return e.Title
}

// EventBody is a timeline entry's text, translated where the system wrote
// it.
func (v *view) EventBody(e cases.TimelineEntry) string {
	if !e.BodyText.IsZero() {
		return e.BodyText.Localize(v.T)
	}
	return e.Body
}

// Countries are the current ISO 3166-1 countries, named in the page's
// language (CLDR), sorted by name.
func (v *view) Countries() []i18n.Country { return v.s.Catalog.Locale(v.Lang).Countries() }

// Language names a language (BCP 47) in the page's language, or gives
// its code when CLDR has no name for it.
func (v *view) Language(code string) string {
	if n := v.s.Catalog.Locale(v.Lang).Language(code); n != "" {
		return n
	}
	return code
}

// LangName names a language in that language, as language menus do.
func (v *view) LangName(lang string) string { return i18n.SelfName(lang) }

var roleNames = map[auth.Role]string{
	auth.RoleAdmin:           "Administrator",
	auth.RoleHQOfficer:       "HQ case officer",
	auth.RoleConsularOfficer: "Consular officer",
	auth.RoleSupervisor:      "Supervisor",
	auth.RoleAuditor:         "Auditor",
	auth.RoleFamily:          "Family member",
}

// When formats an instant for the page, in UTC with its zone named.
func (v *view) When(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 MST")
}

func (s *Server) view(r *http.Request, title string) *view {
	st := stateOf(r)
	v := &view{s: s, Lang: st.lang, Title: title, User: st.user, Path: r.URL.Path, Version: s.Version,
		Form: form{Values: map[string]string{}, Errors: map[string]string{}}}
	if st.session != nil {
		v.CSRF = st.session.CSRF
	}
	outsider := (st.user == nil && (strings.HasPrefix(r.URL.Path, "/join/") || strings.HasPrefix(r.URL.Path, "/family"))) ||
		(st.user != nil && st.user.Role == auth.RoleFamily)
	v.Languages, v.Here = s.languageSwitch(st.lang, outsider), r.URL.RequestURI()
	if r.Method != http.MethodGet {
		v.Here = sameSitePath(r.Referer(), r.Host)
	}
	if c, err := r.Cookie(flashCookie); err == nil {
		if msg, ok := flashText(c.Value); ok {
			v.Flash = msg
		}
	}
	if st.session != nil && (st.session.Pending || st.session.Enrol) {
		return v // no menu until the sign-in is whole
	}
	if v.User != nil {
		for _, item := range []struct {
			label, href string
			action      auth.Action
		}{
			{"Home", "/", auth.ViewHome},
			{"Cases", "/cases", auth.ReadCase},
			{"Find a person", "/people", auth.ReadCase},
			{"Facilities", "/facilities", auth.ReadFacility},
			{"Users", "/admin/users", auth.ListUsers},
			{"Audit log", "/audit", auth.ReadAudit},
			{"My account", "/account", auth.ManageAccount},
		} {
			if s.policy.Can(v.User, item.action, nil) {
				active := r.URL.Path == item.href || (item.href != "/" && strings.HasPrefix(r.URL.Path, item.href+"/"))
				v.Nav = append(v.Nav, navItem{Label: item.label, Href: item.href, Active: active})
			}
		}
	}
	return v
}

// flashes are the one-line notices shown after a redirect. The cookie holds
// the key, never the text, so nobody can make the site say something else.
// flashText is the message of a flash key, from the page families' tables.
func flashText(key string) (string, bool) {
	for _, m := range []map[string]string{flashes, reportFlashes, familyFlashes} {
		if msg, ok := m[key]; ok {
			return msg, true
		}
	}
	return "", false
}

var flashes = map[string]string{
	"signed-out":       "You have signed out.",
	"password-changed": "Your password was changed. Your other sessions were ended.",
	"prefs-saved":      "Your preferences were saved.",
	"token-revoked":    "The token was revoked.",
	"session-ended":    "The session was ended.",
	"user-created":     "The account was created.",
	"user-updated":     "The account was saved.",
	"welcome":          "Welcome. Your administrator account is ready.",
	"case-opened":      "The case was opened.",
	"case-saved":       "The case was saved.",
	"name-added":       "The name was added.",
	"event-added":      "The fact was added to the timeline.",
	"removed":          "It was removed.",
	"facility-saved":   "The facility was saved.",
	"contact-added":    "The contact was recorded.",
	"request-saved":    "The request was saved.",
	"suspension-saved": "The suspension was saved.",
	"agreement-saved":  "The agreement was saved.",
	"policy-saved":     "The recording policy was saved.",
	"visit-saved":      "The visit was saved.",
	"visit-moved":      "The visit was moved; its officers are told.",
	"notices-saved":    "Your choice of notices was saved.",
	"visit-recorded":   "The visit was recorded, and counted as a consular contact.",
	"totp-added":       "Your authenticator app is set up.",
	"key-added":        "Your security key is set up.",
	"factor-removed":   "The second factor was removed.",
	"break-glass":      "You opened this case outside your need-to-know. Its team sees that you did, and why.",
	"mfa-saved":        "The second factor requirements were saved.",
	"mfa-reset":        "The account's second factors were removed and its sessions ended. Its owner sets up a new one at the next sign-in.",
}

// redirectFlash redirects after a successful form, with a notice.
func (s *Server) redirectFlash(w http.ResponseWriter, r *http.Request, to, flash string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: flash, Path: "/", MaxAge: 30, HttpOnly: true,
		Secure: s.Config.TLS(), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (s *Server) parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"asset":       s.assets.url,
		"roles":       func() []auth.Role { return auth.Roles },
		"join":        strings.Join,
		"langName":    i18n.SelfName,
		"auditAction": auditAction,
		"factorName": func(code string) string {
			if n, ok := auth.FactorNames[code]; ok {
				return n
			}
			return code
		},
		"vocab": func(name string) (cases.Vocab, error) {
			v, ok := vocabulary(name)
			if !ok {
				return nil, fmt.Errorf("no vocabulary %q", name)
			}
			return v, nil
		},
		"label": func(name, code string) (string, error) {
			v, ok := vocabulary(name)
			if !ok {
				return "", fmt.Errorf("no vocabulary %q", name)
			}
			return v.Label(code), nil
		},
		"has":         func(list []string, s string) bool { return slices.Contains(list, s) },
		"hasCategory": func(list []family.Category, c family.Category) bool { return slices.Contains(list, c) },
		"mul100":      func(f float64) float64 { return f * 100 },
		"seconds":     func(ms int64) float64 { return float64(ms) / 1000 },
		"minutes":     func(a, b time.Time) int { return int(b.Sub(a).Minutes()) },
		"mib":         func(b int64) float64 { return float64(b) / (1 << 20) },
		"next":        access.Next,
		"nextVisit":   visits.NextStatuses,
		"agreementOf": func(v *view, p any) agreementView {
			if pp, ok := p.(access.Profile); ok {
				return agreementView{V: v, P: &pp}
			}
			return agreementView{V: v}
		},
		"checkOf": func(v *view, c access.Check, loc *time.Location) checkView {
			return checkView{V: v, Check: c, Zone: loc, Labels: checkLabels}
		},
		"seq": func(n int) []int {
			out := make([]int, n)
			for i := range out {
				out[i] = i
			}
			return out
		},
		"field": func(v *view, name, label, typ string) fieldView {
			return fieldView{V: v, Name: name, Label: label, Type: typ}
		},
		"sel": func(v *view, name, label, vocab, blank string) (selectView, error) {
			if vocab == "countries" { // named in the reader's language, from CLDR
				var terms cases.Vocab
				for _, c := range s.Catalog.Locale(v.Lang).Countries() {
					terms = append(terms, cases.Term{Code: c.Code, Label: c.Name})
				}
				return selectView{V: v, Name: name, Label: label, Terms: terms, Blank: blank}, nil
			}
			terms, ok := vocabulary(vocab)
			if !ok {
				return selectView{}, fmt.Errorf("no vocabulary %q", vocab)
			}
			return selectView{V: v, Name: name, Label: label, Terms: terms, Blank: blank}, nil
		},
	}
	// The layout and the partials (files starting with "_") are shared by
	// every page; each page is parsed into its own copy of them.
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/_*.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" || strings.HasPrefix(base, "_") {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, n)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", n, err)
		}
		pages[base] = t
	}
	return pages, nil
}

type fieldView struct {
	V                 *view
	Name, Label, Type string
}

type agreementView struct {
	V *view
	P *access.Profile
}

type checkView struct {
	V      *view
	Check  access.Check
	Zone   *time.Location
	Labels map[string]string
}

var checkLabels = map[string]string{"met": "met", "late": "late", "possibly_late": "possibly late", "overdue": "overdue",
	"possibly_overdue": "possibly overdue", "pending": "not yet due"}

// Span writes a span of instants as dates in loc (the detaining state's
// zone, where the days are counted): one day, or "between … and …".
func (v *view) Span(r access.Range, loc *time.Location) string {
	if r.IsZero() {
		return "—"
	}
	if loc == nil {
		loc = time.UTC
	}
	l := v.s.Catalog.Locale(v.Lang)
	a, b := l.LongDate(r.Earliest.In(loc)), l.LongDate(r.Latest.In(loc))
	if a == b {
		return a
	}
	return v.T("between %s and %s", a, b)
}

type selectView struct {
	V           *view
	Name, Label string
	Terms       cases.Vocab
	Blank       string // the label of an empty first choice, or none
}

func (s *Server) render(w http.ResponseWriter, page string, v *view) error {
	return s.renderStatus(w, http.StatusOK, page, v)
}

// renderStatus executes a page into a buffer first, so that a template
// error becomes a clean 500 rather than half a page.
func (s *Server) renderStatus(w http.ResponseWriter, code int, page string, v *view) error {
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("no template %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	if v.Flash != "" {
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, err := w.Write(buf.Bytes())
	return err
}

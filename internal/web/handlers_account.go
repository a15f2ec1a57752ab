package web

import (
	"database/sql"
	"net/http"
	"sort"
	"strings"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/notify"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/problem"
)

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderAccount(w, r, s.view(r, "My account"), http.StatusOK, "")
}

// renderAccount shows the account page; secret is a token shown once.
func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, v *view, code int, secret string) error {
	st := stateOf(r)
	tokens, err := s.Auth.Tokens(r.Context(), st.user.ID)
	if err != nil {
		return err
	}
	sessions, err := s.Auth.Sessions(r.Context(), st.user.ID)
	if err != nil {
		return err
	}
	current := ""
	if st.session != nil {
		current = st.session.ID
	}
	if _, ok := v.Form.Values["lang"]; !ok {
		v.Form.Values["lang"] = st.user.Lang
	}
	prefs, err := notify.Preferences(r.Context(), s.DB, st.user.ID)
	if err != nil {
		return err
	}
	type notice struct {
		notify.KindInfo
		On bool
	}
	var notices []notice
	for _, k := range notify.Kinds {
		if relevantNotice(st.user, k.Kind) {
			notices = append(notices, notice{k, prefs[k.Kind] || k.Always})
		}
	}
	langs := officialLanguages
	if st.user.Role == auth.RoleFamily {
		langs = s.Catalog.Languages()
	}
	v.Data = map[string]any{"Tokens": tokens, "Sessions": sessions, "Current": current, "Secret": secret,
		"Languages": langs, "Notices": notices}
	return s.renderStatus(w, code, "account", v)
}

// relevantNotice says whether a kind of notice can reach u at all, so that
// the page offers only those.
func relevantNotice(u *auth.User, k notify.Kind) bool {
	var p auth.Policy
	switch k {
	case notify.FamilyMessage:
		return p.Can(u, auth.ReadCase, nil) || p.Can(u, auth.FamilyPortal, nil)
	case notify.ReportSubmitted, notify.Escalation:
		return p.Can(u, auth.ApproveReport, nil) || u.Role == auth.RoleHQOfficer
	}
	return p.Can(u, auth.ReadCase, nil)
}

// saveNotices keeps which notices the user gets: the boxes ticked are on,
// the others off (kinds that are always sent stay on).
func (s *Server) saveNotices(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	on := map[notify.Kind]bool{}
	for _, k := range notify.Kinds {
		if relevantNotice(st.user, k.Kind) {
			on[k.Kind] = false
		}
	}
	for _, k := range r.PostForm["kind"] {
		if !notify.Kind(k).Known() {
			return problem.Field("kind", "Choose from the listed notices.")
		}
		on[notify.Kind(k)] = true
	}
	err := s.DB.InTx(r.Context(), func(tx *sql.Tx) error {
		if err := notify.SetPreferences(r.Context(), tx, st.user.ID, on); err != nil {
			return err
		}
		var off []string
		for k, v := range on {
			if !v {
				off = append(off, string(k))
			}
		}
		sort.Strings(off)
		return s.Audit.Append(r.Context(), tx, audit.Entry{Actor: st.actor(), Action: "account.notices", ObjectType: "user", ObjectID: st.user.ID,
			Detail: "off: " + strings.Join(off, ",")})
	})
	if err != nil {
		return err
	}
	s.redirectFlash(w, r, "/account#notices", "notices-saved")
	return nil
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	v := s.view(r, "My account")
	current, next := r.PostFormValue("current"), r.PostFormValue("password")
	if next != r.PostFormValue("confirm") {
		v.Form.Errors["confirm"] = "The two passwords differ."
		return s.renderAccount(w, r, v, http.StatusBadRequest, "")
	}
	err := s.Auth.ChangeOwnPassword(r.Context(), st.user, st.address, current, next)
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
		v.Form.Errors = pe.LocalizeFields(v.T)
		return s.renderAccount(w, r, v, http.StatusBadRequest, "")
	}
	if err != nil {
		return err
	}
	// Every session ended with the change; this browser starts a new one.
	token, _, err := s.Auth.StartSession(r.Context(), st.user, st.address, r.UserAgent(), st.session)
	if err != nil {
		return err
	}
	s.setSessionCookie(w, token)
	s.redirectFlash(w, r, "/account", "password-changed")
	return nil
}

func (s *Server) savePreferences(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	u := st.user
	in := auth.UserInput{Username: u.Username, DisplayName: u.DisplayName, Email: u.Email, Role: u.Role, Post: u.Post,
		Desk: u.Desk, Lang: r.PostFormValue("lang"), Disabled: u.Disabled}
	if _, err := s.Auth.UpdateUser(r.Context(), st.actor(), u.ID, in); err != nil {
		if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
			v := s.view(r, "My account")
			v.Form.Errors = pe.LocalizeFields(v.T)
			v.Form.Values["lang"] = in.Lang
			return s.renderAccount(w, r, v, http.StatusBadRequest, "")
		}
		return err
	}
	s.redirectFlash(w, r, "/account", "prefs-saved")
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	v := s.view(r, "My account")
	secret, _, err := s.Auth.CreateToken(r.Context(), st.actor(), st.user.ID, r.PostFormValue("name"))
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
		v.Form.Errors = pe.LocalizeFields(v.T)
		v.Form.Values["name"] = r.PostFormValue("name")
		return s.renderAccount(w, r, v, http.StatusBadRequest, "")
	}
	if err != nil {
		return err
	}
	return s.renderAccount(w, r, v, http.StatusCreated, secret)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	if err := s.Auth.RevokeToken(r.Context(), st.actor(), st.user.ID, r.PathValue("id")); err != nil {
		return err
	}
	s.redirectFlash(w, r, "/account#tokens", "token-revoked")
	return nil
}

func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	if err := s.Auth.EndSession(r.Context(), st.user, st.address, r.PathValue("id")); err != nil {
		return err
	}
	s.redirectFlash(w, r, "/account#sessions", "session-ended")
	return nil
}

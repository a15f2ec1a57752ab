package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/problem"
)

// safeNext keeps a post-sign-in redirect on this site: a path that starts
// with one slash, without scheme, host, backslashes or control characters
// (browsers drop a tab or a newline, turning "/\t/evil.example" into
// "//evil.example").
func safeNext(next string) string {
	if strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	return next
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) error {
	if stateOf(r).user != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	v := s.view(r, "Sign in")
	v.Form.Values["next"] = safeNext(r.URL.Query().Get("next"))
	return s.renderLogin(w, r, v, http.StatusOK)
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, v *view, code int) error {
	n, err := s.Auth.CountUsers(r.Context())
	if err != nil {
		return err
	}
	data := map[string]any{"NoUsers": n == 0, "Demo": s.Config.Demo}
	if s.SSO != nil {
		data["SSO"] = s.SSO.Label()
	}
	v.Data = data
	return s.renderStatus(w, code, "login", v)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return problem.Field("form", "The form could not be read.")
	}
	st := stateOf(r)
	req := auth.LoginRequest{
		Username:  r.PostFormValue("username"),
		Password:  r.PostFormValue("password"),
		Address:   st.address,
		UserAgent: r.UserAgent(),
	}
	if c, err := r.Cookie(s.cookieName(deviceCookie)); err == nil {
		req.DeviceToken = c.Value
	}
	v := s.view(r, "Sign in")
	v.Form.Values["username"] = req.Username
	v.Form.Values["next"] = safeNext(r.PostFormValue("next"))
	if strings.TrimSpace(req.Username) == "" {
		v.Form.Errors["username"] = "Enter your username."
	}
	if req.Password == "" {
		v.Form.Errors["password"] = "Enter your password."
	}
	if len(v.Form.Errors) > 0 {
		return s.renderLogin(w, r, v, http.StatusBadRequest)
	}
	res, err := s.Auth.Login(r.Context(), req)
	if pe, ok := problem.As(err); ok && (pe.Kind == problem.Unauthorized || pe.Kind == problem.RateLimited) {
		v.Form.Error = pe.Localize(v.T)
		if pe.RetryAfter > 0 {
			w.Header().Set("Retry-After", itoa(pe.RetryAfter))
		}
		return s.renderLogin(w, r, v, status(pe.Kind))
	}
	if err != nil {
		return err
	}
	s.setSessionCookie(w, res.SessionToken)
	if res.DeviceToken != req.DeviceToken {
		s.setDeviceCookie(w, res.DeviceToken)
	}
	to := v.Form.Values["next"]
	if res.User.MustChangePassword {
		to = "/account#password"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	if st.session != nil {
		if err := s.Auth.Logout(r.Context(), st.user, st.session.ID, st.address); err != nil {
			return err
		}
	}
	s.clearSessionCookie(w)
	// A single sign-on session ends at the identity provider too, which
	// then sends the browser back to the sign-in page.
	if s.SSO != nil && st.session != nil && st.session.IDToken != "" {
		if to := s.SSO.LogoutURL(st.session.IDToken, s.Config.PublicURL()+"/login"); to != "" {
			s.redirectFlash(w, r, to, "signed-out")
			return nil
		}
	}
	s.redirectFlash(w, r, "/login", "signed-out")
	return nil
}

func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	if err := s.Auth.SetupOpen(r.Context(), token); err != nil {
		return err
	}
	v := s.view(r, "Set up Attaché")
	v.Form.Values["token"] = token
	return s.render(w, "setup", v)
}

func (s *Server) setup(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return problem.Field("form", "The form could not be read.")
	}
	st := stateOf(r)
	token := r.PostFormValue("token")
	in := auth.UserInput{
		Username:    r.PostFormValue("username"),
		DisplayName: r.PostFormValue("display_name"),
		Email:       r.PostFormValue("email"),
	}
	password := r.PostFormValue("password")
	v := s.view(r, "Set up Attaché")
	for _, k := range []string{"token", "username", "display_name", "email"} {
		v.Form.Values[k] = r.PostFormValue(k)
	}
	if password != r.PostFormValue("confirm") {
		v.Form.Errors["confirm"] = "The two passwords differ."
		return s.renderStatus(w, http.StatusBadRequest, "setup", v)
	}
	u, err := s.Auth.CompleteSetup(r.Context(), token, st.address, in, password)
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
		v.Form.Errors = pe.LocalizeFields(v.T)
		return s.renderStatus(w, http.StatusBadRequest, "setup", v)
	}
	if err != nil {
		return err
	}
	sessionToken, _, err := s.Auth.StartSession(r.Context(), u, st.address, r.UserAgent(), nil)
	if err != nil {
		return err
	}
	s.setSessionCookie(w, sessionToken)
	s.redirectFlash(w, r, "/", "welcome")
	return nil
}

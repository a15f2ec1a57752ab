package web

import (
	"net/http"
	"slices"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/sso"
)

// Single sign-on with the ministry's identity provider: the sign-in
// button, the provider's answer, and step-up by signing in there again.

const (
	ssoCookie     = "attache_sso"      // the state of a sign-in under way
	ssoStepCookie = "attache_sso_step" // set when the sign-in is a step-up
)

var errNoSSO = problem.New(problem.NotFound, "Single sign-on is not set up on this server.")

// ssoBegin sends the browser to the identity provider. With step=1 and a
// session, the provider is asked to authenticate again, for step-up.
func (s *Server) ssoBegin(w http.ResponseWriter, r *http.Request) error {
	if s.SSO == nil {
		return errNoSSO
	}
	st := stateOf(r)
	step := r.URL.Query().Get("step") == "1" && st.session != nil
	if err := s.SSO.Purge(r.Context()); err != nil {
		s.Log.Warn("single sign-on: purge old sign-ins", "error", err.Error())
	}
	authURL, state, err := s.SSO.Begin(r.Context(), safeNext(r.URL.Query().Get("next")), step)
	if err != nil {
		return err
	}
	life := int(sso.LoginLifetime.Seconds())
	// Lax: the provider sends the browser back with a top-level GET.
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(ssoCookie), Value: state, Path: "/", MaxAge: life, HttpOnly: true,
		Secure: s.Config.TLS(), SameSite: http.SameSiteLaxMode})
	stepValue, stepAge := "", -1
	if step {
		stepValue, stepAge = "1", life
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(ssoStepCookie), Value: stepValue, Path: "/", MaxAge: stepAge, HttpOnly: true,
		Secure: s.Config.TLS(), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, authURL, http.StatusSeeOther)
	return nil
}

// ssoCallback is where the identity provider sends the browser back: a
// new session, or a step-up of the current one.
func (s *Server) ssoCallback(w http.ResponseWriter, r *http.Request) error {
	if s.SSO == nil {
		return errNoSSO
	}
	st := stateOf(r)
	state := ""
	if c, err := r.Cookie(s.cookieName(ssoCookie)); err == nil {
		state = c.Value
	}
	step := false
	if c, err := r.Cookie(s.cookieName(ssoStepCookie)); err == nil {
		step = c.Value == "1"
	}
	for _, name := range []string{ssoCookie, ssoStepCookie} {
		http.SetCookie(w, &http.Cookie{Name: s.cookieName(name), Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			Secure: s.Config.TLS(), SameSite: http.SameSiteLaxMode})
	}
	id, next, err := s.SSO.Finish(r.Context(), r.URL.Query(), state)
	if err == nil {
		ext := auth.ExternalIdentity{Issuer: id.Issuer, Subject: id.Subject, Username: id.Username, Name: id.Name, Email: id.Email,
			Role: auth.Role(id.Role), Post: id.Post, Desk: id.Desk, AuthTime: id.AuthTime, IDToken: id.IDToken}
		if step && st.user != nil && st.session != nil {
			err = s.Auth.ExternalStepUp(r.Context(), st.user, st.session, ext, st.address)
			if err == nil {
				http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
				return nil
			}
		} else {
			var res *auth.LoginResult
			res, err = s.Auth.ExternalLogin(r.Context(), ext, st.address, r.UserAgent())
			if err == nil {
				s.setSessionCookie(w, res.SessionToken)
				http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
				return nil
			}
		}
	}
	// A refusal is shown on the sign-in page, with its reason.
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Unauthorized {
		v := s.view(r, "Sign in")
		v.Form.Error = pe.Localize(v.T)
		return s.renderLogin(w, r, v, http.StatusUnauthorized)
	}
	return err
}

// ssoSession reports whether sess was opened through the identity provider.
func ssoSession(sess *auth.Session) bool {
	return sess != nil && slices.Contains(sess.Factors, "oidc")
}

package web

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/problem"
)

// Cookie names. Over TLS the session cookie takes the __Host- prefix, which
// browsers only accept when Secure, host-only and with Path=/.
const (
	sessionCookie = "attache_session"
	deviceCookie  = "attache_device"
	flashCookie   = "attache_flash"
	csrfField     = "csrf"
	csrfHeader    = "X-CSRF-Token"
)

// maxBody bounds every request body; forms and JSON here are small.
const maxBody = 1 << 20

func (s *Server) cookieName(name string) string {
	if s.Config.TLS() {
		return "__Host-" + name
	}
	return name
}

var (
	errCrossOrigin   = problem.New(problem.Forbidden, "This request came from another site and was refused.")
	errCSRF          = problem.New(problem.Forbidden, "The form has expired or did not come from this site. Reload the page and try again.")
	errForbidden     = problem.New(problem.Forbidden, "You do not have access to this page.")
	errSignIn        = problem.New(problem.Unauthorized, "Please sign in.")
	errMustChangePwd = problem.New(problem.Forbidden, "Choose a new password before going on: your password was set by an administrator.")
)

// guard runs before every route's handler: it identifies the caller,
// refuses cross-site form posts without the session's CSRF token, and asks
// the authorization policy whether the caller may do the route's action.
func (s *Server) guard(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r)
		st.api = rt.API
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := refuseNUL(r); err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.identify(r, st, rt.API); err != nil {
			s.fail(w, r, err)
			return
		}
		if st.user != nil {
			st.lang = s.Catalog.Match(s.userLang(r, st.user), r.Header.Get("Accept-Language"))
		}
		if rt.Action != auth.Public {
			if st.user == nil {
				s.fail(w, r, errSignIn)
				return
			}
			if st.session != nil && !safeMethod(r.Method) && !s.validCSRF(r, st) {
				s.Log.Warn("CSRF token missing or wrong", "route", rt.Pattern(), "user", st.user.Username, "address", st.address)
				s.fail(w, r, errCSRF)
				return
			}
			if !s.gateSession(w, r, rt) {
				return
			}
			unfinished := st.session != nil && (st.session.Pending || st.session.Enrol)
			if st.user.MustChangePassword && !unfinished && !passwordChangeRoute(rt) {
				if !rt.API && r.Method == http.MethodGet {
					http.Redirect(w, r, "/account#password", http.StatusSeeOther)
					return
				}
				s.fail(w, r, errMustChangePwd)
				return
			}
		}
		if !s.policy.Can(st.user, rt.Action, nil) {
			s.fail(w, r, errForbidden)
			return
		}
		if rt.Action != auth.Public && !s.gateStepUp(w, r, rt) {
			return
		}
		if err := rt.h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

// passwordChangeRoute lists what a user who must change their password can
// still do: see the account page, change the password, sign out.
func passwordChangeRoute(rt Route) bool {
	switch rt.Pattern() {
	case "GET /account", "POST /account/password", "POST /logout", "POST /api/v1/account/password", "GET /api/v1/me":
		return true
	}
	return false
}

// identify finds the caller: an API token (API routes only) or the session
// cookie. A missing or dead credential leaves the caller anonymous; a bad
// API token is an error, so that a script learns its token is wrong.
func (s *Server) identify(r *http.Request, st *reqState, api bool) error {
	if authz := r.Header.Get("Authorization"); api && authz != "" {
		secret, ok := strings.CutPrefix(authz, "Bearer ")
		if !ok {
			return problem.New(problem.Unauthorized, "Use the Authorization header as \"Bearer TOKEN\".")
		}
		u, err := s.Auth.TokenUser(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			return err
		}
		st.user, st.viaToken = u, true
		return nil
	}
	c, err := r.Cookie(s.cookieName(sessionCookie))
	if err != nil || c.Value == "" {
		return nil
	}
	u, sess, err := s.Auth.SessionUser(r.Context(), c.Value)
	if problem.Is(err, problem.Unauthorized) {
		return nil
	}
	if err != nil {
		return err
	}
	st.user, st.session = u, sess
	return nil
}

func (s *Server) validCSRF(r *http.Request, st *reqState) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" && !st.api {
		got = r.PostFormValue(csrfField)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(st.session.CSRF)) == 1
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// setSessionCookie hands the browser its session.
func (s *Server) setSessionCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(sessionCookie), Value: token, Path: "/",
		HttpOnly: true, Secure: s.Config.TLS(), SameSite: http.SameSiteLaxMode, MaxAge: int(s.Auth.SessionMax.Seconds())})
}

func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(sessionCookie), Value: "", Path: "/",
		HttpOnly: true, Secure: s.Config.TLS(), SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// setDeviceCookie marks this browser as one that signed in before.
func (s *Server) setDeviceCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(deviceCookie), Value: token, Path: "/",
		HttpOnly: true, Secure: s.Config.TLS(), SameSite: http.SameSiteStrictMode, MaxAge: 400 * 24 * 3600})
}

var (
	errNUL      = problem.New(problem.Invalid, "Text may not contain a NUL character.")
	errTooLarge = problem.New(problem.TooLarge, "The request is too large: at most 1 MiB.")
)

// refuseNUL refuses a request whose path, query, form or JSON body holds a
// NUL character, which no text here needs (and PostgreSQL cannot store):
// 400 on both engines, before anything reads it. It reads a form (as
// handlers would) or a JSON body (and puts it back) itself.
func refuseNUL(r *http.Request) error {
	if strings.ContainsRune(r.URL.Path, 0) || strings.Contains(strings.ToLower(r.URL.RawQuery), "%00") {
		return errNUL
	}
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	switch strings.TrimSpace(strings.ToLower(ct)) {
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return bodyError(err)
		}
		for _, vs := range r.PostForm {
			for _, v := range vs {
				if strings.ContainsRune(v, 0) {
					return errNUL
				}
			}
		}
	case "application/json":
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return bodyError(err)
		}
		if bytes.IndexByte(b, 0) >= 0 || bytes.Contains(bytes.ToLower(b), []byte(`\u0000`)) {
			return errNUL
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	return nil
}

// bodyError says what was wrong with a body that could not be read.
func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errTooLarge
	}
	return problem.Field("body", "The request's body could not be read.")
}

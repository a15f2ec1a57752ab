package web

import (
	"html/template"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/problem"
)

// Second factors: the page that asks for one (to finish a sign-in, or to
// step up before a sensitive action), the pages that set them up, and the
// administrators' requirement per role.

// totpIssuer names Attaché in authenticator apps.
const totpIssuer = "Attaché"

// verifyRoutes are all a session waiting for its second factor may use.
var verifyRoutes = map[string]bool{
	"GET /login/verify": true, "POST /login/verify": true, "POST /login/verify/key/options": true,
	"POST /login/verify/key": true, "POST /logout": true, "GET /login/sso": true, "GET /login/sso/callback": true,
}

// enrolRoutes are all a session that must first set up a second factor may
// use.
var enrolRoutes = map[string]bool{
	"GET /account/security": true, "POST /account/totp": true, "GET /account/totp": true, "POST /account/totp/confirm": true,
	"POST /account/keys/options": true, "POST /account/keys": true, "POST /logout": true,
}

// stepUp lists the most sensitive routes and how recently their caller
// must have proved themselves (a second factor, or the password where
// the account has none): exports, recordings, disclosure without consent,
// user administration and what hands out lasting credentials. A recording's
// media stream allows an hour, so that a long recording plays to its end.
var stepUp = map[string]time.Duration{
	"GET /cases.csv":                                                        auth.StepUpWindow,
	"GET /cases/{id}/summary.pdf":                                           auth.StepUpWindow,
	"GET /cases/{id}/visits/{visit}/report.pdf":                             auth.StepUpWindow,
	"GET /cases/{id}/family/contacts/{contact}/update.pdf":                  auth.StepUpWindow,
	"POST /cases/{id}/family/exceptions":                                    auth.StepUpWindow,
	"POST /api/v1/cases/{id}/family/exceptions":                             auth.StepUpWindow,
	"GET /cases/{id}/visits/{visit}/recordings/{rec}":                       auth.StepUpWindow,
	"GET /cases/{id}/visits/{visit}/recordings/{rec}/files/{file}":          time.Hour,
	"GET /cases/{id}/visits/{visit}/recordings/{rec}/files/{file}/download": auth.StepUpWindow,
	"POST /admin/users":                                                     auth.StepUpWindow,
	"POST /admin/users/{id}":                                                auth.StepUpWindow,
	"POST /admin/users/{id}/password":                                       auth.StepUpWindow,
	"POST /admin/users/{id}/mfa-reset":                                      auth.StepUpWindow,
	"POST /admin/security":                                                  auth.StepUpWindow,
	"POST /account/tokens":                                                  auth.StepUpWindow,
	"POST /account/totp/remove":                                             auth.StepUpWindow,
	"POST /account/keys/{id}/remove":                                        auth.StepUpWindow,
	"POST /account/recovery-codes":                                          auth.StepUpWindow,
	"POST /api/v1/users":                                                    auth.StepUpWindow,
	"PATCH /api/v1/users/{id}":                                              auth.StepUpWindow,
	"POST /api/v1/users/{id}/password-reset":                                auth.StepUpWindow,
	"POST /api/v1/tokens":                                                   auth.StepUpWindow,
}

// StepUpRoutes lists the patterns of the routes that ask for step-up.
func StepUpRoutes() []string {
	out := make([]string, 0, len(stepUp))
	for p := range stepUp {
		out = append(out, p)
	}
	return out
}

var (
	errSecondFactor = problem.New(problem.Unauthorized, "Finish signing in with your second factor first.")
	errEnrol        = problem.New(problem.Forbidden, "Your role requires a second factor: set one up on the security page first.")
	errStepUp       = problem.New(problem.Forbidden, "This action needs a fresh confirmation that it is you: confirm with your second factor, then try again.")
)

// gateSession holds a session that is not yet whole (waiting for its second
// factor, or having to set one up) to the routes it may use. It reports
// whether the request may go on; otherwise it has answered.
func (s *Server) gateSession(w http.ResponseWriter, r *http.Request, rt Route) bool {
	st := stateOf(r)
	sess := st.session
	if sess == nil || rt.Action == auth.Public {
		return true
	}
	getPage := r.Method == http.MethodGet && !rt.API
	switch {
	case sess.Pending && !verifyRoutes[rt.Pattern()]:
		if getPage {
			http.Redirect(w, r, "/login/verify?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return false
		}
		s.fail(w, r, errSecondFactor)
		return false
	case sess.Enrol && !sess.Pending && !enrolRoutes[rt.Pattern()]:
		if getPage {
			http.Redirect(w, r, "/account/security", http.StatusSeeOther)
			return false
		}
		s.fail(w, r, errEnrol)
		return false
	}
	return true
}

// gateStepUp asks for a fresh proof before the most sensitive routes. It
// reports whether the request may go on; otherwise it has answered. API
// tokens pass: making one is itself such an action.
func (s *Server) gateStepUp(w http.ResponseWriter, r *http.Request, rt Route) bool {
	sess := stateOf(r).session
	if sess == nil {
		return true
	}
	window, sensitive := stepUp[rt.Pattern()]
	if !sensitive || s.Auth.Fresh(sess, window) {
		return true
	}
	if rt.API {
		s.fail(w, r, errStepUp)
		return false
	}
	// The action waits: the person confirms, then comes back to the page
	// (a form is sent again by hand, never replayed).
	back := r.URL.RequestURI()
	if r.Method != http.MethodGet {
		back = sameSitePath(r.Referer(), r.Host)
	}
	http.Redirect(w, r, "/login/verify?step=1&next="+url.QueryEscape(back), http.StatusSeeOther)
	return false
}

// sameSitePath is the path of a referring page on this site, or "/".
func sameSitePath(referer, host string) string {
	u, err := url.Parse(referer)
	if err != nil || u.Host != host {
		return "/"
	}
	return safeNext(u.RequestURI())
}

// verifyPage asks for the second factor: to finish a sign-in, or to step
// up (a session already whole).
func (s *Server) verifyPage(w http.ResponseWriter, r *http.Request) error {
	v := s.view(r, "Confirm it is you")
	v.Form.Values["next"] = safeNext(r.URL.Query().Get("next"))
	return s.renderVerify(w, r, v, http.StatusOK)
}

func (s *Server) renderVerify(w http.ResponseWriter, r *http.Request, v *view, code int) error {
	st := stateOf(r)
	f, err := s.Auth.SecondFactors(r.Context(), st.user.ID)
	if err != nil {
		return err
	}
	data := map[string]any{"Factors": f, "Pending": st.session.Pending, "Passkeys": s.Auth.WebAuthn != nil && len(f.Keys) > 0}
	if s.SSO != nil && ssoSession(st.session) {
		data["SSO"] = s.SSO.Label()
	}
	v.Data = data
	return s.renderStatus(w, code, "verify", v)
}

// verifySecondFactor checks an authenticator code, a recovery code or (for step-up
// on an account without a second factor) the password.
func (s *Server) verifySecondFactor(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	ctx := r.Context()
	v := s.view(r, "Confirm it is you")
	v.Form.Values["next"] = safeNext(r.PostFormValue("next"))
	var err error
	switch r.PostFormValue("method") {
	case "totp":
		err = s.Auth.VerifyTOTP(ctx, st.user, st.session, r.PostFormValue("code"), st.address)
	case "recovery":
		err = s.Auth.VerifyRecoveryCode(ctx, st.user, st.session, r.PostFormValue("recovery"), st.address)
		if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
			if _, ok := pe.Fields["code"]; ok {
				err = problem.Fieldf("recovery", pe.Fields["code"])
			}
		}
	case "password":
		f, ferr := s.Auth.SecondFactors(ctx, st.user.ID)
		if ferr != nil {
			return ferr
		}
		if f.Any() || st.session.Pending {
			return problem.Field("method", "Confirm with your second factor.")
		}
		err = s.Auth.ReauthenticatePassword(ctx, st.user, st.session, r.PostFormValue("password"), st.address)
	default:
		return problem.Field("method", "Choose how to confirm.")
	}
	if pe, ok := problem.As(err); ok && (pe.Kind == problem.Invalid || pe.Kind == problem.RateLimited || pe.Kind == problem.NotFound) {
		v.Form.Errors = pe.LocalizeFields(v.T)
		if len(pe.Fields) == 0 {
			v.Form.Error = pe.Localize(v.T)
		}
		if pe.RetryAfter > 0 {
			w.Header().Set("Retry-After", itoa(pe.RetryAfter))
		}
		return s.renderVerify(w, r, v, status(pe.Kind))
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, s.afterVerify(r, v.Form.Values["next"]), http.StatusSeeOther)
	return nil
}

// afterVerify is where a person goes once proved: the page they were
// after, or first the password change an administrator asked for.
func (s *Server) afterVerify(r *http.Request, next string) string {
	if stateOf(r).user.MustChangePassword {
		return "/account#password"
	}
	return next
}

// keyOptions begins a WebAuthn sign-in or step-up (JSON).
func (s *Server) keyLoginOptions(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	opts, err := s.Auth.BeginKeyLogin(r.Context(), st.user, st.session)
	if err != nil {
		return err
	}
	writeRawJSON(w, opts)
	return nil
}

// keyLogin finishes a WebAuthn sign-in or step-up (JSON): it answers where
// the page goes next.
func (s *Server) keyLogin(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyError(err)
	}
	if err := s.Auth.FinishKeyLogin(r.Context(), st.user, st.session, body, st.address); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"next": s.afterVerify(r, safeNext(r.URL.Query().Get("next")))})
	return nil
}

func writeRawJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// securityPage lists the account's second factors and how to add one.
func (s *Server) securityPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderSecurity(w, r, s.view(r, "Sign-in security"), http.StatusOK, nil)
}

func (s *Server) renderSecurity(w http.ResponseWriter, r *http.Request, v *view, code int, codes []string) error {
	st := stateOf(r)
	f, err := s.Auth.SecondFactors(r.Context(), st.user.ID)
	if err != nil {
		return err
	}
	required, err := s.Auth.MFARequired(r.Context(), st.user.Role)
	if err != nil {
		return err
	}
	v.Data = map[string]any{"Factors": f, "Required": required, "Enrol": st.session != nil && st.session.Enrol,
		"Codes": codes, "Passkeys": s.Auth.WebAuthn != nil, "Session": st.session}
	return s.renderStatus(w, code, "security", v)
}

// startTOTP makes a new authenticator secret, then shows it (PRG).
func (s *Server) startTOTP(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	if _, err := s.Auth.StartTOTP(r.Context(), st.user, totpIssuer); err != nil {
		return err
	}
	http.Redirect(w, r, "/account/totp", http.StatusSeeOther)
	return nil
}

// totpPage shows the secret being set up, as a QR code and as text.
func (s *Server) totpPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderTOTP(w, r, s.view(r, "Set up an authenticator app"), http.StatusOK)
}

func (s *Server) renderTOTP(w http.ResponseWriter, r *http.Request, v *view, code int) error {
	setup, err := s.Auth.PendingTOTP(r.Context(), stateOf(r).user, totpIssuer)
	if problem.Is(err, problem.NotFound) {
		http.Redirect(w, r, "/account/security", http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	// The QR code is a data: URL of a PNG made here, not anyone's input.
	v.Data = map[string]any{"Secret": setup.Secret, "QR": template.URL(setup.QR)} //nolint:gosec
	return s.renderStatus(w, code, "totp", v)
}

// confirmTOTP checks the first code; the recovery codes made with it are
// shown once, on the answer to this form.
func (s *Server) confirmTOTP(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	codes, err := s.Auth.ConfirmTOTP(r.Context(), st.user, st.session, r.PostFormValue("code"), st.address)
	if pe, ok := problem.As(err); ok && (pe.Kind == problem.Invalid || pe.Kind == problem.RateLimited) {
		v := s.view(r, "Set up an authenticator app")
		v.Form.Errors = pe.LocalizeFields(v.T)
		if len(pe.Fields) == 0 {
			v.Form.Error = pe.Localize(v.T)
		}
		return s.renderTOTP(w, r, v, status(pe.Kind))
	}
	if err != nil {
		return err
	}
	return s.showCodesOrRedirect(w, r, codes, "totp-added")
}

// showCodesOrRedirect shows new recovery codes once, or, when none were
// made, goes back to the security page.
func (s *Server) showCodesOrRedirect(w http.ResponseWriter, r *http.Request, codes []string, flash string) error {
	if len(codes) == 0 {
		s.redirectFlash(w, r, "/account/security", flash)
		return nil
	}
	v := s.view(r, "Sign-in security")
	v.Flash = flashes[flash]
	return s.renderSecurity(w, r, v, http.StatusCreated, codes)
}

func (s *Server) removeTOTP(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	if err := s.Auth.RemoveTOTP(r.Context(), st.user, st.address); err != nil {
		return err
	}
	s.redirectFlash(w, r, "/account/security", "factor-removed")
	return nil
}

func (s *Server) newRecoveryCodes(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	codes, err := s.Auth.NewRecoveryCodes(r.Context(), st.user, st.address)
	if err != nil {
		return err
	}
	v := s.view(r, "Sign-in security")
	return s.renderSecurity(w, r, v, http.StatusCreated, codes)
}

// keyRegisterOptions begins adding a passkey or security key (JSON).
func (s *Server) keyRegisterOptions(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	opts, err := s.Auth.BeginKeyRegistration(r.Context(), st.user, st.session)
	if err != nil {
		return err
	}
	writeRawJSON(w, opts)
	return nil
}

// keyRegister finishes adding a key (JSON): the answer carries the
// recovery codes made with a first factor, to show once.
func (s *Server) keyRegister(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyError(err)
	}
	codes, err := s.Auth.FinishKeyRegistration(r.Context(), st.user, st.session, r.URL.Query().Get("name"), body, st.address)
	if err != nil {
		return err
	}
	if codes == nil {
		codes = []string{}
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "key-added", Path: "/", MaxAge: 30, HttpOnly: true,
		Secure: s.Config.TLS(), SameSite: http.SameSiteLaxMode})
	writeJSON(w, http.StatusCreated, map[string]any{"codes": codes})
	return nil
}

func (s *Server) removeKey(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	if err := s.Auth.RemoveSecurityKey(r.Context(), st.user, r.PathValue("id"), st.address); err != nil {
		return err
	}
	s.redirectFlash(w, r, "/account/security", "factor-removed")
	return nil
}

// mfaRequirementsPage shows which roles must use a second factor.
func (s *Server) mfaRequirementsPage(w http.ResponseWriter, r *http.Request) error {
	req, err := s.Auth.MFARequirements(r.Context())
	if err != nil {
		return err
	}
	v := s.view(r, "Second factor requirements")
	v.Data = map[string]any{"Required": req, "Demo": s.Config.Demo}
	return s.render(w, "mfa_requirements", v)
}

func (s *Server) saveMFARequirements(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	want := map[auth.Role]bool{}
	for _, role := range r.PostForm["required"] {
		if !auth.Role(role).Valid() {
			return problem.Field("required", "Choose from the listed roles.")
		}
		want[auth.Role(role)] = true
	}
	if err := s.Auth.SetMFARequirements(r.Context(), st.actor(), want); err != nil {
		return err
	}
	s.redirectFlash(w, r, "/admin/security", "mfa-saved")
	return nil
}

// resetSecondFactors is the administrator's answer to a lost device.
func (s *Server) resetSecondFactors(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	id := r.PathValue("id")
	u, err := s.Auth.User(r.Context(), id)
	if err != nil {
		return err
	}
	err = s.Auth.ResetSecondFactors(r.Context(), st.actor(), u.ID, r.PostFormValue("reason"))
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
		v := s.view(r, u.DisplayName)
		v.Form.Errors = pe.LocalizeFields(v.T)
		return s.renderUser(w, r, u, http.StatusBadRequest, v, "")
	}
	if err != nil {
		return err
	}
	s.redirectFlash(w, r, "/admin/users/"+id, "mfa-reset")
	return nil
}

// Package web serves Attaché over HTTP: the HTML pages, the JSON API under
// /api/v1, health checks and metrics. Every route is declared once in the
// route table with the policy action it needs; the same middleware
// authenticates, checks CSRF and asks the authorization policy before any
// handler runs, and errors become HTTP responses in one place.
package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/attache-org/attache/internal/access"
	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/calls"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/config"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/family"
	"github.com/attache-org/attache/internal/i18n"
	"github.com/attache-org/attache/internal/reports"
	"github.com/attache-org/attache/internal/sso"
	"github.com/attache-org/attache/internal/visits"
)

// Deps are what the web layer needs; the command line wires them.
type Deps struct {
	Config   config.Config
	DB       *db.DB
	Auth     *auth.Service
	Audit    *audit.Log
	Cases    *cases.Service
	Access   *access.Service
	Visits   *visits.Service
	Catalog  *i18n.Catalog
	Log      *slog.Logger
	Registry *prometheus.Registry // metrics are registered here and served at /metrics
	Version  string
	Calls    *calls.Service // the video calls, or nil where there are none
	PDFFonts [][]byte       // TrueType fonts for PDF exports beyond the built-in ones
	Reports  *reports.Service
	Family   *family.Service
	SSO      *sso.Client // the ministry's identity provider, or nil
}

// Server is the HTTP side of Attaché.
type Server struct {
	Deps
	policy  auth.Policy
	pages   map[string]*template.Template
	assets  *assets
	routes  []Route
	mux     *http.ServeMux
	metrics *metrics
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one entry of the route table.
type Route struct {
	Method string
	Path   string
	// Action is what the policy is asked before the handler runs.
	Action auth.Action
	// API routes answer in JSON and accept API tokens.
	API bool
	h   handlerFunc
}

// Pattern is the route's ServeMux pattern.
func (rt Route) Pattern() string { return rt.Method + " " + rt.Path }

// New builds the server: it parses every template and hashes every asset
// now, so that a broken template stops the start, not a request.
func New(d Deps) (*Server, error) {
	s := &Server{Deps: d, mux: http.NewServeMux()}
	var err error
	if s.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if s.pages, err = s.parseTemplates(); err != nil {
		return nil, err
	}
	if s.Registry != nil {
		if s.metrics, err = newMetrics(s.Registry, d.DB); err != nil {
			return nil, err
		}
	}
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.Pattern(), s.guard(rt))
	}
	if d.Calls != nil {
		// The other nodes' requests, authenticated by the calls themselves.
		s.mux.Handle("/internal/", d.Calls.InternalHandler())
	}
	s.mux.Handle("/", http.HandlerFunc(s.notFound))
	return s, nil
}

// Routes returns the route table.
func (s *Server) Routes() []Route { return s.routes }

func (s *Server) routeTable() []Route {
	routes := []Route{
		{"GET", "/healthz", auth.Public, false, s.healthz},
		{"GET", "/readyz", auth.Public, false, s.readyz},
		{"GET", "/metrics", auth.Public, false, s.serveMetrics},
		{"GET", "/static/{file}", auth.Public, false, s.static},

		{"GET", "/login", auth.Public, false, s.loginPage},
		{"POST", "/login", auth.Public, false, s.login},
		{"POST", "/logout", auth.ManageAccount, false, s.logout},
		{"GET", "/login/verify", auth.ManageAccount, false, s.verifyPage},
		{"POST", "/login/verify", auth.ManageAccount, false, s.verifySecondFactor},
		{"POST", "/login/verify/key/options", auth.ManageAccount, true, s.keyLoginOptions},
		{"POST", "/login/verify/key", auth.ManageAccount, true, s.keyLogin},
		{"GET", "/login/sso", auth.Public, false, s.ssoBegin},
		{"GET", "/login/sso/callback", auth.Public, false, s.ssoCallback},
		{"POST", "/language", auth.Public, false, s.switchLanguage},
		{"GET", "/setup", auth.Public, false, s.setupPage},
		{"POST", "/setup", auth.Public, false, s.setup},

		{"GET", "/{$}", auth.ViewHome, false, s.home},
		{"GET", "/account", auth.ManageAccount, false, s.accountPage},
		{"POST", "/account/password", auth.ManageAccount, false, s.changePassword},
		{"POST", "/account/preferences", auth.ManageAccount, false, s.savePreferences},
		{"POST", "/account/notices", auth.ManageAccount, false, s.saveNotices},
		{"POST", "/account/tokens", auth.ManageAccount, false, s.createToken},
		{"POST", "/account/tokens/{id}/revoke", auth.ManageAccount, false, s.revokeToken},
		{"POST", "/account/sessions/{id}/revoke", auth.ManageAccount, false, s.revokeSession},
		{"GET", "/account/security", auth.ManageAccount, false, s.securityPage},
		{"POST", "/account/totp", auth.ManageAccount, false, s.startTOTP},
		{"GET", "/account/totp", auth.ManageAccount, false, s.totpPage},
		{"POST", "/account/totp/confirm", auth.ManageAccount, false, s.confirmTOTP},
		{"POST", "/account/totp/remove", auth.ManageAccount, false, s.removeTOTP},
		{"POST", "/account/recovery-codes", auth.ManageAccount, false, s.newRecoveryCodes},
		{"POST", "/account/keys/options", auth.ManageAccount, true, s.keyRegisterOptions},
		{"POST", "/account/keys", auth.ManageAccount, true, s.keyRegister},
		{"POST", "/account/keys/{id}/remove", auth.ManageAccount, false, s.removeKey},

		{"GET", "/admin/users", auth.ListUsers, false, s.usersPage},
		{"GET", "/admin/users/new", auth.CreateUser, false, s.newUserPage},
		{"POST", "/admin/users", auth.CreateUser, false, s.createUser},
		{"GET", "/admin/users/{id}", auth.ListUsers, false, s.userPage},
		{"POST", "/admin/users/{id}", auth.UpdateUser, false, s.updateUser},
		{"POST", "/admin/users/{id}/password", auth.UpdateUser, false, s.resetPassword},
		{"POST", "/admin/users/{id}/mfa-reset", auth.UpdateUser, false, s.resetSecondFactors},
		{"GET", "/admin/security", auth.ListUsers, false, s.mfaRequirementsPage},
		{"POST", "/admin/security", auth.UpdateUser, false, s.saveMFARequirements},

		{"GET", "/audit", auth.ReadAudit, false, s.auditPage},
		{"POST", "/audit/verify", auth.VerifyAudit, false, s.verifyAudit},
		{"GET", "/audit/break-glass", auth.ReadAudit, false, s.breakGlassLog},

		{"GET", "/cases", auth.ReadCase, false, s.casesPage},
		{"GET", "/cases/new", auth.CreateCase, false, s.newCasePage},
		{"GET", "/cases/break-glass", auth.ReadCase, false, s.breakGlassPage},
		{"POST", "/cases/break-glass", auth.ReadCase, false, s.breakGlass},
		{"GET", "/cases.csv", auth.ReadCase, false, s.casesCSV},
		{"GET", "/cases/{id}/summary.pdf", auth.ReadCase, false, s.caseSummaryPDF},
		{"POST", "/cases", auth.CreateCase, false, s.createCase},
		{"GET", "/cases/{id}", auth.ReadCase, false, s.casePage},
		{"GET", "/cases/{id}/edit", auth.UpdateCase, false, s.editCasePage},
		{"POST", "/cases/{id}", auth.UpdateCase, false, s.updateCase},
		{"POST", "/cases/{id}/person", auth.UpdateCase, false, s.updatePerson},
		{"POST", "/cases/{id}/names", auth.UpdateCase, false, s.addName},
		{"POST", "/cases/{id}/names/{name}/display", auth.UpdateCase, false, s.displayName},
		{"POST", "/cases/{id}/names/{name}/delete", auth.UpdateCase, false, s.deleteName},
		{"POST", "/cases/{id}/charges", auth.UpdateCase, false, s.addCharge},
		{"POST", "/cases/{id}/charges/{item}/delete", auth.UpdateCase, false, s.deleteCharge},
		{"POST", "/cases/{id}/links", auth.UpdateCase, false, s.addLink},
		{"POST", "/cases/{id}/links/{item}/delete", auth.UpdateCase, false, s.deleteLink},
		{"POST", "/cases/{id}/timeline", auth.UpdateCase, false, s.addEvent},
		{"POST", "/cases/{id}/timeline/{item}/delete", auth.UpdateCase, false, s.deleteEvent},
		{"POST", "/cases/{id}/notification", auth.UpdateCase, false, s.saveNotification},
		{"POST", "/cases/{id}/contacts", auth.UpdateCase, false, s.addContact},
		{"POST", "/cases/{id}/requests", auth.UpdateCase, false, s.createRequest},
		{"POST", "/cases/{id}/requests/{req}", auth.UpdateCase, false, s.transitionRequest},
		{"POST", "/cases/{id}/visits", auth.UpdateCase, false, s.scheduleVisit},
		{"POST", "/cases/{id}/visits/{visit}/status", auth.UpdateCase, false, s.visitStatus},
		{"POST", "/cases/{id}/visits/{visit}/move", auth.UpdateCase, false, s.moveVisit},
		{"POST", "/cases/{id}/visits/past", auth.UpdateCase, false, s.recordPastVisit},
		{"GET", "/cases/{id}/visits/{visit}/call", auth.UpdateCase, false, s.callPage},
		{"GET", "/cases/{id}/visits/{visit}/call/ws", auth.UpdateCase, false, s.officerCall},
		{"POST", "/cases/{id}/visits/{visit}/links", auth.UpdateCase, false, s.createLink},
		{"POST", "/cases/{id}/visits/{visit}/links/{link}/revoke", auth.UpdateCase, false, s.revokeLink},
		{"POST", "/cases/{id}/visits/{visit}/hold", auth.UpdateCase, false, s.legalHold},
		{"POST", "/cases/{id}/hold", auth.UpdateCase, false, s.legalHold},
		{"GET", "/cases/{id}/visits/{visit}/recordings/{rec}", auth.ReadCase, false, s.playbackPage},
		{"GET", "/cases/{id}/visits/{visit}/recordings/{rec}/files/{file}", auth.ReadCase, false, s.recordingMedia},
		{"GET", "/cases/{id}/visits/{visit}/recordings/{rec}/files/{file}/download", auth.ReadCase, false, s.recordingDownload},
		{"GET", "/join/{token}", auth.Public, false, s.joinPage},
		{"GET", "/join/{token}/ws", auth.Public, false, s.joinCall},
		{"GET", "/suspensions", auth.ReadFacility, false, s.suspensionsPage},
		{"POST", "/suspensions", auth.ManageFacility, false, s.addSuspension},
		{"POST", "/suspensions/{id}/lift", auth.ManageFacility, false, s.liftSuspension},
		{"GET", "/agreements", auth.ReadFacility, false, s.agreementsPage},
		{"POST", "/agreements", auth.ManageAgreements, false, s.saveAgreement},
		{"POST", "/agreements/{id}", auth.ManageAgreements, false, s.saveAgreement},
		{"GET", "/recording-policies", auth.ReadFacility, false, s.recordingPage},
		{"POST", "/recording-policies", auth.ManageRecording, false, s.saveRecordingPolicy},
		{"GET", "/people", auth.ReadCase, false, s.searchPage},
		{"GET", "/facilities", auth.ReadFacility, false, s.facilitiesPage},
		{"GET", "/facilities/new", auth.ManageFacility, false, s.newFacilityPage},
		{"POST", "/facilities", auth.ManageFacility, false, s.saveFacility},
		{"GET", "/facilities/{id}", auth.ReadFacility, false, s.facilityPage},
		{"POST", "/facilities/{id}", auth.ManageFacility, false, s.saveFacility},
		{"POST", "/facilities/{id}/terminals", auth.ManageFacility, false, s.addTerminal},
		{"POST", "/facilities/{id}/windows", auth.ManageFacility, false, s.saveWindows},

		{"GET", "/api/v1/me", auth.ViewHome, true, s.apiMe},
		{"POST", "/api/v1/account/password", auth.ManageAccount, true, s.apiChangePassword},
		{"GET", "/api/v1/tokens", auth.ManageAccount, true, s.apiTokens},
		{"POST", "/api/v1/tokens", auth.ManageAccount, true, s.apiCreateToken},
		{"DELETE", "/api/v1/tokens/{id}", auth.ManageAccount, true, s.apiRevokeToken},
		{"GET", "/api/v1/users", auth.ListUsers, true, s.apiUsers},
		{"POST", "/api/v1/users", auth.CreateUser, true, s.apiCreateUser},
		{"GET", "/api/v1/users/{id}", auth.ListUsers, true, s.apiUser},
		{"PATCH", "/api/v1/users/{id}", auth.UpdateUser, true, s.apiUpdateUser},
		{"POST", "/api/v1/users/{id}/password-reset", auth.UpdateUser, true, s.apiResetPassword},
		{"GET", "/api/v1/audit", auth.ReadAudit, true, s.apiAudit},
		{"POST", "/api/v1/audit/verify", auth.VerifyAudit, true, s.apiVerifyAudit},
		{"GET", "/api/v1/people", auth.ReadCase, true, s.apiSearchPeople},
		{"GET", "/api/v1/people/{id}", auth.ReadCase, true, s.apiPerson},
		{"PUT", "/api/v1/people/{id}", auth.UpdateCase, true, s.apiUpdatePerson},
		{"POST", "/api/v1/people/{id}/names", auth.UpdateCase, true, s.apiAddName},
		{"POST", "/api/v1/people/{id}/names/{name}/display", auth.UpdateCase, true, s.apiDisplayName},
		{"DELETE", "/api/v1/people/{id}/names/{name}", auth.UpdateCase, true, s.apiDeleteName},
		{"GET", "/api/v1/cases", auth.ReadCase, true, s.apiCases},
		{"POST", "/api/v1/cases", auth.CreateCase, true, s.apiOpenCase},
		{"GET", "/api/v1/cases/{id}", auth.ReadCase, true, s.apiCase},
		{"PUT", "/api/v1/cases/{id}", auth.UpdateCase, true, s.apiUpdateCase},
		{"POST", "/api/v1/cases/{id}/charges", auth.UpdateCase, true, s.apiAddCharge},
		{"DELETE", "/api/v1/cases/{id}/charges/{item}", auth.UpdateCase, true, s.apiDeleteCharge},
		{"POST", "/api/v1/cases/{id}/links", auth.UpdateCase, true, s.apiAddLink},
		{"DELETE", "/api/v1/cases/{id}/links/{item}", auth.UpdateCase, true, s.apiDeleteLink},
		{"GET", "/api/v1/cases/{id}/timeline", auth.ReadCase, true, s.apiTimeline},
		{"POST", "/api/v1/cases/{id}/timeline", auth.UpdateCase, true, s.apiAddEvent},
		{"DELETE", "/api/v1/cases/{id}/timeline/{item}", auth.UpdateCase, true, s.apiDeleteEvent},
		{"GET", "/api/v1/dashboard", auth.ReadCase, true, s.apiDashboard},
		{"GET", "/api/v1/cases/{id}/access", auth.ReadCase, true, s.apiAccess},
		{"PUT", "/api/v1/cases/{id}/notification", auth.UpdateCase, true, s.apiSaveNotification},
		{"POST", "/api/v1/cases/{id}/contacts", auth.UpdateCase, true, s.apiAddContact},
		{"POST", "/api/v1/cases/{id}/requests", auth.UpdateCase, true, s.apiCreateRequest},
		{"POST", "/api/v1/cases/{id}/requests/{req}/transitions", auth.UpdateCase, true, s.apiTransition},
		{"GET", "/api/v1/suspensions", auth.ReadFacility, true, s.apiSuspensions},
		{"POST", "/api/v1/suspensions", auth.ManageFacility, true, s.apiAddSuspension},
		{"POST", "/api/v1/suspensions/{id}/lift", auth.ManageFacility, true, s.apiLiftSuspension},
		{"GET", "/api/v1/agreements", auth.ReadFacility, true, s.apiAgreements},
		{"POST", "/api/v1/agreements", auth.ManageAgreements, true, s.apiSaveAgreement},
		{"PUT", "/api/v1/agreements/{id}", auth.ManageAgreements, true, s.apiSaveAgreement},
		{"GET", "/api/v1/recording-policies", auth.ReadFacility, true, s.apiRecordingPolicies},
		{"PUT", "/api/v1/recording-policies", auth.ManageRecording, true, s.apiSetRecordingPolicy},
		{"GET", "/api/v1/cases/{id}/visits", auth.ReadCase, true, s.apiVisits},
		{"POST", "/api/v1/cases/{id}/visits", auth.UpdateCase, true, s.apiScheduleVisit},
		{"POST", "/api/v1/cases/{id}/visits/{visit}/cancel", auth.UpdateCase, true, s.apiCancelVisit},
		{"POST", "/api/v1/cases/{id}/visits/{visit}/status", auth.UpdateCase, true, s.apiVisitStatus},
		{"POST", "/api/v1/cases/{id}/visits/{visit}/move", auth.UpdateCase, true, s.apiMoveVisit},
		{"POST", "/api/v1/cases/{id}/visits/past", auth.UpdateCase, true, s.apiRecordPastVisit},
		{"POST", "/api/v1/facilities/{id}/terminals", auth.ManageFacility, true, s.apiAddTerminal},
		{"PUT", "/api/v1/facilities/{id}/windows", auth.ManageFacility, true, s.apiSetWindows},
		{"GET", "/api/v1/facilities", auth.ReadFacility, true, s.apiFacilities},
		{"POST", "/api/v1/facilities", auth.ManageFacility, true, s.apiCreateFacility},
		{"GET", "/api/v1/facilities/{id}", auth.ReadFacility, true, s.apiFacility},
		{"PUT", "/api/v1/facilities/{id}", auth.ManageFacility, true, s.apiUpdateFacility},
	}
	routes = append(routes, s.reportRoutes()...)
	return append(routes, s.familyRoutes()...)
}

// Handler returns the whole HTTP handler: request logging and metrics,
// security headers, cross-origin protection, then the routes.
func (s *Server) Handler() http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, errCrossOrigin)
	}))
	return s.observe(s.secure(cop.Handler(s.mux)))
}

// loggedPath is the request's path as logs may show it: join links and
// family invitations carry their token in the path, and a token is a
// credential.
func loggedPath(r *http.Request) string {
	for _, prefix := range []string{"/join/", "/family/invite/"} {
		if strings.HasPrefix(r.URL.Path, prefix) {
			return prefix + "…"
		}
	}
	return r.URL.Path
}

// reqState is what the middleware learns about a request.
type reqState struct {
	id       string
	address  string
	lang     string
	api      bool
	user     *auth.User
	session  *auth.Session // nil for API-token requests
	viaToken bool
}

type stateKey struct{}

func stateOf(r *http.Request) *reqState {
	if st, ok := r.Context().Value(stateKey{}).(*reqState); ok {
		return st
	}
	return &reqState{lang: i18n.Source}
}

// actor is the audit actor of the request.
func (st *reqState) actor() audit.Actor {
	if st.user == nil {
		return audit.Actor{ID: "anonymous", Name: "anonymous", Address: st.address}
	}
	return st.user.Actor(st.address)
}

// observe assigns a request id, logs the request and counts it.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var b [8]byte
		_, _ = rand.Read(b[:])
		st := &reqState{id: hex.EncodeToString(b[:]), address: s.clientAddress(r), lang: i18n.Source,
			api: strings.HasPrefix(r.URL.Path, "/api/")}
		st.lang = s.Catalog.Match(s.chosenLang(r, ""), r.Header.Get("Accept-Language"))
		r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				s.Log.Error("panic", slog.Any("panic", v), slog.String("stack", string(debug.Stack())), slog.String("request_id", st.id))
				if !rec.wrote {
					s.fail(rec, r, fmt.Errorf("panic: %v", v))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			if s.metrics != nil {
				s.metrics.observe(route, r.Method, rec.status, elapsed)
			}
			level := slog.LevelInfo
			if route == "GET /healthz" || route == "GET /readyz" || route == "GET /metrics" || route == "GET /static/{file}" {
				level = slog.LevelDebug
			}
			s.Log.Log(r.Context(), level, "request", slog.String("method", r.Method), slog.String("path", loggedPath(r)),
				slog.String("route", route), slog.Int("status", rec.status), slog.Duration("duration", elapsed),
				slog.String("address", st.address), slog.String("request_id", st.id))
		}()
		next.ServeHTTP(rec, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// contentSecurityPolicy allows nothing but this origin's own files: no inline
// script or style, no framing, forms only to this origin.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// secure sets the security headers of every response.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.Config.TLS() {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// clientAddress is the client's IP: the connection's, or, behind a trusted
// proxy, the last address in X-Forwarded-For that is not a trusted proxy.
func (s *Server) clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(addr) {
		return host
	}
	hops := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !s.trusted(a) {
			return a.String()
		}
	}
	return host
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.Config.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

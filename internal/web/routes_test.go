package web_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/family"
)

// who may reach each route. Every route of the server must be listed: a new
// route without a decision here fails TestEveryRouteEveryRole.
var (
	anyone  = []string{"anonymous", "admin", "hq_officer", "consular_officer", "supervisor", "auditor", "family"}
	members = []string{"admin", "hq_officer", "consular_officer", "supervisor", "auditor", "family"}
	admins  = []string{"admin"}
	readers = []string{"admin", "auditor"}
	workers = []string{"admin", "hq_officer", "consular_officer", "supervisor"}
)

var routeAccess = map[string][]string{
	"GET /healthz":                                    anyone,
	"GET /readyz":                                     anyone,
	"GET /metrics":                                    anyone,
	"GET /static/{file}":                              anyone,
	"GET /login":                                      anyone,
	"POST /login":                                     anyone,
	"POST /logout":                                    members,
	"GET /setup":                                      anyone,
	"POST /setup":                                     anyone,
	"GET /{$}":                                        members,
	"GET /account":                                    members,
	"POST /account/password":                          members,
	"POST /account/preferences":                       members,
	"POST /account/notices":                           members,
	"POST /account/tokens":                            members,
	"POST /account/tokens/{id}/revoke":                members,
	"POST /account/sessions/{id}/revoke":              members,
	"POST /language":                                  anyone,
	"GET /login/sso":                                  anyone,
	"GET /login/sso/callback":                         anyone,
	"GET /login/verify":                               members,
	"POST /login/verify":                              members,
	"POST /login/verify/key/options":                  members,
	"POST /login/verify/key":                          members,
	"GET /account/security":                           members,
	"POST /account/totp":                              members,
	"GET /account/totp":                               members,
	"POST /account/totp/confirm":                      members,
	"POST /account/totp/remove":                       members,
	"POST /account/recovery-codes":                    members,
	"POST /account/keys/options":                      members,
	"POST /account/keys":                              members,
	"POST /account/keys/{id}/remove":                  members,
	"POST /admin/users/{id}/mfa-reset":                admins,
	"GET /admin/security":                             readers,
	"GET /cases/break-glass":                          {"admin", "hq_officer"},
	"POST /cases/break-glass":                         {"admin", "hq_officer"},
	"GET /audit/break-glass":                          readers,
	"POST /admin/security":                            admins,
	"GET /admin/users":                                readers,
	"GET /admin/users/new":                            admins,
	"POST /admin/users":                               admins,
	"GET /admin/users/{id}":                           readers,
	"POST /admin/users/{id}":                          admins,
	"POST /admin/users/{id}/password":                 admins,
	"GET /audit":                                      readers,
	"POST /audit/verify":                              readers,
	"GET /api/v1/me":                                  members,
	"POST /api/v1/account/password":                   members,
	"GET /api/v1/tokens":                              members,
	"POST /api/v1/tokens":                             members,
	"DELETE /api/v1/tokens/{id}":                      members,
	"GET /api/v1/users":                               readers,
	"POST /api/v1/users":                              admins,
	"GET /api/v1/users/{id}":                          readers,
	"PATCH /api/v1/users/{id}":                        admins,
	"POST /api/v1/users/{id}/password-reset":          admins,
	"GET /cases":                                      workers,
	"GET /cases/new":                                  workers,
	"GET /cases.csv":                                  workers,
	"GET /cases/{id}/summary.pdf":                     workers,
	"POST /cases":                                     workers,
	"GET /cases/{id}":                                 workers,
	"GET /cases/{id}/edit":                            workers,
	"POST /cases/{id}":                                workers,
	"POST /cases/{id}/person":                         workers,
	"POST /cases/{id}/names":                          workers,
	"POST /cases/{id}/names/{name}/display":           workers,
	"POST /cases/{id}/names/{name}/delete":            workers,
	"POST /cases/{id}/charges":                        workers,
	"POST /cases/{id}/charges/{item}/delete":          workers,
	"POST /cases/{id}/links":                          workers,
	"POST /cases/{id}/links/{item}/delete":            workers,
	"POST /cases/{id}/timeline":                       workers,
	"POST /cases/{id}/timeline/{item}/delete":         workers,
	"POST /cases/{id}/notification":                   workers,
	"POST /cases/{id}/contacts":                       workers,
	"POST /cases/{id}/requests":                       workers,
	"POST /cases/{id}/requests/{req}":                 workers,
	"GET /suspensions":                                workers,
	"POST /suspensions":                               workers,
	"POST /suspensions/{id}/lift":                     workers,
	"GET /agreements":                                 workers,
	"POST /agreements":                                admins,
	"POST /agreements/{id}":                           admins,
	"GET /recording-policies":                         workers,
	"POST /cases/{id}/visits/{visit}/hold":            workers,
	"POST /cases/{id}/hold":                           workers,
	"GET /cases/{id}/visits/{visit}/recordings/{rec}": workers,
	"GET /cases/{id}/visits/{visit}/recordings/{rec}/files/{file}":          workers,
	"GET /cases/{id}/visits/{visit}/recordings/{rec}/files/{file}/download": workers,
	"POST /recording-policies":                            admins,
	"POST /cases/{id}/visits":                             workers,
	"POST /cases/{id}/visits/{visit}/status":              workers,
	"POST /cases/{id}/visits/{visit}/move":                workers,
	"POST /cases/{id}/visits/past":                        workers,
	"POST /facilities/{id}/terminals":                     workers,
	"POST /facilities/{id}/windows":                       workers,
	"POST /api/v1/cases/{id}/visits/{visit}/status":       workers,
	"POST /api/v1/cases/{id}/visits/{visit}/move":         workers,
	"POST /api/v1/cases/{id}/visits/past":                 workers,
	"POST /cases/{id}/visits/{visit}/links":               workers,
	"POST /cases/{id}/visits/{visit}/links/{link}/revoke": workers,
	"GET /join/{token}":                                   anyone,
	"GET /join/{token}/ws":                                anyone,
	"GET /cases/{id}/visits/{visit}/call":                 workers,
	"GET /cases/{id}/visits/{visit}/call/ws":              workers,
	"GET /people":                                         workers,
	"GET /facilities":                                     workers,
	"GET /facilities/new":                                 workers,
	"POST /facilities":                                    workers,
	"GET /facilities/{id}":                                workers,
	"POST /facilities/{id}":                               workers,
	"GET /api/v1/people":                                  workers,
	"GET /api/v1/people/{id}":                             workers,
	"PUT /api/v1/people/{id}":                             workers,
	"POST /api/v1/people/{id}/names":                      workers,
	"POST /api/v1/people/{id}/names/{name}/display":       workers,
	"DELETE /api/v1/people/{id}/names/{name}":             workers,
	"DELETE /api/v1/cases/{id}/charges/{item}":            workers,
	"DELETE /api/v1/cases/{id}/links/{item}":              workers,
	"DELETE /api/v1/cases/{id}/timeline/{item}":           workers,
	"GET /api/v1/cases":                                   workers,
	"POST /api/v1/cases":                                  workers,
	"GET /api/v1/cases/{id}":                              workers,
	"PUT /api/v1/cases/{id}":                              workers,
	"POST /api/v1/cases/{id}/charges":                     workers,
	"POST /api/v1/cases/{id}/links":                       workers,
	"GET /api/v1/cases/{id}/timeline":                     workers,
	"POST /api/v1/cases/{id}/timeline":                    workers,
	"GET /api/v1/dashboard":                               workers,
	"GET /api/v1/cases/{id}/access":                       workers,
	"PUT /api/v1/cases/{id}/notification":                 workers,
	"POST /api/v1/cases/{id}/contacts":                    workers,
	"POST /api/v1/cases/{id}/requests":                    workers,
	"POST /api/v1/cases/{id}/requests/{req}/transitions":  workers,
	"GET /api/v1/suspensions":                             workers,
	"POST /api/v1/suspensions":                            workers,
	"POST /api/v1/suspensions/{id}/lift":                  workers,
	"GET /api/v1/agreements":                              workers,
	"POST /api/v1/agreements":                             admins,
	"PUT /api/v1/agreements/{id}":                         admins,
	"GET /api/v1/recording-policies":                      workers,
	"PUT /api/v1/recording-policies":                      admins,
	"GET /api/v1/cases/{id}/visits":                       workers,
	"POST /api/v1/cases/{id}/visits":                      workers,
	"POST /api/v1/cases/{id}/visits/{visit}/cancel":       workers,
	"POST /api/v1/facilities/{id}/terminals":              workers,
	"PUT /api/v1/facilities/{id}/windows":                 workers,
	"GET /api/v1/facilities":                              workers,
	"POST /api/v1/facilities":                             workers,
	"GET /api/v1/facilities/{id}":                         workers,
	"PUT /api/v1/facilities/{id}":                         workers,
	"GET /api/v1/audit":                                   readers,
	"POST /api/v1/audit/verify":                           readers,
}

// accessOf is the decision for a route pattern, from the tables of each
// family of pages.
func accessOf(pattern string) ([]string, bool) {
	for _, m := range []map[string][]string{routeAccess, reportRouteAccess, familyRouteAccess} {
		if a, ok := m[pattern]; ok {
			return a, true
		}
	}
	return nil, false
}

func mergedAccess() map[string][]string {
	out := map[string][]string{}
	for _, m := range []map[string][]string{routeAccess, reportRouteAccess, familyRouteAccess} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestEveryRouteEveryRole(t *testing.T) {
	h := onSQLite(t)
	relative, _ := newFamilyMember(t, h, "relative", family.Visits, family.Messages)
	for _, rt := range h.srv.Routes() {
		allowed, ok := accessOf(rt.Pattern())
		if !ok {
			t.Errorf("route %s has no access decision in routeAccess", rt.Pattern())
			continue
		}
		path := strings.NewReplacer("{id}", "nonexistent", "{file}", "missing.css", "{$}", "", "{name}", "x", "{item}", "x", "{req}", "x", "{visit}", "x", "{link}", "x", "{token}", "x").Replace(rt.Path)
		for _, who := range anyone {
			var c *client
			if who == "anonymous" {
				c = h.anonymous()
			} else if who == "family" {
				c = h.asUser(relative) // family accounts come only from an invitation
			} else {
				c = h.as(auth.Role(who))
			}
			var res *http.Response
			switch {
			case rt.API && rt.Method != "GET":
				res = c.api(rt.Method, path, "{}")
			case rt.API:
				res = c.api("GET", path, "")
			case rt.Method == "POST":
				res = c.post(path, nil)
			default:
				res = c.get(path)
			}
			body := readBody(t, res)
			denied := res.StatusCode == http.StatusForbidden || res.StatusCode == http.StatusUnauthorized ||
				(res.StatusCode == http.StatusSeeOther && strings.HasPrefix(res.Header.Get("Location"), "/login?"))
			want := slices.Contains(allowed, who)
			if denied == want {
				t.Errorf("%s as %s: status %d (Location %q), want allowed=%v", rt.Pattern(), who, res.StatusCode, res.Header.Get("Location"), want)
			}
			if denied && who != "admin" && strings.Contains(body, "The admin") { // the admin's own name heads their pages
				t.Errorf("%s as %s: the refusal leaks another user's name", rt.Pattern(), who)
			}
		}
	}
	for p := range mergedAccess() {
		found := false
		for _, rt := range h.srv.Routes() {
			found = found || rt.Pattern() == p
		}
		if !found {
			t.Errorf("routeAccess lists %s, which is not a route", p)
		}
	}
}

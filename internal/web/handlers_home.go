package web

import (
	"context"
	"net/http"
	"strconv"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
)

func itoa(n int) string { return strconv.Itoa(n) }

// dashboardRows is how many cases the home page lists before "show all".
const dashboardRows = 100

// home is each role's landing page: what that role looks after.
func (s *Server) home(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	if st.user.Role == auth.RoleFamily {
		http.Redirect(w, r, "/family", http.StatusSeeOther) // a family member's home is their own pages
		return nil
	}
	ctx := r.Context()
	v := s.view(r, "Home")
	data := map[string]any{}
	recent, err := s.recentSignIns(ctx, st.user.ID)
	if err != nil {
		return err
	}
	data["SignIns"] = recent
	if s.policy.Can(st.user, auth.ListUsers, nil) {
		users, err := s.Auth.Users(ctx)
		if err != nil {
			return err
		}
		byRole := map[auth.Role]int{}
		active := 0
		for _, u := range users {
			if !u.Disabled {
				byRole[u.Role]++
				active++
			}
		}
		data["ByRole"] = byRole
		data["ActiveUsers"] = active
	}
	if s.policy.Can(st.user, auth.ReadAudit, nil) {
		entries, err := s.Audit.List(ctx, audit.Filter{Limit: 10})
		if err != nil {
			return err
		}
		if err := s.Audit.Record(ctx, audit.Entry{Actor: st.actor(), Action: "audit.view", ObjectType: "audit_log", Detail: "home page, latest 10"}); err != nil {
			return err
		}
		data["Audit"] = entries
	}
	if s.policy.Can(st.user, auth.ReadCase, nil) {
		dash, err := s.Access.Dashboard(ctx, s.actor(r))
		if err != nil {
			return err
		}
		data["Dashboard"] = dash
		// The page lists the most urgent cases; the whole list is a click
		// (or the API) away. A screen of ten thousand rows serves nobody.
		shown := dash.Rows
		if len(shown) > dashboardRows && r.URL.Query().Get("all") == "" {
			shown = shown[:dashboardRows]
		}
		overdue, possibly := 0, 0
		for _, row := range dash.Rows {
			if row.Clock.Overdue {
				overdue++
			} else if row.Clock.PossiblyOver {
				possibly++
			}
		}
		waiting := dash.Waiting
		if len(waiting) > 20 {
			waiting = waiting[:20]
		}
		data["Shown"], data["Overdue"], data["Possibly"], data["Total"] = shown, overdue, possibly, len(dash.Rows)
		data["Waiting"], data["WaitingTotal"] = waiting, len(dash.Waiting)
		if err := s.reportsDashboard(r, data); err != nil {
			return err
		}
	}
	if st.user.Role == auth.RoleAdmin {
		version, err := s.DB.Version(ctx)
		if err != nil {
			return err
		}
		data["Engine"] = string(s.DB.Engine)
		data["Schema"] = version
	}
	v.Data = data
	return s.render(w, "home", v)
}

// recentSignIns returns the user's last sign-ins and failed attempts on
// their account, from the audit log, so that they notice someone else's.
func (s *Server) recentSignIns(ctx context.Context, userID string) ([]audit.Entry, error) {
	entries, err := s.Audit.List(ctx, audit.Filter{ObjectType: "user", ObjectID: userID, Limit: 50})
	if err != nil {
		return nil, err
	}
	var out []audit.Entry
	for _, e := range entries {
		if (e.Action == "session.login" || e.Action == "session.login_failed") && len(out) < 5 {
			out = append(out, e)
		}
	}
	return out, nil
}

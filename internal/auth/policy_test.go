package auth_test

import (
	"testing"

	"github.com/attache-org/attache/internal/auth"
)

func TestPolicyEveryRoleEveryAction(t *testing.T) {
	// want lists, for each action without a record, the roles allowed.
	want := map[auth.Action][]auth.Role{
		auth.Public:              auth.AllRoles,
		auth.ViewHome:            auth.AllRoles,
		auth.ManageAccount:       auth.AllRoles,
		auth.ListUsers:           {auth.RoleAdmin, auth.RoleAuditor},
		auth.CreateUser:          {auth.RoleAdmin},
		auth.UpdateUser:          {auth.RoleAdmin},
		auth.ReadAudit:           {auth.RoleAdmin, auth.RoleAuditor},
		auth.VerifyAudit:         {auth.RoleAdmin, auth.RoleAuditor},
		auth.ReadCase:            {auth.RoleAdmin, auth.RoleSupervisor, auth.RoleHQOfficer, auth.RoleConsularOfficer},
		auth.CreateCase:          {auth.RoleAdmin, auth.RoleSupervisor, auth.RoleHQOfficer, auth.RoleConsularOfficer},
		auth.UpdateCase:          {auth.RoleAdmin, auth.RoleSupervisor, auth.RoleHQOfficer, auth.RoleConsularOfficer},
		auth.ReadFacility:        {auth.RoleAdmin, auth.RoleSupervisor, auth.RoleHQOfficer, auth.RoleConsularOfficer},
		auth.ManageFacility:      {auth.RoleAdmin, auth.RoleSupervisor, auth.RoleHQOfficer, auth.RoleConsularOfficer},
		auth.ManageAgreements:    {auth.RoleAdmin},
		auth.ManageRecording:     {auth.RoleAdmin},
		auth.ApproveReport:       {auth.RoleAdmin, auth.RoleSupervisor},
		auth.AuthorizeDisclosure: {auth.RoleAdmin, auth.RoleSupervisor},
		auth.FamilyPortal:        {auth.RoleFamily},
	}
	var p auth.Policy
	for _, a := range auth.Actions {
		allowed, ok := want[a]
		if !ok {
			t.Errorf("action %s has no expectation in this test", a)
			continue
		}
		for _, r := range auth.AllRoles {
			u := &auth.User{ID: "u", Role: r}
			exp := false
			for _, ar := range allowed {
				exp = exp || ar == r
			}
			if got := p.Can(u, a, nil); got != exp {
				t.Errorf("Can(%s, %s) = %v, want %v", r, a, got, exp)
			}
			if p.Can(&auth.User{ID: "u", Role: r, Disabled: true}, a, nil) && a != auth.Public {
				t.Errorf("a disabled %s may %s", r, a)
			}
		}
		if got := p.Can(nil, a, nil); got != (a == auth.Public) {
			t.Errorf("anonymous Can(%s) = %v", a, got)
		}
	}
}

func TestPolicyNeedToKnow(t *testing.T) {
	kovrigCase := &auth.Scope{Post: "Beijing", Desk: "China", Team: []string{"assigned"}}
	cases := []struct {
		name string
		user auth.User
		want bool
	}{
		{"admin", auth.User{ID: "a", Role: auth.RoleAdmin}, false},
		{"admin on the team", auth.User{ID: "assigned", Role: auth.RoleAdmin}, true},
		{"officer at the post", auth.User{ID: "b", Role: auth.RoleConsularOfficer, Post: "Beijing"}, true},
		{"officer at another post", auth.User{ID: "c", Role: auth.RoleConsularOfficer, Post: "Shanghai"}, false},
		{"officer elsewhere but assigned", auth.User{ID: "assigned", Role: auth.RoleConsularOfficer, Post: "Ottawa"}, true},
		{"HQ officer of the desk", auth.User{ID: "d", Role: auth.RoleHQOfficer, Desk: "China"}, true},
		{"HQ officer of another desk", auth.User{ID: "e", Role: auth.RoleHQOfficer, Desk: "Iran"}, false},
		{"HQ officer with the post's name as desk", auth.User{ID: "e2", Role: auth.RoleHQOfficer, Desk: "Iran", Post: "Beijing"}, false},
		{"supervisor of the desk", auth.User{ID: "f", Role: auth.RoleSupervisor, Desk: "China"}, true},
		{"supervisor of the post", auth.User{ID: "g", Role: auth.RoleSupervisor, Post: "Beijing"}, true},
		{"supervisor elsewhere", auth.User{ID: "h", Role: auth.RoleSupervisor, Desk: "Iran", Post: "Tehran"}, false},
		{"auditor", auth.User{ID: "i", Role: auth.RoleAuditor, Desk: "China", Post: "Beijing"}, false},
		{"auditor assigned by mistake", auth.User{ID: "assigned", Role: auth.RoleAuditor}, false},
		{"officer with no post", auth.User{ID: "j", Role: auth.RoleConsularOfficer}, false},
		{"family member, even if named in the team", auth.User{ID: "assigned", Role: auth.RoleFamily, Post: "Beijing", Desk: "China"}, false},
	}
	var p auth.Policy
	for _, tc := range cases {
		if got := p.Can(&tc.user, auth.ReadCase, kovrigCase); got != tc.want {
			t.Errorf("%s: Can(read case) = %v, want %v", tc.name, got, tc.want)
		}
	}
	if p.Can(&auth.User{ID: "k", Role: auth.RoleConsularOfficer}, auth.ReadCase, &auth.Scope{}) {
		t.Error("an officer without a post sees a case without a post")
	}
}

func TestPolicyBreakGlass(t *testing.T) {
	var p auth.Policy
	opened := &auth.Scope{Post: "Beijing", Desk: "China", BreakGlass: []string{"a", "d", "c", "i"}}
	closed := &auth.Scope{Post: "Beijing", Desk: "China"}
	cases := []struct {
		name      string
		user      auth.User
		may, read bool
	}{
		{"admin", auth.User{ID: "a", Role: auth.RoleAdmin}, true, true},
		{"HQ officer of another desk", auth.User{ID: "d", Role: auth.RoleHQOfficer, Desk: "Iran"}, true, true},
		{"officer at another post", auth.User{ID: "c", Role: auth.RoleConsularOfficer, Post: "Shanghai"}, false, false},
		{"auditor", auth.User{ID: "i", Role: auth.RoleAuditor}, false, false},
		{"disabled admin", auth.User{ID: "a", Role: auth.RoleAdmin, Disabled: true}, false, false},
	}
	for _, tc := range cases {
		if got := p.CanBreakGlass(&tc.user, closed); got != tc.may {
			t.Errorf("%s: CanBreakGlass = %v, want %v", tc.name, got, tc.may)
		}
		if got := p.Can(&tc.user, auth.ReadCase, opened); got != tc.read {
			t.Errorf("%s: read by break-glass = %v, want %v", tc.name, got, tc.read)
		}
		// Break-glass reads; it never changes.
		if p.Can(&tc.user, auth.UpdateCase, opened) || p.Can(&tc.user, auth.ApproveReport, opened) {
			t.Errorf("%s: changes a case opened by break-glass", tc.name)
		}
	}
	// Whoever may read a case already has nothing to break.
	if p.CanBreakGlass(&auth.User{ID: "x", Role: auth.RoleHQOfficer, Desk: "China"}, closed) {
		t.Error("the desk's own HQ officer is offered break-glass")
	}
}

// TestVisibilityAgreesWithCan holds the list filter and the per-record
// decision together: for every role, post and desk combination and every
// kind of case, both must say the same.
func TestVisibilityAgreesWithCan(t *testing.T) {
	var p auth.Policy
	places := []string{"", "Beijing", "Shanghai"}
	desks := []string{"", "China", "Iran"}
	for _, r := range auth.AllRoles {
		for _, post := range places {
			for _, desk := range desks {
				for _, disabled := range []bool{false, true} {
					u := &auth.User{ID: "me", Role: r, Post: post, Desk: desk, Disabled: disabled}
					v := p.Visibility(u, auth.ReadCase)
					for _, cp := range places[1:] {
						for _, cd := range desks[1:] {
							for _, team := range [][]string{nil, {"me"}, {"other"}} {
								s := &auth.Scope{Post: cp, Desk: cd, Team: team}
								if got, want := v.Allows(s), p.Can(u, auth.ReadCase, s); got != want {
									t.Errorf("%s post=%q desk=%q disabled=%v on case %+v: Visibility %v, Can %v", r, post, desk, disabled, s, got, want)
								}
							}
						}
					}
				}
			}
		}
	}
	if v := p.Visibility(nil, auth.ReadCase); !v.None {
		t.Error("anonymous visibility is not none")
	}
}

func TestPolicyManageFacility(t *testing.T) {
	var p auth.Policy
	cases := []struct {
		name string
		user auth.User
		post string
		want bool
	}{
		{"officer of the post", auth.User{Role: auth.RoleConsularOfficer, Post: "Beijing"}, "Beijing", true},
		{"officer of another post", auth.User{Role: auth.RoleConsularOfficer, Post: "Shanghai"}, "Beijing", false},
		{"officer, HQ's facility", auth.User{Role: auth.RoleConsularOfficer, Post: "Beijing"}, "", false},
		{"officer without a post, HQ's facility", auth.User{Role: auth.RoleConsularOfficer}, "", false},
		{"HQ officer", auth.User{Role: auth.RoleHQOfficer, Desk: "Iran"}, "Beijing", true},
		{"supervisor of the post", auth.User{Role: auth.RoleSupervisor, Post: "Beijing"}, "Beijing", true},
		{"supervisor of another post", auth.User{Role: auth.RoleSupervisor, Post: "Tehran"}, "Beijing", false},
		{"desk supervisor", auth.User{Role: auth.RoleSupervisor, Desk: "China"}, "Beijing", true},
		{"administrator", auth.User{Role: auth.RoleAdmin}, "Beijing", true},
		{"auditor", auth.User{Role: auth.RoleAuditor, Post: "Beijing"}, "Beijing", false},
		{"family", auth.User{Role: auth.RoleFamily}, "", false},
		{"disabled officer of the post", auth.User{Role: auth.RoleConsularOfficer, Post: "Beijing", Disabled: true}, "Beijing", false},
	}
	for _, tc := range cases {
		if got := p.CanManageFacility(&tc.user, tc.post); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

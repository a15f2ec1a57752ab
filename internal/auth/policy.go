package auth

import "slices"

// Action is something a user may try to do. Every route names one.
type Action string

// The actions. Routes open to anyone name Public; routes for any signed-in
// user name Authenticated actions such as ViewHome.
const (
	Public Action = "public" // sign-in page, health checks, assets

	ViewHome      Action = "home.view"
	ManageAccount Action = "account.manage" // one's own password, sessions, API tokens

	ListUsers  Action = "user.list"
	CreateUser Action = "user.create"
	UpdateUser Action = "user.update" // details, role, disabling, password reset

	ReadAudit   Action = "audit.read"
	VerifyAudit Action = "audit.verify"

	// Case actions are decided per record, against the case's Scope.
	ReadCase   Action = "case.read"
	CreateCase Action = "case.create"
	UpdateCase Action = "case.update"

	// The registry of detention facilities is reference data, not case data.
	ReadFacility   Action = "facility.read"
	ManageFacility Action = "facility.manage"

	// Agreement profiles between states are configuration: administrators.
	ManageAgreements Action = "agreement.manage"
	// Recording policies say which visits may be recorded: administrators.
	ManageRecording Action = "recording.manage"

	// ApproveReport approves or returns a submitted visit report, decided
	// per record: supervisors (and administrators) with need-to-know.
	ApproveReport Action = "report.approve"
	// AuthorizeDisclosure lets information go to a family contact without
	// the detainee's consent, under a reason-coded exception, decided per
	// record: supervisors (and administrators) with need-to-know.
	AuthorizeDisclosure Action = "disclosure.authorize"

	// FamilyPortal is the family pages: a family member's own contact,
	// messages and what consent lets them see. The family service checks
	// the contact and the consent for each record.
	FamilyPortal Action = "family.portal"
)

// Actions lists every action, for tests that check the policy is total.
var Actions = []Action{Public, ViewHome, ManageAccount, ListUsers, CreateUser, UpdateUser, ReadAudit, VerifyAudit,
	ReadCase, CreateCase, UpdateCase, ReadFacility, ManageFacility, ManageAgreements, ManageRecording, ApproveReport, AuthorizeDisclosure, FamilyPortal}

// everyone is the set of actions of any signed-in user.
var everyone = []Action{ViewHome, ManageAccount}

var caseWork = []Action{ReadCase, CreateCase, UpdateCase, ReadFacility, ManageFacility}

// grants lists what each role may do, before any per-record check.
var grants = map[Role][]Action{
	RoleAdmin: {ListUsers, CreateUser, UpdateUser, ReadAudit, VerifyAudit, ReadCase, CreateCase, UpdateCase, ReadFacility, ManageFacility,
		ManageAgreements, ManageRecording, ApproveReport, AuthorizeDisclosure},
	RoleAuditor:         {ListUsers, ReadAudit, VerifyAudit},
	RoleSupervisor:      append(slices.Clone(caseWork), ApproveReport, AuthorizeDisclosure),
	RoleFamily:          {FamilyPortal},
	RoleHQOfficer:       caseWork,
	RoleConsularOfficer: caseWork,
}

// Scope describes the record an action touches, for need-to-know checks.
// Case records carry their post, HQ desk and assigned team.
type Scope struct {
	Post string   // the responsible post
	Desk string   // the HQ desk
	Team []string // ids of the users assigned to the case
	// BreakGlass are the users who opened the case outside their
	// need-to-know, with a stated reason, until their access ends: they
	// may read it, nothing more.
	BreakGlass []string
}

// Policy is Attaché's one authorization policy. The zero value is ready.
type Policy struct{}

// Can reports whether u may do a. For a record-level action, scope is the
// record; nil asks only whether the role may do such things at all (to show
// a menu entry or to guard a route before the record is loaded). A nil user
// is an anonymous visitor.
func (Policy) Can(u *User, a Action, scope *Scope) bool {
	if a == Public {
		return true
	}
	if u == nil || u.Disabled {
		return false
	}
	if !slices.Contains(everyone, a) && !slices.Contains(grants[u.Role], a) {
		return false
	}
	if scope == nil {
		return true
	}
	if a == ReadCase && slices.Contains(scope.BreakGlass, u.ID) && mayBreakGlass(u) {
		return true
	}
	return needToKnow(u, scope)
}

// CanManageFacility reports whether u may change the record of a facility
// kept by post ("" for none), its terminals, windows and suspensions, or a
// state-wide suspension (post ""): a consular officer those of their own
// post; a supervisor of a post those of the post; HQ officers, desk
// supervisors and administrators any.
func (p Policy) CanManageFacility(u *User, post string) bool {
	if !p.Can(u, ManageFacility, nil) {
		return false
	}
	switch u.Role {
	case RoleAdmin, RoleHQOfficer:
		return true
	case RoleSupervisor:
		return u.Desk != "" || (post != "" && post == u.Post)
	case RoleConsularOfficer:
		return post != "" && post == u.Post
	}
	return false
}

// mayBreakGlass says whose role lets them open a case outside their
// need-to-know, with a reason, for a limited time: administrators and HQ
// case officers.
func mayBreakGlass(u *User) bool {
	return u.Role == RoleAdmin || u.Role == RoleHQOfficer
}

// CanBreakGlass reports whether u may open, by break-glass, a case with
// this scope: one u may not read otherwise.
func (p Policy) CanBreakGlass(u *User, scope *Scope) bool {
	return u != nil && !u.Disabled && mayBreakGlass(u) && p.Can(u, ReadCase, nil) && !p.Can(u, ReadCase, scope)
}

// needToKnow decides whether u may see a record with this scope: the
// assigned team, the post's officers, the desk's HQ officers and the
// supervisors of either. Administrators manage accounts and settings and
// read only the cases whose team they are on (or by break-glass);
// auditors read the audit log, not the cases.
func needToKnow(u *User, s *Scope) bool {
	if u.Role == RoleFamily {
		return false // a family member never sees a case record as such
	}
	if slices.Contains(s.Team, u.ID) {
		return true
	}
	samePost := u.Post != "" && u.Post == s.Post
	sameDesk := u.Desk != "" && u.Desk == s.Desk
	switch u.Role {
	case RoleSupervisor:
		return samePost || sameDesk
	case RoleHQOfficer:
		return sameDesk
	case RoleConsularOfficer:
		return samePost
	}
	return false
}

// Visibility is the need-to-know rule as a condition on case records, for
// lists and searches that must leave out what the user may not see. It says
// the same as Can with a Scope (a test holds them together).
type Visibility struct {
	All    bool   // every case
	None   bool   // no case
	UserID string // cases whose team includes this user
	Post   string // cases of this post ("" for none)
	Desk   string // cases of this desk ("" for none)
}

// Visibility returns which case records u may do a on.
func (p Policy) Visibility(u *User, a Action) Visibility {
	if !p.Can(u, a, nil) {
		return Visibility{None: true}
	}
	v := Visibility{UserID: u.ID}
	switch u.Role {
	case RoleSupervisor:
		v.Post, v.Desk = u.Post, u.Desk
	case RoleHQOfficer:
		v.Desk = u.Desk
	case RoleConsularOfficer:
		v.Post = u.Post
	}
	return v
}

// Allows reports whether a record with this scope passes the condition.
func (v Visibility) Allows(s *Scope) bool {
	switch {
	case v.All:
		return true
	case v.None:
		return false
	}
	return slices.Contains(s.Team, v.UserID) || (v.Post != "" && v.Post == s.Post) || (v.Desk != "" && v.Desk == s.Desk)
}

// Package auth holds Attaché's accounts, passwords, sessions, API tokens,
// login throttling and the one authorization policy that every handler asks.
package auth

import "slices"

// Role is what a user is in the ministry; it decides what they may do.
type Role string

// The roles. Family members and facility liaisons come with the family
// channel and the visits.
const (
	RoleAdmin           Role = "admin"
	RoleHQOfficer       Role = "hq_officer"
	RoleConsularOfficer Role = "consular_officer"
	RoleSupervisor      Role = "supervisor"
	RoleAuditor         Role = "auditor"
)

// Roles lists every role, in the order forms show them.
var Roles = []Role{RoleAdmin, RoleHQOfficer, RoleConsularOfficer, RoleSupervisor, RoleAuditor}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// MessageKey names the role in the message catalog.
func (r Role) MessageKey() string { return "role." + string(r) }

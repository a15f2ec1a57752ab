// Package auth holds Attaché's accounts, passwords, sessions, API tokens,
// login throttling and the one authorization policy that every handler asks.
package auth

import "slices"

// Role is what a user is in the ministry; it decides what they may do.
type Role string

// The roles. Facility liaisons join visits by link, without an account.
const (
	RoleAdmin           Role = "admin"
	RoleHQOfficer       Role = "hq_officer"
	RoleConsularOfficer Role = "consular_officer"
	RoleSupervisor      Role = "supervisor"
	RoleAuditor         Role = "auditor"
	// RoleFamily is a detainee's relative, with an account made from an
	// invitation link; they see only what the detainee's consent allows,
	// through the family pages, and never a case file.
	RoleFamily Role = "family"
)

// Roles lists the ministry's roles, in the order forms show them. Family
// accounts are not among them: they come from invitations only.
var Roles = []Role{RoleAdmin, RoleHQOfficer, RoleConsularOfficer, RoleSupervisor, RoleAuditor}

// AllRoles is every role, family included, for tests that check the policy
// is total.
var AllRoles = append(slices.Clone(Roles), RoleFamily)

// Valid reports whether r is a ministry role (one a form may give).
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// MessageKey names the role in the message catalog.
func (r Role) MessageKey() string { return "role." + string(r) }

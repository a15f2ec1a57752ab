// Package demo loads Attaché's demonstration data: one user per role now,
// and the seed cases as the case, access and visit modules add their steps.
// Loading is idempotent: what exists is left alone, so running it twice
// changes nothing.
package demo

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/attache-org/attache/internal/access"
	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/family"
	"github.com/attache-org/attache/internal/i18n"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/reports"
	"github.com/attache-org/attache/internal/visits"
)

// Env is what demo steps work with.
type Env struct {
	Auth    *auth.Service
	Cases   *cases.Service
	Access  *access.Service
	Visits  *visits.Service
	Reports *reports.Service
	Family  *family.Service
	// BaseURL starts the join links printed for the demo visit.
	BaseURL string
	Out     io.Writer  // where credentials and notes are printed
	Words   i18n.Words // their language (the zero Words write English)
}

// Step loads one part of the demo data, leaving what exists alone.
type Step struct {
	Name string
	Run  func(ctx context.Context, env Env) error
}

// Steps are run in order by Load.
var Steps = []Step{{Name: "second factors", Run: loadMFA}, {Name: "users", Run: loadUsers}, {Name: "seed cases", Run: loadCases}, {Name: "demo visit", Run: loadVisit},
	{Name: "visit report and family", Run: loadReport}}

// loadMFA makes the second factor optional for every role, as an
// administrator may, so that the demo accounts sign in with their password
// alone; it leaves a requirement an administrator already set alone. It is
// kept in the database, so every node of a demo cluster agrees.
func loadMFA(ctx context.Context, env Env) error {
	return env.Auth.DefaultMFARequirements(ctx, audit.System, false)
}

// Load runs every step.
func Load(ctx context.Context, env Env) error {
	for _, s := range Steps {
		if err := s.Run(ctx, env); err != nil {
			return fmt.Errorf("demo data, %s: %w", s.Name, err)
		}
	}
	return nil
}

// Users are the demo accounts, one per role, the case workers all on the
// China desk or at the embassy in Beijing so that they share the seed cases
// (the administrator and the auditor read no case), and the ambassador of
// the seed article as a consular officer.
var Users = []auth.UserInput{
	{Username: "admin", DisplayName: "Demo administrator", Role: auth.RoleAdmin},
	{Username: "hq", DisplayName: "Demo HQ case officer", Role: auth.RoleHQOfficer, Desk: "China"},
	{Username: "officer", DisplayName: "Demo consular officer", Role: auth.RoleConsularOfficer, Post: "Beijing"},
	{Username: "supervisor", DisplayName: "Demo supervisor", Role: auth.RoleSupervisor, Desk: "China"},
	{Username: "auditor", DisplayName: "Demo auditor", Role: auth.RoleAuditor},
	{Username: "barton", DisplayName: "Dominic Barton (鲍达民), Ambassador", Role: auth.RoleConsularOfficer, Post: "Beijing"},
}

func loadUsers(ctx context.Context, env Env) error {
	tw := tabwriter.NewWriter(env.Out, 0, 0, 2, ' ', 0)
	created := 0
	for _, in := range Users {
		_, err := env.Auth.UserByName(ctx, in.Username)
		if err == nil {
			continue
		}
		if !problem.Is(err, problem.NotFound) {
			return err
		}
		password := auth.GeneratePassword()
		if _, err := env.Auth.CreateUser(ctx, audit.System, in, password, false); err != nil {
			return err
		}
		if created == 0 {
			fmt.Fprintln(tw, env.Words.T("Demo accounts (the passwords are shown only now):"))
			fmt.Fprintln(tw, "  "+env.Words.T("USERNAME")+"\t"+env.Words.T("ROLE")+"\t"+env.Words.T("PASSWORD"))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", in.Username, in.Role, password)
		created++
	}
	if created == 0 {
		fmt.Fprintln(tw, env.Words.T("Demo accounts already exist (admin, hq, officer, supervisor, auditor, barton); their passwords were printed when they were made."))
		fmt.Fprintln(tw, env.Words.T("Give one a new password with: attache user passwd USERNAME"))
	}
	return tw.Flush()
}

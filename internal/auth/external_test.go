package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/problem"
)

// A single sign-on account is made from the provider's claims, follows
// them, is linked by issuer and subject (never by user name), has no
// password here, and steps up only with a fresh sign-in of the same
// person. Every refusal changes nothing.
func TestExternalLogin(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, a, c := newService(t, d)
		mkUser(t, s, "local.name", auth.RoleConsularOfficer)
		anna := auth.ExternalIdentity{Issuer: "https://login.example", Subject: "s-1", Username: "anna", Name: "Anna Berger",
			Role: auth.RoleConsularOfficer, Post: "Beijing", AuthTime: c.Now()}
		count := func() int {
			var n int
			_ = d.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
			return n
		}
		before := count()
		for _, tc := range []struct {
			name string
			id   auth.ExternalIdentity
			says string
		}{
			{"no role", auth.ExternalIdentity{Issuer: anna.Issuer, Subject: "s-2", Username: "visitor"}, "no role"},
			{"an officer without a post", auth.ExternalIdentity{Issuer: anna.Issuer, Subject: "s-3", Username: "nopost", Role: auth.RoleConsularOfficer}, "post"},
			{"a local account's name", auth.ExternalIdentity{Issuer: anna.Issuer, Subject: "s-4", Username: "local.name", Role: auth.RoleHQOfficer, Desk: "China"}, "local account"},
			{"the family role", auth.ExternalIdentity{Issuer: anna.Issuer, Subject: "s-5", Username: "fam", Role: auth.RoleFamily}, "no role"},
		} {
			_, err := s.ExternalLogin(ctx, tc.id, "127.0.0.1", "test")
			if pe, ok := problem.As(err); !ok || pe.Kind != problem.Unauthorized || !strings.Contains(pe.Error(), tc.says) {
				t.Errorf("%s: %v, want Unauthorized saying %q", tc.name, err, tc.says)
			}
		}
		if n := count(); n != before {
			t.Fatalf("refused sign-ins made %d accounts", n-before)
		}

		res, err := s.ExternalLogin(ctx, anna, "127.0.0.1", "test")
		if err != nil || res.Session.Pending || res.Session.Enrol || strings.Join(res.Session.Factors, " ") != "oidc" {
			t.Fatalf("first sign-in: %+v %v", res, err)
		}
		// No password signs in to it.
		if _, err := s.Login(ctx, auth.LoginRequest{Username: "anna", Password: pw, Address: "127.0.0.1"}); !problem.Is(err, problem.Unauthorized) {
			t.Fatalf("password sign-in of a single sign-on account: %v", err)
		}
		if err := s.ChangeOwnPassword(ctx, res.User, "127.0.0.1", "", "a brand new long passphrase"); !problem.Is(err, problem.Invalid) {
			t.Fatalf("password change of a single sign-on account: %v", err)
		}
		// The claims change: the account follows, audited.
		moved := anna
		moved.Role, moved.Post, moved.Desk = auth.RoleHQOfficer, "", "China"
		res2, err := s.ExternalLogin(ctx, moved, "127.0.0.1", "test")
		if err != nil || res2.User.ID != res.User.ID || res2.User.Role != auth.RoleHQOfficer || res2.User.Desk != "China" {
			t.Fatalf("second sign-in: %+v %v", res2, err)
		}
		entries, _ := a.List(ctx, audit.Filter{ObjectID: res.User.ID})
		found := false
		for _, e := range entries {
			found = found || (e.Action == "user.update" && strings.Contains(e.Detail, "hq_officer"))
		}
		if !found {
			t.Error("the role change from the claims is not audited")
		}

		// Step-up: the same person, freshly authenticated.
		c.Add(20 * time.Minute)
		other := anna
		other.Subject, other.AuthTime = "s-9", c.Now()
		if err := s.ExternalStepUp(ctx, res2.User, res2.Session, other, "127.0.0.1"); !problem.Is(err, problem.Unauthorized) {
			t.Errorf("step-up as another person: %v", err)
		}
		stale := anna
		stale.AuthTime = c.Now().Add(-10 * time.Minute)
		if err := s.ExternalStepUp(ctx, res2.User, res2.Session, stale, "127.0.0.1"); !problem.Is(err, problem.Unauthorized) {
			t.Errorf("step-up without a new sign-in at the provider: %v", err)
		}
		if s.Fresh(res2.Session, auth.StepUpWindow) {
			t.Fatal("refused step-ups made the session fresh")
		}
		fresh := anna
		fresh.AuthTime = c.Now()
		if err := s.ExternalStepUp(ctx, res2.User, res2.Session, fresh, "127.0.0.1"); err != nil || !s.Fresh(res2.Session, auth.StepUpWindow) {
			t.Errorf("step-up: %v", err)
		}

		// A disabled account stays out.
		in := auth.UserInput{Username: "anna", DisplayName: "Anna Berger", Role: auth.RoleHQOfficer, Desk: "China", Disabled: true}
		if _, err := s.UpdateUser(ctx, audit.System, res.User.ID, in); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ExternalLogin(ctx, moved, "127.0.0.1", "test"); !problem.Is(err, problem.Unauthorized) {
			t.Errorf("disabled account: %v", err)
		}
	})
}

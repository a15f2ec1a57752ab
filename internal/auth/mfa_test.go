package auth_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/testenv"
)

// enrolTOTP sets up an authenticator app for the user of a fresh session
// and returns its secret and recovery codes.
func enrolTOTP(t *testing.T, s *auth.Service, c *testenv.Clock, u *auth.User, sess *auth.Session) (string, []string) {
	t.Helper()
	ctx := context.Background()
	setup, err := s.StartTOTP(ctx, u, "Attaché")
	if err != nil {
		t.Fatal(err)
	}
	if setup.QR == "" || setup.URL == "" {
		t.Fatalf("setup without QR code or URL: %+v", setup)
	}
	again, err := s.PendingTOTP(ctx, u, "Attaché")
	if err != nil || again.Secret != setup.Secret {
		t.Fatalf("pending secret shown again: %v %v", again, err)
	}
	if _, err := s.ConfirmTOTP(ctx, u, sess, "000000", "127.0.0.1"); !problem.Is(err, problem.Invalid) {
		t.Fatalf("wrong first code: %v", err)
	}
	code, _ := totp.GenerateCode(setup.Secret, c.Now())
	codes, err := s.ConfirmTOTP(ctx, u, sess, code, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes, want 10", len(codes))
	}
	return setup.Secret, codes
}

func TestSecondFactorSignIn(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, a, c := newService(t, d)
		u := mkUser(t, s, "kovrig", auth.RoleConsularOfficer)
		login := auth.LoginRequest{Username: "kovrig", Password: pw, Address: "127.0.0.1"}

		// Required by default and not set up: the session must enrol first.
		res, err := s.Login(ctx, login)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Session.Enrol || res.Session.Pending {
			t.Fatalf("no factor yet: enrol %v pending %v", res.Session.Enrol, res.Session.Pending)
		}
		secret, codes := enrolTOTP(t, s, c, u, res.Session)
		_, sess, err := s.SessionUser(ctx, res.SessionToken)
		if err != nil || sess.Enrol || !slices.Equal(sess.Factors, []string{"password", "totp"}) {
			t.Fatalf("after enrolment: %+v %v", sess, err)
		}

		// The next sign-in waits for the code.
		c.Add(time.Minute)
		res, err = s.Login(ctx, login)
		if err != nil {
			t.Fatal(err)
		}
		_, sess, _ = s.SessionUser(ctx, res.SessionToken)
		if !sess.Pending || s.Fresh(sess, auth.StepUpWindow) {
			t.Fatalf("password alone: pending %v fresh %v", sess.Pending, s.Fresh(sess, auth.StepUpWindow))
		}
		if err := s.VerifyTOTP(ctx, u, sess, "12345", "127.0.0.1"); !problem.Is(err, problem.Invalid) {
			t.Fatalf("short code: %v", err)
		}
		code, _ := totp.GenerateCode(secret, c.Now())
		if err := s.VerifyTOTP(ctx, u, sess, code, "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		_, sess, _ = s.SessionUser(ctx, res.SessionToken)
		if sess.Pending || !s.Fresh(sess, auth.StepUpWindow) || !slices.Equal(sess.Factors, []string{"password", "totp"}) {
			t.Fatalf("after the code: %+v", sess)
		}
		// A code counts once, even on another session.
		other, _ := s.Login(ctx, login)
		if err := s.VerifyTOTP(ctx, u, other.Session, code, "127.0.0.1"); !problem.Is(err, problem.Invalid) {
			t.Fatalf("replayed code: %v", err)
		}
		// A recovery code, typed loosely, counts once.
		loose := " " + codes[0][:3] + codes[0][3:5] + codes[0][6:] + " "
		if err := s.VerifyRecoveryCode(ctx, u, other.Session, loose, "127.0.0.1"); err != nil {
			t.Fatalf("recovery code: %v", err)
		}
		third, _ := s.Login(ctx, login)
		if err := s.VerifyRecoveryCode(ctx, u, third.Session, codes[0], "127.0.0.1"); !problem.Is(err, problem.Invalid) {
			t.Fatalf("used recovery code: %v", err)
		}
		f, _ := s.SecondFactors(ctx, u.ID)
		if !f.TOTP || f.RecoveryLeft != 9 {
			t.Fatalf("factors: %+v", f)
		}

		// Step-up: ten minutes later the session is no longer fresh.
		c.Add(auth.StepUpWindow)
		_, sess, _ = s.SessionUser(ctx, res.SessionToken)
		if s.Fresh(sess, auth.StepUpWindow) {
			t.Fatal("fresh after the step-up window")
		}
		code, _ = totp.GenerateCode(secret, c.Now())
		if err := s.VerifyTOTP(ctx, u, sess, code, "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if !s.Fresh(sess, auth.StepUpWindow) {
			t.Fatal("not fresh after step-up")
		}

		// The last factor of a role that requires one cannot be removed.
		if err := s.RemoveTOTP(ctx, u, "127.0.0.1"); !problem.Is(err, problem.Conflict) {
			t.Fatalf("remove the last factor: %v", err)
		}
		entries, err := a.List(ctx, audit.Filter{ObjectID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.Action)
		}
		for _, want := range []string{"mfa.totp_added", "session.mfa", "session.mfa_failed", "session.step_up"} {
			if !slices.Contains(actions, want) {
				t.Errorf("audit has no %s: %v", want, actions)
			}
		}
	})
}

func TestSecondFactorThrottle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _, c := newService(t, d)
		u := mkUser(t, s, "spavor", auth.RoleHQOfficer)
		res, _ := s.Login(ctx, auth.LoginRequest{Username: "spavor", Password: pw, Address: "127.0.0.1"})
		secret, _ := enrolTOTP(t, s, c, u, res.Session)
		res, _ = s.Login(ctx, auth.LoginRequest{Username: "spavor", Password: pw, Address: "127.0.0.1"})
		// Six digits are a million guesses: after a few wrong ones, even the
		// right code waits (the wrong first code at enrolment counted too).
		for i := range s.Throttle.AccountFree - 1 {
			if err := s.VerifyTOTP(ctx, u, res.Session, "000000", "127.0.0.1"); !problem.Is(err, problem.Invalid) {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		// (the code of the next step: this one was used at enrolment)
		code, _ := totp.GenerateCode(secret, c.Now().Add(30*time.Second))
		err := s.VerifyTOTP(ctx, u, res.Session, code, "127.0.0.1")
		if pe, ok := problem.As(err); !ok || pe.Kind != problem.RateLimited || pe.RetryAfter == 0 {
			t.Fatalf("right code after guesses: %v", err)
		}
		c.Add(2 * time.Second)
		if err := s.VerifyTOTP(ctx, u, res.Session, code, "127.0.0.1"); err != nil {
			t.Fatalf("after the wait: %v", err)
		}
	})
}

func TestSecondFactorRequirementAndReset(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, a, c := newService(t, d)
		admin := mkUser(t, s, "admin", auth.RoleAdmin)
		u := mkUser(t, s, "auditor1", auth.RoleAuditor)
		if err := s.SetMFARequirements(ctx, admin.Actor("127.0.0.1"), map[auth.Role]bool{auth.RoleAdmin: true}); err != nil {
			t.Fatal(err)
		}
		req, _ := s.MFARequirements(ctx)
		if !req[auth.RoleAdmin] || req[auth.RoleAuditor] || req[auth.RoleConsularOfficer] {
			t.Fatalf("requirements: %v", req)
		}
		// The demo's defaults change nothing an administrator set.
		if err := s.DefaultMFARequirements(ctx, audit.System, false); err != nil {
			t.Fatal(err)
		}
		if req, _ := s.MFARequirements(ctx); !req[auth.RoleAdmin] {
			t.Fatalf("the demo's defaults overrode the administrator: %v", req)
		}
		// An auditor is no longer required to, so a password signs in.
		res, err := s.Login(ctx, auth.LoginRequest{Username: "auditor1", Password: pw, Address: "127.0.0.1"})
		if err != nil || res.Session.Enrol || res.Session.Pending {
			t.Fatalf("optional factor: %+v %v", res, err)
		}
		// Optional factors may all be removed.
		enrolTOTP(t, s, c, u, res.Session)
		if err := s.RemoveTOTP(ctx, u, "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if f, _ := s.SecondFactors(ctx, u.ID); f.Any() || f.RecoveryLeft != 0 {
			t.Fatalf("after removal: %+v", f)
		}

		// A lost device: the administrator resets, with a reason.
		res, _ = s.Login(ctx, auth.LoginRequest{Username: "auditor1", Password: pw, Address: "127.0.0.1"})
		enrolTOTP(t, s, c, u, res.Session)
		if err := s.ResetSecondFactors(ctx, admin.Actor("127.0.0.1"), u.ID, "lost"); !problem.Is(err, problem.Invalid) {
			t.Fatalf("reset without a reason: %v", err)
		}
		if f, _ := s.SecondFactors(ctx, u.ID); !f.TOTP {
			t.Fatal("a refused reset removed the factor")
		}
		if err := s.ResetSecondFactors(ctx, admin.Actor("127.0.0.1"), u.ID, "Phone stolen; identity checked in person by the post's head"); err != nil {
			t.Fatal(err)
		}
		if f, _ := s.SecondFactors(ctx, u.ID); f.Any() || f.RecoveryLeft != 0 {
			t.Fatalf("after reset: %+v", f)
		}
		if _, _, err := s.SessionUser(ctx, res.SessionToken); !problem.Is(err, problem.Unauthorized) {
			t.Fatalf("session survived the reset: %v", err)
		}
		entries, _ := a.List(ctx, audit.Filter{ObjectID: u.ID, ActorID: admin.ID})
		if len(entries) == 0 || entries[0].Action != "user.mfa_reset" || entries[0].Reason == "" {
			t.Fatalf("reset audit: %+v", entries)
		}
	})
}

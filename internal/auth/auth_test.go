package auth_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/testenv"
)

var auditSystem = audit.System

func newService(t *testing.T, d *db.DB) (*auth.Service, *audit.Log, *testenv.Clock) {
	t.Helper()
	return newServiceTB(t, d)
}

func newServiceTB(t testing.TB, d *db.DB) (*auth.Service, *audit.Log, *testenv.Clock) {
	t.Helper()
	c := testenv.NewClock(time.Date(2020, 11, 19, 9, 0, 0, 0, time.UTC))
	a := audit.New(d)
	a.SetClock(c.Now)
	s := auth.NewService(d, a, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Params = auth.TestPasswordParams
	s.SetClock(c.Now)
	return s, a, c
}

const pw = "correct horse battery"

func mkUser(t *testing.T, s *auth.Service, name string, role auth.Role) *auth.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), audit.System, auth.UserInput{Username: name, DisplayName: name, Role: role, Post: "Beijing", Desk: "China"}, pw, false)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPasswordHash(t *testing.T) {
	h := auth.HashPassword(pw, auth.TestPasswordParams)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	if ok, err := auth.CheckPassword(pw, h); !ok || err != nil {
		t.Fatalf("right password refused: %v %v", ok, err)
	}
	if ok, _ := auth.CheckPassword(pw+"x", h); ok {
		t.Fatal("wrong password accepted")
	}
	if h2 := auth.HashPassword(pw, auth.TestPasswordParams); h2 == h {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA", "$argon2id$v=19$m=1024,t=1,p=1$!!$AA"} {
		if _, err := auth.CheckPassword(pw, bad); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
	p := auth.GeneratePassword()
	if len(p) != 24 || strings.Count(p, "-") != 4 {
		t.Fatalf("generated password %q", p)
	}
}

func TestCreateUserValidation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _, _ := newService(t, d)
		mkUser(t, s, "taken", auth.RoleAdmin)
		cases := []struct {
			name  string
			in    auth.UserInput
			pw    string
			field string
		}{
			{"empty username", auth.UserInput{DisplayName: "x", Role: auth.RoleAdmin}, pw, "username"},
			{"bad username", auth.UserInput{Username: "a b", DisplayName: "x", Role: auth.RoleAdmin}, pw, "username"},
			{"taken username", auth.UserInput{Username: "Taken", DisplayName: "x", Role: auth.RoleAdmin}, pw, "username"},
			{"no display name", auth.UserInput{Username: "ab", Role: auth.RoleAdmin}, pw, "display_name"},
			{"unknown role", auth.UserInput{Username: "ab", DisplayName: "x", Role: "king"}, pw, "role"},
			{"officer without post", auth.UserInput{Username: "ab", DisplayName: "x", Role: auth.RoleConsularOfficer}, pw, "post"},
			{"hq officer without desk", auth.UserInput{Username: "ab", DisplayName: "x", Role: auth.RoleHQOfficer}, pw, "desk"},
			{"short password", auth.UserInput{Username: "ab", DisplayName: "x", Role: auth.RoleAdmin}, "short", "password"},
			{"password is username", auth.UserInput{Username: "abcdefghijklm", DisplayName: "x", Role: auth.RoleAdmin}, "ABCDEFGHIJKLM", "password"},
			{"bad email", auth.UserInput{Username: "ab", DisplayName: "x", Role: auth.RoleAdmin, Email: "nope"}, pw, "email"},
		}
		for _, tc := range cases {
			_, err := s.CreateUser(context.Background(), audit.System, tc.in, tc.pw, false)
			pe, ok := problem.As(err)
			if !ok || pe.Kind != problem.Invalid || pe.Fields[tc.field] == "" {
				t.Errorf("%s: err = %v, want invalid field %q", tc.name, err, tc.field)
			}
		}
		if n, _ := s.CountUsers(context.Background()); n != 1 {
			t.Fatalf("%d users after refused creations, want 1", n)
		}
	})
}

func TestLoginAndSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, a, c := newService(t, d)
		u := mkUser(t, s, "barton", auth.RoleConsularOfficer)

		if _, err := s.Login(ctx, auth.LoginRequest{Username: "barton", Password: "wrong password!", Address: "127.0.0.1"}); !problem.Is(err, problem.Unauthorized) {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := s.Login(ctx, auth.LoginRequest{Username: "nobody", Password: pw, Address: "127.0.0.1"}); !problem.Is(err, problem.Unauthorized) {
			t.Fatalf("unknown user: %v", err)
		}
		res, err := s.Login(ctx, auth.LoginRequest{Username: " Barton ", Password: pw, Address: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		got, sess, err := s.SessionUser(ctx, res.SessionToken)
		if err != nil || got.ID != u.ID || sess.CSRF == "" {
			t.Fatalf("session lookup: %v %v", got, err)
		}
		if _, _, err := s.SessionUser(ctx, res.SessionToken+"x"); !problem.Is(err, problem.Unauthorized) {
			t.Fatalf("forged token: %v", err)
		}

		// Idle too long: the session ends.
		c.Add(s.SessionIdle)
		if _, _, err := s.SessionUser(ctx, res.SessionToken); !problem.Is(err, problem.Unauthorized) {
			t.Fatalf("idle session still valid: %v", err)
		}
		// Active, but past its lifetime: ends too.
		res, _ = s.Login(ctx, auth.LoginRequest{Username: "barton", Password: pw, Address: "127.0.0.1"})
		for range 13 {
			c.Add(time.Hour)
			_, _, err = s.SessionUser(ctx, res.SessionToken)
		}
		if !problem.Is(err, problem.Unauthorized) {
			t.Fatalf("session past its lifetime still valid: %v", err)
		}

		// Password change ends every session.
		r1, _ := s.Login(ctx, auth.LoginRequest{Username: "barton", Password: pw, Address: "127.0.0.1"})
		r2, _ := s.Login(ctx, auth.LoginRequest{Username: "barton", Password: pw, Address: "127.0.0.2"})
		if err := s.ChangeOwnPassword(ctx, u, "127.0.0.1", "not it at all", "a brand new password"); !problem.Is(err, problem.Invalid) {
			t.Fatalf("wrong current password: %v", err)
		}
		if err := s.ChangeOwnPassword(ctx, u, "127.0.0.1", pw, "a brand new password"); err != nil {
			t.Fatal(err)
		}
		for _, r := range []*auth.LoginResult{r1, r2} {
			if _, _, err := s.SessionUser(ctx, r.SessionToken); !problem.Is(err, problem.Unauthorized) {
				t.Fatalf("session survived a password change: %v", err)
			}
		}
		if _, err := s.Login(ctx, auth.LoginRequest{Username: "barton", Password: pw, Address: "127.0.0.1"}); err == nil {
			t.Fatal("old password still works")
		}

		// Logout ends the session; disabling an account ends all of them.
		r3, err := s.Login(ctx, auth.LoginRequest{Username: "barton", Password: "a brand new password", Address: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Logout(ctx, u, r3.Session.ID, "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionUser(ctx, r3.SessionToken); err == nil {
			t.Fatal("session survived logout")
		}
		r4, _ := s.Login(ctx, auth.LoginRequest{Username: "barton", Password: "a brand new password", Address: "127.0.0.1"})
		mkUser(t, s, "root", auth.RoleAdmin)
		// A new password revokes the API tokens as well as the sessions.
		secret, _, err := s.CreateToken(ctx, audit.System, u.ID, "script")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetPassword(ctx, audit.System, u.ID, "a brand new password", false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenUser(ctx, secret); err == nil {
			t.Fatal("an API token survived a password reset")
		}
		if _, _, err := s.SessionUser(ctx, r4.SessionToken); err == nil {
			t.Fatal("a session survived a password reset")
		}
		r4, _ = s.Login(ctx, auth.LoginRequest{Username: "barton", Password: "a brand new password", Address: "127.0.0.1"})
		secret, _, err = s.CreateToken(ctx, audit.System, u.ID, "script")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateUser(ctx, audit.System, u.ID, auth.UserInput{DisplayName: "B", Role: auth.RoleConsularOfficer, Post: "Beijing", Disabled: true}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionUser(ctx, r4.SessionToken); err == nil {
			t.Fatal("session survived disabling the account")
		}
		if _, err := s.TokenUser(ctx, secret); err == nil {
			t.Fatal("an API token survived disabling the account")
		}
		// The change is in the audit log as what it was, not "no change".
		updates, _ := a.List(ctx, audit.Filter{Limit: 1000})
		var detail string
		for _, e := range updates {
			if e.Action == "user.update" && e.ObjectID == u.ID {
				detail = e.Detail
				break
			}
		}
		if !strings.Contains(detail, `disabled: "false"→"true"`) || !strings.Contains(detail, `display_name:`) {
			t.Errorf("the update is audited as %q", detail)
		}
		if _, err := s.Login(ctx, auth.LoginRequest{Username: "barton", Password: "a brand new password", Address: "127.0.0.1"}); !problem.Is(err, problem.Unauthorized) {
			t.Fatalf("disabled account signed in: %v", err)
		}

		entries, _ := a.List(ctx, audit.Filter{Limit: 1000})
		seen := map[string]int{}
		for _, e := range entries {
			seen[e.Action]++
		}
		for _, want := range []string{"session.login", "session.login_failed", "session.logout", "user.password_change", "user.update", "user.create"} {
			if seen[want] == 0 {
				t.Errorf("no %s in the audit log: %v", want, seen)
			}
		}
	})
}

func TestLoginThrottle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _, c := newService(t, d)
		mkUser(t, s, "kovrig", auth.RoleConsularOfficer)
		// The owner signs in once from their browser, which becomes known.
		owner, err := s.Login(ctx, auth.LoginRequest{Username: "kovrig", Password: pw, Address: "10.0.0.5"})
		if err != nil {
			t.Fatal(err)
		}
		attack := auth.LoginRequest{Username: "kovrig", Password: "guess guess guess", Address: "198.51.100.7"}
		for i := range s.Throttle.AccountFree {
			if _, err := s.Login(ctx, attack); !problem.Is(err, problem.Unauthorized) {
				t.Fatalf("attempt %d: %v", i, err)
			}
		}
		// The next attempt is slowed, even with the right password, from a new browser.
		_, err = s.Login(ctx, auth.LoginRequest{Username: "kovrig", Password: pw, Address: "203.0.113.9"})
		pe, ok := problem.As(err)
		if !ok || pe.Kind != problem.RateLimited || pe.RetryAfter < 1 {
			t.Fatalf("throttled attempt: %v", err)
		}
		// The owner's known browser is not locked out.
		if _, err := s.Login(ctx, auth.LoginRequest{Username: "kovrig", Password: pw, Address: "10.0.0.5", DeviceToken: owner.DeviceToken}); err != nil {
			t.Fatalf("owner locked out by an attacker: %v", err)
		}
		// Nor by others failing behind the same address (one NAT): once the
		// address is slowed, a new browser there is refused, the owner's not.
		for i := range s.Throttle.AddressFree {
			_, _ = s.Login(ctx, auth.LoginRequest{Username: "someone" + strconv.Itoa(i), Password: "wrong", Address: "192.0.2.44"})
		}
		if _, err := s.Login(ctx, auth.LoginRequest{Username: "kovrig", Password: pw, Address: "192.0.2.44"}); !problem.Is(err, problem.RateLimited) {
			t.Fatalf("a new browser behind a slowed address: %v, want 429", err)
		}
		if _, err := s.Login(ctx, auth.LoginRequest{Username: "kovrig", Password: pw, Address: "192.0.2.44", DeviceToken: owner.DeviceToken}); err != nil {
			t.Fatalf("owner locked out by others behind their address: %v", err)
		}
		// A known browser's own count still slows guesses made with it.
		for i := range s.Throttle.AccountFree {
			if _, err := s.Login(ctx, auth.LoginRequest{Username: "kovrig", Password: "not it", Address: "10.0.0.5", DeviceToken: owner.DeviceToken}); !problem.Is(err, problem.Unauthorized) {
				t.Fatalf("guess %d with the known browser: %v", i, err)
			}
		}
		if _, err := s.Login(ctx, auth.LoginRequest{Username: "kovrig", Password: "not it", Address: "10.0.0.5", DeviceToken: owner.DeviceToken}); !problem.Is(err, problem.RateLimited) {
			t.Fatalf("guesses with a known browser are not slowed: %v", err)
		}
		// The wait is bounded: after the cap, the account can be tried again.
		for range 20 {
			c.Add(s.Throttle.AccountCap)
			_, _ = s.Login(ctx, attack)
		}
		_, err = s.Login(ctx, attack)
		if pe, ok := problem.As(err); !ok || pe.Kind != problem.RateLimited || time.Duration(pe.RetryAfter)*time.Second > s.Throttle.AccountCap {
			t.Fatalf("after many failures: %v, want a wait no longer than the cap", err)
		}
		c.Add(s.Throttle.AccountCap)
		if _, err := s.Login(ctx, auth.LoginRequest{Username: "kovrig", Password: pw, Address: "203.0.113.9"}); err != nil {
			t.Fatalf("right password after the wait: %v", err)
		}
	})
}

func TestAddressThrottle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _, _ := newService(t, d)
		for i := range s.Throttle.AddressFree {
			_, _ = s.Login(ctx, auth.LoginRequest{Username: "user" + string(rune('a'+i)), Password: "x", Address: "192.0.2.1"})
		}
		_, err := s.Login(ctx, auth.LoginRequest{Username: "another", Password: "x", Address: "192.0.2.1"})
		if !problem.Is(err, problem.RateLimited) {
			t.Fatalf("spraying from one address: %v, want rate limited", err)
		}
		_, err = s.Login(ctx, auth.LoginRequest{Username: "another", Password: "x", Address: "192.0.2.2"})
		if !problem.Is(err, problem.Unauthorized) {
			t.Fatalf("another address: %v", err)
		}
	})
}

func TestTokens(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _, _ := newService(t, d)
		u := mkUser(t, s, "ops", auth.RoleAuditor)
		other := mkUser(t, s, "other", auth.RoleAuditor)
		if _, _, err := s.CreateToken(ctx, audit.System, u.ID, "  "); !problem.Is(err, problem.Invalid) {
			t.Fatalf("empty name: %v", err)
		}
		secret, tok, err := s.CreateToken(ctx, audit.System, u.ID, "report script")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.TokenUser(ctx, secret); err != nil || got.ID != u.ID {
			t.Fatalf("token user: %v %v", got, err)
		}
		if _, err := s.TokenUser(ctx, secret[:len(secret)-1]); !problem.Is(err, problem.Unauthorized) {
			t.Fatalf("wrong secret: %v", err)
		}
		if err := s.RevokeToken(ctx, audit.System, other.ID, tok.ID); !problem.Is(err, problem.NotFound) {
			t.Fatalf("revoking someone else's token: %v", err)
		}
		if err := s.RevokeToken(ctx, audit.System, u.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenUser(ctx, secret); !problem.Is(err, problem.Unauthorized) {
			t.Fatalf("revoked token works: %v", err)
		}
		list, _ := s.Tokens(ctx, u.ID)
		if len(list) != 1 || list[0].RevokedAt.IsZero() {
			t.Fatalf("tokens = %+v", list)
		}
	})
}

func TestLastAdminStays(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _, _ := newService(t, d)
		admin := mkUser(t, s, "root", auth.RoleAdmin)
		_, err := s.UpdateUser(ctx, audit.System, admin.ID, auth.UserInput{DisplayName: "root", Role: auth.RoleAuditor})
		if !problem.Is(err, problem.Invalid) {
			t.Fatalf("demoting the last admin: %v", err)
		}
		mkUser(t, s, "root2", auth.RoleAdmin)
		if _, err := s.UpdateUser(ctx, audit.System, admin.ID, auth.UserInput{DisplayName: "root", Role: auth.RoleAuditor}); err != nil {
			t.Fatalf("demoting one of two admins: %v", err)
		}
	})
}

func TestSetup(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _, c := newService(t, d)
		token, err := s.NewSetupToken(ctx)
		if err != nil || token == "" {
			t.Fatalf("setup token: %q %v", token, err)
		}
		in := auth.UserInput{Username: "first", DisplayName: "First Admin"}
		if _, err := s.CompleteSetup(ctx, "wrong", "127.0.0.1", in, pw); !problem.Is(err, problem.NotFound) {
			t.Fatalf("wrong token: %v", err)
		}
		if _, err := s.CompleteSetup(ctx, token, "127.0.0.1", in, "short"); !problem.Is(err, problem.Invalid) {
			t.Fatalf("short password: %v", err)
		}
		c.Add(auth.SetupTokenLifetime)
		if _, err := s.CompleteSetup(ctx, token, "127.0.0.1", in, pw); !problem.Is(err, problem.NotFound) {
			t.Fatalf("expired token: %v", err)
		}
		token, _ = s.NewSetupToken(ctx)
		u, err := s.CompleteSetup(ctx, token, "127.0.0.1", in, pw)
		if err != nil || u.Role != auth.RoleAdmin {
			t.Fatalf("setup: %v %v", u, err)
		}
		if _, err := s.CompleteSetup(ctx, token, "127.0.0.1", auth.UserInput{Username: "second", DisplayName: "x"}, pw); !problem.Is(err, problem.NotFound) {
			t.Fatalf("setup token reused: %v", err)
		}
		if again, err := s.NewSetupToken(ctx); again != "" || err != nil {
			t.Fatalf("setup token issued with an admin present: %q %v", again, err)
		}
	})
}

// Wrong passwords sent in parallel are counted before they are checked:
// only the free attempts are checked, the rest are slowed at once.
func TestParallelWrongPasswords(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s, _, _ := newService(t, d)
		mkUser(t, s, "kovrig", auth.RoleConsularOfficer)
		var wg sync.WaitGroup
		var mu sync.Mutex
		got := map[problem.Kind]int{}
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Login(ctx, auth.LoginRequest{Username: "kovrig", Password: "guess number " + strconv.Itoa(i), Address: "198.51.100." + strconv.Itoa(i)})
				pe, _ := problem.As(err)
				mu.Lock()
				defer mu.Unlock()
				if pe == nil {
					got["error: "+problem.Kind(fmt.Sprint(err))]++
					return
				}
				got[pe.Kind]++
			}()
		}
		wg.Wait()
		if got[problem.Unauthorized] != s.Throttle.AccountFree || got[problem.RateLimited] != 40-s.Throttle.AccountFree {
			t.Errorf("40 parallel wrong passwords: %v, want %d checked and the rest slowed", got, s.Throttle.AccountFree)
		}
	})
}

// Anyone can ask for a password check by signing in, and each takes the
// memory of argon2id's cost (64 MiB in production): a hundred sign-ins at
// once add less than 512 MiB, and those that wait too long for a slot are
// told the server is busy (429), never 500.
func TestSignInMemoryIsBounded(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	ctx := context.Background()
	s, _, _ := newService(t, d)
	mkUser(t, s, "kovrig", auth.RoleConsularOfficer)
	s.Params = auth.DefaultPasswordParams // checks cost what they cost in production
	if err := s.SetPassword(ctx, audit.System, mustUser(t, s, "kovrig"), "the production-cost password", false); err != nil {
		t.Fatal(err)
	}
	s.HashWait = time.Second
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.Sys > peak.Load() {
				peak.Store(m.Sys)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]int{}
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "kovrig"
			if i%2 == 1 {
				name = "nobody" + strconv.Itoa(i) // unknown users cost a check too
			}
			_, err := s.Login(ctx, auth.LoginRequest{Username: name, Password: "a wrong guess", Address: "198.51.100." + strconv.Itoa(i)})
			pe, _ := problem.As(err)
			mu.Lock()
			defer mu.Unlock()
			if pe == nil {
				got[fmt.Sprint(err)]++
				return
			}
			got[string(pe.Kind)]++
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	grew := int64(peak.Load()) - int64(before.Sys)
	t.Logf("100 sign-ins at once: %v; memory grew by %d MiB", got, grew>>20)
	if grew > 512<<20 {
		t.Errorf("100 sign-ins at once added %d MiB, want less than 512", grew>>20)
	}
	if got[string(problem.Unauthorized)]+got[string(problem.RateLimited)] != 100 {
		t.Errorf("answers %v, want only 401 and 429", got)
	}
}

func mustUser(t *testing.T, s *auth.Service, name string) string {
	t.Helper()
	u, err := s.UserByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// Passwords an attacker tries first are refused, whatever their length;
// long passphrases and random strings are not.
func TestGuessablePasswords(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	s, _, _ := newService(t, d)
	u := mkUser(t, s, "barton", auth.RoleConsularOfficer)
	ctx := context.Background()
	for _, tc := range []struct {
		password string
		refused  bool
	}{
		{"passwordpassword", true},
		{"Password2024!", true},
		{"  Welcome123!!  ", true},
		{"Qwertyuiop12", true},
		{"123456789012", true},
		{"abcdefghijkl", true},
		{"zxcvbnmasdfg", false}, // not one run of the keyboard: two
		{"abcabcabcabc", true},
		{"aaaaaaaaaaaa", true},
		{"barton-is-great", true},
		{"Ambassador2020", true},
		{"correct horse battery", false},
		{"seven purple otters juggle", false},
		{"k7#Qm2!vX9pL", false},
		{"845920371652", false},
	} {
		err := s.SetPassword(ctx, audit.System, u.ID, tc.password, false)
		if refused := problem.Is(err, problem.Invalid); refused != tc.refused {
			t.Errorf("%q: refused %v (%v), want %v", tc.password, refused, err, tc.refused)
		}
	}
}

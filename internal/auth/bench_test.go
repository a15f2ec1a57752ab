package auth_test

import (
	"context"
	"testing"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
)

// BenchmarkHashPassword is the cost of one sign-in with production parameters.
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		auth.HashPassword("correct horse battery", auth.DefaultPasswordParams)
	}
}

// BenchmarkSessionUser is the per-request cost of a signed-in page.
func BenchmarkSessionUser(b *testing.B) {
	for _, e := range []db.Engine{db.SQLite, db.Postgres} {
		b.Run(string(e), func(b *testing.B) {
			d := dbtest.Open(b, e)
			s, _, _ := newServiceTB(b, d)
			u, err := s.CreateUser(context.Background(), auditSystem, auth.UserInput{Username: "u1", DisplayName: "U", Role: auth.RoleAdmin}, pw, false)
			if err != nil {
				b.Fatal(err)
			}
			token, _, err := s.StartSession(context.Background(), u, "127.0.0.1", "bench", nil)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, _, err := s.SessionUser(context.Background(), token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

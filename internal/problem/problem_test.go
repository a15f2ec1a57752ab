package problem_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/attache-org/attache/internal/problem"
)

func TestKinds(t *testing.T) {
	wrapped := fmt.Errorf("create user: %w", problem.Field("username", "This username is taken."))
	cases := []struct {
		err  error
		kind problem.Kind
	}{
		{problem.New(problem.NotFound, "No such case."), problem.NotFound},
		{wrapped, problem.Invalid},
		{errors.New("disk full"), problem.Internal},
		{nil, problem.Internal},
	}
	for _, tc := range cases {
		if got := problem.KindOf(tc.err); got != tc.kind {
			t.Errorf("KindOf(%v) = %s, want %s", tc.err, got, tc.kind)
		}
	}
	if problem.Is(nil, problem.Internal) {
		t.Error("nil is a problem")
	}
	pe, ok := problem.As(wrapped)
	if !ok || pe.Fields["username"] == "" {
		t.Fatalf("As(wrapped) = %v, %v", pe, ok)
	}
	if got := wrapped.Error(); got != "create user: Please correct the highlighted field. (username: This username is taken.)" {
		t.Errorf("Error() = %q", got)
	}
}

func TestFieldsAndLocalize(t *testing.T) {
	f := problem.Fields{}
	if f.Err() != nil {
		t.Fatal("no fields, yet an error")
	}
	f.Add("name", "first")
	f.Add("name", "second")
	pe, _ := problem.As(f.Err())
	if pe.Fields["name"] != "first" {
		t.Errorf("the first message must win: %q", pe.Fields["name"])
	}
	e := problem.New(problem.RateLimited, "Try again in %d seconds.", 8)
	tr := func(msg string, args ...any) string {
		if msg == "Try again in %d seconds." {
			return fmt.Sprintf("Réessayez dans %d secondes.", args...)
		}
		return msg
	}
	if got := e.Localize(tr); got != "Réessayez dans 8 secondes." {
		t.Errorf("Localize = %q", got)
	}
	if e.Message != "Try again in 8 seconds." {
		t.Errorf("Message = %q", e.Message)
	}
}

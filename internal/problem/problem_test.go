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

// TestTextsTranslateWhole checks that a message's values that are texts
// themselves (a category, a status, a list of statuses) are translated with
// it, in the fields of a form too.
func TestTextsTranslateWhole(t *testing.T) {
	fr := map[string]string{
		"The detainee has not consented to share %s with %s.": "La personne détenue n'a pas consenti à communiquer %s à %s.",
		"health information":                  "les renseignements sur sa santé",
		"It can become: %s.":                  "Elle peut passer à : %s.",
		"Sent":                                "Envoyée",
		"Acknowledged":                        "Reçue",
		"Give a number of days from 1 to %d.": "Indiquez un nombre de jours de 1 à %d.",
	}
	tr := func(msg string, args ...any) string {
		if f, ok := fr[msg]; ok {
			msg = f
		}
		return fmt.Sprintf(msg, args...)
	}
	reason := problem.Textf("The detainee has not consented to share %s with %s.", problem.Textf("health information"), "Alice")
	if got := reason.String(); got != "The detainee has not consented to share health information with Alice." {
		t.Errorf("English: %q", got)
	}
	e := problem.NewText(problem.Forbidden, reason)
	if got := e.Localize(tr); got != "La personne détenue n'a pas consenti à communiquer les renseignements sur sa santé à Alice." {
		t.Errorf("French: %q", got)
	}
	if e.Message != reason.String() {
		t.Errorf("Message %q", e.Message)
	}
	list := problem.Textf("It can become: %s.", problem.List{problem.Textf("Sent"), problem.Textf("Acknowledged")})
	if got := list.Localize(tr); got != "Elle peut passer à : Envoyée, Reçue." {
		t.Errorf("list: %q", got)
	}
	f := problem.Fields{}
	f.Addf("days", "Give a number of days from 1 to %d.", 30)
	f.Add("days", "second")
	f.Add("name", "Give a name.")
	pe, _ := problem.As(f.Err())
	if pe.Fields["days"] != "Give a number of days from 1 to 30." {
		t.Errorf("English field: %q", pe.Fields["days"])
	}
	got := pe.Prefixed("past_").LocalizeFields(tr)
	if len(got) != 2 || got["past_days"] != "Indiquez un nombre de jours de 1 à 30." || got["past_name"] != "Give a name." {
		t.Errorf("fields: %v", got)
	}
	one := problem.Fieldf("windows", "Write %q.", "x")
	if got := one.LocalizeFields(tr)["windows"]; got != `Write "x".` {
		t.Errorf("Fieldf: %q", got)
	}
}

// TestFieldFromError checks that an error shown beside a field keeps its
// text for translation when it is a problem, and its words when it is not.
func TestFieldFromError(t *testing.T) {
	tr := func(msg string, args ...any) string {
		if msg == "%q: the year must be a number" {
			msg = "%q : l'année doit être un nombre"
		}
		return fmt.Sprintf(msg, args...)
	}
	date := problem.New(problem.Invalid, "%q: the year must be a number", "20x0")
	for _, tc := range []struct {
		name string
		pe   *problem.Error
		want string
	}{
		{"a problem, FieldErr", problem.FieldErr("arrested", date), `"20x0" : l'année doit être un nombre`},
		{"a plain error, FieldErr", problem.FieldErr("arrested", errors.New("disk full")), "disk full"},
		{"a problem, AddErr", func() *problem.Error {
			f := problem.Fields{}
			f.AddErr("arrested", date)
			pe, _ := problem.As(f.Err())
			return pe
		}(), `"20x0" : l'année doit être un nombre`},
	} {
		if got := tc.pe.LocalizeFields(tr)["arrested"]; got != tc.want || tc.pe.Kind != problem.Invalid {
			t.Errorf("%s: %q (%s), want %q", tc.name, got, tc.pe.Kind, tc.want)
		}
	}
}

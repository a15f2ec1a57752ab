// Package problem defines the kinds of failure that domain packages report and
// that the delivery layers (HTML pages, JSON API, command line) turn into a
// status code and a message that is safe to show.
//
// A domain function returns a *problem.Error when the failure is the caller's
// concern (bad input, missing record, no right); anything else is an internal
// error whose details go to the log only.
package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Kind classifies an error for the user.
type Kind string

// The kinds of error a user can be told about.
const (
	Invalid      Kind = "invalid"      // the input is wrong; Fields says where
	NotFound     Kind = "not_found"    // no such record, or the caller may not know it exists
	Forbidden    Kind = "forbidden"    // the caller is known but has no right to do this
	Unauthorized Kind = "unauthorized" // the caller must sign in
	Conflict     Kind = "conflict"     // the record changed or the slot is taken
	RateLimited  Kind = "rate_limited" // too many attempts; try again later
	TooLarge     Kind = "too_large"    // the request is larger than allowed
	Unavailable  Kind = "unavailable"  // a part the server needs (the database) cannot be reached now
	Internal     Kind = "internal"     // anything else: details stay in the log
)

// Error is a failure with a kind, a message safe to show to the user, and,
// for invalid input, the message for each offending field.
type Error struct {
	Kind    Kind
	Message string
	Fields  map[string]string
	// RetryAfter is set on RateLimited errors, in whole seconds.
	RetryAfter int

	// text is Message before formatting, for translation; texts are the
	// fields' messages.
	text  Text
	texts map[string]Text
	cause error
}

// Wrapping returns e as the user-facing form of cause: errors.Is(e, cause)
// holds ("unknown time zone").
func (e *Error) Wrapping(cause error) *Error {
	e.cause = cause
	return e
}

// Unwrap returns the error e is the user-facing form of, if any.
func (e *Error) Unwrap() error { return e.cause }

// Text is a message for people before translation: its English text (a
// fmt format) and its values. A value that is itself a Text is translated
// with it ("… consented to share %s …" with "health information").
type Text struct {
	Format string
	Args   []any
}

// Sentences are texts shown one after the other: "post: Choose a post.
// desk: …".
type Sentences []Text

// List is texts shown as a list: "Sent, Acknowledged".
type List []Text

// Lines are texts shown one under the other.
type Lines []Text

// Verbatim is s shown as it is, in every language (what a person wrote).
func Verbatim(s string) Text { return Text{Format: "%s", Args: []any{s}} }

func (l Sentences) join(tr func(string, ...any) string, sep string) string {
	return List(l).join(tr, sep)
}

func (l List) join(tr func(string, ...any) string, sep string) string {
	parts := make([]string, len(l))
	for i, t := range l {
		parts[i] = t.Localize(tr)
	}
	return strings.Join(parts, sep)
}

// Textf returns the Text of format and args.
func Textf(format string, args ...any) Text { return Text{Format: format, Args: args} }

// String is the text in English.
func (t Text) String() string {
	if len(t.Args) == 0 {
		return t.Format
	}
	return t.Localize(func(msg string, args ...any) string { return fmt.Sprintf(msg, args...) })
}

// IsZero reports whether t says nothing.
func (t Text) IsZero() bool { return t.Format == "" }

// Localize returns t through tr, a message-catalog lookup that takes the
// English text (a fmt format) and its values.
func (t Text) Localize(tr func(msg string, args ...any) string) string {
	args := make([]any, len(t.Args))
	for i, a := range t.Args {
		switch at := a.(type) {
		case Text:
			a = at.Localize(tr)
		case Sentences:
			a = at.join(tr, " ")
		case List:
			a = at.join(tr, ", ")
		case Lines:
			a = List(at).join(tr, "\n")
		}
		args[i] = a
	}
	return tr(t.Format, args...)
}

// Localize returns the message through tr, a message-catalog lookup that
// takes the English text (a fmt format) and its values.
func (e *Error) Localize(tr func(msg string, args ...any) string) string {
	if !e.text.IsZero() {
		return e.text.Localize(tr)
	}
	return tr(e.Message)
}

// LocalizeFields returns the message of each field through tr.
func (e *Error) LocalizeFields(tr func(msg string, args ...any) string) map[string]string {
	if len(e.Fields) == 0 {
		return nil
	}
	out := make(map[string]string, len(e.Fields))
	for f, m := range e.Fields {
		if t, ok := e.texts[f]; ok {
			out[f] = t.Localize(tr)
		} else {
			out[f] = tr(m)
		}
	}
	return out
}

// Prefixed returns the error with prefix before each field's name: the
// fields of a form that a page shows beside another's.
func (e *Error) Prefixed(prefix string) *Error {
	out := *e
	out.Fields, out.texts = map[string]string{}, map[string]Text{}
	for f, m := range e.Fields {
		out.Fields[prefix+f] = m
		if t, ok := e.texts[f]; ok {
			out.texts[prefix+f] = t
		}
	}
	return &out
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return e.Message + " (" + strings.Join(parts, "; ") + ")"
}

// New returns an error of the given kind with a user-safe message.
func New(kind Kind, format string, args ...any) *Error {
	return NewText(kind, Textf(format, args...))
}

// NewText returns an error of the given kind with a user-safe message.
func NewText(kind Kind, t Text) *Error {
	return &Error{Kind: kind, Message: t.String(), text: t}
}

// Field returns an Invalid error about one field.
func Field(field, message string) *Error { return Fieldf(field, message) }

// Fieldf returns an Invalid error about one field, its message a format
// with values.
func Fieldf(field, format string, args ...any) *Error {
	return FieldText(field, Textf(format, args...))
}

// FieldErr returns an Invalid error about one field with err's message
// (its text when it is a problem).
func FieldErr(field string, err error) *Error {
	if pe, ok := As(err); ok && !pe.text.IsZero() {
		return FieldText(field, pe.text)
	}
	return Field(field, err.Error())
}

// FieldText returns an Invalid error about one field with the message t.
func FieldText(field string, t Text) *Error {
	return &Error{Kind: Invalid, Message: "Please correct the highlighted field.", Fields: map[string]string{field: t.String()},
		texts: map[string]Text{field: t}}
}

// Fields collects field errors; its Err method returns nil when none were added.
type Fields map[string]Text

// Add records a message for field unless one is already there.
func (f Fields) Add(field, message string) { f.Addf(field, message) }

// Addf records a message with values for field unless one is already
// there.
func (f Fields) Addf(field, format string, args ...any) {
	if _, ok := f[field]; !ok {
		f[field] = Textf(format, args...)
	}
}

// AddText records the message t for field unless one is already there.
func (f Fields) AddText(field string, t Text) {
	if _, ok := f[field]; !ok {
		f[field] = t
	}
}

// AddErr records err's message for field: its text when it is a problem
// (translated with the rest), else what it says.
func (f Fields) AddErr(field string, err error) {
	if pe, ok := As(err); ok && !pe.text.IsZero() {
		f.AddText(field, pe.text)
		return
	}
	f.Add(field, err.Error())
}

// Merge adds the fields of err, when it is an Invalid problem, their
// texts kept for translation; it reports whether err was one.
func (f Fields) Merge(err error) bool {
	pe, ok := As(err)
	if !ok || pe.Kind != Invalid {
		return false
	}
	for k, m := range pe.Fields {
		if t, ok := pe.texts[k]; ok {
			f.AddText(k, t)
		} else {
			f.Add(k, m)
		}
	}
	return true
}

// Err returns an Invalid error carrying the collected fields, or nil.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	e := &Error{Kind: Invalid, Message: "Please correct the highlighted fields.", Fields: map[string]string{}, texts: map[string]Text(f)}
	for k, t := range f {
		e.Fields[k] = t.String()
	}
	return e
}

// KindOf returns the kind of err, or Internal when err carries none.
func KindOf(err error) Kind {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Kind
	}
	return Internal
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var pe *Error
	ok := errors.As(err, &pe)
	return pe, ok
}

// Is reports whether err is a problem of the given kind.
func Is(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }

// textJSON is how a Text is stored: its format and its values, each a
// text to translate, a string or a number kept as it is.
type textJSON struct {
	Format string    `json:"f"`
	Args   []argJSON `json:"a,omitempty"`
}

type argJSON struct {
	Text   *Text    `json:"t,omitempty"`
	List   []Text   `json:"l,omitempty"`
	Join   string   `json:"j,omitempty"` // how the list is joined: ", ", " " or "\n"
	String *string  `json:"s,omitempty"`
	Number *float64 `json:"n,omitempty"`
}

// MarshalJSON stores t so that it can be translated when it is read: a
// record written by the system (a case's timeline) is shown in its
// reader's language.
func (t Text) MarshalJSON() ([]byte, error) {
	out := textJSON{Format: t.Format}
	for _, a := range t.Args {
		var j argJSON
		switch x := a.(type) {
		case Text:
			j.Text = &x
		case List:
			j.List, j.Join = x, ", "
		case Sentences:
			j.List, j.Join = x, " "
		case Lines:
			j.List, j.Join = x, "\n"
		case int:
			n := float64(x)
			j.Number = &n
		case int64:
			n := float64(x)
			j.Number = &n
		case float64:
			j.Number = &x
		default:
			s := fmt.Sprint(x)
			j.String = &s
		}
		out.Args = append(out.Args, j)
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads a Text stored by MarshalJSON (numbers come back as
// int when whole, for %d and plural forms).
func (t *Text) UnmarshalJSON(b []byte) error {
	var in textJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*t = Text{Format: in.Format}
	for _, a := range in.Args {
		switch {
		case a.Text != nil:
			t.Args = append(t.Args, *a.Text)
		case a.Join == "\n":
			t.Args = append(t.Args, Lines(a.List))
		case a.Join == " ":
			t.Args = append(t.Args, Sentences(a.List))
		case a.Join != "":
			t.Args = append(t.Args, List(a.List))
		case a.Number != nil && *a.Number == float64(int(*a.Number)):
			t.Args = append(t.Args, int(*a.Number))
		case a.Number != nil:
			t.Args = append(t.Args, *a.Number)
		case a.String != nil:
			t.Args = append(t.Args, *a.String)
		default:
			t.Args = append(t.Args, "")
		}
	}
	return nil
}

// Package problem defines the kinds of failure that domain packages report and
// that the delivery layers (HTML pages, JSON API, command line) turn into a
// status code and a message that is safe to show.
//
// A domain function returns a *problem.Error when the failure is the caller's
// concern (bad input, missing record, no right); anything else is an internal
// error whose details go to the log only.
package problem

import (
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

	// format and args are Message before formatting, for translation.
	format string
	args   []any
}

// Localize returns the message through tr, a message-catalog lookup that
// takes the English text (a fmt format) and its values.
func (e *Error) Localize(tr func(msg string, args ...any) string) string {
	if e.format != "" {
		return tr(e.format, e.args...)
	}
	return tr(e.Message)
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
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), format: format, args: args}
}

// Field returns an Invalid error about one field.
func Field(field, message string) *Error {
	return &Error{Kind: Invalid, Message: "Please correct the highlighted field.", Fields: map[string]string{field: message}}
}

// Fields collects field errors; its Err method returns nil when none were added.
type Fields map[string]string

// Add records a message for field unless one is already there.
func (f Fields) Add(field, message string) {
	if _, ok := f[field]; !ok {
		f[field] = message
	}
}

// Err returns an Invalid error carrying the collected fields, or nil.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Message: "Please correct the highlighted fields.", Fields: f}
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

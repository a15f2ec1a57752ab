// Package problem is a small copy of the application's problems.
package problem

import "fmt"

type Kind string

const (
	Invalid  Kind = "invalid"
	NotFound Kind = "not_found"
)

type Error struct {
	Kind    Kind
	Message string
	Fields  map[string]string
}

func (e *Error) Error() string { return e.Message }

func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

func Field(field, message string) *Error {
	return &Error{Kind: Invalid, Message: "Please correct the highlighted field.", Fields: map[string]string{field: message}}
}

type Fields map[string]string

func (f Fields) Add(field, message string) {
	if _, ok := f[field]; !ok {
		f[field] = message
	}
}

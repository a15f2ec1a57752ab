package edate

import (
	"errors"
	"fmt"
	"strings"
)

var errEmpty = errors.New("empty date")

// Parse reads a date; its errors are shown to people.
func Parse(s string) (string, error) {
	if strings.Count(s, "-") > 2 {
		return "", fmt.Errorf("%q is not a date: write YYYY-MM-DD", s)
	}
	if s == "" {
		return "", errEmpty
	}
	return s, nil
}

// Load wraps an internal error.
func Load(s string) error {
	if _, err := Parse(s); err != nil {
		return fmt.Errorf("load date: %w", err)
	}
	return nil
}

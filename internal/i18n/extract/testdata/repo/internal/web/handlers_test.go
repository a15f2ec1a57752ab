package web

import (
	"testing"

	"example.com/fixture/internal/problem"
)

func TestNothing(t *testing.T) {
	_ = problem.New(problem.Invalid, "Only in a test.")
}

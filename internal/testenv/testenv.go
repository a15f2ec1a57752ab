// Package testenv decides what a test does when an outside part it needs
// (PostgreSQL, Chromium) is missing: skip with a clear message on a
// developer's machine, fail in CI, where ATTACHE_TEST_REQUIRE names the parts
// that must be present.
package testenv

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// RequireVar lists, comma-separated, the parts whose absence fails a test
// instead of skipping it, e.g. "postgres,chromium".
const RequireVar = "ATTACHE_TEST_REQUIRE"

// Required reports whether part must be present.
func Required(part string) bool {
	return slices.Contains(strings.Split(os.Getenv(RequireVar), ","), part)
}

// Missing stops the test because part is not available: it skips with why,
// or fails when the environment requires part.
func Missing(t testing.TB, part, why string) {
	t.Helper()
	if Required(part) {
		t.Fatalf("%s is required (%s=%s) but missing: %s", part, RequireVar, os.Getenv(RequireVar), why)
	}
	t.Skipf("skipping: %s not available: %s", part, why)
}

package web

import "testing"

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/cases/abc":           "/cases/abc",
		"/audit?actor_id=x":    "/audit?actor_id=x",
		"":                     "/",
		"https://evil.example": "/",
		"//evil.example":       "/",
		"/\\evil.example":      "/",
		"/\t/evil.example":     "/",
		"/%09/evil.example":    "/%09/evil.example", // stays a path on this site: the browser does not decode it into the host
		"/\n/evil.example":     "/",
		"javascript:alert(1)":  "/",
		"cases":                "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

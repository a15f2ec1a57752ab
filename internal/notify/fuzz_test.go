package notify

import (
	"bytes"
	"strings"
	"testing"
)

// Whatever a name or subject holds (a family member's name, a case
// reference), a header built from it is one field: no line break in it
// starts another field, and no line is folded off without a leading space.
func FuzzHeader(f *testing.F) {
	for _, s := range []string{"Visit of CN-2018-0001", "Vina Nadjibulla", "康明凯", "x\r\nBcc: attacker@example.org", "a\nb", "\r", strings.Repeat("word ", 40), "=?utf-8?q?x?="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		var b bytes.Buffer
		writeHeader(&b, "Subject", value)
		writeHeader(&b, "To", formatAddress(value, "someone@example.org"))
		lines := strings.Split(strings.TrimSuffix(b.String(), "\r\n"), "\r\n")
		fields := 0
		for _, l := range lines {
			if strings.ContainsAny(l, "\r\n") {
				t.Fatalf("a bare line break in %q", b.String())
			}
			if !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
				fields++
			}
		}
		if fields != 2 {
			t.Fatalf("%d header fields from %q:\n%s", fields, value, b.String())
		}
	})
}

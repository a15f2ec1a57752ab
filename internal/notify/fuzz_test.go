package notify

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
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

// Whatever a visit's texts and people's names hold, the invitation is one
// calendar with one event that a calendar library (go-ical) reads, with
// one organizer and one attendee: no text can add a property.
func FuzzICS(f *testing.F) {
	for _, s := range []string{"Consular visit CN-2018-0001", "康明凯", "a\r\nATTENDEE:mailto:x@example.org", "x;y,z\\", "\xff", strings.Repeat("é", 100)} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, text, name string) {
		inv := Invite{Method: MethodRequest, UID: "visit-1@attache.test", Start: time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC),
			End: time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC), Summary: text, Description: text, Location: text,
			Organizer: Person{Name: name, Email: "consul@example.org"}, Attendees: []Person{{Name: name, Email: "officer@example.org"}}}
		if err := inv.Validate(); err != nil {
			t.Fatal(err)
		}
		cal, err := ical.NewDecoder(bytes.NewReader(inv.ICS(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)))).Decode()
		if err != nil {
			t.Fatalf("go-ical cannot read the invitation for %q / %q: %v", text, name, err)
		}
		events := cal.Events()
		if len(events) != 1 {
			t.Fatalf("%d events", len(events))
		}
		if n := len(events[0].Props.Values(ical.PropAttendee)); n != 1 {
			t.Errorf("%d attendees from %q / %q", n, text, name)
		}
		if n := len(events[0].Props.Values(ical.PropOrganizer)); n != 1 {
			t.Errorf("%d organizers from %q / %q", n, text, name)
		}
	})
}

package notify

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-ical"

	"github.com/attache-org/attache/internal/problem"
)

// longText is a DESCRIPTION that must be escaped and folded: several
// lines, every character RFC 5545 escapes, and characters of two, three and
// four octets placed so that folds fall inside them.
const longText = "Visite consulaire à la prison de Genève — apportez: passeport, lettre; dossier \\ n° 42.\n" +
	"Deuxième ligne, avec des accents: éèêëàâäôöûüç ÉÈÊ ñ.\n" +
	"领事探视：请携带护照和委托书，提前三十分钟到达。领事探视：请携带护照和委托书，提前三十分钟到达。\n" +
	"Emoji 🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂 end."

func sampleInvite() *Invite {
	start := time.Date(2030, 3, 14, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	return &Invite{
		Method:      MethodRequest,
		UID:         "visit-01hx@attache.example",
		Sequence:    0,
		Start:       start,
		End:         start.Add(90 * time.Minute),
		Summary:     "Consular visit: Zoë Ünal, Champ-Dollon",
		Description: longText,
		Location:    "Prison de Champ-Dollon, Chemin de Champ-Dollon 22, 1241 Puplinge",
		URL:         "https://attache.example/visits/01hx",
		Organizer:   Person{Name: "Consulat général, Genève", Email: "consulat@attache.example"},
		Attendees: []Person{
			{Name: "Zoë Ünal", Email: "zoe@example.org"},
			{Name: `Jean "JJ" Dupont`, Email: "jj@example.org"},
		},
	}
}

// TestICS renders the life of one visit (scheduled, moved, cancelled) and
// parses each calendar with an independent parser.
func TestICS(t *testing.T) {
	stamp := time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)
	moved := sampleInvite()
	moved.Sequence = 1
	moved.Start = moved.Start.Add(24 * time.Hour)
	moved.End = moved.End.Add(24 * time.Hour)
	cancelled := *moved
	cancelled.Method = MethodCancel
	cancelled.Sequence = 2

	tests := []struct {
		name     string
		inv      *Invite
		method   string
		sequence int
		status   ical.EventStatus
		start    time.Time
	}{
		{"scheduled", sampleInvite(), "REQUEST", 0, ical.EventConfirmed, time.Date(2030, 3, 14, 8, 30, 0, 0, time.UTC)},
		{"moved", moved, "REQUEST", 1, ical.EventConfirmed, time.Date(2030, 3, 15, 8, 30, 0, 0, time.UTC)},
		{"cancelled", &cancelled, "CANCEL", 2, ical.EventCancelled, time.Date(2030, 3, 15, 8, 30, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.inv.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			ics := tc.inv.ICS(stamp)
			checkLines(t, ics)
			cal, err := ical.NewDecoder(bytes.NewReader(ics)).Decode()
			if err != nil {
				t.Fatalf("decode: %v\n%s", err, ics)
			}
			for prop, want := range map[string]string{ical.PropMethod: tc.method, ical.PropVersion: "2.0", ical.PropCalendarScale: "GREGORIAN", ical.PropProductID: prodID} {
				if got := cal.Props.Get(prop); got == nil || got.Value != want {
					t.Errorf("calendar %s = %v, want %q", prop, got, want)
				}
			}
			events := cal.Events()
			if len(events) != 1 {
				t.Fatalf("%d events, want 1", len(events))
			}
			ev := events[0]
			text := func(name string) string {
				t.Helper()
				p := ev.Props.Get(name)
				if p == nil {
					t.Fatalf("no %s", name)
				}
				s, err := p.Text()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				return s
			}
			if got := text(ical.PropUID); got != tc.inv.UID {
				t.Errorf("UID = %q, want %q", got, tc.inv.UID)
			}
			if seq, err := ev.Props.Get(ical.PropSequence).Int(); err != nil || seq != tc.sequence {
				t.Errorf("SEQUENCE = %d, %v; want %d", seq, err, tc.sequence)
			}
			if st, err := ev.Status(); err != nil || st != tc.status {
				t.Errorf("STATUS = %q, %v; want %q", st, err, tc.status)
			}
			for _, tt := range []struct {
				prop string
				want time.Time
			}{{ical.PropDateTimeStart, tc.start}, {ical.PropDateTimeEnd, tc.start.Add(90 * time.Minute)}, {ical.PropDateTimeStamp, stamp}} {
				p := ev.Props.Get(tt.prop)
				if p == nil || !strings.HasSuffix(p.Value, "Z") {
					t.Errorf("%s = %v, want a UTC time", tt.prop, p)
					continue
				}
				got, err := p.DateTime(time.Local)
				if err != nil || !got.Equal(tt.want) {
					t.Errorf("%s = %v, %v; want %v", tt.prop, got, err, tt.want)
				}
			}
			if got := text(ical.PropDescription); got != longText {
				t.Errorf("DESCRIPTION did not round-trip:\n got %q\nwant %q", got, longText)
			}
			if got := text(ical.PropSummary); got != tc.inv.Summary {
				t.Errorf("SUMMARY = %q", got)
			}
			if got := text(ical.PropLocation); got != tc.inv.Location {
				t.Errorf("LOCATION = %q", got)
			}
			if got := ev.Props.Get(ical.PropURL); got == nil || got.Value != tc.inv.URL {
				t.Errorf("URL = %v", got)
			}
			org := ev.Props.Get(ical.PropOrganizer)
			if org == nil || org.Value != "mailto:consulat@attache.example" || org.Params.Get(ical.ParamCommonName) != "Consulat général, Genève" {
				t.Errorf("ORGANIZER = %+v", org)
			}
			att := ev.Props.Values(ical.PropAttendee)
			if len(att) != 2 {
				t.Fatalf("%d attendees, want 2", len(att))
			}
			wantCN := []string{"Zoë Ünal", "Jean JJ Dupont"}
			for i, a := range att {
				if a.Value != "mailto:"+tc.inv.Attendees[i].Email || a.Params.Get(ical.ParamCommonName) != wantCN[i] ||
					a.Params.Get(ical.ParamRole) != "REQ-PARTICIPANT" || a.Params.Get(ical.ParamParticipationStatus) != "NEEDS-ACTION" ||
					a.Params.Get(ical.ParamRSVP) != "FALSE" {
					t.Errorf("ATTENDEE %d = %+v", i, a)
				}
			}
		})
	}
}

// checkLines checks RFC 5545's line rules: CRLF ends, at most 75 octets,
// no character split across a fold.
func checkLines(t *testing.T, ics []byte) {
	t.Helper()
	if !bytes.HasSuffix(ics, []byte("\r\n")) {
		t.Error("calendar does not end with CRLF")
	}
	for i, l := range bytes.Split(bytes.TrimSuffix(ics, []byte("\r\n")), []byte("\r\n")) {
		if len(l) > 75 {
			t.Errorf("line %d has %d octets: %q", i+1, len(l), l)
		}
		if !utf8.Valid(l) {
			t.Errorf("line %d splits a character: %q", i+1, l)
		}
		if bytes.ContainsAny(l, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i+1, l)
		}
	}
}

func TestWriteFolded(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"short", "SUMMARY:hello"},
		{"exactly 75", "X:" + strings.Repeat("a", 73)},
		{"76", "X:" + strings.Repeat("a", 74)},
		{"two-octet at the fold", "X:" + strings.Repeat("a", 72) + strings.Repeat("é", 40)},
		{"three-octet", "X:" + strings.Repeat("领", 80)},
		{"four-octet", "X:a" + strings.Repeat("🙂", 60)},
		{"mixed offsets", "X:" + strings.Repeat("aé领🙂", 30)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			writeFolded(&b, tc.in)
			checkLines(t, b.Bytes())
			if got := strings.TrimSuffix(strings.ReplaceAll(b.String(), "\r\n ", ""), "\r\n"); got != tc.in {
				t.Errorf("unfolded = %q, want %q", got, tc.in)
			}
			if len(tc.in) <= 75 && strings.Contains(b.String(), "\r\n ") {
				t.Errorf("folded a short line: %q", b.String())
			}
		})
	}
}

func TestEscapeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{`a\b;c,d`, `a\\b\;c\,d`},
		{"one\ntwo\r\nthree", `one\ntwo\nthree`},
		{"Genève", "Genève"},
	}
	for _, tc := range tests {
		if got := escapeText(tc.in); got != tc.want {
			t.Errorf("escapeText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestInviteValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Invite)
		field string // "" when valid
	}{
		{"valid", func(*Invite) {}, ""},
		{"cancel", func(i *Invite) { i.Method = MethodCancel }, ""},
		{"lower-case method", func(i *Invite) { i.Method = "request" }, "invite.method"},
		{"publish", func(i *Invite) { i.Method = "PUBLISH" }, "invite.method"},
		{"no uid", func(i *Invite) { i.UID = " " }, "invite.uid"},
		{"uid with newline", func(i *Invite) { i.UID = "a\nb" }, "invite.uid"},
		{"negative sequence", func(i *Invite) { i.Sequence = -1 }, "invite.sequence"},
		{"ends before start", func(i *Invite) { i.End = i.Start.Add(-time.Minute) }, "invite.end"},
		{"no organizer", func(i *Invite) { i.Organizer.Email = "" }, "invite.organizer"},
		{"bad attendee", func(i *Invite) { i.Attendees[1].Email = "Jean <jj@example.org>" }, "invite.attendees"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := sampleInvite()
			tc.edit(inv)
			err := inv.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			pe, ok := problem.As(err)
			if !ok || pe.Kind != problem.Invalid || pe.Fields[tc.field] == "" {
				t.Fatalf("Validate = %v, want an Invalid error on %s", err, tc.field)
			}
		})
	}
}

package notify

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/attache-org/attache/internal/problem"
)

// The iTIP methods an Invite may carry.
const (
	MethodRequest = "REQUEST" // create or update the event
	MethodCancel  = "CANCEL"  // remove the event
)

// prodID names the program that made the calendar (RFC 5545 §3.7.3).
const prodID = "-//attache-org//Attache//EN"

// Validate reports what is wrong with the invitation, as a problem.Invalid
// error, or nil.
func (inv *Invite) Validate() error {
	f := problem.Fields{}
	if inv.Method != MethodRequest && inv.Method != MethodCancel {
		f.Add("invite.method", "The calendar method must be REQUEST or CANCEL.")
	}
	if strings.TrimSpace(inv.UID) == "" || strings.ContainsAny(inv.UID, "\r\n") {
		f.Add("invite.uid", "The calendar event needs a UID on one line.")
	}
	if inv.Sequence < 0 {
		f.Add("invite.sequence", "The sequence cannot be negative.")
	}
	if inv.Start.IsZero() || !inv.End.After(inv.Start) {
		f.Add("invite.end", "The event must end after it starts.")
	}
	if !addressLike(inv.Organizer.Email) {
		f.Add("invite.organizer", "The event needs an organizer with an e-mail address.")
	}
	for _, a := range inv.Attendees {
		if !addressLike(a.Email) {
			f.Add("invite.attendees", "Every attendee needs an e-mail address.")
		}
	}
	return f.Err()
}

// ICS renders the invitation as an RFC 5545 calendar object: one VEVENT with
// the times in UTC, text escaped, lines folded at 75 octets and ended with
// CRLF. now is the DTSTAMP: when the invitation was made, which calendars
// use to order updates with the same SEQUENCE. Call Validate first: ICS
// writes whatever it is given.
func (inv *Invite) ICS(now time.Time) []byte {
	var b bytes.Buffer
	line := func(name, value string) { writeFolded(&b, name+":"+value) }
	status := "CONFIRMED"
	if inv.Method == MethodCancel {
		status = "CANCELLED"
	}
	line("BEGIN", "VCALENDAR")
	line("PRODID", escapeText(prodID))
	line("VERSION", "2.0")
	line("CALSCALE", "GREGORIAN")
	line("METHOD", inv.Method)
	line("BEGIN", "VEVENT")
	line("UID", escapeText(inv.UID))
	line("SEQUENCE", strconv.Itoa(inv.Sequence))
	line("DTSTAMP", icalTime(now))
	line("DTSTART", icalTime(inv.Start))
	line("DTEND", icalTime(inv.End))
	line("SUMMARY", escapeText(inv.Summary))
	if inv.Description != "" {
		line("DESCRIPTION", escapeText(inv.Description))
	}
	if inv.Location != "" {
		line("LOCATION", escapeText(inv.Location))
	}
	if inv.URL != "" {
		line("URL", strings.NewReplacer("\r", "", "\n", "").Replace(inv.URL))
	}
	writeFolded(&b, "ORGANIZER"+cnParam(inv.Organizer.Name)+":mailto:"+inv.Organizer.Email)
	for _, a := range inv.Attendees {
		writeFolded(&b, "ATTENDEE"+cnParam(a.Name)+";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=FALSE:mailto:"+a.Email)
	}
	line("STATUS", status)
	line("TRANSP", "OPAQUE")
	line("END", "VEVENT")
	line("END", "VCALENDAR")
	return b.Bytes()
}

// icalTime formats t as an RFC 5545 DATE-TIME in UTC ("form #2").
func icalTime(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// escapeText escapes a TEXT value (RFC 5545 §3.3.11): backslash, semicolon,
// comma and newline; a CR is dropped so that CRLF becomes one newline.
func escapeText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch r {
		case '\\', ';', ',':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cnParam returns ";CN=name", the name quoted (RFC 5545 §3.2: a quoted
// parameter value cannot hold a double quote or a control character, so
// those are dropped), or "" for no name.
func cnParam(name string) string {
	name = strings.Map(func(r rune) rune {
		if r == '"' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if strings.TrimSpace(name) == "" {
		return ""
	}
	return `;CN="` + name + `"`
}

// maxLine is the longest content line in octets, CRLF excluded (RFC 5545
// §3.1).
const maxLine = 75

// writeFolded writes one content line, folded so that no line is longer
// than maxLine octets: each continuation starts with a space, which counts
// towards its length, and no UTF-8 character is split.
func writeFolded(b *bytes.Buffer, s string) {
	limit := maxLine
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = maxLine - 1
	}
	b.WriteString(s)
	b.WriteString("\r\n")
}

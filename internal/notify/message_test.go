package notify

import (
	"bytes"
	"mime"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRender(t *testing.T) {
	from := Person{Name: "Consulat général", Email: "noreply@attache.example"}
	date := time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)
	text := "Bonjour Zoë,\n\nLa visite est prévue le 14 mars à 09:30. " + strings.Repeat("Une ligne très longue qui doit être coupée. ", 5) + "\n=fin="
	tests := []struct {
		name      string
		mail      Mail
		wantPaths []string
	}{
		{
			name:      "text only",
			mail:      Mail{Kind: ReportSubmitted, To: "zoe@example.org", Name: "Zoë Ünal", Subject: "Un rapport attend votre approbation", Text: text},
			wantPaths: []string{"text/plain"},
		},
		{
			name: "with invite",
			mail: Mail{Kind: VisitScheduled, To: "zoe@example.org", Name: "Zoë Ünal", Subject: "Visite consulaire prévue : Champ-Dollon, 14 mars 2030 — merci de confirmer votre présence", Text: text, Invite: sampleInvite()},
			wantPaths: []string{
				"multipart/mixed/multipart/alternative/text/plain",
				"multipart/mixed/multipart/alternative/text/calendar",
				"multipart/mixed/application/ics",
			},
		},
		{
			name:      "header injection",
			mail:      Mail{Kind: FamilyMessage, To: "zoe@example.org", Name: "Zoë\r\nBcc: evil@example.org", Subject: "Hello\r\nBcc: evil@example.org", Text: text},
			wantPaths: []string{"text/plain"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.mail
			m.Date, m.MessageID = date, "01hxmsg"
			data, err := render(from, m)
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range strings.Split(string(data), "\r\n") {
				if len(l) > 998 {
					t.Errorf("line %d has %d characters", i+1, len(l))
				}
			}
			h, parts, paths := parseMessage(t, data)
			if !slices.Equal(paths, tc.wantPaths) {
				t.Fatalf("parts = %q, want %q", paths, tc.wantPaths)
			}
			if h.Get("Bcc") != "" {
				t.Errorf("injected Bcc header: %q", h.Get("Bcc"))
			}
			fromAddr, err := mail.ParseAddress(h.Get("From"))
			if err != nil || fromAddr.Name != from.Name || fromAddr.Address != from.Email {
				t.Errorf("From = %q (%v, %v)", h.Get("From"), fromAddr, err)
			}
			to, err := mail.ParseAddress(h.Get("To"))
			if err != nil || to.Name != oneLine(m.Name) || to.Address != m.To {
				t.Errorf("To = %q (%v, %v)", h.Get("To"), to, err)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
			if err != nil || subject != oneLine(m.Subject) {
				t.Errorf("Subject = %q, decoded %q (%v), want %q", h.Get("Subject"), subject, err, m.Subject)
			}
			if got, err := h.Date(); err != nil || !got.Equal(date) {
				t.Errorf("Date = %v, %v; want %v", got, err, date)
			}
			if got := h.Get("Message-ID"); got != "<01hxmsg@attache.example>" {
				t.Errorf("Message-ID = %q", got)
			}
			if h.Get("MIME-Version") != "1.0" || h.Get("Auto-Submitted") != "auto-generated" {
				t.Errorf("MIME-Version %q, Auto-Submitted %q", h.Get("MIME-Version"), h.Get("Auto-Submitted"))
			}
			if parts[0].params["charset"] != "UTF-8" || first(parts[0].header, "Content-Transfer-Encoding") != "quoted-printable" {
				t.Errorf("text part %q", parts[0].header)
			}
			if got := string(parts[0].body); got != strings.ReplaceAll(text, "\n", "\r\n") {
				t.Errorf("text = %q, want %q", got, text)
			}
			if m.Invite == nil {
				return
			}
			ics := m.Invite.ICS(date)
			cal, att := parts[1], parts[2]
			if cal.params["method"] != "REQUEST" || cal.params["charset"] != "UTF-8" {
				t.Errorf("calendar part params %v", cal.params)
			}
			if !bytes.Equal(cal.body, ics) {
				t.Errorf("calendar part differs from ICS:\n%s", cal.body)
			}
			if disp, params, err := mime.ParseMediaType(first(att.header, "Content-Disposition")); err != nil || disp != "attachment" || params["filename"] != "invite.ics" {
				t.Errorf("attachment disposition %q", first(att.header, "Content-Disposition"))
			}
			if !bytes.Equal(att.body, ics) {
				t.Errorf("invite.ics differs from ICS:\n%s", att.body)
			}
		})
	}
}

func TestAddressLike(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"zoe@example.org", true},
		{"zoë@example.org", true},
		{"", false},
		{"zoe", false},
		{"@example.org", false},
		{"Zoë <zoe@example.org>", false},
		{"zoe@example.org\r\nRCPT TO:<x@y>", false},
		{"zoe@example.org, jj@example.org", false},
	}
	for _, tc := range tests {
		if got := addressLike(tc.in); got != tc.want {
			t.Errorf("addressLike(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

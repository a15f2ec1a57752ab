package notify

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// addressLike reports whether s is a bare e-mail address (no name, no angle
// brackets, nothing that could break a header or an SMTP command).
func addressLike(s string) bool {
	if s == "" || len(s) > 254 || strings.ContainsAny(s, "\r\n<>\"(), \t") {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return false
	}
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != ""
}

// oneLine replaces line breaks and other control characters with spaces, so
// that a value cannot end a header and start another.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// formatAddress renders a name and address for a From or To header, the name
// quoted or RFC 2047-encoded as needed.
func formatAddress(name, addr string) string {
	return (&mail.Address{Name: strings.TrimSpace(oneLine(name)), Address: addr}).String()
}

// newToken returns 20 random characters for a Message-ID or a boundary.
func newToken() string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms
	return strings.ToLower(base64.RawURLEncoding.EncodeToString(b[:]))
}

// render returns m, sent by from, as an RFC 5322 message with CRLF line
// ends: a single quoted-printable text/plain part, or, with an Invite,
// multipart/mixed holding multipart/alternative (the text and the
// text/calendar part calendar clients act on) and the same calendar as an
// invite.ics attachment.
func render(from Person, m Mail) ([]byte, error) {
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	id := m.MessageID
	if id == "" {
		id = newToken()
	}
	domain := "localhost"
	if _, d, ok := strings.Cut(from.Email, "@"); ok && d != "" {
		domain = d
	}

	var b bytes.Buffer
	writeHeader(&b, "From", formatAddress(from.Name, from.Email))
	writeHeader(&b, "To", formatAddress(m.Name, m.To))
	writeHeader(&b, "Subject", mime.QEncoding.Encode("UTF-8", oneLine(m.Subject)))
	writeHeader(&b, "Date", date.Format(time.RFC1123Z))
	writeHeader(&b, "Message-ID", "<"+oneLine(id)+"@"+domain+">")
	writeHeader(&b, "MIME-Version", "1.0")
	writeHeader(&b, "Auto-Submitted", "auto-generated")

	text, err := quotedPrintable(m.Text)
	if err != nil {
		return nil, err
	}
	if m.Invite == nil {
		writeHeader(&b, "Content-Type", "text/plain; charset=UTF-8")
		writeHeader(&b, "Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		b.Write(text)
		return b.Bytes(), nil
	}

	ics := m.Invite.ICS(date)
	var alt bytes.Buffer
	aw := multipart.NewWriter(&alt)
	if err := aw.SetBoundary("alt-" + newToken()); err != nil {
		return nil, fmt.Errorf("render mail: %w", err)
	}
	if err := writePart(aw, textproto.MIMEHeader{
		"Content-Type":              {"text/plain; charset=UTF-8"},
		"Content-Transfer-Encoding": {"quoted-printable"},
	}, text); err != nil {
		return nil, err
	}
	if err := writePart(aw, textproto.MIMEHeader{
		"Content-Type":              {mime.FormatMediaType("text/calendar", map[string]string{"charset": "UTF-8", "method": m.Invite.Method})},
		"Content-Transfer-Encoding": {"base64"},
	}, base64Lines(ics)); err != nil {
		return nil, err
	}
	if err := aw.Close(); err != nil {
		return nil, fmt.Errorf("render mail: %w", err)
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if err := mw.SetBoundary("mix-" + newToken()); err != nil {
		return nil, fmt.Errorf("render mail: %w", err)
	}
	if err := writePart(mw, textproto.MIMEHeader{
		"Content-Type": {mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": aw.Boundary()})},
	}, alt.Bytes()); err != nil {
		return nil, err
	}
	if err := writePart(mw, textproto.MIMEHeader{
		"Content-Type":              {mime.FormatMediaType("application/ics", map[string]string{"name": "invite.ics"})},
		"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": "invite.ics"})},
		"Content-Transfer-Encoding": {"base64"},
	}, base64Lines(ics)); err != nil {
		return nil, err
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("render mail: %w", err)
	}
	writeHeader(&b, "Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	b.Write(body.Bytes())
	return b.Bytes(), nil
}

func writePart(w *multipart.Writer, h textproto.MIMEHeader, body []byte) error {
	p, err := w.CreatePart(h)
	if err != nil {
		return fmt.Errorf("render mail: %w", err)
	}
	if _, err := p.Write(body); err != nil {
		return fmt.Errorf("render mail: %w", err)
	}
	return nil
}

// writeHeader writes one header field, folded at spaces so that lines stay
// under 78 characters where the value allows (RFC 5322 §2.2.3).
func writeHeader(b *bytes.Buffer, name, value string) {
	line := name + ":"
	for i, w := range strings.Split(oneLine(value), " ") {
		if i > 0 && len(line)+1+len(w) > 76 && strings.TrimSpace(line) != "" {
			b.WriteString(line)
			b.WriteString("\r\n")
			line = ""
		}
		line += " " + w
	}
	b.WriteString(line)
	b.WriteString("\r\n")
}

// quotedPrintable encodes text as quoted-printable with CRLF line ends.
func quotedPrintable(text string) ([]byte, error) {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	if _, err := w.Write([]byte(text)); err != nil {
		return nil, fmt.Errorf("encode mail text: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encode mail text: %w", err)
	}
	return b.Bytes(), nil
}

// base64Lines encodes data as base64 in lines of 76 characters, CRLF ended.
func base64Lines(data []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(data)
	var b bytes.Buffer
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	b.WriteString("\r\n")
	return b.Bytes()
}

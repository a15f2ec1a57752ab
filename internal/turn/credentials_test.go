package turn

import (
	"bytes"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
)

const testSecret = "test-secret-not-for-production"

// accepts runs what the server does with a request: the auth handler, then
// pion/turn's MESSAGE-INTEGRITY check of a request signed with password. It
// returns the participant the request is attributed to.
func accepts(t *testing.T, s *Server, username, realm, password string) (string, bool) {
	t.Helper()
	id, key, ok := s.authenticate(&pionturn.RequestAttributes{
		Username: username,
		Realm:    realm,
		SrcAddr:  &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000},
		Method:   stun.MethodAllocate,
	})
	if !ok {
		return "", false
	}
	msg, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest),
		stun.NewUsername(username), stun.NewRealm(realm), stun.NewNonce("nonce"),
		stun.NewLongTermIntegrity(username, realm, password), stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if err := stun.MessageIntegrity(key).Check(msg); err != nil {
		return "", false
	}
	return id, true
}

func TestCredentials(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	s := startServer(t, Config{CredentialTTL: time.Hour})
	s.SetClock(func() time.Time { return now })
	other := startServer(t, Config{Secret: "another-secret-of-another-server"})

	alice := s.Credentials("alice", now)
	bob := s.Credentials("bob", now)
	tamper := func(p string) string {
		b := []byte(p)
		b[0] ^= 1
		return string(b)
	}
	later := s.CredentialsUntil("alice", now.Add(48*time.Hour))
	tests := []struct {
		name, username, realm, password string
		want                            string // the participant; empty when refused
	}{
		{"valid", alice.Username, "attache", alice.Password, "alice"},
		{"participant id with colons", s.Credentials("visit:7:officer", now).Username, "attache",
			s.Credentials("visit:7:officer", now).Password, "visit:7:officer"},
		{"expires in a second", s.CredentialsUntil("alice", now.Add(time.Second)).Username, "attache",
			s.CredentialsUntil("alice", now.Add(time.Second)).Password, "alice"},
		{"expired", s.Credentials("alice", now.Add(-2*time.Hour)).Username, "attache",
			s.Credentials("alice", now.Add(-2*time.Hour)).Password, ""},
		{"expiring now", s.CredentialsUntil("alice", now).Username, "attache",
			s.CredentialsUntil("alice", now).Password, ""},
		{"tampered password", alice.Username, "attache", tamper(alice.Password), ""},
		{"another participant's password", alice.Username, "attache", bob.Password, ""},
		{"participant changed in the username", strings.Replace(alice.Username, "alice", "bob", 1), "attache", alice.Password, ""},
		{"expiry extended in the username", strings.Replace(alice.Username, strconv.FormatInt(alice.Expires.Unix(), 10),
			strconv.FormatInt(later.Expires.Unix(), 10), 1), "attache", alice.Password, ""},
		{"another server's secret", other.Credentials("alice", now).Username, "attache", other.Credentials("alice", now).Password, ""},
		{"another realm", alice.Username, "elsewhere", alice.Password, ""},
		{"empty password", alice.Username, "attache", "", ""},
		{"no expiry", "alice", "attache", s.password("alice"), ""},
		{"no participant", strconv.FormatInt(alice.Expires.Unix(), 10) + ":", "attache",
			s.password(strconv.FormatInt(alice.Expires.Unix(), 10) + ":"), ""},
		{"expiry not a number", "soon:alice", "attache", s.password("soon:alice"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := accepts(t, s, tt.username, tt.realm, tt.password)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("accepted = %v as %q, want %q", ok, got, tt.want)
			}
		})
	}
}

func TestCredentialsForm(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 0, 0, 500_000_000, time.UTC)
	s := startServer(t, Config{CredentialTTL: 90 * time.Minute})

	c := s.Credentials("p-42", now)
	wantExp := time.Date(2026, 3, 14, 10, 30, 0, 0, time.UTC)
	if !c.Expires.Equal(wantExp) {
		t.Errorf("Expires = %v, want %v", c.Expires, wantExp)
	}
	if want := strconv.FormatInt(wantExp.Unix(), 10) + ":p-42"; c.Username != want {
		t.Errorf("Username = %q, want %q", c.Username, want)
	}
	if u := s.CredentialsUntil("p-42", wantExp); u.Username != c.Username || u.Password != c.Password {
		t.Errorf("CredentialsUntil = %+v, want the same as Credentials %+v", u, c)
	}

	// pion/turn's own TURN REST API handler accepts them: the scheme is the
	// common one, not a private variant.
	fresh := s.Credentials("p-42", time.Now())
	_, key, ok := pionturn.LongTermTURNRESTAuthHandler(testSecret, nil)(&pionturn.RequestAttributes{Username: fresh.Username, Realm: "attache"})
	if !ok || !bytes.Equal(key, pionturn.GenerateAuthKey(fresh.Username, "attache", fresh.Password)) {
		t.Error("pion/turn's TURN REST API handler does not accept the credentials")
	}

	port := strconv.Itoa(s.UDPAddr().(*net.UDPAddr).Port)
	if len(c.URLs) != 1 || c.URLs[0] != "turn:127.0.0.1:"+port+"?transport=udp" {
		t.Errorf("URLs = %q", c.URLs)
	}
	c.URLs[0] = "changed"
	if s.Credentials("p-42", now).URLs[0] == "changed" {
		t.Error("Credentials share their URL slice")
	}

	b, err := json.Marshal(s.Credentials("p-42", now))
	if err != nil {
		t.Fatal(err)
	}
	var ice map[string]any
	if err := json.Unmarshal(b, &ice); err != nil {
		t.Fatal(err)
	}
	if len(ice) != 3 || ice["urls"] == nil || ice["username"] != c.Username || ice["credential"] != c.Password {
		t.Errorf("JSON = %s, want an RTCIceServer", b)
	}
}

func TestRandomSecret(t *testing.T) {
	now := time.Now()
	a := newServer(t, Config{UDPAddr: "127.0.0.1:0"})
	b := newServer(t, Config{UDPAddr: "127.0.0.1:0"})
	if string(a.secret) == string(b.secret) || len(a.secret) < minSecretLen {
		t.Fatalf("secrets %q and %q: want two different random ones", a.secret, b.secret)
	}
	c := a.Credentials("alice", now)
	if _, ok := accepts(t, a, c.Username, "attache", c.Password); !ok {
		t.Error("credentials refused by the server that made them")
	}
	if _, ok := accepts(t, b, c.Username, "attache", c.Password); ok {
		t.Error("credentials accepted by a server with another random secret")
	}
}

func TestQuota(t *testing.T) {
	s := startServer(t, Config{})
	client := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}
	for range allocationsPerParticipant {
		if !s.quota("alice", "attache", client) {
			t.Fatal("quota reached too early")
		}
		s.onAllocationCreated(client, nil, "UDP", "alice", "attache", nil, 0)
	}
	if s.quota("alice", "attache", client) {
		t.Error("quota not reached")
	}
	if !s.quota("bob", "attache", client) {
		t.Error("another participant is refused")
	}
	s.onAllocationDeleted(client, nil, "UDP", "alice", "attache")
	if !s.quota("alice", "attache", client) {
		t.Error("quota still reached after a deletion")
	}
}

// The participant's name in TURN usernames is a keyed hash: stable for
// the same visit and participant, different otherwise, and not the name.
func TestOpaqueID(t *testing.T) {
	s := startServer(t, Config{Secret: "0123456789abcdef-one"})
	other := startServer(t, Config{Secret: "0123456789abcdef-two"})
	a := s.OpaqueID("visit-1", "link:abc")
	switch {
	case a != s.OpaqueID("visit-1", "link:abc"):
		t.Error("not stable")
	case a == s.OpaqueID("visit-2", "link:abc") || a == s.OpaqueID("visit-1", "link:abd") || a == s.OpaqueID("visit-1link:", "abc"):
		t.Error("the same for other parts")
	case a == other.OpaqueID("visit-1", "link:abc"):
		t.Error("the same under another secret")
	case strings.Contains(a, "abc") || len(a) != 18:
		t.Errorf("opaque id %q", a)
	}
}

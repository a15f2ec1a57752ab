package turn

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
)

// Every test here talks to 127.0.0.1 only.

var quiet = slog.New(slog.DiscardHandler)

// newServer starts a server with cfg as it is.
func newServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// startServer starts a server on loopback with the test secret, unless cfg
// says otherwise.
func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.UDPAddr == "" {
		cfg.UDPAddr = "127.0.0.1:0"
	}
	if cfg.Secret == "" {
		cfg.Secret = testSecret
	}
	return newServer(t, cfg)
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no relay IP on every interface", Config{UDPAddr: ":0"}, "relay IP"},
		{"no relay IP on the unspecified address", Config{UDPAddr: "0.0.0.0:0"}, "relay IP"},
		{"not HOST:PORT", Config{UDPAddr: "3478"}, "HOST:PORT"},
		{"host name", Config{UDPAddr: "localhost:0"}, "IP address"},
		{"bad port", Config{UDPAddr: "127.0.0.1:70000"}, "port"},
		{"bad TCP address", Config{UDPAddr: "127.0.0.1:0", TCPAddr: "nowhere"}, "TCP address"},
		{"unspecified relay IP", Config{UDPAddr: "127.0.0.1:0", RelayIP: netip.MustParseAddr("0.0.0.0")}, "cannot be announced"},
		{"relay family differs", Config{UDPAddr: "127.0.0.1:0", RelayIP: netip.MustParseAddr("::1")}, "families"},
		{"half a port range", Config{UDPAddr: "127.0.0.1:0", RelayPortMin: 50000}, "port range"},
		{"port range upside down", Config{UDPAddr: "127.0.0.1:0", RelayPortMin: 50010, RelayPortMax: 50000}, "port range"},
		{"short secret", Config{UDPAddr: "127.0.0.1:0", Secret: "hunter2"}, "shorter"},
		{"negative lifetime", Config{UDPAddr: "127.0.0.1:0", CredentialTTL: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg, quiet)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

// client is a participant's TURN client over loopback.
type client struct {
	*pionturn.Client
}

func dialUDP(t *testing.T, s *Server, c Credentials) client {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return newClient(t, conn, s.UDPAddr(), c)
}

func dialTCP(t *testing.T, s *Server, c Credentials) client {
	t.Helper()
	conn, err := net.Dial("tcp4", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return newClient(t, pionturn.NewSTUNConn(conn), s.TCPAddr(), c)
}

func newClient(t *testing.T, conn net.PacketConn, server net.Addr, c Credentials) client {
	t.Helper()
	tc, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: server.String(),
		TURNServerAddr: server.String(),
		Conn:           conn,
		Username:       c.Username,
		Password:       c.Password,
		LoggerFactory:  pionLogs{log: quiet},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	return client{tc}
}

func (c client) allocate(t *testing.T) net.PacketConn {
	t.Helper()
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	t.Cleanup(func() { relay.Close() })
	return relay
}

func turnCode(err error) stun.ErrorCode {
	var te *stun.TurnError
	if errors.As(err, &te) {
		return te.ErrorCodeAttr.Code
	}
	return 0
}

func TestAllocate(t *testing.T) {
	s := startServer(t, Config{})
	now := time.Now()

	relay := dialUDP(t, s, s.Credentials("alice", now)).allocate(t)
	addr := relay.LocalAddr().(*net.UDPAddr)
	if !addr.IP.Equal(net.IPv4(127, 0, 0, 1)) || addr.Port == 0 {
		t.Errorf("relayed address %v, want 127.0.0.1 and a port", addr)
	}

	bob := s.Credentials("bob", now)
	for _, tt := range []struct {
		name string
		c    Credentials
	}{
		{"wrong password", Credentials{Username: s.Credentials("alice", now).Username, Password: "not-the-password"}},
		{"another participant's password", Credentials{Username: s.Credentials("alice", now).Username, Password: bob.Password}},
		{"expired", s.CredentialsUntil("alice", now.Add(-time.Minute))},
		{"unsigned username", Credentials{Username: "alice", Password: "alice"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dialUDP(t, s, tt.c).Allocate()
			if err == nil {
				t.Fatal("allocated with bad credentials")
			}
			if code := turnCode(err); code != stun.CodeUnauthorized {
				t.Errorf("error %v, want 401 Unauthorized", err)
			}
		})
	}
}

// TestLoopbackPeerRefused: a normal server neither permits nor relays to a
// loopback peer.
func TestLoopbackPeerRefused(t *testing.T) {
	s := startServer(t, Config{})
	c := dialUDP(t, s, s.Credentials("alice", time.Now()))
	relay := c.allocate(t)
	peer := listenUDP(t)

	if err := c.CreatePermission(peer.LocalAddr()); turnCode(err) != stun.CodeForbidden {
		t.Errorf("CreatePermission for loopback: %v, want 403 Forbidden", err)
	}
	if _, err := relay.WriteTo([]byte("hello"), peer.LocalAddr()); err == nil {
		t.Error("WriteTo a loopback peer succeeded")
	}
	expectNothing(t, peer)
}

// TestRelayLoopbackForTests proves relaying works, both ways, with loopback
// peers allowed, over TURN on UDP and on TCP.
func TestRelayLoopbackForTests(t *testing.T) {
	s := startServer(t, Config{TCPAddr: "127.0.0.1:0", AllowLoopbackPeersForTests: true})
	if got := s.Credentials("alice", time.Now()).URLs; len(got) != 2 || !strings.HasSuffix(got[1], "?transport=tcp") {
		t.Errorf("URLs = %q, want a UDP and a TCP one", got)
	}
	for _, tt := range []struct {
		name string
		dial func(*testing.T, *Server, Credentials) client
	}{
		{"udp", dialUDP},
		{"tcp", dialTCP},
	} {
		t.Run(tt.name, func(t *testing.T) {
			relay := tt.dial(t, s, s.Credentials("alice-"+tt.name, time.Now())).allocate(t)
			peer := listenUDP(t)

			if _, err := relay.WriteTo([]byte("through the relay"), peer.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			if err := peer.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 1500)
			n, from, err := peer.ReadFrom(buf)
			if err != nil {
				t.Fatalf("peer read: %v", err)
			}
			if string(buf[:n]) != "through the relay" {
				t.Errorf("peer got %q", buf[:n])
			}
			if from.(*net.UDPAddr).Port != relay.LocalAddr().(*net.UDPAddr).Port {
				t.Errorf("datagram from %v, want the relayed address %v", from, relay.LocalAddr())
			}

			if _, err := peer.WriteTo([]byte("and back"), from); err != nil {
				t.Fatal(err)
			}
			if got := readString(t, relay); got != "and back" {
				t.Errorf("client got %q", got)
			}
		})
	}
}

// TestPrivatePeerRefusedForTests: the test option admits loopback only.
// CreatePermission carries the peer address to the server on loopback and
// sends nothing to the peer, whatever the answer.
func TestPrivatePeerRefusedForTests(t *testing.T) {
	s := startServer(t, Config{AllowLoopbackPeersForTests: true})
	c := dialUDP(t, s, s.Credentials("alice", time.Now()))
	c.allocate(t)

	for _, ip := range []string{"10.0.0.1", "192.168.1.1", "172.16.0.1", "100.64.0.1", "169.254.169.254"} {
		peer := &net.UDPAddr{IP: net.ParseIP(ip), Port: 9}
		if err := c.CreatePermission(peer); turnCode(err) != stun.CodeForbidden {
			t.Errorf("CreatePermission for %s: %v, want 403 Forbidden", ip, err)
		}
	}
	if err := c.CreatePermission(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}); err != nil {
		t.Errorf("CreatePermission for loopback: %v", err)
	}
}

// TestMediaPeer: a normal server reaches the media server's exact address,
// even on loopback, and nothing else there.
func TestMediaPeer(t *testing.T) {
	media := listenUDP(t)
	other := listenUDP(t)
	s := startServer(t, Config{MediaPeers: []netip.AddrPort{media.LocalAddr().(*net.UDPAddr).AddrPort()}})
	relay := dialUDP(t, s, s.Credentials("alice", time.Now())).allocate(t)

	if _, err := relay.WriteTo([]byte("to media"), media.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, media); got != "to media" {
		t.Errorf("media server got %q", got)
	}

	// The permission covers 127.0.0.1, but the relay socket refuses other
	// ports both ways.
	relay.WriteTo([]byte("to other"), other.LocalAddr())
	expectNothing(t, other)
	if _, err := other.WriteTo([]byte("from other"), relay.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if err := relay.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	if n, from, err := relay.ReadFrom(buf); err == nil {
		t.Errorf("client got %q from %v, want nothing", buf[:n], from)
	}
}

package turn

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// The addresses below are only classified, never contacted.
func TestPublicUnicast(t *testing.T) {
	tests := []struct {
		ip   string
		want bool
	}{
		// Public.
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"11.0.0.1", true},
		{"172.15.255.255", true},
		{"172.32.0.1", true},
		{"100.63.255.255", true},
		{"100.128.0.1", true},
		{"192.169.0.1", true},
		{"223.255.255.254", true},
		{"2606:4700:4700::1111", true},
		{"2a00:1450:4001:80b::200e", true},
		{"::ffff:8.8.8.8", true},
		// Private (RFC 1918) and CGNAT.
		{"10.0.0.1", false},
		{"10.255.255.255", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.0.1", false},
		{"192.168.255.255", false},
		{"100.64.0.1", false},
		{"100.127.255.255", false},
		// Loopback, unspecified, link-local.
		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"169.254.169.254", false},
		{"::1", false},
		{"::", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"fec0::1", false},
		// Unique local (RFC 4193).
		{"fc00::1", false},
		{"fd12:3456:789a::1", false},
		// Multicast and broadcast.
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"255.255.255.255", false},
		{"ff02::1", false},
		{"ff0e::1", false},
		// Reserved, documentation, benchmarking, protocol assignments.
		{"240.0.0.1", false},
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"192.88.99.1", false},
		{"198.18.0.1", false},
		{"198.19.255.255", false},
		{"198.51.100.1", false},
		{"203.0.113.1", false},
		{"2001:db8::1", false},
		{"3fff::1", false},
		{"100::1", false},
		// IPv6 forms that carry an IPv4 address.
		{"::ffff:10.0.0.1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:192.168.1.1", false},
		{"::ffff:169.254.1.1", false},
		{"::10.0.0.1", false},          // IPv4-compatible (deprecated)
		{"64:ff9b::a00:1", false},      // NAT64 of 10.0.0.1
		{"64:ff9b:1::a00:1", false},    // local-use NAT64
		{"2002:a00:1::1", false},       // 6to4 of 10.0.0.1
		{"2001:0:4136:e378::1", false}, // Teredo
		{"2001:2::1", false},           // benchmarking
		{"2001:20::1", false},          // ORCHIDv2
	}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.ip)
		if got := publicUnicast(ip); got != tt.want {
			t.Errorf("publicUnicast(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
	if publicUnicast(netip.Addr{}) {
		t.Error("publicUnicast(zero Addr) = true")
	}
}

func TestPeerPolicy(t *testing.T) {
	media := []netip.AddrPort{
		netip.MustParseAddrPort("10.0.0.5:10000"),
		netip.MustParseAddrPort("198.51.100.20:10000"), // stands for this host's public address
	}
	local := []netip.Addr{netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("198.51.100.20"), netip.MustParseAddr("8.8.4.4")}
	denied := []netip.Prefix{netip.MustParsePrefix("9.0.0.0/8"), netip.MustParsePrefix("::ffff:5.5.0.0/112")}
	normal := newPeerPolicy(media, local, denied, false, true)
	loopback := newPeerPolicy(media, local, denied, true, true)
	mediaOnly := newPeerPolicy(media, local, denied, false, false)

	tests := []struct {
		peer          string
		normal, tests bool
	}{
		{"8.8.8.8:3478", true, true},
		{"[2606:4700:4700::1111]:443", true, true},
		{"10.0.0.5:10000", true, true},          // the media server
		{"[::ffff:10.0.0.5]:10000", true, true}, // the media server, mapped
		{"10.0.0.5:22", false, false},           // the media server's host, another port
		{"198.51.100.20:10000", true, true},     // the media server on this host's public address
		{"198.51.100.20:5432", false, false},    // another service on it
		{"8.8.4.4:53", false, false},            // this host's own public address
		{"9.1.2.3:80", false, false},            // denied by the operator
		{"5.5.1.1:80", false, false},            // denied, given as IPv4-mapped
		{"5.6.1.1:80", true, true},
		{"127.0.0.1:9", false, true},
		{"[::1]:9", false, true},
		{"[::ffff:127.0.0.1]:9", false, true},
		{"10.0.0.1:9", false, false},
		{"192.168.1.1:9", false, false},
		{"172.16.0.1:9", false, false},
		{"100.64.0.1:9", false, false},
		{"169.254.169.254:80", false, false},
		{"[fe80::1]:9", false, false},
		{"[fd00::1]:9", false, false},
		{"0.0.0.0:9", false, false},
		{"224.0.0.1:9", false, false},
	}
	for _, tt := range tests {
		ap := netip.MustParseAddrPort(tt.peer)
		if got := normal.allowsAddrPort(ap); got != tt.normal {
			t.Errorf("normal: allowsAddrPort(%s) = %v, want %v", tt.peer, got, tt.normal)
		}
		if got := loopback.allowsAddrPort(ap); got != tt.tests {
			t.Errorf("loopback for tests: allowsAddrPort(%s) = %v, want %v", tt.peer, got, tt.tests)
		}
		// The default: the media server's exact addresses and nothing else.
		want := media[0] == netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()) || media[1] == ap
		if got := mediaOnly.allowsAddrPort(ap); got != want {
			t.Errorf("media only: allowsAddrPort(%s) = %v, want %v", tt.peer, got, want)
		}
	}

	// Permissions carry no port: the media server's IP is permitted, and the
	// relay socket checks the port.
	for _, tt := range []struct {
		ip   string
		want bool
	}{
		{"10.0.0.5", true},
		{"198.51.100.20", true},
		{"8.8.4.4", false},
		{"10.0.0.6", false},
		{"127.0.0.1", false},
		{"8.8.8.8", true},
	} {
		if got := normal.allowsIP(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("allowsIP(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
}

// TestPermit calls the permission handler given to pion/turn directly, for
// addresses that no test may send to.
func TestPermit(t *testing.T) {
	s := startServer(t, Config{AllowLoopbackPeersForTests: true, AllowPublicPeers: true})
	client := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}
	for _, tt := range []struct {
		peer string
		want bool
	}{
		{"127.0.0.1", true},
		{"::1", true},
		{"8.8.8.8", true},
		{"10.0.0.1", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"100.64.0.1", false},
		{"169.254.169.254", false},
		{"::ffff:10.0.0.1", false},
		{"fc00::1", false},
		{"fe80::1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"224.0.0.1", false},
	} {
		if got := s.permit(client, net.ParseIP(tt.peer)); got != tt.want {
			t.Errorf("permit(%s) = %v, want %v", tt.peer, got, tt.want)
		}
	}
	if s.permit(client, nil) {
		t.Error("permit(nil) = true")
	}
	// By default the relay reaches the media server alone: no public address.
	def := startServer(t, Config{})
	for _, peer := range []string{"8.8.8.8", "2606:4700:4700::1111", "127.0.0.1"} {
		if def.permit(client, net.ParseIP(peer)) {
			t.Errorf("by default, permit(%s) = true", peer)
		}
	}
}

// TestGuardedConn checks the relay socket's own filter, on loopback only.
func TestGuardedConn(t *testing.T) {
	peer := listenUDP(t)
	raw := listenUDP(t)
	media := peer.LocalAddr().(*net.UDPAddr).AddrPort()

	// Normal mode: a loopback peer is refused outright.
	g := guardedConn{PacketConn: raw, policy: newPeerPolicy(nil, nil, nil, false, true)}
	if _, err := g.WriteTo([]byte("x"), peer.LocalAddr()); !errors.Is(err, errPeerRefused) {
		t.Fatalf("WriteTo loopback peer: err = %v, want errPeerRefused", err)
	}
	expectNothing(t, peer)

	// With the media server's exact address allowed, it is reached, and
	// only it: datagrams from another port are dropped.
	g.policy = newPeerPolicy([]netip.AddrPort{media}, nil, nil, false, true)
	if _, err := g.WriteTo([]byte("to media"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, peer); got != "to media" {
		t.Fatalf("media peer got %q", got)
	}
	stranger := listenUDP(t)
	if _, err := stranger.WriteTo([]byte("stranger"), raw.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.WriteTo([]byte("from media"), raw.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, g); got != "from media" {
		t.Fatalf("relay read %q, want the media server's datagram only", got)
	}
}

func listenUDP(t *testing.T) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readString(t *testing.T, c net.PacketConn) string {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(buf[:n])
}

// expectNothing waits a little for a datagram that must not come.
func expectNothing(t *testing.T, c net.PacketConn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, from, err := c.ReadFrom(buf)
	if err == nil {
		t.Fatalf("got %q from %v, want nothing", buf[:n], from)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read: %v, want a timeout", err)
	}
}

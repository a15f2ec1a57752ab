package turn

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// errPeerRefused is returned when the relay would send to a peer the policy
// forbids.
var errPeerRefused = errors.New("turn: peer address refused")

// Address ranges that are not public unicast, beyond what netip's own
// predicates (IsPrivate, IsLoopback, IsLinkLocalUnicast, IsMulticast,
// IsUnspecified) already recognise. From the IANA special-purpose address
// registries (RFC 6890 and its updates). Some listed ranges are also caught by
// those predicates; they are kept so that the list reads as the whole policy.
var nonPublic4 = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network" (RFC 791)
	netip.MustParsePrefix("10.0.0.0/8"),      // private (RFC 1918)
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local
	netip.MustParsePrefix("172.16.0.0/12"),   // private (RFC 1918)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
	netip.MustParsePrefix("192.88.99.0/24"),  // deprecated 6to4 relay anycast
	netip.MustParsePrefix("192.168.0.0/16"),  // private (RFC 1918)
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
}

// global6 is the only IPv6 range allocated for global unicast; everything
// outside it (loopback, ULA fc00::/7, link-local, multicast, NAT64
// 64:ff9b::/96, discard 100::/64, IPv4-compatible …) is refused.
var global6 = netip.MustParsePrefix("2000::/3")

var nonPublic6 = []netip.Prefix{
	netip.MustParsePrefix("2001::/23"),     // IETF protocol assignments: Teredo, benchmarking, ORCHID
	netip.MustParsePrefix("2001:db8::/32"), // documentation
	netip.MustParsePrefix("2002::/16"),     // 6to4: embeds an IPv4 address, which may be private
	netip.MustParsePrefix("3fff::/20"),     // documentation (RFC 9637)
}

// publicUnicast reports whether ip is a public unicast address: one the relay
// may send to. IPv4-mapped IPv6 addresses are judged as the IPv4 address they
// carry.
func publicUnicast(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.Zone() != "" || !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	ranges := nonPublic4
	if ip.Is6() {
		if !global6.Contains(ip) {
			return false
		}
		ranges = nonPublic6
	}
	for _, p := range ranges {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// peerPolicy decides which peers the relay may reach. It is built once and
// only read afterwards, so it needs no lock.
type peerPolicy struct {
	// media are exact addresses that are always allowed (Attaché's own
	// media server), and mediaIPs their IP addresses, for permissions,
	// which carry no port.
	media    map[netip.AddrPort]bool
	mediaIPs map[netip.Addr]bool
	// local are this host's own addresses: refused even when public, since
	// relaying to them would reach services that an outside firewall hides.
	local map[netip.Addr]bool
	// denied are further ranges the operator refuses (an internal network
	// on public addresses).
	denied []netip.Prefix
	// allowLoopback admits loopback peers: for tests only.
	allowLoopback bool
	// public admits public unicast peers beyond the media server: off by
	// default, since Attaché's relay has nothing else to reach.
	public bool
}

func newPeerPolicy(media []netip.AddrPort, local []netip.Addr, denied []netip.Prefix, allowLoopback, public bool) *peerPolicy {
	p := &peerPolicy{
		media:         make(map[netip.AddrPort]bool, len(media)),
		mediaIPs:      make(map[netip.Addr]bool, len(media)),
		local:         make(map[netip.Addr]bool, len(local)),
		allowLoopback: allowLoopback,
		public:        public,
	}
	for _, m := range media {
		m = netip.AddrPortFrom(m.Addr().Unmap(), m.Port())
		p.media[m] = true
		p.mediaIPs[m.Addr()] = true
	}
	for _, a := range local {
		if a.IsValid() {
			p.local[a.Unmap()] = true
		}
	}
	for _, d := range denied {
		if d.Addr().Is4In6() {
			// ::ffff:10.0.0.0/104 means 10.0.0.0/8: peers are compared unmapped.
			d = netip.PrefixFrom(d.Addr().Unmap(), d.Bits()-96)
		}
		p.denied = append(p.denied, d.Masked())
	}
	return p
}

// allowsIP reports whether the relay may hold a permission for ip. A
// permission carries no port; the relay socket checks the port of every
// datagram (allowsAddrPort).
func (p *peerPolicy) allowsIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	return p.mediaIPs[ip] || p.allowsHost(ip)
}

// allowsAddrPort reports whether the relay may exchange datagrams with ap.
func (p *peerPolicy) allowsAddrPort(ap netip.AddrPort) bool {
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	return p.media[ap] || p.allowsHost(ap.Addr())
}

func (p *peerPolicy) allowsHost(ip netip.Addr) bool {
	if p.allowLoopback && ip.IsLoopback() {
		return true
	}
	if !p.public || p.local[ip] || !publicUnicast(ip) {
		return false
	}
	for _, d := range p.denied {
		if d.Contains(ip) {
			return false
		}
	}
	return true
}

// addrPort converts a UDP address from the network stack.
func addrPort(a net.Addr) (netip.AddrPort, bool) {
	u, ok := a.(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	return u.AddrPort(), true
}

// guardedConn is a relay socket that enforces the peer policy on every
// datagram, whatever path inside pion/turn sent it (Send indication or
// ChannelData): a second line behind the permission check, and the only one
// that sees ports.
type guardedConn struct {
	net.PacketConn
	policy *peerPolicy
}

func (c guardedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if ap, ok := addrPort(addr); !ok || !c.policy.allowsAddrPort(ap) {
		return 0, fmt.Errorf("%w: %v", errPeerRefused, addr)
	}
	return c.PacketConn.WriteTo(b, addr)
}

// ReadFrom drops datagrams from refused peers. It never reports them as an
// error: pion/turn ends the allocation on a read error.
func (c guardedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, addr, err
		}
		if ap, ok := addrPort(addr); ok && c.policy.allowsAddrPort(ap) {
			return n, addr, nil
		}
	}
}

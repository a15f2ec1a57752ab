package turn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"

	pionturn "github.com/pion/turn/v5"
)

var (
	errTCPRelay     = errors.New("turn: TCP relay allocations (RFC 6062) are not offered")
	errRelayFamily  = errors.New("turn: relay address family not offered")
	errRelayPortOut = errors.New("turn: requested relay port outside the relay port range")
)

// portTries is how many random ports of the range are tried per allocation.
const portTries = 20

// relayAddrs makes the relay sockets of allocations: bound to the listen IP
// (or every interface), announced to clients as the relay IP, on a port of
// the configured range, and guarded by the peer policy. It implements
// pionturn.RelayAddressGenerator.
type relayAddrs struct {
	relayIP          netip.Addr // announced
	bindIP           netip.Addr // the listen IP; invalid for every interface
	portMin, portMax uint16     // 0, 0 for any port
	policy           *peerPolicy
}

var _ pionturn.RelayAddressGenerator = (*relayAddrs)(nil)

// Validate is called by pion/turn at start; New has validated already.
func (r *relayAddrs) Validate() error { return nil }

// AllocatePacketConn opens the UDP relay socket of a new allocation.
func (r *relayAddrs) AllocatePacketConn(conf pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	if (conf.Network == "udp4") != r.relayIP.Is4() {
		return nil, nil, fmt.Errorf("%w: %s", errRelayFamily, conf.Network)
	}
	bind := r.bindIP
	if !bind.IsValid() {
		bind = netip.IPv4Unspecified()
		if r.relayIP.Is6() {
			bind = netip.IPv6Unspecified()
		}
	}
	var ports []uint16
	switch {
	case conf.RequestedPort != 0:
		p := uint16(conf.RequestedPort)
		if r.portMax != 0 && (p < r.portMin || p > r.portMax) {
			return nil, nil, fmt.Errorf("%w: %d", errRelayPortOut, p)
		}
		ports = []uint16{p}
	case r.portMax == 0:
		ports = []uint16{0}
	default:
		for range portTries {
			ports = append(ports, r.portMin+uint16(rand.IntN(int(r.portMax-r.portMin)+1)))
		}
	}
	var err error
	for _, p := range ports {
		var conn net.PacketConn
		conn, err = net.ListenPacket(conf.Network, netip.AddrPortFrom(bind, p).String())
		if err != nil {
			continue
		}
		local, ok := conn.LocalAddr().(*net.UDPAddr)
		if !ok {
			conn.Close()
			return nil, nil, fmt.Errorf("turn: relay socket has address %T", conn.LocalAddr())
		}
		relay := &net.UDPAddr{IP: r.relayIP.AsSlice(), Port: local.Port}
		return guardedConn{PacketConn: conn, policy: r.policy}, relay, nil
	}
	return nil, nil, fmt.Errorf("turn: open relay socket on %s: %w", bind, err)
}

// AllocateListener refuses TCP allocations: browsers relay WebRTC over UDP
// allocations only (also when they reach TURN over TCP), and TCP relaying
// would be a general-purpose TCP proxy.
func (r *relayAddrs) AllocateListener(pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errTCPRelay
}

// AllocateConn refuses outgoing TCP connections, as AllocateListener does.
func (r *relayAddrs) AllocateConn(pionturn.AllocateConnConfig) (net.Conn, error) {
	return nil, errTCPRelay
}

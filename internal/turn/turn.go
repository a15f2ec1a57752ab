// Package turn is Attaché's optional embedded TURN server (RFC 8656, on
// pion/turn), for participants whose networks block the media server's UDP.
// Each participant gets their own expiring credentials, signed with a shared
// secret (Credentials). The relay refuses to reach private, loopback,
// link-local, CGNAT, multicast and other non-public addresses, and this
// host's own addresses, so that TURN cannot be used to reach the operator's
// internal network; the only exceptions are the exact addresses of
// Attaché's media server (Config.MediaPeers). By default it reaches nothing
// but those: a participant's credentials are no general-purpose relay.
package turn

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	pionturn "github.com/pion/turn/v5"
)

// Defaults.
const (
	DefaultRealm         = "attache"
	DefaultCredentialTTL = 12 * time.Hour
)

// allocationsPerParticipant caps the live allocations of one participant, so
// that a leaked credential cannot exhaust the host's sockets. A browser makes
// one per local interface and TURN URL, and more during an ICE restart.
const allocationsPerParticipant = 20

// minSecretLen is the shortest shared secret accepted. Every participant
// holds a username and its HMAC, so a short secret could be guessed offline.
const minSecretLen = 16

// Config is the TURN server's setup.
type Config struct {
	// UDPAddr is where TURN listens on UDP, HOST:PORT, e.g. ":3478".
	UDPAddr string
	// TCPAddr, if not empty, also serves TURN over TCP, for networks that
	// block UDP; usually the same port as UDPAddr. Relaying is over UDP
	// either way.
	TCPAddr string
	// Realm is the TURN realm; DefaultRealm when empty.
	Realm string
	// RelayIP is the address announced to clients for their relayed
	// addresses, and put in the TURN URLs: the public IP. It is required
	// unless UDPAddr names a specific IP, which is then used.
	RelayIP netip.Addr
	// RelayPortMin and RelayPortMax bound the UDP ports of relayed
	// addresses (both or neither); any free port when zero.
	RelayPortMin, RelayPortMax uint16
	// Secret signs the credentials; at least 16 characters. When empty, a
	// random secret is made at start and kept in memory only: credentials
	// then do not survive a restart or work on another instance.
	Secret string
	// CredentialTTL is how long Credentials are valid;
	// DefaultCredentialTTL when zero.
	CredentialTTL time.Duration
	// MediaPeers are the exact addresses (IP and port) of Attaché's media
	// server as browsers see them. The relay may reach them even when they
	// are private, loopback or this host's own, which it refuses otherwise.
	MediaPeers []netip.AddrPort
	// DeniedPeers are further ranges the relay refuses, e.g. an internal
	// network on public addresses.
	DeniedPeers []netip.Prefix
	// AllowPublicPeers lets the relay reach any public unicast address
	// (outside DeniedPeers), not only the media server: a general-purpose
	// TURN server, which Attaché's calls do not need.
	AllowPublicPeers bool
	// AllowLoopbackPeersForTests lets the relay reach loopback addresses
	// (never private ones). It exists for tests on one machine; a server
	// that sets it lets TURN clients reach every local service.
	AllowLoopbackPeersForTests bool
}

// Server is a running TURN server.
type Server struct {
	log    *slog.Logger
	realm  string
	secret []byte
	ttl    time.Duration
	policy *peerPolicy
	udp    net.PacketConn
	tcp    *trackedListener // nil without TCP
	urls   []string
	turn   *pionturn.Server

	mu     sync.Mutex
	now    func() time.Time
	allocs map[string]int // live allocations by participant
}

// New starts a TURN server listening on cfg.UDPAddr (and cfg.TCPAddr).
func New(cfg Config, log *slog.Logger) (*Server, error) {
	udpIP, err := listenIP(cfg.UDPAddr)
	if err != nil {
		return nil, fmt.Errorf("turn: UDP address %q: %w", cfg.UDPAddr, err)
	}
	var tcpIP netip.Addr
	if cfg.TCPAddr != "" {
		if tcpIP, err = listenIP(cfg.TCPAddr); err != nil {
			return nil, fmt.Errorf("turn: TCP address %q: %w", cfg.TCPAddr, err)
		}
	}
	relayIP := cfg.RelayIP.Unmap()
	if !relayIP.IsValid() {
		if !udpIP.IsValid() || udpIP.IsUnspecified() {
			return nil, fmt.Errorf("turn: a relay IP (the public address) is needed when UDP listens on every interface (%q)", cfg.UDPAddr)
		}
		relayIP = udpIP
	}
	if relayIP.IsUnspecified() || relayIP.IsMulticast() || relayIP.Zone() != "" {
		return nil, fmt.Errorf("turn: relay IP %s cannot be announced", relayIP)
	}
	bindIP := udpIP
	if bindIP.IsUnspecified() {
		bindIP = netip.Addr{}
	}
	if bindIP.IsValid() && bindIP.Is4() != relayIP.Is4() {
		return nil, fmt.Errorf("turn: relay IP %s and UDP listen IP %s are of different families", relayIP, bindIP)
	}
	if (cfg.RelayPortMin == 0) != (cfg.RelayPortMax == 0) || cfg.RelayPortMin > cfg.RelayPortMax {
		return nil, fmt.Errorf("turn: relay port range %d-%d: want both ends, low to high, or neither", cfg.RelayPortMin, cfg.RelayPortMax)
	}
	if cfg.CredentialTTL < 0 {
		return nil, fmt.Errorf("turn: credential lifetime %s is negative", cfg.CredentialTTL)
	}

	s := &Server{
		log:    log,
		realm:  cfg.Realm,
		secret: []byte(cfg.Secret),
		ttl:    cfg.CredentialTTL,
		now:    time.Now,
		allocs: map[string]int{},
	}
	if s.realm == "" {
		s.realm = DefaultRealm
	}
	if s.ttl == 0 {
		s.ttl = DefaultCredentialTTL
	}
	switch {
	case cfg.Secret == "":
		s.secret = []byte(rand.Text())
		log.Info("turn: no shared secret configured; using a random one until this process ends")
	case len(cfg.Secret) < minSecretLen:
		return nil, fmt.Errorf("turn: the shared secret is shorter than %d characters", minSecretLen)
	}

	local, err := localIPs()
	if err != nil {
		return nil, err
	}
	local = append(local, relayIP, udpIP, tcpIP)
	s.policy = newPeerPolicy(cfg.MediaPeers, local, cfg.DeniedPeers, cfg.AllowLoopbackPeersForTests, cfg.AllowPublicPeers)
	if cfg.AllowLoopbackPeersForTests {
		log.Warn("turn: relaying to loopback addresses is allowed: for tests only")
	}
	if !publicUnicast(relayIP) && !cfg.AllowLoopbackPeersForTests {
		log.Warn("turn: the relay IP is not a public address; remote browsers cannot reach it", slog.String("relay_ip", relayIP.String()))
	}

	if s.udp, err = net.ListenPacket("udp", cfg.UDPAddr); err != nil {
		return nil, fmt.Errorf("turn: listen on UDP %s: %w", cfg.UDPAddr, err)
	}
	relays := &relayAddrs{relayIP: relayIP, bindIP: bindIP, portMin: cfg.RelayPortMin, portMax: cfg.RelayPortMax, policy: s.policy}
	pcfg := pionturn.ServerConfig{
		Realm:        s.realm,
		AuthHandler:  s.authenticate,
		QuotaHandler: s.quota,
		EventHandler: pionturn.EventHandler{
			OnAuth:              s.onAuth,
			OnAllocationCreated: s.onAllocationCreated,
			OnAllocationDeleted: s.onAllocationDeleted,
		},
		LoggerFactory: pionLogs{log: log},
		// A request without REQUESTED-ADDRESS-FAMILY gets an IPv4 relay (RFC
		// 6156), not one of the family of the client's own transport, which
		// is pion/turn's default: with an IPv4 relay IP, IPv6 clients are
		// then served too.
		StrictAddressFamily: relayIP.Is4(),
		PacketConnConfigs: []pionturn.PacketConnConfig{{
			PacketConn: s.udp, RelayAddressGenerator: relays, PermissionHandler: s.permit,
		}},
	}
	urlHost := relayIP.String()
	s.urls = []string{turnURL(urlHost, s.udp.LocalAddr(), "udp")}
	if cfg.TCPAddr != "" {
		ln, err := net.Listen("tcp", cfg.TCPAddr)
		if err != nil {
			s.udp.Close()
			return nil, fmt.Errorf("turn: listen on TCP %s: %w", cfg.TCPAddr, err)
		}
		s.tcp = &trackedListener{Listener: ln, log: log, conns: map[net.Conn]struct{}{}}
		pcfg.ListenerConfigs = []pionturn.ListenerConfig{{
			Listener: s.tcp, RelayAddressGenerator: relays, PermissionHandler: s.permit,
		}}
		s.urls = append(s.urls, turnURL(urlHost, ln.Addr(), "tcp"))
	}
	if s.turn, err = pionturn.NewServer(pcfg); err != nil {
		s.udp.Close()
		if s.tcp != nil {
			s.tcp.Close()
		}
		return nil, fmt.Errorf("turn: start: %w", err)
	}
	return s, nil
}

// Close stops the server and closes its sockets. The relay sockets of open
// allocations close shortly after it returns.
func (s *Server) Close() error {
	if err := s.turn.Close(); err != nil {
		return fmt.Errorf("turn: close: %w", err)
	}
	return nil
}

// UDPAddr is the address TURN listens on over UDP.
func (s *Server) UDPAddr() net.Addr { return s.udp.LocalAddr() }

// TCPAddr is the address TURN listens on over TCP, or nil.
func (s *Server) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// SetClock replaces the clock credentials are checked against; for tests.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

func (s *Server) clock() func() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// permit is the pion/turn PermissionHandler, called for CreatePermission,
// ChannelBind and Connect requests.
func (s *Server) permit(client net.Addr, peer net.IP) bool {
	ip, ok := netip.AddrFromSlice(peer)
	if ok && s.policy.allowsIP(ip) {
		return true
	}
	s.log.Debug("turn: peer refused", slog.Any("client", client), slog.String("peer", peer.String()))
	return false
}

// quota is the pion/turn QuotaHandler.
func (s *Server) quota(participant, _ string, client net.Addr) bool {
	s.mu.Lock()
	n := s.allocs[participant]
	s.mu.Unlock()
	if n >= allocationsPerParticipant {
		s.log.Info("turn: allocation quota reached", slog.String("participant", participant), slog.Any("client", client))
		return false
	}
	return true
}

func (s *Server) onAuth(client, _ net.Addr, transport, username, _, method string, ok bool) {
	if !ok {
		s.log.Debug("turn: wrong password", slog.String("username", username),
			slog.Any("client", client), slog.String("transport", transport), slog.String("method", method))
	}
}

func (s *Server) onAllocationCreated(client, _ net.Addr, transport, participant, _ string, relay net.Addr, _ int) {
	s.mu.Lock()
	s.allocs[participant]++
	s.mu.Unlock()
	s.log.Debug("turn: allocation created", slog.String("participant", participant),
		slog.Any("client", client), slog.String("transport", transport), slog.Any("relay", relay))
}

func (s *Server) onAllocationDeleted(client, _ net.Addr, transport, participant, _ string) {
	s.mu.Lock()
	if s.allocs[participant] <= 1 {
		delete(s.allocs, participant)
	} else {
		s.allocs[participant]--
	}
	s.mu.Unlock()
	s.log.Debug("turn: allocation deleted", slog.String("participant", participant),
		slog.Any("client", client), slog.String("transport", transport))
}

// listenIP returns the IP of a HOST:PORT listen address; the zero Addr when
// the host is empty.
func listenIP(hostPort string) (netip.Addr, error) {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return netip.Addr{}, errors.New("want HOST:PORT, e.g. :3478")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return netip.Addr{}, errors.New("the port must be a number from 0 to 65535")
	}
	if host == "" {
		return netip.Addr{}, nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, errors.New("the host must be an IP address or empty for all interfaces")
	}
	return ip.Unmap(), nil
}

// localIPs are the addresses of this host's interfaces.
func localIPs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("turn: list this host's addresses: %w", err)
	}
	var ips []netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				ips = append(ips, ip.Unmap())
			}
		}
	}
	return ips, nil
}

// turnURL is a TURN URI (RFC 7065) for browsers.
func turnURL(host string, listen net.Addr, transport string) string {
	_, port, _ := net.SplitHostPort(listen.String())
	return "turn:" + net.JoinHostPort(host, port) + "?transport=" + transport
}

// trackedListener is the TCP listener handed to pion/turn. pion/turn stops
// accepting for good on the first Accept error and leaves accepted
// connections open when it closes the listener; this keeps accepting after
// transient errors (such as running out of file descriptors) and closes the
// connections with the listener.
type trackedListener struct {
	net.Listener
	log *slog.Logger

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

func (l *trackedListener) Accept() (net.Conn, error) {
	var wait time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.mu.Lock()
			closed := l.closed
			l.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			wait = min(max(2*wait, 5*time.Millisecond), time.Second)
			l.log.Warn("turn: accept TCP connection", slog.Any("err", err), slog.Duration("retry_in", wait))
			time.Sleep(wait)
			continue
		}
		return l.track(c)
	}
}

func (l *trackedListener) track(c net.Conn) (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, l: l}
	l.conns[tc] = struct{}{}
	return tc, nil
}

func (l *trackedListener) Close() error {
	l.mu.Lock()
	l.closed = true
	conns := make([]net.Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	err := l.Listener.Close()
	for _, c := range conns {
		c.Close()
	}
	return err
}

type trackedConn struct {
	net.Conn
	l *trackedListener
}

func (c *trackedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

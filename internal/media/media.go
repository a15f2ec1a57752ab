// Package media is Attaché's media server: a selective forwarding unit on
// Pion WebRTC. Each participant of a visit has one PeerConnection; the audio
// and video each publisher sends are forwarded, without decoding, to every
// other participant. The server always makes the offers (the browser only
// answers), so that renegotiation has one side and cannot collide.
// Signalling runs over a WebSocket as JSON messages with trickle ICE.
//
// The package knows rooms and participants, not cases: the visits package
// decides who may enter a room and with which role.
package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/webrtc/v4"
)

// Config is the media server's network setup.
type Config struct {
	// UDPAddr is the one UDP address all media goes through (ICE UDP mux).
	UDPAddr string
	// TCPAddr, when set, is the TCP address for ICE over TCP (RFC 6544,
	// passive): the fallback for networks that block UDP.
	TCPAddr string
	// PublicIPs are announced instead of the local addresses (1:1 NAT).
	PublicIPs []string
	// Loopback makes loopback candidates usable: for tests on one machine.
	Loopback bool
	// OnEnd, when set, is told once when a call ends: which room, why
	// (EndedByHost, …) and who ended it (zero for the clock or a shutdown).
	OnEnd func(room, reason string, by Info)
	// Recorder, when set, lets calls be recorded as its policy allows.
	Recorder Recorder
	// Ledger, when set, keeps the admissions and mutes a host decides, so
	// that a call rebuilt elsewhere keeps them.
	Ledger Ledger
}

// Ledger keeps what a host decides in a call beyond this process. Admitted
// is called before the participant is let in (an error keeps them waiting).
// Recording is told when a recording starts running (the state to resume
// it from) and when it ends for good (nil); a recording stopped because
// its room moves to another server is not ended.
type Ledger interface {
	Admitted(room, id, token string) error
	Removed(room, id string) error
	Muted(room, id string, on bool) error
	Recording(room string, rec *RecordingState) error
}

// RecordingState is a running recording as kept beyond this process: a
// call rebuilt on another server continues it (Room.Resume) in new files on
// the same timeline.
type RecordingState struct {
	ID      string    `json:"id"`
	Start   time.Time `json:"start"`
	Consent bool      `json:"consent"`          // it needs everyone's consent
	Agreed  []string  `json:"agreed,omitempty"` // who consented
	By      Info      `json:"by"`               // who started it
}

// Role is what a participant may do in a call.
type Role string

// The roles. A monitor receives everything and sends nothing.
const (
	RoleOfficer     Role = "officer"
	RoleInterpreter Role = "interpreter"
	RoleDetainee    Role = "detainee"
	RoleMonitor     Role = "monitor"
)

// roleOrder is the order of the participant list: the consulate's side,
// the interpreter, the detainee, the monitor.
var roleOrder = map[Role]int{RoleOfficer: 0, RoleInterpreter: 1, RoleDetainee: 2, RoleMonitor: 3}

// Ends reports whether the role may end the call for everyone: the host
// officer, and the detaining state's monitor (who can cut it, visibly).
func (r Role) Ends() bool { return r == RoleOfficer || r == RoleMonitor }

// Publishes reports whether the role sends audio and video.
func (r Role) Publishes() bool { return r != RoleMonitor }

// Server holds the rooms.
type Server struct {
	api      *webrtc.API
	log      *slog.Logger
	udp      net.PacketConn
	mux      ice.UDPMux
	tcp      net.Listener // nil without ICE-TCP
	tcpMx    ice.TCPMux
	onEnd    func(room, reason string, by Info)
	recorder Recorder
	ledger   Ledger

	closeOnce sync.Once
	closeErr  error
	sinks     sync.WaitGroup // recorded tracks being finished

	mu    sync.Mutex
	rooms map[string]*Room
}

// New starts the media server listening on cfg.UDPAddr.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	conn, err := net.ListenPacket("udp", cfg.UDPAddr)
	if err != nil {
		return nil, fmt.Errorf("media: listen on UDP %s: %w", cfg.UDPAddr, err)
	}
	// One socket carries every call, read by one goroutine: a burst while
	// it waits must not overflow the kernel's buffer (the default, about
	// 200 KiB, overflows at about 15 visits). The kernel may cap it at
	// net.core.rmem_max.
	if u, ok := conn.(*net.UDPConn); ok {
		if err := u.SetReadBuffer(udpBuffer); err != nil {
			log.Warn("media: cannot enlarge the UDP receive buffer", slog.String("error", err.Error()))
		}
		_ = u.SetWriteBuffer(udpBuffer)
	}
	var se webrtc.SettingEngine
	mux := webrtc.NewICEUDPMux(nil, conn)
	se.SetICEUDPMux(mux)
	s := &Server{log: log, udp: conn, mux: mux, onEnd: cfg.OnEnd, recorder: cfg.Recorder, ledger: cfg.Ledger, rooms: map[string]*Room{}}
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if cfg.TCPAddr != "" {
		ln, err := net.Listen("tcp", cfg.TCPAddr)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("media: listen on TCP %s: %w", cfg.TCPAddr, err)
		}
		s.tcp, s.tcpMx = ln, webrtc.NewICETCPMux(nil, ln, 32)
		se.SetICETCPMux(s.tcpMx)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
	if cfg.Loopback {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	// No multicast DNS: candidates are addresses, never .local names.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if len(cfg.PublicIPs) > 0 {
		se.SetNAT1To1IPs(cfg.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	var me webrtc.MediaEngine
	if err := me.RegisterDefaultCodecs(); err != nil {
		s.closeSockets()
		return nil, fmt.Errorf("media: codecs: %w", err)
	}
	// NACK, RTCP reports and congestion feedback, as a browser expects.
	var ir interceptor.Registry
	if err := registerInterceptors(&me, &ir); err != nil {
		s.closeSockets()
		return nil, fmt.Errorf("media: interceptors: %w", err)
	}
	s.api = webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&me), webrtc.WithInterceptorRegistry(&ir))
	return s, nil
}

// udpBuffer is the size asked for the media socket's kernel buffers.
const udpBuffer = 4 << 20

// registerInterceptors sets up what a browser expects of its peer (NACK,
// RTCP reports, transport-wide congestion feedback), tuned for a server
// that forwards many calls: a lost packet is asked for again at most three
// times (Pion's default asks every 100 ms for as long as it remembers,
// and the resends overflow the socket further: the load test collapsed at
// 15 visits), the answer cache keeps 256 packets of each track (1.4 s of
// 1.5 Mbit/s video) instead of 1,024, and no statistics interceptor, which
// the server never reads.
func registerInterceptors(me *webrtc.MediaEngine, ir *interceptor.Registry) error {
	if err := webrtc.ConfigureNackWithOptions(me, ir, []nack.GeneratorOption{nack.GeneratorMaxNacksPerPacket(3)}, nack.ResponderSize(256)); err != nil {
		return err
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return err
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		return err
	}
	return webrtc.ConfigureTWCCSender(me, ir)
}

// UDPAddr is the address the media goes through.
func (s *Server) UDPAddr() net.Addr { return s.udp.LocalAddr() }

// TCPAddr is the ICE-TCP address, or nil without ICE-TCP.
func (s *Server) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// closeSockets stops listening. The muxes mark themselves closed before
// closing their sockets, so that their readers stop quietly instead of
// reporting a closed connection.
func (s *Server) closeSockets() error {
	var err error
	if s.tcpMx != nil {
		err = s.tcpMx.Close()
		_ = s.tcp.Close()
	}
	return errors.Join(s.mux.Close(), err)
}

// Close ends every room and stops listening; closing again does nothing.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		rooms := make([]*Room, 0, len(s.rooms))
		for _, r := range s.rooms {
			rooms = append(rooms, r)
		}
		s.mu.Unlock()
		for _, r := range rooms {
			r.End(EndedShutdown)
		}
		s.sinks.Wait() // every recorded track finished and kept
		s.closeErr = s.closeSockets()
	})
	return s.closeErr
}

// Room returns the room of a visit, making it on first use.
func (s *Server) Room(id string) *Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[id]
	if !ok {
		r = &Room{id: id, server: s, peers: map[string]*Peer{}, waiting: map[string]*Peer{}, admitted: map[string]string{}, muted: map[string]bool{}}
		s.rooms[id] = r
	}
	return r
}

// Remove takes a participant out of a visit's call or its waiting room,
// telling them why (EndedRemoved); they may come back only if admitted
// again.
func (s *Server) Remove(room, id string) {
	s.mu.Lock()
	r, ok := s.rooms[room]
	s.mu.Unlock()
	if ok {
		_ = r.remove(id, false)
	}
}

// Release ends a visit's call here without ending the visit: everyone is
// told the server stops (their pages reconnect, to wherever the call goes
// on) and the room is forgotten, so that it can be held here again later.
func (s *Server) Release(room string) {
	s.mu.Lock()
	r, ok := s.rooms[room]
	s.mu.Unlock()
	if ok {
		r.End(EndedShutdown)
	}
}

// Rooms lists the visits whose calls this server holds.
func (s *Server) Rooms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.rooms))
	for id, r := range s.rooms {
		r.mu.Lock()
		if !r.ended {
			out = append(out, id)
		}
		r.mu.Unlock()
	}
	return out
}

// Ended reports whether the call of a visit was ended, without making a room.
func (s *Server) Ended(id string) bool { return s.EndReason(id) != "" }

// EndReason says why the call of a visit ended (EndedByHost, …), or "" if
// it did not.
func (s *Server) EndReason(id string) string {
	s.mu.Lock()
	r, ok := s.rooms[id]
	s.mu.Unlock()
	if !ok {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.why
}

// Message is one signalling message.
type Message struct {
	Type         string                   `json:"type"`
	SDP          string                   `json:"sdp,omitempty"`
	Candidate    *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	Participants []Info                   `json:"participants,omitempty"`
	Reason       string                   `json:"reason,omitempty"`
	Seconds      int                      `json:"seconds,omitempty"` // "ending": how long is left
	Error        string                   `json:"error,omitempty"`
	// Waiting is who waits to be admitted, told to officers only.
	Waiting []Info `json:"waiting,omitempty"`
	// ID is whom a host's "admit", "remove" or "mute" is about.
	ID string `json:"id,omitempty"`
	// Muted is a host's "mute" (true) or unmute (false), and the news of it.
	Muted bool `json:"muted,omitempty"`
	// On is an officer's "record" (start or stop), a participant's
	// "consent" (agree or not), and whether a "recording" runs.
	On bool `json:"on,omitempty"`
	// Resume is the token an admitted participant's page shows to come
	// back after a drop without waiting ("admitted").
	Resume string `json:"resume,omitempty"`
	// Stats are a page's connection statistics ("stats").
	Stats *Stats `json:"stats,omitempty"`
	// ICEServers are the relays the page may use ("ice"), sent before
	// anything else.
	ICEServers []ICEServer `json:"ice_servers,omitempty"`
}

// ICEServer is a STUN or TURN server for the page, as an RTCIceServer.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Stats are what a page measured of its connection over the last interval.
type Stats struct {
	LossPct  float64 `json:"loss_pct"`  // of the packets it should have received
	RTTms    float64 `json:"rtt_ms"`    // round trip to the server
	JitterMs float64 `json:"jitter_ms"` // of what it receives
	KbpsIn   float64 `json:"kbps_in"`
	KbpsOut  float64 `json:"kbps_out"`
}

// Info is a participant as the others see them.
type Info struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Stream is the media stream id of their tracks, for the page to
	// match tiles to people.
	Stream string `json:"stream"`
	// Muted says a host silenced them.
	Muted bool `json:"muted,omitempty"`
}

// Conn is a signalling connection (a WebSocket in production).
type Conn interface {
	Read(ctx context.Context) (Message, error)
	Write(ctx context.Context, m Message) error
}

// keyframeEvery asks publishers for a keyframe regularly as well as when a
// subscriber needs one, so that a late joiner sees video at once.
const keyframeEvery = 3 * time.Second

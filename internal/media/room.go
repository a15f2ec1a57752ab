package media

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Room is the call of one visit.
type Room struct {
	id     string
	server *Server
	mu     sync.Mutex
	peers  map[string]*Peer
	ended  bool
	timers []*time.Timer // the warning and the end, once limited
	// tracks are the forwarded tracks by publisher.
	tracks []*forward
}

// forward is one published track and its copies for the subscribers.
type forward struct {
	from   *Peer
	remote *webrtc.TrackRemote
	local  *webrtc.TrackLocalStaticRTP
	pc     *webrtc.PeerConnection // the publisher's, to send keyframe requests
}

// Peer is a participant's connection.
type Peer struct {
	ID   string
	Name string
	Role Role

	room    *Room
	pc      *webrtc.PeerConnection
	conn    Conn
	sendMu  sync.Mutex
	negMu   sync.Mutex
	pending bool // a renegotiation is wanted while one is in flight
	waiting bool // an offer awaits its answer
	offered bool // an offer has been sent: candidates may follow it
	queued  []webrtc.ICECandidateInit
	closed  chan struct{}
	once    sync.Once
	senders map[*forward]*webrtc.RTPSender
}

func (p *Peer) info() Info { return Info{ID: p.ID, Name: p.Name, Role: p.Role, Stream: p.ID} }

func (p *Peer) send(ctx context.Context, m Message) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	return p.conn.Write(ctx, m)
}

// Join runs a participant's session until they leave or the room ends. The
// caller has admitted them (who, which role).
func (r *Room) Join(ctx context.Context, id, name string, role Role, conn Conn) error {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return errors.New("media: the visit is over")
	}
	r.mu.Unlock()
	pc, err := r.server.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return fmt.Errorf("media: peer connection: %w", err)
	}
	p := &Peer{ID: id, Name: name, Role: role, room: r, pc: pc, conn: conn, closed: make(chan struct{}), senders: map[*forward]*webrtc.RTPSender{}}
	defer p.close()
	// Closing the peer (the room ending, the connection failing) ends the
	// session even while it waits for a message.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	// A data channel gives every offer, even a monitor's before anyone
	// publishes, a transport to connect.
	if _, err := pc.CreateDataChannel("control", nil); err != nil {
		return fmt.Errorf("media: data channel: %w", err)
	}
	// What the participant may send: audio and video, or nothing (a monitor).
	dir := webrtc.RTPTransceiverDirectionRecvonly
	if role.Publishes() {
		for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: dir}); err != nil {
				return fmt.Errorf("media: transceiver: %w", err)
			}
		}
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		p.negMu.Lock()
		if !p.offered {
			p.queued = append(p.queued, init)
			p.negMu.Unlock()
			return
		}
		p.negMu.Unlock()
		_ = p.send(ctx, Message{Type: "candidate", Candidate: &init})
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		if !role.Publishes() {
			return
		}
		r.publish(p, t)
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		r.server.log.Debug("media: connection state", slog.String("room", r.id), slog.String("peer", id), slog.String("state", s.String()))
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			p.close()
		}
	})

	r.mu.Lock()
	if old, ok := r.peers[id]; ok {
		old.close() // the same person reconnecting: the new session wins
	}
	r.peers[id] = p
	for _, f := range r.tracks {
		if f.from != p {
			p.subscribe(f)
		}
	}
	r.mu.Unlock()
	defer r.leave(p)
	r.announce(ctx)
	if err := p.negotiate(ctx); err != nil {
		return err
	}

	for {
		m, err := conn.Read(ctx)
		if err != nil {
			return nil // the participant left, or the room ended
		}
		switch m.Type {
		case "answer":
			if err := p.onAnswer(ctx, m.SDP); err != nil {
				return err
			}
		case "candidate":
			if m.Candidate != nil {
				if err := pc.AddICECandidate(*m.Candidate); err != nil {
					r.server.log.Debug("media: bad candidate", slog.String("error", err.Error()))
				}
			}
		case "end":
			if !role.Ends() {
				_ = p.send(ctx, Message{Type: "error", Error: "only a consular officer can end the visit"})
				continue
			}
			r.End(EndedByHost)
			return nil
		case "offer":
			// The server makes the offers; a browser offering is refused. A
			// monitor's offer with tracks is refused by the same rule.
			_ = p.send(ctx, Message{Type: "error", Error: "the server makes the offers"})
		}
	}
}

// negotiate sends a new offer, or marks one as wanted if an answer is awaited.
// Candidates gathered before the first offer is out wait for it: the lock is
// held until the offer and the queue are sent, so none overtakes it.
func (p *Peer) negotiate(ctx context.Context) error {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if p.waiting {
		p.pending = true
		return nil
	}
	offer, err := p.pc.CreateOffer(nil)
	if err == nil {
		err = p.pc.SetLocalDescription(offer)
	}
	if err != nil {
		return fmt.Errorf("media: offer: %w", err)
	}
	p.waiting = true
	if err := p.send(ctx, Message{Type: "offer", SDP: offer.SDP}); err != nil {
		return err
	}
	p.offered = true
	for _, c := range p.queued {
		_ = p.send(ctx, Message{Type: "candidate", Candidate: &c})
	}
	p.queued = nil
	return nil
}

func (p *Peer) onAnswer(ctx context.Context, sdp string) error {
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("media: answer: %w", err)
	}
	p.negMu.Lock()
	p.waiting = false
	again := p.pending
	p.pending = false
	p.negMu.Unlock()
	if again {
		return p.negotiate(ctx)
	}
	return nil
}

// publish forwards a participant's new track to everyone else.
func (r *Room) publish(from *Peer, t *webrtc.TrackRemote) {
	local, err := webrtc.NewTrackLocalStaticRTP(t.Codec().RTPCodecCapability, t.Kind().String(), from.ID)
	if err != nil {
		r.server.log.Warn("media: local track", slog.String("error", err.Error()))
		return
	}
	f := &forward{from: from, remote: t, local: local, pc: from.pc}
	r.mu.Lock()
	r.tracks = append(r.tracks, f)
	var others []*Peer
	for _, p := range r.peers {
		if p != from {
			p.subscribe(f)
			others = append(others, p)
		}
	}
	r.mu.Unlock()
	ctx := context.Background()
	for _, p := range others {
		if err := p.negotiate(ctx); err != nil {
			r.server.log.Debug("media: renegotiate", slog.String("error", err.Error()))
		}
	}
	if t.Kind() == webrtc.RTPCodecTypeVideo {
		go f.keyframes(from.closed)
	}
	// Copy packets without decoding. Header extensions are dropped: their ids
	// are the publisher's, and a subscriber reads them differently.
	buf := make([]byte, 1500)
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		pkt, err := parseRTP(buf[:n])
		if err != nil {
			continue
		}
		if err := local.WriteRTP(pkt); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			return
		}
	}
}

// keyframes asks the publisher for a keyframe now and then.
func (f *forward) keyframes(done chan struct{}) {
	tick := time.NewTicker(keyframeEvery)
	defer tick.Stop()
	for {
		f.requestKeyframe()
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}

func (f *forward) requestKeyframe() {
	_ = f.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(f.remote.SSRC())}})
}

// subscribe adds a forwarded track to p's connection; the caller
// renegotiates. Keyframe requests from p go to the publisher.
func (p *Peer) subscribe(f *forward) {
	// A transceiver of its own, never one the participant sends on, so that
	// each m-line has one meaning.
	tr, err := p.pc.AddTransceiverFromTrack(f.local, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		p.room.server.log.Debug("media: subscribe", slog.String("error", err.Error()))
		return
	}
	sender := tr.Sender()
	p.senders[f] = sender
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := sender.Read(buf)
			if err != nil {
				return
			}
			pkts, err := rtcp.Unmarshal(buf[:n])
			if err != nil {
				continue
			}
			for _, pkt := range pkts {
				switch pkt.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					f.requestKeyframe()
				}
			}
		}
	}()
}

// announce tells everyone who is in the room.
func (r *Room) announce(ctx context.Context) {
	r.mu.Lock()
	var list []Info
	var peers []*Peer
	for _, p := range r.peers {
		list = append(list, p.info())
		peers = append(peers, p)
	}
	r.mu.Unlock()
	slices.SortFunc(list, func(a, b Info) int {
		if c := cmp.Compare(roleOrder[a.Role], roleOrder[b.Role]); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	for _, p := range peers {
		_ = p.send(ctx, Message{Type: "participants", Participants: list})
	}
}

func (r *Room) leave(p *Peer) {
	r.mu.Lock()
	if r.peers[p.ID] == p {
		delete(r.peers, p.ID)
	}
	var kept []*forward
	var affected []*Peer
	for _, f := range r.tracks {
		if f.from == p {
			for _, other := range r.peers {
				if s, ok := other.senders[f]; ok {
					_ = other.pc.RemoveTrack(s)
					delete(other.senders, f)
					affected = append(affected, other)
				}
			}
			continue
		}
		kept = append(kept, f)
	}
	r.tracks = kept
	empty := len(r.peers) == 0
	if empty {
		for _, t := range r.timers {
			t.Stop()
		}
	}
	ended := r.ended
	r.mu.Unlock()
	ctx := context.Background()
	for _, o := range affected {
		_ = o.negotiate(ctx)
	}
	r.announce(ctx)
	if empty && !ended {
		r.server.drop(r)
	}
}

// Why a call ended, as sent to the pages.
const (
	EndedByHost   = "host"    // an officer ended it
	EndedTimeUp   = "time"    // the scheduled end (and grace) passed
	EndedShutdown = "server"  // the server is stopping
	EndedRemoved  = "removed" // this participant was taken out (their link withdrawn)
)

// Limit ends the call at the given time, after warning everyone warn
// before. Only the first limit of a room counts: joining late buys no time.
func (r *Room) Limit(at time.Time, warn time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended || r.timers != nil {
		return
	}
	endIn := time.Until(at)
	r.timers = []*time.Timer{time.AfterFunc(endIn, func() { r.End(EndedTimeUp) })}
	if warnIn := endIn - warn; warnIn > 0 {
		r.timers = append(r.timers, time.AfterFunc(warnIn, func() {
			r.broadcast(Message{Type: "ending", Seconds: int(warn.Seconds())})
		}))
	}
}

// broadcast sends m to everyone in the room, and says who that was.
func (r *Room) broadcast(m Message) []*Peer {
	r.mu.Lock()
	peers := make([]*Peer, 0, len(r.peers))
	for _, p := range r.peers {
		peers = append(peers, p)
	}
	r.mu.Unlock()
	for _, p := range peers {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = p.send(ctx, m)
		cancel()
	}
	return peers
}

// End closes the call for everyone, saying why (EndedByHost, …).
func (r *Room) End(reason string) {
	r.mu.Lock()
	for _, t := range r.timers {
		t.Stop()
	}
	r.ended = true
	r.mu.Unlock()
	for _, p := range r.broadcast(Message{Type: "ended", Reason: reason}) {
		p.close()
	}
	// The room stays, ended, so that nobody starts the call again.
}

// Ended reports whether the call was ended (by an officer or the clock).
func (r *Room) Ended() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
}

func (p *Peer) close() {
	p.once.Do(func() {
		close(p.closed)
		_ = p.pc.Close()
	})
}

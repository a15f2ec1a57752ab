package media

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
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
	// waiting are those who wait for a host to let them in; admitted are
	// those let in (they come back without waiting after a drop); muted
	// are those a host silenced.
	waiting map[string]*Peer
	// admitted holds, for each participant a host let in, the resume token
	// their page got: only a session that shows it comes back without
	// waiting, so a copy of a join link does not.
	admitted map[string]string
	muted    map[string]bool
	ended    bool
	why      string // why it ended
	// dropped says the server forgot the room (everyone left); a session
	// that still holds it puts it back.
	dropped bool
	timers  []*time.Timer // the warning and the end, once limited
	limitAt time.Time     // the end Limit set, to arm the timers again
	warn    time.Duration
	// tracks are the forwarded tracks by publisher.
	tracks []*forward
	// rec is the running recording, or a request for consent to one.
	rec *recording
}

// Participant is who enters a call, as the caller (who checked their link
// or account) knows them.
type Participant struct {
	ID   string
	Name string
	Role Role
	// Admitted lets them straight into the call. Anyone else waits until a
	// host admits them, unless a host admitted them earlier in this call,
	// did not remove them since, and they show the Resume token their page
	// was given then: a dropped connection does not send anyone back to
	// the waiting room, and a copy of their link does not skip it.
	Admitted bool
	Resume   string
	// Muted keeps them muted, as a host left them (in this call's earlier
	// room, on another server).
	Muted bool
	// Entered, when set, is called once they are in the call.
	Entered func()
}

// Why a participant's session ended, besides the reasons a call ends
// (EndedByHost, …).
const (
	LeftLeft     = "left"        // they hung up
	LeftNetwork  = "network"     // their connection failed and did not recover
	LeftReplaced = "reconnected" // a new session of theirs took over
)

// Errors of a session that could not start.
var (
	errOver        = errors.New("media: the visit is over")
	errMoved       = errors.New("media: the call moved while joining; join again")
	errNotAdmitted = errors.New("media: taken out of the call while joining")
)

// restartGrace is how long a failed connection has to recover (the page
// asks for an ICE restart) before the participant is counted as gone.
const restartGrace = 15 * time.Second

// forward is one published track and its copies for the subscribers.
type forward struct {
	from   *Peer
	remote *webrtc.TrackRemote
	local  *webrtc.TrackLocalStaticRTP
	pc     *webrtc.PeerConnection  // the publisher's, to send keyframe requests
	sink   atomic.Pointer[sinkBox] // where the track is recorded, while it is
}

// Peer is a participant's connection.
type Peer struct {
	ID   string
	Name string
	Role Role

	room           *Room
	pc             *webrtc.PeerConnection
	conn           Conn
	sendMu         sync.Mutex
	negMu          sync.Mutex
	pending        bool // a renegotiation is wanted while one is in flight
	waiting        bool // an offer awaits its answer
	offered        bool // an offer has been sent: candidates may follow it
	queued         []webrtc.ICECandidateInit
	pendingRestart bool          // the wanted renegotiation restarts ICE
	admit          chan struct{} // closed when a host lets them in
	token          string        // their resume token, once admitted (under Room.mu)
	closed         chan struct{}
	mu             sync.Mutex // guards why, and pc until closed
	why            string     // why the session ended, once closed
	hostMuted      atomic.Bool
	senders        map[*forward]*webrtc.RTPSender
}

func (p *Peer) info() Info {
	return Info{ID: p.ID, Name: p.Name, Role: p.Role, Stream: p.ID, Muted: p.hostMuted.Load()}
}

func (p *Peer) send(ctx context.Context, m Message) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	return p.conn.Write(ctx, m)
}

// Join runs the session of a participant let straight in; see Session.
func (r *Room) Join(ctx context.Context, id, name string, role Role, conn Conn) error {
	_, err := r.Session(ctx, Participant{ID: id, Name: name, Role: role, Admitted: true}, conn)
	return err
}

// Session runs a participant's session until they leave or the room ends,
// and says why it ended (LeftLeft, LeftNetwork, EndedByHost, …). The
// caller has checked who they are and which role they have.
func (r *Room) Session(ctx context.Context, pt Participant, conn Conn) (string, error) {
	p := &Peer{ID: pt.ID, Name: pt.Name, Role: pt.Role, room: r, conn: conn, admit: make(chan struct{}), closed: make(chan struct{}),
		senders: map[*forward]*webrtc.RTPSender{}}
	defer p.close(LeftLeft)
	// Closing the peer (the room ending, a host removing them, the
	// connection failing) ends the session even while it waits.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	// One reader for the whole session, in the waiting room and in the call.
	msgs := make(chan Message)
	go func() {
		defer close(msgs)
		for {
			m, err := conn.Read(ctx)
			if err != nil {
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	token, in, err := r.wait(ctx, p, pt, msgs)
	if !in {
		return p.reason(), err
	}

	pc, err := r.server.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return "", fmt.Errorf("media: peer connection: %w", err)
	}
	if !p.setPC(pc) {
		return p.reason(), nil
	}
	// A data channel gives every offer, even a monitor's before anyone
	// publishes, a transport to connect.
	if _, err := pc.CreateDataChannel("control", nil); err != nil {
		return "", fmt.Errorf("media: data channel: %w", err)
	}
	// What the participant may send: audio and video, or nothing (a monitor).
	role := pt.Role
	if role.Publishes() {
		for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				return "", fmt.Errorf("media: transceiver: %w", err)
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
		r.server.log.Debug("media: connection state", slog.String("room", r.id), slog.String("peer", p.ID), slog.String("state", s.String()))
		switch s {
		case webrtc.PeerConnectionStateFailed:
			// The page asks for an ICE restart when its network comes back;
			// if none succeeds in time, the participant is gone.
			time.AfterFunc(restartGrace, func() {
				if pc.ConnectionState() == webrtc.PeerConnectionStateFailed {
					p.close(LeftNetwork)
				}
			})
		case webrtc.PeerConnectionStateClosed:
			p.close(LeftLeft)
		}
	})

	if err := r.seat(p, pt.Admitted, pt.Muted, token); err != nil {
		return p.reason(), err
	}
	defer r.leave(p)
	if pt.Entered != nil {
		pt.Entered()
	}
	if token != "" {
		// The page comes back with it after a drop, without waiting.
		_ = p.send(ctx, Message{Type: "admitted", Resume: token})
	}
	r.announce(ctx)
	r.joinRecording(ctx, p)
	if err := p.negotiate(ctx, false); err != nil {
		return p.failed(err)
	}

	for {
		var m Message
		var ok bool
		select {
		case m, ok = <-msgs:
		case <-ctx.Done():
		}
		if !ok {
			return p.reason(), nil // the participant left, or was taken out
		}
		switch m.Type {
		case "answer":
			if err := p.onAnswer(ctx, m.SDP); err != nil {
				return p.failed(err)
			}
		case "candidate":
			if m.Candidate != nil {
				if err := pc.AddICECandidate(*m.Candidate); err != nil {
					r.server.log.Debug("media: bad candidate", slog.String("error", err.Error()))
				}
			}
		case "restart":
			// The page's network changed: new ICE credentials, same call.
			if err := p.negotiate(ctx, true); err != nil {
				return p.failed(err)
			}
		case "end":
			if !role.Ends() {
				_ = p.send(ctx, Message{Type: "error", Error: "only a consular officer can end the visit"})
				continue
			}
			reason := EndedByHost
			if role == RoleMonitor {
				reason = EndedByMonitor
			}
			r.end(reason, p.info())
			return reason, nil
		case "record":
			if role != RoleOfficer {
				_ = p.send(ctx, Message{Type: "error", Error: "only a consular officer can start or stop a recording"})
				continue
			}
			if err := r.Record(p.info(), m.On); err != nil {
				_ = p.send(ctx, Message{Type: "error", Error: err.Error()})
			}
		case "consent":
			r.consent(p, m.On)
		case "admit", "remove", "mute":
			if role != RoleOfficer {
				_ = p.send(ctx, Message{Type: "error", Error: "only a consular officer can admit, mute or remove participants"})
				continue
			}
			var err error
			switch m.Type {
			case "admit":
				err = r.admit(m.ID)
			case "remove":
				err = r.remove(m.ID, true)
			case "mute":
				err = r.mute(m.ID, m.Muted)
			}
			if err != nil {
				_ = p.send(ctx, Message{Type: "error", Error: err.Error()})
			}
		case "offer":
			// The server makes the offers; a browser offering is refused. A
			// monitor's offer with tracks is refused by the same rule.
			_ = p.send(ctx, Message{Type: "error", Error: "the server makes the offers"})
		}
	}
}

// wait keeps p in the waiting room until a host admits them, and says
// whether they got in, with their resume token (none for those let straight
// in): not when they left, were removed or the call ended meanwhile (the
// error says the call was over before they came).
func (r *Room) wait(ctx context.Context, p *Peer, pt Participant, msgs <-chan Message) (string, bool, error) {
	r.server.mu.Lock()
	r.mu.Lock()
	if err := r.claim(); err != nil {
		r.mu.Unlock()
		r.server.mu.Unlock()
		return "", false, err
	}
	if tok := r.admitted[p.ID]; pt.Admitted || (tok != "" && tok == pt.Resume) {
		r.mu.Unlock()
		r.server.mu.Unlock()
		return tok, true, nil
	}
	old := r.waiting[p.ID]
	r.waiting[p.ID] = p
	r.mu.Unlock()
	r.server.mu.Unlock()
	if old != nil {
		old.replace()
	}
	_ = p.send(ctx, Message{Type: "waiting"})
	r.announce(ctx) // the hosts see who waits
	for {
		select {
		case <-p.admit:
			r.mu.Lock()
			tok := p.token
			r.mu.Unlock()
			return tok, true, nil
		case _, ok := <-msgs:
			if ok {
				continue // nothing to say while waiting
			}
		case <-ctx.Done():
		}
		r.mu.Lock()
		if r.waiting[p.ID] == p {
			delete(r.waiting, p.ID)
		}
		r.mu.Unlock()
		r.announce(context.WithoutCancel(ctx))
		r.vacate()
		return "", false, nil
	}
}

// claim puts back a room the server forgot, or says the call is over or has
// moved to a new room. The caller holds the server's lock, then the room's.
func (r *Room) claim() error {
	if r.ended {
		return errOver
	}
	if r.dropped {
		if cur := r.server.rooms[r.id]; cur != nil && cur != r {
			return errMoved
		}
		r.server.rooms[r.id] = r
		r.dropped = false
		r.arm()
	}
	return nil
}

// seat puts p in the call, unless the call ended or a host removed them
// while they connected. A session of the same person already in the call,
// or waiting, is replaced: the new one wins.
func (r *Room) seat(p *Peer, direct, muted bool, token string) error {
	r.server.mu.Lock()
	r.mu.Lock()
	err := r.claim()
	if err == nil && !direct && (token == "" || r.admitted[p.ID] != token) {
		err = errNotAdmitted
	}
	if err != nil {
		r.mu.Unlock()
		r.server.mu.Unlock()
		return err
	}
	old := r.peers[p.ID]
	r.peers[p.ID] = p
	// Another session of theirs waiting to be let in is one too many.
	w := r.waiting[p.ID]
	delete(r.waiting, p.ID)
	if muted {
		r.muted[p.ID] = true
	}
	p.hostMuted.Store(r.muted[p.ID])
	for _, f := range r.tracks {
		if f.from != p {
			p.subscribe(f)
		}
	}
	r.mu.Unlock()
	r.server.mu.Unlock()
	for _, o := range []*Peer{old, w} {
		if o != nil {
			o.replace()
		}
	}
	return nil
}

// replace tells a session that a newer one of the same person took over
// (another window, another device), and ends it: its page does not try to
// come back, which would push the new one out in turn.
func (p *Peer) replace() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = p.send(ctx, Message{Type: "ended", Reason: LeftReplaced})
	p.close(LeftReplaced)
}

// failed ends a session on a negotiation error, unless the peer was closed
// meanwhile (ended, removed, replaced): then that is why it ended.
func (p *Peer) failed(err error) (string, error) {
	select {
	case <-p.closed:
		return p.reason(), nil
	default:
		return "", err
	}
}

// admit lets someone in from the waiting room, with a new resume token.
func (r *Room) admit(id string) error {
	errNobody := errors.New("nobody of that name is waiting")
	r.mu.Lock()
	p := r.waiting[id]
	r.mu.Unlock()
	if p == nil {
		return errNobody
	}
	token := rand.Text()
	if l := r.server.ledger; l != nil {
		// Kept before they are let in: a call rebuilt elsewhere lets them back.
		if err := l.Admitted(r.id, id, token); err != nil {
			r.server.log.Error("media: keep an admission", slog.String("room", r.id), slog.String("error", err.Error()))
			return errors.New("could not admit them: try again")
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waiting[id] != p {
		return errNobody
	}
	delete(r.waiting, id)
	p.token = token
	r.admitted[id] = p.token
	close(p.admit)
	return nil
}

// remove takes someone out of the call or the waiting room: to come back
// they must be admitted again. A host cannot remove an officer, nor the
// detaining state's monitor, whose presence is a condition of the visit.
func (r *Room) remove(id string, byHost bool) error {
	r.mu.Lock()
	p := r.peers[id]
	if p == nil {
		p = r.waiting[id]
	}
	if p != nil && byHost && (p.Role == RoleOfficer || p.Role == RoleMonitor) {
		r.mu.Unlock()
		return errors.New("officers and the detaining state's monitor cannot be removed from the call")
	}
	// Whoever is connecting right now must be admitted again.
	delete(r.admitted, id)
	r.mu.Unlock()
	if l := r.server.ledger; l != nil {
		if err := l.Removed(r.id, id); err != nil {
			r.server.log.Error("media: forget an admission", slog.String("room", r.id), slog.String("error", err.Error()))
		}
	}
	r.mu.Lock()
	if p == nil {
		r.mu.Unlock()
		if byHost {
			return errors.New("nobody of that name is in the call")
		}
		return nil
	}
	if r.waiting[id] == p {
		delete(r.waiting, id)
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = p.send(ctx, Message{Type: "ended", Reason: EndedRemoved})
	p.close(EndedRemoved)
	return nil
}

// mute silences (or lets speak again) a participant for everyone: the
// server stops forwarding their sound, whatever their page does.
func (r *Room) mute(id string, on bool) error {
	r.mu.Lock()
	p := r.peers[id]
	if p == nil || !p.Role.Publishes() {
		r.mu.Unlock()
		return errors.New("nobody of that name speaks in the call")
	}
	if on {
		r.muted[id] = true
	} else {
		delete(r.muted, id)
	}
	p.hostMuted.Store(on)
	r.mu.Unlock()
	if l := r.server.ledger; l != nil {
		if err := l.Muted(r.id, id, on); err != nil {
			r.server.log.Error("media: keep a mute", slog.String("room", r.id), slog.String("error", err.Error()))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = p.send(ctx, Message{Type: "muted", Muted: on})
	r.announce(ctx)
	return nil
}

// negotiate sends a new offer, or marks one as wanted if an answer is awaited.
// Candidates gathered before the first offer is out wait for it: the lock is
// held until the offer and the queue are sent, so none overtakes it.
func (p *Peer) negotiate(ctx context.Context, restart bool) error {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if p.waiting {
		p.pending = true
		p.pendingRestart = p.pendingRestart || restart
		return nil
	}
	offer, err := p.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
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
	again, restart := p.pending, p.pendingRestart
	p.pending, p.pendingRestart = false, false
	p.negMu.Unlock()
	if again {
		return p.negotiate(ctx, restart)
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
	rec := r.rec
	if rec != nil && !rec.running {
		rec = nil
	}
	var others []*Peer
	for _, p := range r.peers {
		if p != from {
			p.subscribe(f)
			others = append(others, p)
		}
	}
	r.mu.Unlock()
	if rec != nil {
		r.sink(f, rec) // a track that starts while the call is recorded
	}
	ctx := context.Background()
	for _, p := range others {
		if err := p.negotiate(ctx, false); err != nil {
			r.server.log.Debug("media: renegotiate", slog.String("error", err.Error()))
		}
	}
	if t.Kind() == webrtc.RTPCodecTypeVideo {
		go f.keyframes(from.closed)
	}
	// Copy packets without decoding. Header extensions are dropped: their ids
	// are the publisher's, and a subscriber reads them differently.
	audio := t.Kind() == webrtc.RTPCodecTypeAudio
	var skipped uint16 // packets held back while a host muted them
	buf := make([]byte, 1500)
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		if audio && from.hostMuted.Load() {
			skipped++ // a host muted them: nobody hears them
			continue
		}
		pkt, err := parseRTP(buf[:n])
		if err != nil {
			continue
		}
		// No gap in the numbering: receivers would count the held-back
		// packets as lost.
		pkt.SequenceNumber -= skipped
		f.recordPacket(pkt)
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
			if asksKeyframe(buf[:n]) {
				f.requestKeyframe()
			}
		}
	}()
}

// asksKeyframe reports whether RTCP a subscriber sent asks for a keyframe
// (a picture loss indication or a full intra request). Anything a
// participant's browser sends is read here: a compound packet that does
// not parse asks for nothing.
func asksKeyframe(b []byte) bool {
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return false
	}
	for _, pkt := range pkts {
		switch pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			return true
		}
	}
	return false
}

// announce tells everyone who is in the room, and the officers who waits.
func (r *Room) announce(ctx context.Context) {
	r.mu.Lock()
	var list, waiting []Info
	var peers []*Peer
	for _, p := range r.peers {
		list = append(list, p.info())
		peers = append(peers, p)
	}
	for _, p := range r.waiting {
		waiting = append(waiting, p.info())
	}
	r.mu.Unlock()
	sortInfo(list)
	sortInfo(waiting)
	for _, p := range peers {
		m := Message{Type: "participants", Participants: list}
		if p.Role == RoleOfficer {
			m.Waiting = waiting
		}
		_ = p.send(ctx, m)
	}
}

// sortInfo orders people by role (officers first, the monitor last), then name.
func sortInfo(list []Info) {
	slices.SortFunc(list, func(a, b Info) int {
		if c := cmp.Compare(roleOrder[a.Role], roleOrder[b.Role]); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
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
			if b := f.sink.Swap(nil); b != nil {
				r.server.closeSink(b.sink) // their part of the recording ends here
			}
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
	r.mu.Unlock()
	ctx := context.Background()
	for _, o := range affected {
		_ = o.negotiate(ctx, false)
	}
	r.announce(ctx)
	r.checkConsent() // the one who had not answered may have left
	r.vacate()
}

// vacate forgets a room nobody is in or waiting for, unless it ended (an
// ended room stays, so that nobody starts the call again).
func (r *Room) vacate() {
	r.server.mu.Lock()
	defer r.server.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.peers) > 0 || len(r.waiting) > 0 || r.ended || r.dropped {
		return
	}
	for _, t := range r.timers {
		t.Stop()
	}
	r.timers = nil
	r.dropped = true
	if r.server.rooms[r.id] == r {
		delete(r.server.rooms, r.id)
	}
	if rec := r.rec; rec != nil {
		// Everyone left: the recording (its tracks closed as they left) ends.
		r.rec = nil
		go func() {
			r.keepRecording(nil)
			r.server.recorder.Stopped(r.id, rec.id, Info{}, RecordEmpty)
		}()
	}
}

// Why a call ended, as sent to the pages.
const (
	EndedByHost    = "host"    // an officer ended it
	EndedByMonitor = "monitor" // the detaining state's monitor cut it
	EndedTimeUp    = "time"    // the scheduled end (and grace) passed
	EndedShutdown  = "server"  // the server is stopping
	EndedRemoved   = "removed" // this participant was taken out (by a host, or their link withdrawn)
)

// Limit ends the call at the given time, after warning everyone warn
// before. Only the first limit of a room counts: joining late buys no time.
func (r *Room) Limit(at time.Time, warn time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended || !r.limitAt.IsZero() {
		return
	}
	r.limitAt, r.warn = at, warn
	r.arm()
}

// arm starts the timers of the limit, if there is one. The caller holds r.mu.
func (r *Room) arm() {
	if r.limitAt.IsZero() || r.timers != nil {
		return
	}
	endIn, warn := time.Until(r.limitAt), r.warn
	r.timers = []*time.Timer{time.AfterFunc(endIn, func() { r.end(EndedTimeUp, Info{}) })}
	if warnIn := endIn - warn; warnIn > 0 {
		r.timers = append(r.timers, time.AfterFunc(warnIn, func() {
			r.broadcast(Message{Type: "ending", Seconds: int(warn.Seconds())})
		}))
	}
}

// broadcast sends m to everyone in the room and its waiting room, and says
// who that was.
func (r *Room) broadcast(m Message) []*Peer {
	r.mu.Lock()
	peers := make([]*Peer, 0, len(r.peers)+len(r.waiting))
	for _, p := range r.peers {
		peers = append(peers, p)
	}
	for _, p := range r.waiting {
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
func (r *Room) End(reason string) { r.end(reason, Info{}) }

// end closes the call, once; by is who ended it, if someone did.
func (r *Room) end(reason string, by Info) {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return
	}
	for _, t := range r.timers {
		t.Stop()
	}
	r.ended, r.why = true, reason
	r.mu.Unlock()
	why := RecordCallEnded
	if reason == EndedShutdown {
		why = RecordMoved // it goes on where the call goes on
	}
	r.stopRecording(by, why)
	if r.server.onEnd != nil {
		r.server.onEnd(r.id, reason, by)
	}
	for _, p := range r.broadcast(Message{Type: "ended", Reason: reason}) {
		p.close(reason)
	}
	if reason == EndedShutdown {
		// Not over: the call goes on elsewhere, or here later in a new room.
		r.server.mu.Lock()
		if r.server.rooms[r.id] == r {
			delete(r.server.rooms, r.id)
		}
		r.server.mu.Unlock()
		return
	}
	// The room stays, ended, so that nobody starts the call again.
}

// Ended reports whether the call was ended (by an officer or the clock).
func (r *Room) Ended() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
}

// close ends p's session, saying why; only the first reason counts.
func (p *Peer) close(why string) {
	p.mu.Lock()
	if p.why != "" {
		p.mu.Unlock()
		return
	}
	p.why = why
	pc := p.pc
	close(p.closed)
	p.mu.Unlock()
	if pc != nil {
		_ = pc.Close()
	}
}

// setPC gives p its connection, unless p was closed meanwhile (then the
// connection is closed and false returned).
func (p *Peer) setPC(pc *webrtc.PeerConnection) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.why != "" {
		_ = pc.Close()
		return false
	}
	p.pc = pc
	return true
}

// reason says why p's session ended (LeftLeft if nothing else was said).
func (p *Peer) reason() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.why == "" {
		return LeftLeft
	}
	return p.why
}

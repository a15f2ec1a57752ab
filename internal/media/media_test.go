package media

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// pipe is an in-memory signalling connection: one end for the server, one
// for the test's client.
type pipe struct {
	in, out chan Message
	done    chan struct{} // closed when either side hangs up
	once    *sync.Once
}

func newPipe() (server, client *pipe) {
	a, b := make(chan Message, 64), make(chan Message, 64)
	done, once := make(chan struct{}), new(sync.Once)
	return &pipe{in: a, out: b, done: done, once: once}, &pipe{in: b, out: a, done: done, once: once}
}

func (p *pipe) Read(ctx context.Context) (Message, error) {
	select {
	case m := <-p.in:
		return m, nil
	case <-p.done:
		return Message{}, io.EOF
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

func (p *pipe) Write(ctx context.Context, m Message) error {
	select {
	case p.out <- m:
		return nil
	case <-p.done:
		return io.ErrClosedPipe
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipe) hangUp() { p.once.Do(func() { close(p.done) }) }

func newServer(t *testing.T) *Server {
	t.Helper()
	s, err := New(Config{UDPAddr: "127.0.0.1:0", Loopback: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// client is a participant's browser, played by a Pion peer on loopback.
type client struct {
	t     *testing.T
	id    string
	pc    *webrtc.PeerConnection
	conn  *pipe
	local []*webrtc.TrackLocalStaticRTP

	mu       sync.Mutex
	left     bool
	received map[string][]byte // "stream/kind" -> first payload
	people   []Info
	ended    string
	ending   int // seconds left, as warned
	errors   []string
	gotTrack chan struct{}
	done     chan error
	why      string         // why the session ended, as the server said
	seen     []Message      // every message but candidates, in order
	packets  map[string]int // "stream/kind" -> packets received
	gaps     map[string]int // "stream/kind" -> sequence numbers skipped
	lastSeq  map[string]uint16
}

func join(t *testing.T, s *Server, room, id string, role Role) *client {
	t.Helper()
	return joinAs(t, s, room, Participant{ID: id, Name: id, Role: role, Admitted: true})
}

func joinAs(t *testing.T, s *Server, room string, pt Participant) *client {
	t.Helper()
	return joinOver(t, s, room, pt, webrtc.NetworkTypeUDP4)
}

// joinOver joins with ICE over the given networks only.
func joinOver(t *testing.T, s *Server, room string, pt Participant, networks ...webrtc.NetworkType) *client {
	t.Helper()
	id := pt.ID
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes(networks)
	var me webrtc.MediaEngine
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	var ir interceptor.Registry
	if err := webrtc.RegisterDefaultInterceptors(&me, &ir); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&me), webrtc.WithInterceptorRegistry(&ir))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	srv, cl := newPipe()
	c := &client{t: t, id: id, pc: pc, conn: cl, received: map[string][]byte{}, packets: map[string]int{}, gaps: map[string]int{}, lastSeq: map[string]uint16{}, gotTrack: make(chan struct{}, 16), done: make(chan error, 1)}
	for _, codec := range []webrtc.RTPCodecCapability{
		{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
	} {
		kind := "audio"
		if codec.MimeType == webrtc.MimeTypeVP8 {
			kind = "video"
		}
		tr, err := webrtc.NewTrackLocalStaticRTP(codec, kind, id)
		if err != nil {
			t.Fatal(err)
		}
		c.local = append(c.local, tr)
	}
	pc.OnICECandidate(func(ic *webrtc.ICECandidate) {
		if ic == nil {
			return
		}
		init := ic.ToJSON()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = cl.Write(ctx, Message{Type: "candidate", Candidate: &init})
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			key := tr.StreamID() + "/" + tr.Kind().String()
			c.mu.Lock()
			_, seen := c.received[key]
			if !seen {
				c.received[key] = append([]byte(nil), pkt.Payload...)
			}
			if last, ok := c.lastSeq[key]; ok {
				if d := pkt.SequenceNumber - last; d > 1 && d < 1<<15 {
					c.gaps[key] += int(d - 1)
				}
			}
			c.lastSeq[key] = pkt.SequenceNumber
			c.packets[key]++
			c.mu.Unlock()
			if !seen {
				c.gotTrack <- struct{}{}
			}
		}
	})
	go func() {
		why, err := s.Room(room).Session(context.Background(), pt, srv)
		c.mu.Lock()
		c.why = why
		c.mu.Unlock()
		c.done <- err
	}()
	go c.signal()
	t.Cleanup(func() { c.leave() })
	return c
}

// signal answers the server's offers; on the first one it attaches its
// camera and microphone to the transceivers the server offered to receive.
func (c *client) signal() {
	attached := false
	ctx := context.Background()
	for {
		m, err := c.conn.Read(ctx)
		if err != nil {
			return
		}
		c.mu.Lock()
		left := c.left
		c.mu.Unlock()
		if left {
			return
		}
		if m.Type != "candidate" {
			c.mu.Lock()
			c.seen = append(c.seen, m)
			c.mu.Unlock()
		}
		switch m.Type {
		case "offer":
			if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
				c.fail("remote offer: %v", err)
				return
			}
			if !attached {
				attached = true
				for _, tr := range c.local {
					if _, err := c.pc.AddTrack(tr); err != nil {
						c.fail("add track: %v", err)
					}
				}
			}
			answer, err := c.pc.CreateAnswer(nil)
			if err == nil {
				err = c.pc.SetLocalDescription(answer)
			}
			if err != nil {
				c.fail("answer: %v", err)
				return
			}
			_ = c.conn.Write(ctx, Message{Type: "answer", SDP: answer.SDP})
		case "candidate":
			_ = c.pc.AddICECandidate(*m.Candidate)
		case "participants":
			c.mu.Lock()
			c.people = m.Participants
			c.mu.Unlock()
		case "ended":
			c.mu.Lock()
			c.ended = m.Reason
			c.mu.Unlock()
		case "ending":
			c.mu.Lock()
			c.ending = m.Seconds
			c.mu.Unlock()
		case "error":
			c.mu.Lock()
			c.errors = append(c.errors, m.Error)
			c.mu.Unlock()
		}
	}
}

// send writes RTP carrying the participant's name until stop closes.
func (c *client) send(stop chan struct{}) {
	var seq uint16
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		seq++
		for i, tr := range c.local {
			pt := uint8(111)
			if i == 1 {
				pt = 96
			}
			_ = tr.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: uint32(1000 + i)}, Payload: []byte("from " + c.id)})
		}
	}
}

// fail reports a signalling error, unless the client has left on purpose
// and the error is the connection it closed, or the server closed the
// connection (its DTLS close_notify closes the peer, as when a call ends)
// while an offer was being answered.
//
// The close may reach the peer connection a moment after the offer fails
// (a busy machine, the race detector): a failure counts only if, a second
// later, the client has neither left nor been told the call ended, and
// its connection is still open.
func (c *client) fail(format string, args ...any) {
	gone := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.left || c.ended != "" || c.pc.ConnectionState() == webrtc.PeerConnectionStateClosed
	}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if gone() {
			return
		}
	}
	c.t.Errorf(c.id+": "+format, args...)
}

func (c *client) leave() {
	c.mu.Lock()
	c.left = true
	c.mu.Unlock()
	c.pc.Close()
	c.conn.hangUp()
}

func (c *client) waitTracks(n int) {
	c.t.Helper()
	deadline := time.After(20 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-c.gotTrack:
		case <-deadline:
			c.mu.Lock()
			defer c.mu.Unlock()
			c.t.Fatalf("%s received %d of %d tracks: %v", c.id, len(c.received), n, keys(c.received))
		}
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// officerAndDetainee joins both to a room, each sending until stop closes.
func officerAndDetainee(t *testing.T, s *Server, room string, stop chan struct{}) (officer, detainee *client) {
	officer = join(t, s, room, "officer", RoleOfficer)
	detainee = join(t, s, room, "detainee", RoleDetainee)
	go officer.send(stop)
	go detainee.send(stop)
	return officer, detainee
}

func TestForwardsMediaBetweenParticipants(t *testing.T) {
	s := newServer(t)
	stop := make(chan struct{})
	defer close(stop)
	officer, detainee := officerAndDetainee(t, s, "v1", stop)

	detainee.waitTracks(2)
	officer.waitTracks(2)
	for _, tc := range []struct {
		c    *client
		want map[string]string
	}{
		{officer, map[string]string{"detainee/audio": "from detainee", "detainee/video": "from detainee"}},
		{detainee, map[string]string{"officer/audio": "from officer", "officer/video": "from officer"}},
	} {
		tc.c.mu.Lock()
		if len(tc.c.received) != len(tc.want) {
			t.Errorf("%s received %v, want %v", tc.c.id, keys(tc.c.received), tc.want)
		}
		for k, want := range tc.want {
			if got := tc.c.received[k]; !bytes.Equal(got, []byte(want)) {
				t.Errorf("%s: %s carried %q, want %q", tc.c.id, k, got, want)
			}
		}
		tc.c.mu.Unlock()
	}
}

// A monitor sees and hears everyone, and nobody receives anything from it,
// even if its browser tries to send.
func TestMonitorReceivesAndNeverSends(t *testing.T) {
	s := newServer(t)
	stop := make(chan struct{})
	defer close(stop)
	officer, detainee := officerAndDetainee(t, s, "v2", stop)
	officer.waitTracks(2)

	monitor := join(t, s, "v2", "monitor", RoleMonitor)
	go monitor.send(stop) // it tries
	monitor.waitTracks(4)
	time.Sleep(time.Second) // give any leak time to show
	for _, c := range []*client{officer, detainee} {
		c.mu.Lock()
		for k := range c.received {
			if strings.HasPrefix(k, "monitor/") {
				t.Errorf("%s received the monitor's %s", c.id, k)
			}
		}
		c.mu.Unlock()
	}
	monitor.mu.Lock()
	defer monitor.mu.Unlock()
	if len(monitor.received) != 4 {
		t.Errorf("monitor received %v, want the officer's and the detainee's audio and video", keys(monitor.received))
	}
	var roles []string
	for _, p := range monitor.people {
		roles = append(roles, p.ID+":"+string(p.Role))
	}
	if len(roles) != 3 {
		t.Errorf("monitor sees participants %v, want 3", roles)
	}
}

// The call ends at its limit, after a warning, for everyone; an ended room
// turns newcomers away.
func TestLimitWarnsThenEnds(t *testing.T) {
	s := newServer(t)
	a := join(t, s, "v3", "officer", RoleOfficer)
	b := join(t, s, "v3", "detainee", RoleDetainee)
	seated(t, a, 2)
	seated(t, b, 2)
	room := s.Room("v3")
	room.Limit(time.Now().Add(1500*time.Millisecond), time.Second)
	room.Limit(time.Now().Add(time.Hour), time.Second) // a later joiner's limit does not extend it
	for _, c := range []*client{a, b} {
		c.waitEnd(t, EndedTimeUp)
		c.mu.Lock()
		if c.ending != 1 {
			t.Errorf("%s was warned %d s before the end, want 1", c.id, c.ending)
		}
		c.mu.Unlock()
	}
	srv, _ := newPipe()
	if err := s.Room("v3").Join(context.Background(), "x", "x", RoleOfficer, srv); err == nil || !strings.Contains(err.Error(), "over") || !s.Room("v3").Ended() {
		t.Errorf("joining an ended call: %v", err)
	}
}

// Only an officer ends the call for everyone (or the monitor cuts it, see
// TestMonitorCuts); the others are refused.
func TestOfficerEnds(t *testing.T) {
	var ends []string
	var mu sync.Mutex
	s, err := New(Config{UDPAddr: "127.0.0.1:0", Loopback: true, OnEnd: func(room, reason string, by Info) {
		mu.Lock()
		ends = append(ends, room+":"+reason+":"+by.ID)
		mu.Unlock()
	}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	officer := join(t, s, "v6", "officer", RoleOfficer)
	detainee := join(t, s, "v6", "detainee", RoleDetainee)
	interpreter := join(t, s, "v6", "interpreter", RoleInterpreter)
	ctx := context.Background()
	seated(t, officer, 3)
	for _, c := range []*client{detainee, interpreter} {
		_ = c.conn.Write(ctx, Message{Type: "end"})
	}
	for _, c := range []*client{detainee, interpreter} {
		eventually(t, c.id+" is refused", func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return len(c.errors) > 0
		})
		c.mu.Lock()
		if len(c.errors) != 1 || !strings.Contains(c.errors[0], "only a consular officer") || c.ended != "" {
			t.Errorf("%s ending the call: errors %v, ended %q", c.id, c.errors, c.ended)
		}
		c.mu.Unlock()
	}
	_ = officer.conn.Write(ctx, Message{Type: "end"})
	for _, c := range []*client{officer, detainee, interpreter} {
		c.waitEnd(t, EndedByHost)
	}
	s.Room("v6").End(EndedTimeUp) // a second end changes nothing
	mu.Lock()
	defer mu.Unlock()
	if len(ends) != 1 || ends[0] != "v6:host:officer" {
		t.Errorf("the end was reported as %v, want once, by the officer", ends)
	}
}

// The detaining state's monitor can cut the call, and everyone is told it
// was the monitor.
func TestMonitorCuts(t *testing.T) {
	s := newServer(t)
	officer := join(t, s, "v9", "officer", RoleOfficer)
	detainee := join(t, s, "v9", "detainee", RoleDetainee)
	monitor := join(t, s, "v9", "monitor", RoleMonitor)
	seated(t, officer, 3)
	_ = officer.conn.Write(context.Background(), Message{Type: "remove", ID: "monitor"})
	eventually(t, "the officer cannot remove the monitor", func() bool {
		officer.mu.Lock()
		defer officer.mu.Unlock()
		return len(officer.errors) == 1 && strings.Contains(officer.errors[0], "monitor cannot be removed")
	})
	_ = monitor.conn.Write(context.Background(), Message{Type: "end"})
	for _, c := range []*client{officer, detainee, monitor} {
		c.waitEnd(t, EndedByMonitor)
	}
	officer.mu.Lock()
	defer officer.mu.Unlock()
	if officer.why != EndedByMonitor {
		t.Errorf("the officer's session ended for %q, want %q", officer.why, EndedByMonitor)
	}
}

// seenType reports whether c was sent a message of the type that passes ok.
func (c *client) seenType(typ string, ok func(Message) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.seen {
		if m.Type == typ && (ok == nil || ok(m)) {
			return true
		}
	}
	return false
}

// eventually fails the test unless cond becomes true within a few seconds.
// seated waits until c is told that n participants are in the call: a
// session is seated only once its peer connection is built and offered, so
// a step that needs everyone in must wait for it.
func seated(t *testing.T, c *client, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s sees %d in the call", c.id, n), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.people) == n
	})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitingIs(ids ...string) func(Message) bool {
	return func(m Message) bool {
		if len(m.Waiting) != len(ids) {
			return false
		}
		for i, w := range m.Waiting {
			if w.ID != ids[i] {
				return false
			}
		}
		return true
	}
}

// Someone without an account waits until an officer admits them; the
// officer sees who waits, nobody else can admit, and a dropped connection
// comes back without waiting, unless the officer removed them.
func TestWaitingRoom(t *testing.T) {
	s := newServer(t)
	stop := make(chan struct{})
	defer close(stop)
	officer := join(t, s, "w1", "officer", RoleOfficer)
	go officer.send(stop)
	interpreter := join(t, s, "w1", "interpreter", RoleInterpreter)
	detainee := joinAs(t, s, "w1", Participant{ID: "detainee", Name: "Detainee", Role: RoleDetainee})
	go detainee.send(stop)

	eventually(t, "the detainee is told to wait", func() bool { return detainee.seenType("waiting", nil) })
	eventually(t, "the officer sees the detainee waiting", func() bool { return officer.seenType("participants", waitingIs("detainee")) })
	time.Sleep(300 * time.Millisecond)
	if detainee.seenType("offer", nil) || detainee.seenType("participants", nil) {
		t.Fatal("a waiting detainee was offered media or told who is in the call")
	}
	if interpreter.seenType("participants", func(m Message) bool { return len(m.Waiting) > 0 }) {
		t.Error("the interpreter was told who waits")
	}
	_ = interpreter.conn.Write(context.Background(), Message{Type: "admit", ID: "detainee"})
	eventually(t, "the interpreter's admit is refused", func() bool {
		interpreter.mu.Lock()
		defer interpreter.mu.Unlock()
		return len(interpreter.errors) == 1 && strings.Contains(interpreter.errors[0], "only a consular officer")
	})
	_ = officer.conn.Write(context.Background(), Message{Type: "admit", ID: "nobody"})
	_ = officer.conn.Write(context.Background(), Message{Type: "remove", ID: "officer"})
	eventually(t, "the officer's mistakes are refused", func() bool {
		officer.mu.Lock()
		defer officer.mu.Unlock()
		return len(officer.errors) == 2
	})
	if detainee.seenType("offer", nil) {
		t.Fatal("the detainee got in before being admitted")
	}

	_ = officer.conn.Write(context.Background(), Message{Type: "admit", ID: "detainee"})
	detainee.waitTracks(2) // the officer's audio and video
	eventually(t, "the officer receives the detainee", func() bool {
		officer.mu.Lock()
		defer officer.mu.Unlock()
		return officer.packets["detainee/video"] > 0
	})
	eventually(t, "nobody waits any more", func() bool { return officer.seenType("participants", waitingIs()) })

	// A dropped connection: straight back in with the resume token the
	// page was given; a copy of the link without it waits, and takes
	// nobody's place.
	var resume string
	for _, m := range detainee.seen {
		if m.Type == "admitted" {
			resume = m.Resume
		}
	}
	if len(resume) < 20 {
		t.Fatalf("the admitted detainee got resume token %q", resume)
	}
	detainee.leave()
	copied := joinAs(t, s, "w1", Participant{ID: "detainee", Name: "Detainee", Role: RoleDetainee, Resume: "guess"})
	eventually(t, "a copy of the link waits", func() bool { return copied.seenType("waiting", nil) })
	again := joinAs(t, s, "w1", Participant{ID: "detainee", Name: "Detainee", Role: RoleDetainee, Resume: resume})
	again.waitTracks(2)
	if again.seenType("waiting", nil) {
		t.Error("an admitted detainee who reconnected had to wait again")
	}
	copied.waitEnd(t, LeftReplaced) // the waiting copy is the same participant: replaced, and told so

	// Removed: back to the waiting room.
	_ = officer.conn.Write(context.Background(), Message{Type: "remove", ID: "detainee"})
	again.waitEnd(t, EndedRemoved)
	third := joinAs(t, s, "w1", Participant{ID: "detainee", Name: "Detainee", Role: RoleDetainee})
	eventually(t, "a removed detainee waits again", func() bool { return third.seenType("waiting", nil) })
	eventually(t, "the officer sees them waiting again", func() bool {
		officer.mu.Lock()
		defer officer.mu.Unlock()
		last := officer.seen
		for i := len(last) - 1; i >= 0; i-- {
			if last[i].Type == "participants" {
				return waitingIs("detainee")(last[i])
			}
		}
		return false
	})
	// Ending the call reaches the waiting room too.
	s.Room("w1").End(EndedByHost)
	third.waitEnd(t, EndedByHost)
}

// An officer mutes a participant for everyone: the server stops forwarding
// their sound (not only their page), and lets it through again on unmute.
func TestHostMutes(t *testing.T) {
	s := newServer(t)
	stop := make(chan struct{})
	defer close(stop)
	officer, detainee := officerAndDetainee(t, s, "m1", stop)
	officer.waitTracks(2)
	count := func(key string) int {
		officer.mu.Lock()
		defer officer.mu.Unlock()
		return officer.packets[key]
	}
	_ = detainee.conn.Write(context.Background(), Message{Type: "mute", ID: "officer", Muted: true})
	_ = officer.conn.Write(context.Background(), Message{Type: "mute", ID: "detainee", Muted: true})
	eventually(t, "the detainee is told they were muted", func() bool {
		return detainee.seenType("muted", func(m Message) bool { return m.Muted })
	})
	eventually(t, "everyone sees the detainee muted", func() bool {
		return officer.seenType("participants", func(m Message) bool {
			for _, p := range m.Participants {
				if p.ID == "detainee" && p.Muted {
					return true
				}
			}
			return false
		})
	})
	// Packets already on their way arrive; then the count must stay still.
	audio := count("detainee/audio")
	for deadline := time.Now().Add(5 * time.Second); ; audio = count("detainee/audio") {
		time.Sleep(300 * time.Millisecond)
		if count("detainee/audio") == audio || time.Now().After(deadline) {
			break
		}
	}
	video := count("detainee/video")
	// Video goes on (however slowly a loaded machine sends it) while no
	// audio comes, for 600 ms at least.
	time.Sleep(600 * time.Millisecond)
	eventually(t, "the muted detainee's video goes on", func() bool { return count("detainee/video") >= video+10 })
	if got := count("detainee/audio"); got != audio {
		t.Errorf("%d audio packets of the muted detainee were forwarded", got-audio)
	}
	eventually(t, "the detainee muting the officer is refused", func() bool {
		detainee.mu.Lock()
		defer detainee.mu.Unlock()
		return len(detainee.errors) == 1 && strings.Contains(detainee.errors[0], "only a consular officer")
	})
	_ = officer.conn.Write(context.Background(), Message{Type: "mute", ID: "detainee", Muted: false})
	eventually(t, "the detainee is heard again", func() bool { return count("detainee/audio") > audio+10 })
	officer.mu.Lock()
	defer officer.mu.Unlock()
	if g := officer.gaps["detainee/audio"]; g > 2 {
		t.Errorf("the muted time left a gap of %d packets in the numbering: receivers count them lost", g)
	}
}

// A page whose network changed asks for an ICE restart: the server sends a
// new offer with new ICE credentials and the media goes on.
func TestICERestart(t *testing.T) {
	s := newServer(t)
	stop := make(chan struct{})
	defer close(stop)
	officer, detainee := officerAndDetainee(t, s, "r1", stop)
	officer.waitTracks(2)
	detainee.waitTracks(2)
	ufrag := func() (string, int) {
		officer.mu.Lock()
		defer officer.mu.Unlock()
		n, last := 0, ""
		for _, m := range officer.seen {
			if m.Type == "offer" {
				n++
				for _, line := range strings.Split(m.SDP, "\r\n") {
					if strings.HasPrefix(line, "a=ice-ufrag:") {
						last = line
					}
				}
			}
		}
		return last, n
	}
	before, offers := ufrag()
	_ = officer.conn.Write(context.Background(), Message{Type: "restart"})
	eventually(t, "a new offer with new ICE credentials", func() bool {
		after, n := ufrag()
		return n > offers && after != before && after != ""
	})
	time.Sleep(300 * time.Millisecond)
	officer.mu.Lock()
	got := officer.packets["detainee/video"]
	officer.mu.Unlock()
	eventually(t, "media flows after the restart", func() bool {
		officer.mu.Lock()
		defer officer.mu.Unlock()
		return officer.packets["detainee/video"] > got+10
	})
	eventually(t, "connected after the restart", func() bool { return officer.pc.ConnectionState() == webrtc.PeerConnectionStateConnected })
}

// waitEnd waits for the client's session to end and checks why.
func (c *client) waitEnd(t *testing.T, reason string) {
	t.Helper()
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("%s: session ended with %v", c.id, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: session still running", c.id)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		c.mu.Lock()
		got := c.ended
		c.mu.Unlock()
		if got == reason {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was told the call ended for %q, want %q", c.id, got, reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Someone leaving disappears from everyone's list; a second session of the
// same person replaces the first instead of doubling them.
func TestLeavingAndRejoining(t *testing.T) {
	s := newServer(t)
	officer := join(t, s, "v4", "officer", RoleOfficer)
	interpreter := join(t, s, "v4", "interpreter", RoleInterpreter)
	detainee := join(t, s, "v4", "detainee", RoleDetainee)
	waitPeople := func(c *client, want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			c.mu.Lock()
			n := len(c.people)
			c.mu.Unlock()
			if n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s sees %d participants, want %d", c.id, n, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitPeople(officer, 3)
	detainee.leave()
	waitPeople(officer, 2)
	waitPeople(interpreter, 2)

	again := join(t, s, "v4", "interpreter", RoleInterpreter)
	waitPeople(again, 2)
	select {
	case err := <-interpreter.done:
		if err != nil {
			t.Errorf("replaced session ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the replaced session is still running")
	}
	waitPeople(officer, 2)
}

// The browser never makes offers; one that tries is told so.
func TestClientOfferRefused(t *testing.T) {
	s := newServer(t)
	srv, cl := newPipe()
	defer cl.hangUp()
	go s.Room("v5").Join(context.Background(), "a", "a", RoleOfficer, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.Write(ctx, Message{Type: "offer", SDP: "v=0"}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := cl.Read(ctx)
		if err != nil {
			t.Fatalf("no refusal: %v", err)
		}
		if m.Type == "error" {
			if !strings.Contains(m.Error, "server makes the offers") {
				t.Errorf("refusal says %q", m.Error)
			}
			return
		}
	}
}

// A visit leaves nothing behind: once it ends and the server stops, the
// goroutines of its connections, forwarding and keyframe requests are gone.
func TestNoGoroutineLeftAfterVisit(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		s, err := New(Config{UDPAddr: "127.0.0.1:0", Loopback: true}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		officer, detainee := officerAndDetainee(t, s, "v7", stop)
		officer.waitTracks(2)
		detainee.waitTracks(2)
		close(stop)
		s.Room("v7").End(EndedByHost)
		officer.waitEnd(t, EndedByHost)
		detainee.waitEnd(t, EndedByHost)
		officer.leave()
		detainee.leave()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines before the visit, %d after:\n%s", before, runtime.NumGoroutine(), buf[:n])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A participant taken out is told so and disconnected; the others stay.
func TestRemove(t *testing.T) {
	s := newServer(t)
	officer := join(t, s, "v8", "officer", RoleOfficer)
	detainee := join(t, s, "v8", "detainee", RoleDetainee)
	seated(t, officer, 2)
	s.Remove("v8", "detainee")
	s.Remove("v8", "nobody")
	s.Remove("no-such-room", "detainee")
	detainee.waitEnd(t, EndedRemoved)
	select {
	case err := <-officer.done:
		t.Fatalf("the officer's session ended too: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if s.Room("v8").Ended() {
		t.Error("removing one participant ended the call")
	}
}

// A network that blocks UDP still gets the call, over ICE-TCP.
func TestICEOverTCP(t *testing.T) {
	s, err := New(Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", Loopback: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.TCPAddr() == nil {
		t.Fatal("no ICE-TCP address")
	}
	stop := make(chan struct{})
	defer close(stop)
	officer := joinOver(t, s, "t1", Participant{ID: "officer", Name: "officer", Role: RoleOfficer, Admitted: true}, webrtc.NetworkTypeTCP4)
	detainee := joinOver(t, s, "t1", Participant{ID: "detainee", Name: "detainee", Role: RoleDetainee, Admitted: true}, webrtc.NetworkTypeTCP4)
	go officer.send(stop)
	go detainee.send(stop)
	officer.waitTracks(2)
	detainee.waitTracks(2)
	pair, err := officer.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("no selected pair: %v", err)
	}
	if pair.Local.Protocol != webrtc.ICEProtocolTCP {
		t.Errorf("the call went over %s, want TCP", pair.Local.Protocol)
	}
}

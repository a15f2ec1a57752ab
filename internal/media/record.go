package media

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Recorder decides whether a call may be recorded and keeps what is. The
// media server asks it; it knows the visit, its policy and where recordings
// go.
type Recorder interface {
	// Permit says whether by may start (on) or stop the recording of room
	// now, and whether a recording needs everyone's consent first. Its
	// error is shown to them.
	Permit(room string, by Info, on bool) (consent bool, err error)
	// Track opens where one track of a recording goes.
	Track(room, recording string, from Info, codec webrtc.RTPCodecParameters, start time.Time) (TrackSink, error)
	// Stopped is told that a recording ended, and why.
	Stopped(room, recording string, by Info, why string)
}

// TrackSink receives the packets of one recorded track, as forwarded.
type TrackSink interface {
	WriteRTP(pkt *rtp.Packet, arrival time.Time) error
	// NeedsKeyframe asks for a keyframe from the publisher.
	NeedsKeyframe() bool
	// Close finishes the track; it may take a while, and runs apart.
	Close()
}

// Why a recording stopped.
const (
	RecordStopped   = "stopped"  // an officer stopped it
	RecordNewcomer  = "newcomer" // someone joined who had not consented
	RecordCallEnded = "ended"    // the call ended
	RecordDeclined  = "declined" // someone did not consent: it never started
	RecordEmpty     = "empty"    // everyone left the call
	RecordMoved     = "moved"    // the call moved to another server, where it goes on
)

// recording is a room's running recording, or its request for consent.
type recording struct {
	id      string
	by      Info
	start   time.Time
	running bool
	consent bool            // it runs only while everyone present agrees
	agreed  map[string]bool // who agreed, while asking
}

// sinkBox holds a forward's sink, for an atomic swap.
type sinkBox struct {
	sink TrackSink
	last atomic.Int64 // when a keyframe was last asked for it, unix ns
}

var errNoRecorder = errors.New("recording is not available on this server")

// Record starts or stops the recording of the call as asked by by, after
// the recorder's permission; a recording that needs consent starts once
// everyone present has agreed.
func (r *Room) Record(by Info, on bool) error {
	rec := r.server.recorder
	if rec == nil {
		return errNoRecorder
	}
	r.mu.Lock()
	busy := r.ended || r.rec != nil
	r.mu.Unlock()
	if on && busy {
		return nil // already recording, or asking
	}
	consent, err := rec.Permit(r.id, by, on)
	if err != nil {
		return err
	}
	if !on {
		r.stopRecording(by, RecordStopped)
		return nil
	}
	r.mu.Lock()
	if r.ended || r.rec != nil {
		r.mu.Unlock()
		return nil // already recording, or asking
	}
	r.rec = &recording{id: rand.Text()[:16], by: by, consent: consent, agreed: map[string]bool{by.ID: true}}
	r.mu.Unlock()
	if !consent {
		return r.startRecording()
	}
	// Everyone present but the one asking is asked; it starts when the
	// last one agrees.
	r.mu.Lock()
	var ask []*Peer
	for id, p := range r.peers {
		if id != by.ID {
			ask = append(ask, p)
		}
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, p := range ask {
		_ = p.send(ctx, Message{Type: "consent", ID: by.Name})
	}
	r.checkConsent()
	return nil
}

// consent records a participant's answer to a request for consent.
func (r *Room) consent(p *Peer, agree bool) {
	r.mu.Lock()
	rec := r.rec
	if rec == nil || rec.running {
		r.mu.Unlock()
		return
	}
	if !agree {
		r.rec = nil
		r.mu.Unlock()
		r.server.recorder.Stopped(r.id, rec.id, p.info(), RecordDeclined)
		r.broadcast(Message{Type: "recording", Reason: RecordDeclined, ID: p.Name})
		return
	}
	rec.agreed[p.ID] = true
	r.mu.Unlock()
	r.checkConsent()
}

// checkConsent starts an asked recording once everyone present agreed.
func (r *Room) checkConsent() {
	r.mu.Lock()
	rec := r.rec
	all := rec != nil && !rec.running
	for id := range r.peers {
		if all && !rec.agreed[id] {
			all = false
		}
	}
	r.mu.Unlock()
	if all {
		if err := r.startRecording(); err != nil {
			r.server.log.Warn("media: start recording", slog.String("room", r.id), slog.String("error", err.Error()))
		}
	}
}

// startRecording opens a sink for every track and tells everyone. A
// recording that needs consent starts only if everyone present agreed,
// checked under the same lock that seats newcomers.
func (r *Room) startRecording() error {
	r.mu.Lock()
	rec := r.rec
	if rec == nil || rec.running || r.ended {
		r.mu.Unlock()
		return nil
	}
	if rec.consent {
		for id := range r.peers {
			if !rec.agreed[id] {
				r.mu.Unlock()
				return nil // someone came meanwhile: they are being asked
			}
		}
	}
	rec.running, rec.start = true, time.Now()
	tracks := append([]*forward(nil), r.tracks...)
	st := RecordingState{ID: rec.id, Start: rec.start, Consent: rec.consent, By: rec.by}
	for id := range rec.agreed {
		st.Agreed = append(st.Agreed, id)
	}
	slices.Sort(st.Agreed)
	r.mu.Unlock()
	r.keepRecording(&st)
	for _, f := range tracks {
		r.sink(f, rec)
	}
	r.broadcast(Message{Type: "recording", On: true})
	return nil
}

// keepRecording tells the ledger that a recording runs (st) or ended (nil).
func (r *Room) keepRecording(st *RecordingState) {
	if l := r.server.ledger; l != nil {
		if err := l.Recording(r.id, st); err != nil {
			r.server.log.Error("media: keep the recording's state", slog.String("room", r.id), slog.String("error", err.Error()))
		}
	}
}

// Resume continues a recording that ran in this call on another server:
// the tracks are recorded as they come, in new files on the recording's
// timeline, and the people who consented need not consent again. It
// reports whether it did: a room that records or asks already, or ended,
// does not.
func (r *Room) Resume(st RecordingState) bool {
	if r.server.recorder == nil {
		return false
	}
	r.mu.Lock()
	if r.ended || r.rec != nil {
		r.mu.Unlock()
		return false
	}
	agreed := map[string]bool{}
	for _, id := range st.Agreed {
		agreed[id] = true
	}
	rec := &recording{id: st.ID, by: st.By, start: st.Start, running: true, consent: st.Consent, agreed: agreed}
	r.rec = rec
	tracks := append([]*forward(nil), r.tracks...)
	r.mu.Unlock()
	for _, f := range tracks {
		r.sink(f, rec)
	}
	return true
}

// sink opens the recording of one track. Opening takes a moment: the sink
// is put in place only if the same recording still runs and the track is
// still forwarded, under the lock a stop takes first; otherwise it is closed.
func (r *Room) sink(f *forward, rec *recording) {
	s, err := r.server.recorder.Track(r.id, rec.id, f.from.info(), f.remote.Codec(), rec.start)
	if err != nil {
		r.server.log.Warn("media: record a track", slog.String("room", r.id), slog.String("error", err.Error()))
		return
	}
	r.mu.Lock()
	live := r.rec == rec && rec.running && slices.Contains(r.tracks, f)
	var old *sinkBox
	if live {
		old = f.sink.Swap(&sinkBox{sink: s})
	}
	r.mu.Unlock()
	if !live {
		r.server.closeSink(s)
	}
	if old != nil {
		r.server.closeSink(old.sink)
	}
}

// closeSink finishes a track's recording apart from the forwarding; the
// server's Close waits for every one, so that none is lost at a shutdown.
func (s *Server) closeSink(t TrackSink) {
	s.sinks.Add(1)
	go func() {
		defer s.sinks.Done()
		t.Close()
	}()
}

// stopRecording closes every sink of the running recording (or drops a
// request for consent) and tells everyone why.
func (r *Room) stopRecording(by Info, why string) {
	r.mu.Lock()
	rec := r.rec
	r.rec = nil
	tracks := append([]*forward(nil), r.tracks...)
	r.mu.Unlock()
	if rec == nil {
		return
	}
	for _, f := range tracks {
		if b := f.sink.Swap(nil); b != nil {
			r.server.closeSink(b.sink)
		}
	}
	if why != RecordMoved {
		r.keepRecording(nil)
	}
	r.server.recorder.Stopped(r.id, rec.id, by, why)
	r.broadcast(Message{Type: "recording", Reason: why})
}

// recordPacket passes a forwarded packet to the track's sink, if recording,
// and asks the publisher for a keyframe when the sink needs one (at most
// twice a second).
func (f *forward) recordPacket(pkt *rtp.Packet) {
	b := f.sink.Load()
	if b == nil {
		return
	}
	now := time.Now()
	_ = b.sink.WriteRTP(pkt, now)
	if b.sink.NeedsKeyframe() && now.UnixNano()-b.last.Load() > int64(500*time.Millisecond) {
		b.last.Store(now.UnixNano())
		f.requestKeyframe()
	}
}

// joinRecording brings a newcomer into the recording state: a recording
// that needs everyone's consent stops when someone who did not give it
// arrives; a request for consent is put to them too.
func (r *Room) joinRecording(ctx context.Context, p *Peer) {
	r.mu.Lock()
	rec := r.rec
	var running, consent, agreed bool
	if rec != nil {
		running, consent, agreed = rec.running, rec.consent, rec.agreed[p.ID]
	}
	r.mu.Unlock()
	switch {
	case rec == nil:
	case running && consent && !agreed:
		r.stopRecording(Info{}, RecordNewcomer)
	case running:
		_ = p.send(ctx, Message{Type: "recording", On: true})
	default:
		_ = p.send(ctx, Message{Type: "consent", ID: rec.by.Name})
	}
}

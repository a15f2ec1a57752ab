package media

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// fakeRecorder allows or refuses as told and counts what its sinks get.
type fakeRecorder struct {
	mu      sync.Mutex
	refuse  error
	consent bool
	sinks   map[string]*fakeSink // "participant/kind"
	stopped []string
}

type fakeSink struct {
	mu      sync.Mutex
	packets int
	closed  bool
	asked   bool // NeedsKeyframe was true once
}

func (s *fakeSink) WriteRTP(*rtp.Packet, time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.packets++
	return nil
}

func (s *fakeSink) NeedsKeyframe() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := !s.asked
	s.asked = true
	return first
}

func (s *fakeSink) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
}

func (f *fakeRecorder) Permit(room string, by Info, on bool) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.consent, f.refuse
}

func (f *fakeRecorder) Track(room, recording string, from Info, codec webrtc.RTPCodecParameters, start time.Time) (TrackSink, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &fakeSink{}
	f.sinks[from.ID+"/"+strings.SplitN(codec.MimeType, "/", 2)[0]] = s
	return s, nil
}

func (f *fakeRecorder) Stopped(room, recording string, by Info, why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, why)
}

func (f *fakeRecorder) packets(key string) (int, bool) {
	f.mu.Lock()
	s := f.sinks[key]
	f.mu.Unlock()
	if s == nil {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.packets, s.closed
}

func recordingServer(t *testing.T, rec *fakeRecorder) *Server {
	t.Helper()
	cfg := Config{UDPAddr: "127.0.0.1:0", Loopback: true}
	if rec != nil {
		rec.sinks = map[string]*fakeSink{}
		cfg.Recorder = rec
	}
	s, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func (c *client) lastError() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errors) == 0 {
		return ""
	}
	return c.errors[len(c.errors)-1]
}

// Without a recorder, or when the policy refuses, nothing is recorded and
// the officer is told why; only an officer may ask.
func TestRecordingRefused(t *testing.T) {
	off := recordingServer(t, nil)
	o := join(t, off, "n1", "officer", RoleOfficer)
	time.Sleep(100 * time.Millisecond)
	_ = o.conn.Write(context.Background(), Message{Type: "record", On: true})
	eventually(t, "no recorder: refused", func() bool { return strings.Contains(o.lastError(), "not available") })

	rec := &fakeRecorder{refuse: errors.New("consular visits are never recorded")}
	s := recordingServer(t, rec)
	officer, detainee := officerAndDetainee(t, s, "n2", make(chan struct{}))
	officer.waitTracks(2)
	_ = detainee.conn.Write(context.Background(), Message{Type: "record", On: true})
	_ = officer.conn.Write(context.Background(), Message{Type: "record", On: true})
	eventually(t, "the policy's refusal reaches the officer", func() bool { return strings.Contains(officer.lastError(), "never recorded") })
	eventually(t, "the detainee is refused", func() bool { return strings.Contains(detainee.lastError(), "only a consular officer") })
	if len(rec.sinks) != 0 || officer.seenType("recording", nil) {
		t.Errorf("a refused recording opened %d tracks", len(rec.sinks))
	}
}

// Allowed without consent: every track is recorded from the start request,
// a keyframe is asked for, everyone sees it running; stopping closes every
// track and says so.
func TestRecordingRuns(t *testing.T) {
	rec := &fakeRecorder{}
	s := recordingServer(t, rec)
	stop := make(chan struct{})
	defer close(stop)
	officer, detainee := officerAndDetainee(t, s, "r2", stop)
	officer.waitTracks(2)
	detainee.waitTracks(2)
	_ = officer.conn.Write(context.Background(), Message{Type: "record", On: true})
	for _, c := range []*client{officer, detainee} {
		eventually(t, c.id+" sees the recording", func() bool { return c.seenType("recording", func(m Message) bool { return m.On }) })
	}
	for _, key := range []string{"officer/audio", "officer/video", "detainee/audio", "detainee/video"} {
		eventually(t, key+" recorded", func() bool { n, _ := rec.packets(key); return n > 10 })
	}
	_ = officer.conn.Write(context.Background(), Message{Type: "record", On: false})
	eventually(t, "every track closed", func() bool {
		for _, key := range []string{"officer/audio", "officer/video", "detainee/audio", "detainee/video"} {
			if _, closed := rec.packets(key); !closed {
				return false
			}
		}
		return true
	})
	eventually(t, "the detainee sees it stopped", func() bool {
		return detainee.seenType("recording", func(m Message) bool { return !m.On && m.Reason == RecordStopped })
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.stopped) != 1 || rec.stopped[0] != RecordStopped {
		t.Errorf("stopped %v", rec.stopped)
	}
}

// With consent: nothing is recorded until everyone present agrees; someone
// who declines stops the request; a newcomer who has not agreed stops a
// running recording.
func TestRecordingConsent(t *testing.T) {
	rec := &fakeRecorder{consent: true}
	s := recordingServer(t, rec)
	stop := make(chan struct{})
	defer close(stop)
	officer, detainee := officerAndDetainee(t, s, "c1", stop)
	officer.waitTracks(2)
	_ = officer.conn.Write(context.Background(), Message{Type: "record", On: true})
	eventually(t, "the detainee is asked", func() bool { return detainee.seenType("consent", nil) })
	time.Sleep(300 * time.Millisecond)
	if len(rec.sinks) != 0 {
		t.Fatal("recording before the detainee agreed")
	}
	_ = detainee.conn.Write(context.Background(), Message{Type: "consent", On: false})
	eventually(t, "the officer hears it was declined", func() bool {
		return officer.seenType("recording", func(m Message) bool { return m.Reason == RecordDeclined && m.ID == "detainee" })
	})

	_ = officer.conn.Write(context.Background(), Message{Type: "record", On: true})
	eventually(t, "asked again", func() bool {
		detainee.mu.Lock()
		defer detainee.mu.Unlock()
		n := 0
		for _, m := range detainee.seen {
			if m.Type == "consent" {
				n++
			}
		}
		return n == 2
	})
	_ = detainee.conn.Write(context.Background(), Message{Type: "consent", On: true})
	eventually(t, "recording once everyone agreed", func() bool { n, _ := rec.packets("detainee/video"); return n > 10 })

	join(t, s, "c1", "interpreter", RoleInterpreter)
	eventually(t, "a newcomer stops it", func() bool {
		return officer.seenType("recording", func(m Message) bool { return m.Reason == RecordNewcomer })
	})
	eventually(t, "the tracks close after the newcomer came", func() bool { _, closed := rec.packets("detainee/video"); return closed })
}

// Ending the call ends its recording.
func TestRecordingEndsWithCall(t *testing.T) {
	rec := &fakeRecorder{}
	s := recordingServer(t, rec)
	stop := make(chan struct{})
	defer close(stop)
	officer, _ := officerAndDetainee(t, s, "e1", stop)
	officer.waitTracks(2)
	_ = officer.conn.Write(context.Background(), Message{Type: "record", On: true})
	eventually(t, "recording", func() bool { n, _ := rec.packets("detainee/audio"); return n > 5 })
	s.Room("e1").End(EndedByHost)
	eventually(t, "closed with the call", func() bool { _, closed := rec.packets("detainee/audio"); return closed })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.stopped) != 1 || rec.stopped[0] != RecordCallEnded {
		t.Errorf("stopped %v", rec.stopped)
	}
}

// A request for consent does not hang on someone who left without
// answering: the others' agreement is enough once they are gone; the one
// who asked is not asked.
func TestConsentWhenTheSilentOneLeaves(t *testing.T) {
	rec := &fakeRecorder{consent: true}
	s := recordingServer(t, rec)
	stop := make(chan struct{})
	defer close(stop)
	officer, detainee := officerAndDetainee(t, s, "c2", stop)
	officer.waitTracks(2)
	_ = officer.conn.Write(context.Background(), Message{Type: "record", On: true})
	eventually(t, "the detainee is asked", func() bool { return detainee.seenType("consent", nil) })
	if officer.seenType("consent", nil) {
		t.Error("the officer who asked was asked too")
	}
	detainee.leave()
	eventually(t, "recording once the silent one left", func() bool { n, _ := rec.packets("officer/audio"); return n > 5 })
}

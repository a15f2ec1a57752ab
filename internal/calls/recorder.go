package calls

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/media"
	"github.com/attache-org/attache/internal/recording"
	"github.com/attache-org/attache/internal/visits"
)

// Recorder is the media server's Recorder: it asks the visit's
// recording policy, writes each track to an encrypted file in Dir/<visit>,
// and keeps each closed file, with its SHA-256, on the visit.
type Recorder struct {
	Visits *visits.Service
	Keys   *recording.Keys
	Dir    string
	Log    *slog.Logger

	calls *Service // keeps the files being written (set by New)
}

var _ media.Recorder = (*Recorder)(nil)

// Permit applies the policy: never, with everyone's consent, or always
// (then nobody may stop it).
func (c *Recorder) Permit(room string, by media.Info, on bool) (bool, error) {
	ctx := context.Background()
	_, rp, err := c.Visits.CallPolicy(ctx, room)
	if err != nil {
		return false, err
	}
	switch {
	case on && rp.Policy == visits.RecordNever:
		return false, errors.New("this visit may not be recorded: " + strings.ToLower(visits.Kinds.Label(rp.Kind)) + "s are never recorded here")
	case !on && rp.Policy == visits.RecordAlways:
		return false, errors.New("this visit is always recorded: the recording cannot be stopped")
	}
	// Stopping is always allowed otherwise: also when the policy changed to
	// "never" during the call.
	consent := rp.Policy == visits.RecordConsent
	action := "recording.stop"
	switch {
	case on && consent:
		action = "recording.request" // it starts once everyone agrees (recording.end says if not)
	case on:
		action = "recording.start"
	}
	if err := c.Visits.RecordingEvent(ctx, room, action, "policy="+rp.Policy, actorOf(by)); err != nil {
		return false, err
	}
	return consent, nil
}

// Track opens the encrypted file of one track.
func (c *Recorder) Track(room, rec string, from media.Info, codec webrtc.RTPCodecParameters, start time.Time) (media.TrackSink, error) {
	dir := filepath.Join(c.Dir, room)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("recordings directory: %w", err)
	}
	kind, _, _ := strings.Cut(codec.MimeType, "/")
	kind = strings.ToLower(kind)
	// A participant who reconnects during a recording starts a new file of
	// theirs: each session's name is its own.
	name := fmt.Sprintf("%s-%s-%s-%s", rec, fileSafe(from.ID), kind, strings.ToLower(rand.Text()[:6]))
	t, err := recording.NewTrack(recording.TrackConfig{Dir: dir, Name: name, MimeType: codec.MimeType, ClockRate: codec.ClockRate, Keys: c.Keys,
		Start: start, KeyframeInterval: 10 * time.Second, Log: c.Log})
	if err != nil {
		return nil, err
	}
	rt := &recordedTrack{rec: c, t: t, part: room + "/" + name, file: visits.RecordedFile{VisitID: room, Recording: rec, Participant: from.ID,
		Name: from.Name, Role: string(from.Role), Kind: kind, StartedAt: start}}
	if c.calls != nil {
		if err := c.calls.partOpened(rt.part, rt.file); err != nil {
			c.Log.Error("recording: keep a file being written", slog.String("visit", room), slog.String("error", err.Error()))
		}
	}
	return rt, nil
}

// Stopped audits why a recording ended.
func (c *Recorder) Stopped(room, rec string, by media.Info, why string) {
	if err := c.Visits.RecordingEvent(context.Background(), room, "recording.end", "recording="+rec+" reason="+why, actorOf(by)); err != nil {
		c.Log.Error("recording: audit the end", slog.String("visit", room), slog.String("error", err.Error()))
	}
}

// recordedTrack is one track being written.
type recordedTrack struct {
	rec  *Recorder
	t    *recording.Track
	part string // VISIT/NAME
	file visits.RecordedFile
}

func (r *recordedTrack) WriteRTP(pkt *rtp.Packet, at time.Time) error { return r.t.WriteRTP(pkt, at) }
func (r *recordedTrack) NeedsKeyframe() bool                          { return r.t.NeedsKeyframe() }

// Close finishes the file and keeps it on the visit with its SHA-256.
func (r *recordedTrack) Close() {
	res, err := r.t.Close()
	if r.rec.calls != nil {
		defer r.rec.calls.partClosed(r.part)
	}
	if errors.Is(err, recording.ErrNoMedia) {
		return // nothing came: no file
	}
	if err != nil {
		r.rec.Log.Error("recording: finish a track", slog.String("visit", r.file.VisitID), slog.String("error", err.Error()))
		return
	}
	r.rec.keep(r.file, res)
}

// keep keeps a finished file on the visit with its SHA-256.
func (c *Recorder) keep(f visits.RecordedFile, res recording.Result) {
	rel, err := filepath.Rel(c.Dir, res.Path)
	if err != nil {
		rel = res.Path
	}
	f.File, f.Size, f.SHA256, f.Codec, f.Frames = rel, res.Size, res.SHA256, res.Codec, res.Frames
	f.StartMS, f.DurationMS, f.ClosedAt = res.Start.Milliseconds(), res.Duration.Milliseconds(), time.Now()
	if err := c.Visits.SaveRecordedFile(context.Background(), f); err != nil {
		c.Log.Error("recording: keep a file", slog.String("visit", f.VisitID), slog.String("file", rel), slog.String("error", err.Error()))
	}
}

// actorOf names who acted in a call, for the audit log.
func actorOf(by media.Info) audit.Actor {
	if by.ID == "" {
		return audit.System
	}
	return audit.Actor{ID: strings.TrimPrefix(by.ID, "user:"), Name: by.Name}
}

// fileSafe turns a participant id into a file name part.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

package loadtest

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/attache-org/attache/internal/media"
	"github.com/attache-org/attache/internal/recording"
)

// recorder records every call of the load test, as a visit whose policy
// is "always" would be: real encrypted WebM files in a temporary directory,
// removed when the server stops.
type recorder struct {
	dir   string
	keys  *recording.Keys
	log   *slog.Logger
	files atomic.Int64
}

func newRecorder(log *slog.Logger) (*recorder, error) {
	dir, err := os.MkdirTemp("", "attache-loadtest-recordings-")
	if err != nil {
		return nil, err
	}
	keys, err := recording.GenerateKeyFile(filepath.Join(dir, "key"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &recorder{dir: dir, keys: keys, log: log}, nil
}

func (r *recorder) Permit(room string, by media.Info, on bool) (bool, error) { return false, nil }

func (r *recorder) Track(room, rec string, from media.Info, codec webrtc.RTPCodecParameters, start time.Time) (media.TrackSink, error) {
	dir := filepath.Join(r.dir, room)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	t, err := recording.NewTrack(recording.TrackConfig{Dir: dir, Name: rec + "-" + from.ID + "-" + codec.MimeType[:5], MimeType: codec.MimeType,
		ClockRate: codec.ClockRate, Keys: r.keys, Start: start, KeyframeInterval: 10 * time.Second, Log: r.log})
	if err != nil {
		return nil, err
	}
	r.files.Add(1)
	return sink{t}, nil
}

func (r *recorder) Stopped(room, rec string, by media.Info, why string) {}

// bytes is what the recordings take on disk so far.
func (r *recorder) bytes() int64 {
	var n int64
	_ = filepath.WalkDir(r.dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func (r *recorder) close() { os.RemoveAll(r.dir) }

// sink adapts a recording.Track to the media server.
type sink struct{ t *recording.Track }

func (s sink) WriteRTP(pkt *rtp.Packet, at time.Time) error { return s.t.WriteRTP(pkt, at) }
func (s sink) NeedsKeyframe() bool                          { return s.t.NeedsKeyframe() }
func (s sink) Close()                                       { _, _ = s.t.Close() }

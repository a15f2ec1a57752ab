// Package recording records the media of a visit: one Track a received RTP
// stream, written as one WebM file (VP8 or VP9 video, Opus audio), encrypted
// at rest with age, and hashed for the audit log when it is closed.
//
// A Track takes RTP packets as they arrive, in any order and with gaps, puts
// them back in order in a jitter buffer (Pion's samplebuilder), and writes
// whole frames only: a frame that lost a packet is dropped, and so is every
// video frame after it until the next key frame, because it would decode
// against a picture the file does not have. NeedsKeyframe tells the caller
// when to ask the sender for a key frame (RTCP PLI).
//
// Every frame is placed on a timeline shared by all tracks of a recording:
// milliseconds from the recording's start, the first packet of a track at
// its arrival time, the rest by their RTP timestamps. The files of one
// recording therefore play side by side in sync, and each file's DateUTC is
// the recording's start.
//
// Files are written atomically. While recording, Dir/Name.webm.age.part
// holds a live WebM (no duration, no index) encrypted to the recording key.
// Close reads it back and writes the finished file, with its duration and
// Cues for seeking, to Name.webm.age.final.part, syncs it, renames it to
// Name.webm.age, removes the live file and syncs the directory. After a
// crash only .part files remain: the live one decrypts (age -d) to a WebM
// that plays up to the last cluster (clusters are at most 5 s) lying in a
// complete 64 KiB age chunk. Plaintext never touches the disk.
package recording

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
)

// File name suffixes.
const (
	Ext          = ".webm.age"            // a finished recording
	liveExt      = ".webm.age.part"       // being recorded
	finalizeExt  = ".webm.age.final.part" // being finished by Close
	maxNameBytes = 128
)

// maxJitterDelay is how long, in media time, the jitter buffer waits for a
// missing packet (a retransmission, or one overtaken by later packets) before
// it gives up on the frame: a missing packet holds back all the frames after
// it until then.
const maxJitterDelay = 500 * time.Millisecond

// maxSeqJump is the largest jump of RTP sequence numbers, forwards or
// backwards, still taken as the same stream; a larger one, from a sender
// that restarted or after an outage of many seconds, restarts the track's
// timeline at the packet's arrival.
const maxSeqJump = 1000

var (
	// ErrClosed is returned by WriteRTP and Close after Close.
	ErrClosed = errors.New("recording: track closed")
	// ErrNoMedia is returned by Close when no frame was written (no packet
	// arrived, or a video track never received a key frame); no file is
	// left behind.
	ErrNoMedia = errors.New("recording: no media recorded")
)

// TrackConfig configures one track.
type TrackConfig struct {
	Dir  string // directory of the recordings; must exist
	Name string // file name without extension: letters, digits, '-', '_', '.'; unique in Dir

	MimeType  string // "video/VP8", "video/VP9" or "audio/opus", as in webrtc.RTPCodecCapability
	ClockRate uint32 // RTP clock rate; 0 for the codec's usual one

	Keys  *Keys
	Start time.Time // start of the recording, the same for all of its tracks

	// KeyframeInterval, when positive, makes NeedsKeyframe ask for a key
	// frame when the last one is older than this, so that the file can be
	// seeked at that granularity. Every key frame costs bandwidth for all
	// receivers of the stream. Zero asks only at the start and after loss.
	KeyframeInterval time.Duration

	Log *slog.Logger // nil: discard
}

// Result describes a finished track file.
type Result struct {
	Path   string // the encrypted file, Dir/Name.webm.age
	Size   int64  // bytes of the encrypted file
	SHA256 string // hex SHA-256 of the encrypted file, for the audit log
	Codec  string // "VP8", "VP9" or "opus"

	Frames        int // frames written
	DroppedFrames int // whole frames not written: before the first key frame, or after a loss until the next one
	LostPackets   int // RTP packets missing between frames written or dropped: lost, too late, or of an incomplete frame

	Start    time.Duration // first frame, from the recording's start
	Duration time.Duration // from the first frame to the end of the last one
}

// Track records one RTP stream to one file. Its methods may be called from
// several goroutines.
type Track struct {
	cfg   TrackConfig
	codec codec
	log   *slog.Logger
	root  *os.Root

	mu       sync.Mutex
	closed   bool
	err      error // sticky write error
	part     *os.File
	enc      io.WriteCloser // age, over part
	mux      *muxer
	builder  *samplebuilder.SampleBuilder
	flushing bool // flushJitter is at work

	// timing: the first packet anchors RTP time to the recording's timeline
	anchored  bool
	anchorMS  int64
	anchorRTP uint32
	lastRTP   uint32
	extRTP    int64 // lastRTP unwrapped, relative to anchorRTP
	lastMS    int64 // last frame written

	// loss
	maxSeq  uint16 // highest sequence number received
	haveSeq bool
	lastSeq uint16              // last packet of the last frame out of the jitter buffer
	padding map[uint16]struct{} // sequence numbers of padding-only packets
	waitKey bool                // video: drop frames until a key frame
	keyMS   int64               // last key frame written

	firstMS, endMS int64
	lastFrameDur   int64
	frames         int
	dropped        int
	lost           int
}

// NewTrack creates the track's live file and returns the track.
func NewTrack(cfg TrackConfig) (*Track, error) {
	if err := checkName(cfg.Name); err != nil {
		return nil, err
	}
	if cfg.Keys == nil {
		return nil, errors.New("recording: no keys")
	}
	if cfg.Start.IsZero() {
		return nil, errors.New("recording: no start time")
	}
	c, err := codecFor(cfg.MimeType, cfg.ClockRate)
	if err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("recording: open directory: %w", err)
	}
	t := &Track{
		cfg: cfg, codec: c, root: root,
		log:     log.With("recording", cfg.Name, "codec", c.name),
		padding: make(map[uint16]struct{}),
		waitKey: c.video,
	}
	if err := t.create(); err != nil {
		root.Close()
		return nil, err
	}
	return t, nil
}

func (t *Track) create() error {
	if _, err := t.root.Lstat(t.cfg.Name + Ext); err == nil {
		return fmt.Errorf("recording: %s%s already exists", t.cfg.Name, Ext)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recording: %w", err)
	}
	f, err := t.root.OpenFile(t.cfg.Name+liveExt, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("recording: create live file: %w", err)
	}
	enc, err := age.Encrypt(f, t.cfg.Keys.recipient)
	if err == nil {
		t.mux, err = newMuxer(enc, t.codec, t.cfg.Name, t.cfg.Start)
	}
	if err != nil {
		f.Close()
		t.root.Remove(t.cfg.Name + liveExt)
		return fmt.Errorf("recording: start encryption: %w", err)
	}
	t.part, t.enc = f, enc
	t.builder = t.newBuilder()
	return nil
}

// checkName accepts plain file names only, so that a track cannot write
// outside its directory nor collide with the suffixes this package uses.
func checkName(name string) error {
	if name == "" || len(name) > maxNameBytes || name[0] == '.' || !filepath.IsLocal(name) {
		return fmt.Errorf("recording: invalid name %q", name)
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("recording: invalid name %q: only letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}

// WriteRTP takes one received RTP packet of the track, arrived at arrival.
// It keeps a copy. It returns an error when the file cannot be written; the
// error is sticky and Close returns it too.
func (t *Track) WriteRTP(pkt *rtp.Packet, arrival time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if t.err != nil {
		return t.err
	}
	switch jump := pkt.SequenceNumber - t.maxSeq; {
	case !t.anchored:
		t.anchor(pkt, arrival)
	case jump > maxSeqJump && jump < math.MaxUint16+1-maxSeqJump:
		// Not the stream we were following, or after a long outage: write
		// what the jitter buffer holds and start again from this packet.
		t.log.Info("recording: RTP sequence jumped; restarting the track's timeline", "jump", int16(jump))
		if err := t.flushJitter(); err != nil {
			return err
		}
		t.builder = t.newBuilder()
		t.anchor(pkt, arrival)
		t.haveSeq = false
		clear(t.padding)
		t.waitKey = t.codec.video
	}
	if len(pkt.Payload) == 0 { // padding only, e.g. bandwidth probing
		if len(t.padding) > 4096 {
			clear(t.padding)
		}
		t.padding[pkt.SequenceNumber] = struct{}{}
	}
	if int16(pkt.SequenceNumber-t.maxSeq) > 0 {
		t.maxSeq = pkt.SequenceNumber
	}
	t.builder.Push(pkt.Clone())
	return t.drain()
}

// anchor places pkt, the first packet of the stream, on the recording's
// timeline at its arrival.
func (t *Track) anchor(pkt *rtp.Packet, arrival time.Time) {
	t.anchored = true
	t.maxSeq = pkt.SequenceNumber
	t.anchorMS = max(arrival.Sub(t.cfg.Start).Milliseconds(), 0)
	t.anchorRTP, t.lastRTP, t.extRTP = pkt.Timestamp, pkt.Timestamp, 0
}

func (t *Track) newBuilder() *samplebuilder.SampleBuilder {
	return samplebuilder.New(t.codec.maxLate, t.codec.newDepacketizer(), t.codec.clockRate,
		samplebuilder.WithRTPHeaders(true), samplebuilder.WithMaxTimeDelay(maxJitterDelay))
}

// drain writes the frames the jitter buffer has completed.
func (t *Track) drain() error {
	for s := t.builder.Pop(); s != nil; s = t.builder.Pop() {
		if t.flushing && len(s.RTPHeaders) > 0 && s.RTPHeaders[0].SequenceNumber == t.maxSeq+1 {
			continue // flushJitter's end marker
		}
		if err := t.writeSample(s); err != nil {
			t.err = fmt.Errorf("recording: write %s: %w", t.cfg.Name, err)
			return t.err
		}
	}
	return nil
}

func (t *Track) writeSample(s *media.Sample) error {
	lost, stale := t.countLoss(s)
	if stale {
		t.dropped++
		return nil
	}
	ms := t.timestamp(s.PacketTimestamp)

	key, width, height := t.codec.keyframe(s.Data)
	if t.codec.video {
		if lost && !key && !t.waitKey {
			t.waitKey = true
			t.log.Debug("recording: packet loss, dropping video until the next key frame", "at_ms", ms)
		}
		if t.waitKey && !key {
			t.dropped++
			return nil
		}
		t.waitKey = false
		if key {
			t.keyMS = ms
		}
	}
	if len(s.Data) == 0 {
		return nil
	}
	if !t.mux.started() {
		if err := t.mux.start(width, height); err != nil {
			return err
		}
		t.firstMS = ms
		t.log.Debug("recording: first frame", "at_ms", ms, "width", width, "height", height)
	}
	if t.frames > 0 {
		// Blocks of a track only go forward: two frames in one millisecond
		// (a sender that bunches them) would make players and muxers
		// refuse the file.
		ms = max(ms, t.lastMS+1)
	}
	if err := t.mux.write(ms, key, s.Data); err != nil {
		return err
	}
	if t.frames > 0 && ms > t.lastMS {
		t.lastFrameDur = ms - t.lastMS
	}
	if !t.codec.video {
		t.lastFrameDur = opusDuration(s.Data).Milliseconds()
	}
	t.frames++
	t.lastMS = ms
	t.endMS = ms + t.lastFrameDur
	return nil
}

// flushJitter makes the jitter buffer give out the frames it holds, at the
// end of the stream. samplebuilder's own Flush can loop over all 65 536
// sequence numbers, quadratically, when its head has run past its tail
// (seconds of CPU at the end of a three-second test), so instead this pushes
// an end marker, a packet that starts no frame, one sequence number after the
// last and 2 s of RTP time after the last frame: the frame before it is then
// complete, and the jitter buffer gives up on the gaps before it as it would
// in a live stream.
func (t *Track) flushJitter() error {
	t.flushing = true
	defer func() { t.flushing = false }()
	payload := []byte{0x00, 0x00} // VP8 or VP9: no start of frame; Opus: written, so drain skips it
	t.builder.Push(&rtp.Packet{
		Header: rtp.Header{
			Version:        2,
			SequenceNumber: t.maxSeq + 1,
			Timestamp:      t.lastRTP + uint32(maxJitterDelay.Seconds()*4*float64(t.codec.clockRate)),
		},
		Payload: payload,
	})
	return t.drain()
}

// countLoss counts the packets missing between the previous frame and s,
// padding aside, and reports whether there were any. A frame that comes
// after a later one, completed by a packet that arrived very late, is stale.
func (t *Track) countLoss(s *media.Sample) (lost, stale bool) {
	if len(s.RTPHeaders) == 0 {
		return s.PrevDroppedPackets > 0, false
	}
	first, last := s.RTPHeaders[0].SequenceNumber, s.RTPHeaders[len(s.RTPHeaders)-1].SequenceNumber
	if !t.haveSeq {
		t.haveSeq, t.lastSeq = true, last
		return false, false
	}
	if int16(first-t.lastSeq) <= 0 {
		return false, true
	}
	n := 0
	for seq := t.lastSeq + 1; seq != first; seq++ {
		if _, ok := t.padding[seq]; ok {
			delete(t.padding, seq)
			continue
		}
		n++
	}
	t.lost += n
	t.lastSeq = last
	return n > 0, false
}

// timestamp places an RTP timestamp on the recording's timeline, in ms.
func (t *Track) timestamp(ts uint32) int64 {
	t.extRTP += int64(int32(ts - t.lastRTP)) // unwraps 32-bit wraparound
	t.lastRTP = ts
	ms := t.anchorMS + int64(math.Round(float64(t.extRTP)*1000/float64(t.codec.clockRate)))
	return max(ms, 0)
}

// NeedsKeyframe reports whether the caller should ask the sender for a key
// frame (RTCP PLI): until the first key frame of a video track, after a loss
// until the next one, and when KeyframeInterval has passed since the last
// one. Callers should not ask more than a few times a second.
func (t *Track) NeedsKeyframe() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.codec.video || t.closed {
		return false
	}
	if t.waitKey {
		return true
	}
	return t.cfg.KeyframeInterval > 0 && time.Duration(t.lastMS-t.keyMS)*time.Millisecond >= t.cfg.KeyframeInterval
}

// Close writes the frames still in the jitter buffer, finishes the file and
// returns what it holds. It reads the live file back and writes the finished
// one, so it takes time and, briefly, disk space in proportion to the
// recording (disk speed, roughly a second for a few hundred MB): call it off
// the media path. On error the live .part file stays for inspection; when no
// frame was written it returns ErrNoMedia and leaves no file.
func (t *Track) Close() (Result, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return Result{}, ErrClosed
	}
	t.closed = true
	err := t.err
	if err == nil && t.anchored {
		err = t.flushJitter()
	}
	if err == nil {
		err = t.mux.flush()
	}
	t.mu.Unlock()
	// From here on no other method touches the track's state.
	defer t.root.Close()

	if cerr := t.closeLive(); err == nil && cerr != nil {
		err = fmt.Errorf("recording: finish live file: %w", cerr)
	}
	if err != nil {
		return Result{}, err
	}
	if t.frames == 0 {
		if err := t.root.Remove(t.cfg.Name + liveExt); err != nil {
			return Result{}, fmt.Errorf("recording: remove empty live file: %w", err)
		}
		t.log.Info("recording: track ended without media", "dropped_frames", t.dropped, "lost_packets", t.lost)
		return Result{Codec: t.codec.name, DroppedFrames: t.dropped, LostPackets: t.lost}, ErrNoMedia
	}
	res, err := t.finish()
	if err != nil {
		t.root.Remove(t.cfg.Name + finalizeExt)
		return Result{}, fmt.Errorf("recording: finish %s: %w", t.cfg.Name, err)
	}
	t.log.Info("recording: track closed", "path", res.Path, "bytes", res.Size, "sha256", res.SHA256,
		"frames", res.Frames, "dropped_frames", res.DroppedFrames, "lost_packets", res.LostPackets,
		"start", res.Start, "duration", res.Duration)
	return res, nil
}

func (t *Track) closeLive() error {
	err := t.enc.Close()
	if err == nil {
		err = t.part.Sync()
	}
	if cerr := t.part.Close(); err == nil {
		err = cerr
	}
	return err
}

// finish writes the finished file from the live one, renames it into place
// and removes the live file.
func (t *Track) finish() (Result, error) {
	header, err := t.mux.finalHeader(float64(t.endMS))
	if err != nil {
		return Result{}, err
	}
	src, err := t.root.Open(t.cfg.Name + liveExt)
	if err != nil {
		return Result{}, err
	}
	defer src.Close()
	plain, err := age.Decrypt(src, t.cfg.Keys.identities...)
	if err != nil {
		return Result{}, fmt.Errorf("read live file: %w", err)
	}
	if _, err := io.CopyN(io.Discard, plain, t.mux.headerLen); err != nil {
		return Result{}, fmt.Errorf("read live file: %w", err)
	}

	dst, err := t.root.OpenFile(t.cfg.Name+finalizeExt, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Result{}, err
	}
	defer dst.Close()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(dst, h)}
	enc, err := age.Encrypt(cw, t.cfg.Keys.recipient)
	if err != nil {
		return Result{}, err
	}
	if _, err := enc.Write(header); err != nil {
		return Result{}, err
	}
	n, err := io.Copy(enc, plain)
	if err != nil {
		return Result{}, fmt.Errorf("copy clusters: %w", err)
	}
	if n != t.mux.clustersLen {
		return Result{}, fmt.Errorf("copy clusters: live file holds %d bytes of clusters, want %d", n, t.mux.clustersLen)
	}
	if err := enc.Close(); err != nil {
		return Result{}, err
	}
	if err := dst.Sync(); err != nil {
		return Result{}, err
	}
	if err := dst.Close(); err != nil {
		return Result{}, err
	}
	final := t.cfg.Name + Ext
	if err := t.root.Rename(t.cfg.Name+finalizeExt, final); err != nil {
		return Result{}, err
	}
	if err := t.root.Remove(t.cfg.Name + liveExt); err != nil {
		return Result{}, err
	}
	if err := syncDir(t.root); err != nil {
		return Result{}, err
	}
	return Result{
		Path:          filepath.Join(t.cfg.Dir, final),
		Size:          cw.n,
		SHA256:        hex.EncodeToString(h.Sum(nil)),
		Codec:         t.codec.name,
		Frames:        t.frames,
		DroppedFrames: t.dropped,
		LostPackets:   t.lost,
		Start:         time.Duration(t.firstMS) * time.Millisecond,
		Duration:      time.Duration(t.endMS-t.firstMS) * time.Millisecond,
	}, nil
}

func syncDir(root *os.Root) error {
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

package recording

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/rtp/codecs/vp9"
)

// ErrUnsupportedCodec is returned by NewTrack for a codec WebM cannot carry
// or this package does not record (WebM allows VP8, VP9, AV1, Vorbis and
// Opus; this package records VP8, VP9 and Opus).
var ErrUnsupportedCodec = errors.New("recording: unsupported codec")

// codec describes how one RTP codec maps to a WebM track.
type codec struct {
	name            string // "VP8", "VP9", "opus": for logs and Result
	webmID          string // Matroska CodecID
	video           bool
	clockRate       uint32
	maxLate         uint16 // jitter buffer depth in packets
	newDepacketizer func() rtp.Depacketizer
	// keyframe reports whether frame (a whole depacketized frame) can be
	// decoded on its own, and its size when it carries one.
	keyframe func(frame []byte) (key bool, width, height int)
}

const (
	mimeVP8  = "video/vp8"
	mimeVP9  = "video/vp9"
	mimeOpus = "audio/opus"
)

func codecFor(mimeType string, clockRate uint32) (codec, error) {
	switch strings.ToLower(mimeType) {
	case mimeVP8:
		return codec{
			name: "VP8", webmID: "V_VP8", video: true, clockRate: orDefault(clockRate, 90000), maxLate: 300,
			newDepacketizer: func() rtp.Depacketizer { return &codecs.VP8Packet{} },
			keyframe:        vp8Keyframe,
		}, nil
	case mimeVP9:
		return codec{
			name: "VP9", webmID: "V_VP9", video: true, clockRate: orDefault(clockRate, 90000), maxLate: 300,
			newDepacketizer: func() rtp.Depacketizer { return &codecs.VP9Packet{} },
			keyframe:        vp9Keyframe,
		}, nil
	case mimeOpus:
		return codec{
			name: "opus", webmID: "A_OPUS", clockRate: orDefault(clockRate, 48000), maxLate: 50,
			newDepacketizer: func() rtp.Depacketizer { return &codecs.OpusPacket{} },
			keyframe:        func([]byte) (bool, int, int) { return true, 0, 0 },
		}, nil
	}
	return codec{}, fmt.Errorf("%w: %q", ErrUnsupportedCodec, mimeType)
}

func orDefault(v, d uint32) uint32 {
	if v == 0 {
		return d
	}
	return v
}

// vp8Keyframe reads the VP8 frame tag and, for a key frame, the size from
// the key frame header (RFC 6386, section 9.1).
func vp8Keyframe(frame []byte) (bool, int, int) {
	if len(frame) < 10 || frame[0]&0x01 != 0 {
		return false, 0, 0
	}
	if frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return false, 0, 0 // not a key frame start code: treat as undecodable alone
	}
	w := int(binary.LittleEndian.Uint16(frame[6:8]) & 0x3fff)
	h := int(binary.LittleEndian.Uint16(frame[8:10]) & 0x3fff)
	return true, w, h
}

// vp9Keyframe parses the VP9 uncompressed frame header. It expects a single
// spatial layer: the frames of several spatial layers concatenated into one
// RTP picture are not a valid VP9 frame (they would need a superframe index).
func vp9Keyframe(frame []byte) (bool, int, int) {
	var h vp9.Header
	if err := h.Unmarshal(frame); err != nil || h.ShowExistingFrame || h.NonKeyFrame {
		return false, 0, 0
	}
	return true, int(h.Width()), int(h.Height())
}

// opusDuration returns the audio length of one Opus packet from its TOC
// byte (RFC 6716, section 3.1), or 0 when the packet is malformed.
func opusDuration(packet []byte) time.Duration {
	if len(packet) == 0 {
		return 0
	}
	toc := packet[0]
	config := toc >> 3
	var frame time.Duration
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		frame = []time.Duration{10, 20, 40, 60}[config%4] * time.Millisecond
	case config < 16: // hybrid: 10, 20 ms
		frame = []time.Duration{10, 20}[config%2] * time.Millisecond
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []time.Duration{2500, 5000, 10000, 20000}[config%4] * time.Microsecond
	}
	var n int
	switch toc & 0x03 {
	case 0:
		n = 1
	case 1, 2:
		n = 2
	case 3:
		if len(packet) < 2 {
			return 0
		}
		n = int(packet[1] & 0x3f)
	}
	return time.Duration(n) * frame
}

// opusHead is the CodecPrivate of an A_OPUS track (RFC 7845, section 5.1):
// two channels, as WebRTC negotiates opus/48000/2, no pre-skip (RTP carries
// none) and channel mapping family 0.
func opusHead() []byte {
	b := make([]byte, 19)
	copy(b, "OpusHead")
	b[8] = 1                                     // version
	b[9] = 2                                     // channels
	binary.LittleEndian.PutUint16(b[10:], 0)     // pre-skip
	binary.LittleEndian.PutUint32(b[12:], 48000) // input sample rate, informational
	binary.LittleEndian.PutUint16(b[16:], 0)     // output gain
	b[18] = 0                                    // mapping family
	return b
}

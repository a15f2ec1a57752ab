package loadtest

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// window is the measuring window, in nanoseconds since the run's epoch.
// Packets sent inside it are counted; its bounds are set before it opens.
type window struct {
	start, end atomic.Int64
}

func newWindow() *window {
	w := &window{}
	w.start.Store(math.MaxInt64)
	w.end.Store(math.MaxInt64)
	return w
}

func (w *window) contains(t int64) bool { return t >= w.start.Load() && t < w.end.Load() }

// maxPayload is the most a packet carries, as a browser packetizes.
const maxPayload = 1200

// outStream is one track a client sends: its packets are numbered and
// stamped, and those sent inside the window counted.
type outStream struct {
	track   *webrtc.TrackLocalStaticRTP
	clock   func() int64
	win     *window
	buf     []byte
	ssrc    uint32
	rtpSeq  uint16
	rtpTime uint32
	seq     uint32 // the probe's: the last one sent
	frame   uint32
	// wantKey is set when the server asks for a keyframe (PLI or FIR).
	wantKey atomic.Bool
	// first and last are the probe numbers of the packets sent inside the
	// window (0: none yet); bytes counts their payload.
	first, last, bytes atomic.Int64
	nacked             atomic.Int64 // packets the server asked for again (NACK) in the window
}

func newOutStream(track *webrtc.TrackLocalStaticRTP, ssrc uint32, clock func() int64, win *window) *outStream {
	s := &outStream{track: track, clock: clock, win: win, buf: make([]byte, maxPayload), ssrc: ssrc}
	s.wantKey.Store(true) // a sender starts with a keyframe
	return s
}

// write sends one packet of size bytes (at least vp8HeaderLen+probeLen);
// fill writes the codec's headers.
func (s *outStream) write(size int, marker bool, p probe, fill func([]byte)) error {
	b := s.buf[:size]
	if fill != nil {
		fill(b)
	}
	s.seq++
	s.rtpSeq++
	p.Seq = s.seq
	p.Sent = s.clock()
	p.put(b)
	err := s.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: marker, SequenceNumber: s.rtpSeq, Timestamp: s.rtpTime, SSRC: s.ssrc}, Payload: b})
	if s.win.contains(p.Sent) {
		s.first.CompareAndSwap(0, int64(p.Seq))
		s.last.Store(int64(p.Seq))
		s.bytes.Add(int64(size))
	}
	return err
}

// audioPacket sends 20 ms of Opus-sized audio.
func (s *outStream) audioPacket(size int) error {
	s.rtpTime += 960 // 20 ms at 48 kHz
	return s.write(size, false, probe{}, nil)
}

// videoFrame sends one frame of frameBytes (three times that for a
// keyframe), split into packets of at most maxPayload bytes, the marker
// bit on the last.
func (s *outStream) videoFrame(frameBytes int, fps int) error {
	s.rtpTime += uint32(90000 / fps)
	s.frame++
	key := s.wantKey.Swap(false)
	size := frameBytes
	if key {
		size *= 3
	}
	n := (size + maxPayload - 1) / maxPayload
	n = min(max(n, 1), 255)
	per := max(size/n, vp8HeaderLen+probeLen)
	var first error
	for i := range n {
		p := probe{Frame: s.frame, Index: uint8(i), Count: uint8(n), Key: key}
		err := s.write(per, i == n-1, p, func(b []byte) { putVP8(b, i == 0, key) })
		if first == nil {
			first = err
		}
	}
	return first
}

// counted says which packets were sent inside the window: probe numbers
// first to last (both 0 if none).
func (s *outStream) counted() (first, last uint32) {
	return uint32(s.first.Load()), uint32(s.last.Load())
}

// inStream is one track a client receives: which packets came, how late,
// and when the first whole keyframe was in.
type inStream struct {
	clock func() int64
	win   *window

	mu      sync.Mutex
	got     []uint64 // bit per probe number
	packets int64    // distinct packets received, in or out of the window
	dups    int64    // packets received again (retransmissions)
	latency []int32  // of the window's packets: microseconds, send to receive
	// keyframe: packets of keyframes in by frame, until one is whole.
	keyParts map[uint32]uint8
	firstKey atomic.Int64 // when the first whole keyframe was in (0: not yet)
}

func newInStream(clock func() int64, win *window) *inStream {
	return &inStream{clock: clock, win: win, keyParts: map[uint32]uint8{}}
}

// maxSeq bounds the probe numbers kept, against a corrupted packet.
const maxSeq = 1 << 26

// receive counts one packet's payload.
func (s *inStream) receive(payload []byte, video bool) {
	now := s.clock()
	p, err := readProbe(payload)
	if err != nil || p.Seq == 0 || p.Seq >= maxSeq {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w, bit := int(p.Seq/64), uint64(1)<<(p.Seq%64)
	if w >= len(s.got) {
		s.got = append(s.got, make([]uint64, w-len(s.got)+1+len(s.got)/2)...)
	}
	if s.got[w]&bit != 0 {
		s.dups++
		return
	}
	s.got[w] |= bit
	s.packets++
	if s.win.contains(p.Sent) {
		s.latency = append(s.latency, int32(min((now-p.Sent)/1000, math.MaxInt32)))
	}
	if video && p.Key && s.firstKey.Load() == 0 {
		if p.Index == 0 && !vp8KeyframeStart(payload) {
			return // the probe says keyframe, the payload does not: not one
		}
		s.keyParts[p.Frame]++
		if s.keyParts[p.Frame] == p.Count {
			s.firstKey.Store(now)
			s.keyParts = nil
		}
	}
}

// delivered counts the packets numbered first to last that came.
func (s *inStream) delivered(first, last uint32) int64 {
	if first == 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for seq := first; seq <= last; seq++ {
		w := int(seq / 64)
		if w < len(s.got) && s.got[w]&(uint64(1)<<(seq%64)) != 0 {
			n++
		}
	}
	return n
}

// latencies returns the window's latency samples, in microseconds.
func (s *inStream) latencies() []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int32(nil), s.latency...)
}

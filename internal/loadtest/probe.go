package loadtest

import (
	"encoding/binary"
	"errors"
)

// probe is what every packet a load-test client sends carries at the end of
// its payload, so that the receiver can count it, time it and tell when it
// has a whole keyframe.
type probe struct {
	Sent  int64  // when it was sent: nanoseconds since the run's epoch
	Seq   uint32 // per sending stream, from 1, without gaps
	Frame uint32 // video: the frame's number
	Index uint8  // video: the packet's place in its frame, from 0
	Count uint8  // video: packets in the frame
	Key   bool   // video: the frame is a keyframe
}

const probeLen = 24

var probeMagic = [4]byte{'A', 'T', 'L', 'T'}

var errNoProbe = errors.New("loadtest: packet carries no probe")

// put writes the probe into the last probeLen bytes of b.
func (p probe) put(b []byte) {
	t := b[len(b)-probeLen:]
	binary.BigEndian.PutUint64(t[0:8], uint64(p.Sent))
	binary.BigEndian.PutUint32(t[8:12], p.Seq)
	binary.BigEndian.PutUint32(t[12:16], p.Frame)
	t[16], t[17] = p.Index, p.Count
	t[18] = 0
	if p.Key {
		t[18] = 1
	}
	t[19] = 0
	copy(t[20:24], probeMagic[:])
}

// readProbe reads the probe at the end of a payload.
func readProbe(b []byte) (probe, error) {
	if len(b) < probeLen {
		return probe{}, errNoProbe
	}
	t := b[len(b)-probeLen:]
	if [4]byte(t[20:24]) != probeMagic {
		return probe{}, errNoProbe
	}
	return probe{
		Sent:  int64(binary.BigEndian.Uint64(t[0:8])),
		Seq:   binary.BigEndian.Uint32(t[8:12]),
		Frame: binary.BigEndian.Uint32(t[12:16]),
		Index: t[16],
		Count: t[17],
		Key:   t[18]&1 != 0,
	}, nil
}

// vp8HeaderLen is the room the VP8 headers take in a frame's first packet:
// the payload descriptor, the frame tag and, for a keyframe, the start code
// and the picture size.
const vp8HeaderLen = 1 + 3 + 7

// putVP8 writes the VP8 RTP payload descriptor (RFC 7741) at the start of b,
// and in a frame's first packet the frame's header: a keyframe's has the
// inverse-keyframe bit cleared, as a decoder reads it.
func putVP8(b []byte, first, key bool) {
	clear(b[:vp8HeaderLen])
	if !first {
		return // descriptor 0: a continuation of partition 0
	}
	b[0] = 0x10 // S: the start of a partition, partition 0
	// Frame tag: bit 0 is 0 for a keyframe, bit 4 shows the frame.
	b[1] = 0x10
	if !key {
		b[1] |= 0x01
		return
	}
	b[4], b[5], b[6] = 0x9d, 0x01, 0x2a // keyframe start code
	binary.LittleEndian.PutUint16(b[7:9], 640)
	binary.LittleEndian.PutUint16(b[9:11], 480)
}

// vp8KeyframeStart reports whether a VP8 RTP payload starts a keyframe, as
// a receiver's depacketizer decides it: the descriptor's S bit with
// partition 0, then the frame tag's inverse-keyframe bit clear.
func vp8KeyframeStart(b []byte) bool {
	if len(b) < 1 {
		return false
	}
	d := b[0]
	if d&0x10 == 0 || d&0x07 != 0 {
		return false
	}
	i := 1
	if d&0x80 != 0 { // X: an extension byte follows
		if len(b) <= i {
			return false
		}
		x := b[i]
		i++
		if x&0x80 != 0 { // I: picture id, one or two bytes
			if len(b) <= i {
				return false
			}
			if b[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K
			i++
		}
	}
	return len(b) > i && b[i]&0x01 == 0
}

package media

import (
	"encoding/json"
	"testing"

	"github.com/pion/rtcp"
)

// Any signalling frame a page sends either decodes into a Message that
// encodes again, or is refused; never a panic.
func FuzzMessage(f *testing.F) {
	for _, s := range []string{`{"type":"answer","sdp":"v=0"}`, `{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}}`,
		`{"type":"stats","stats":{"loss_pct":1e400}}`, `{"type":"admit","id":"link:x"}`, `{"type":"mute","id":"x","muted":true}`, `[]`, `{"type":null}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		var m Message
		if err := json.Unmarshal(frame, &m); err != nil {
			return
		}
		if _, err := json.Marshal(m); err != nil {
			t.Errorf("%q decoded into %+v, which does not encode: %v", frame, m, err)
		}
	})
}

// Whatever RTCP a subscriber's browser sends, reading it never panics,
// and it asks for a keyframe only when it holds a PLI or a FIR that
// Pion's parser accepts.
func FuzzRTCP(f *testing.F) {
	pli, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 2}})
	fir, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 1}, &rtcp.FullIntraRequest{SenderSSRC: 1, MediaSSRC: 2, FIR: []rtcp.FIREntry{{SSRC: 2, SequenceNumber: 1}}}})
	remb, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{SenderSSRC: 1, Bitrate: 1.5e6, SSRCs: []uint32{2}}})
	nack, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: 2, Nacks: []rtcp.NackPair{{PacketID: 7, LostPackets: 0xffff}}}})
	for _, b := range [][]byte{pli, fir, remb, nack, {0x81, 0xce, 0x00, 0x02}, {0x80, 0xc9, 0xff, 0xff, 0, 0, 0, 1}, nil} {
		f.Add(b)
	}
	if !asksKeyframe(pli) || !asksKeyframe(fir) || asksKeyframe(remb) || asksKeyframe(nack) {
		f.Fatal("the seeds are read wrong")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := asksKeyframe(b)
		pkts, err := rtcp.Unmarshal(b)
		if err != nil && got {
			t.Errorf("%x does not parse, yet asks for a keyframe", b)
		}
		want := false
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				want = err == nil
			}
		}
		if got != want {
			t.Errorf("%x: asks for a keyframe %v, want %v", b, got, want)
		}
	})
}

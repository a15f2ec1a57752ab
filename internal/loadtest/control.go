package loadtest

import (
	"context"
	"fmt"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// control is a pair of clients connected to each other directly, without
// the server, sending one side of a visit's media under the same load as
// the rest: the latency of its packets is what the clients' own stacks and
// their wait for a CPU add, to set against the latency through the server.
type control struct {
	from, to     *webrtc.PeerConnection
	audio, video *outStream
	mu           sync.Mutex
	in           map[webrtc.RTPCodecType]*inStream
	done         chan struct{}
	once         sync.Once
}

// newControl connects the pair, on 127.0.0.1 like every client.
func newControl(ctx context.Context, e *env) (*control, error) {
	c := &control{in: map[webrtc.RTPCodecType]*inStream{}, done: make(chan struct{})}
	var err error
	if c.from, err = e.api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return nil, fmt.Errorf("loadtest: control pair: %w", err)
	}
	if c.to, err = e.api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		c.from.Close()
		return nil, fmt.Errorf("loadtest: control pair: %w", err)
	}
	if err := c.connect(ctx, e); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *control) connect(ctx context.Context, e *env) error {
	audio, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "control")
	if err != nil {
		return fmt.Errorf("loadtest: control pair: %w", err)
	}
	video, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "control")
	if err != nil {
		return fmt.Errorf("loadtest: control pair: %w", err)
	}
	c.audio, c.video = newOutStream(audio, 1, e.now, e.win), newOutStream(video, 2, e.now, e.win)
	for _, s := range []*outStream{c.audio, c.video} {
		sender, err := c.from.AddTrack(s.track)
		if err != nil {
			return fmt.Errorf("loadtest: control pair: %w", err)
		}
		go func() { // feedback, for the NACK responder and keyframe requests
			for {
				if _, _, err := sender.ReadRTCP(); err != nil {
					return
				}
			}
		}()
	}
	c.to.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		in := newInStream(e.now, e.win)
		c.mu.Lock()
		c.in[t.Kind()] = in
		c.mu.Unlock()
		video := t.Kind() == webrtc.RTPCodecTypeVideo
		buf := make([]byte, 1500)
		var pkt rtp.Packet
		for {
			n, _, err := t.Read(buf)
			if err != nil {
				return
			}
			if pkt.Unmarshal(buf[:n]) == nil {
				in.receive(pkt.Payload, video)
			}
		}
	})
	// No trickle: each side's description goes over once its candidates
	// are gathered, which on loopback is at once.
	offer, err := c.from.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("loadtest: control pair: %w", err)
	}
	if err := describe(ctx, c.from, offer, c.to); err != nil {
		return err
	}
	answer, err := c.to.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("loadtest: control pair: %w", err)
	}
	return describe(ctx, c.to, answer, c.from)
}

// describe sets d as local's description and, once local has gathered its
// candidates, gives it to remote (its loopback candidates only).
func describe(ctx context.Context, local *webrtc.PeerConnection, d webrtc.SessionDescription, remote *webrtc.PeerConnection) error {
	gathered := webrtc.GatheringCompletePromise(local)
	if err := local.SetLocalDescription(d); err != nil {
		return fmt.Errorf("loadtest: control pair: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return ctx.Err()
	}
	ld := local.LocalDescription()
	if err := remote.SetRemoteDescription(webrtc.SessionDescription{Type: ld.Type, SDP: loopbackSDP(ld.SDP)}); err != nil {
		return fmt.Errorf("loadtest: control pair: %w", err)
	}
	return nil
}

// send paces the pair's media until stop closes.
func (c *control) send(stop <-chan struct{}, o Options) { pace(stop, c.done, c.audio, c.video, o) }

// latencies are the window's latency samples of what came, in µs.
func (c *control) latencies() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var lat []int32
	for _, in := range c.in {
		lat = append(lat, in.latencies()...)
	}
	return lat
}

func (c *control) close() {
	c.once.Do(func() {
		close(c.done)
		if c.from != nil {
			_ = c.from.Close()
		}
		if c.to != nil {
			_ = c.to.Close()
		}
	})
}

package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/attache-org/attache/internal/media"
)

// loopback is the one address a load test talks to.
var loopback = net.IPv4(127, 0, 0, 1)

const loopbackHost = "127.0.0.1"

var errNotLoopback = errors.New("loadtest: only 127.0.0.1 may be reached")

// checkLoopback refuses a host:port that is not on 127.0.0.1.
func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("loadtest: address %q: %w", hostport, err)
	}
	if host != loopbackHost {
		return fmt.Errorf("%w, not %q", errNotLoopback, host)
	}
	return nil
}

// loopbackHTTP is an HTTP client that never uses a proxy and dials nothing
// but 127.0.0.1.
func loopbackHTTP() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if err := checkLoopback(addr); err != nil {
				return nil, err
			}
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 4,
	}}
}

// clientAPI is the WebRTC stack of the simulated browsers: host candidates
// on 127.0.0.1 only, no multicast DNS, no STUN; NACK and RTCP reports as a
// browser has them.
func clientAPI() (*webrtc.API, error) {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(loopback) })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	var me webrtc.MediaEngine
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("loadtest: codecs: %w", err)
	}
	var ir interceptor.Registry
	// A browser gives up on a lost packet after ten requests (Chrome's
	// kMaxNackRetries); Pion's default asks for as long as it remembers.
	if err := webrtc.ConfigureNackWithOptions(&me, &ir, []nack.GeneratorOption{nack.GeneratorMaxNacksPerPacket(10)}); err != nil {
		return nil, fmt.Errorf("loadtest: interceptors: %w", err)
	}
	if err := webrtc.ConfigureRTCPReports(&ir); err != nil {
		return nil, fmt.Errorf("loadtest: interceptors: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&me), webrtc.WithInterceptorRegistry(&ir)), nil
}

// client is one participant of a visit, played by a Pion peer: it answers
// the server's offers, sends audio and video and counts what it receives.
type client struct {
	room string
	id   string
	role media.Role
	env  *env

	ws    *websocket.Conn
	pc    *webrtc.PeerConnection
	audio *outStream
	video *outStream

	joinStart int64 // when it began to join, since the epoch
	// in are the tracks it receives from the other participant, by kind.
	inMu sync.Mutex
	in   map[webrtc.RTPCodecType]*inStream

	// sigMu orders what it writes on the WebSocket: its candidates wait
	// until its first answer is out.
	sigMu    sync.Mutex
	answered bool
	queued   []webrtc.ICECandidateInit

	failed atomic.Pointer[error] // the first signalling failure
	done   chan struct{}         // closed when it leaves
	once   sync.Once
}

func newClient(e *env, room, id string, role media.Role, ssrc uint32) (*client, error) {
	c := &client{room: room, id: id, role: role, env: e, in: map[webrtc.RTPCodecType]*inStream{}, done: make(chan struct{})}
	audio, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", id)
	if err != nil {
		return nil, fmt.Errorf("loadtest: audio track: %w", err)
	}
	video, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", id)
	if err != nil {
		return nil, fmt.Errorf("loadtest: video track: %w", err)
	}
	c.audio = newOutStream(audio, ssrc, e.now, e.win)
	c.video = newOutStream(video, ssrc+1, e.now, e.win)
	return c, nil
}

// join dials the signalling WebSocket and starts answering the server.
func (c *client) join(ctx context.Context) error {
	c.joinStart = c.env.now()
	q := url.Values{"room": {c.room}, "id": {c.id}, "role": {string(c.role)}}
	ws, _, err := websocket.Dial(ctx, "ws://"+c.env.addr+"/ws?"+q.Encode(), &websocket.DialOptions{HTTPClient: c.env.http})
	if err != nil {
		return fmt.Errorf("loadtest: %s/%s: signalling: %w", c.room, c.id, err)
	}
	ws.SetReadLimit(1 << 20)
	pc, err := c.env.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		ws.Close(websocket.StatusInternalError, "")
		return fmt.Errorf("loadtest: peer connection: %w", err)
	}
	c.ws, c.pc = ws, pc
	pc.OnICECandidate(func(ic *webrtc.ICECandidate) {
		if ic == nil {
			return
		}
		init := ic.ToJSON()
		c.sigMu.Lock()
		defer c.sigMu.Unlock()
		if !c.answered {
			c.queued = append(c.queued, init)
			return
		}
		c.write(ctx, media.Message{Type: "candidate", Candidate: &init})
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) { c.receive(ctx, t, r) })
	go c.signal(ctx)
	return nil
}

// write sends a signalling message; the caller holds sigMu.
func (c *client) write(ctx context.Context, m media.Message) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, c.ws, m); err != nil {
		c.fail(fmt.Errorf("write %s: %w", m.Type, err))
	}
}

func (c *client) fail(err error) {
	err = fmt.Errorf("loadtest: %s/%s: %w", c.room, c.id, err)
	c.failed.CompareAndSwap(nil, &err)
}

// err is the first signalling failure, if any.
func (c *client) err() error {
	if p := c.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// signal answers the server's offers until the WebSocket closes. On the
// first offer it puts its microphone and camera on the two transceivers the
// server offered to receive.
func (c *client) signal(ctx context.Context) {
	attached := false
	for {
		var m media.Message
		if err := wsjson.Read(ctx, c.ws, &m); err != nil {
			return
		}
		switch m.Type {
		case "offer":
			offer := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: loopbackSDP(m.SDP)}
			if err := c.pc.SetRemoteDescription(offer); err != nil {
				c.fail(fmt.Errorf("offer: %w", err))
				return
			}
			if !attached {
				attached = true
				for _, s := range []*outStream{c.audio, c.video} {
					sender, err := c.pc.AddTrack(s.track)
					if err != nil {
						c.fail(fmt.Errorf("add track: %w", err))
						return
					}
					go c.readRTCP(sender, s)
				}
			}
			answer, err := c.pc.CreateAnswer(nil)
			if err == nil {
				err = c.pc.SetLocalDescription(answer)
			}
			if err != nil {
				c.fail(fmt.Errorf("answer: %w", err))
				return
			}
			c.sigMu.Lock()
			c.write(ctx, media.Message{Type: "answer", SDP: answer.SDP})
			if !c.answered {
				c.answered = true
				for _, q := range c.queued {
					c.write(ctx, media.Message{Type: "candidate", Candidate: &q})
				}
				c.queued = nil
			}
			c.sigMu.Unlock()
		case "candidate":
			if m.Candidate != nil && candidateOnLoopback(m.Candidate.Candidate) {
				_ = c.pc.AddICECandidate(*m.Candidate)
			}
		case "error":
			c.fail(fmt.Errorf("server: %s", m.Error))
		}
	}
}

// readRTCP reads the server's feedback on what the client sends (which
// also drives the NACK responder, which resends what the server asks for),
// turns a keyframe request into a keyframe and counts the packets asked
// for again in the window.
func (c *client) readRTCP(sender *webrtc.RTPSender, s *outStream) {
	buf := make([]byte, 1500)
	for {
		n, _, err := sender.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				s.wantKey.Store(true)
			case *rtcp.TransportLayerNack:
				if s.win.contains(c.env.now()) {
					for _, pair := range p.Nacks {
						s.nacked.Add(int64(1 + bits.OnesCount16(uint16(pair.LostPackets))))
					}
				}
			}
		}
	}
}

// receive counts a track from the other participant. For video it asks for
// a keyframe, as a browser's decoder does, until a whole one has come.
func (c *client) receive(ctx context.Context, t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	kind := t.Kind()
	c.inMu.Lock()
	in, ok := c.in[kind]
	if !ok {
		in = newInStream(c.env.now, c.env.win)
		c.in[kind] = in
	}
	c.inMu.Unlock()
	go func() { // sender reports; reading them keeps the interceptors going
		for {
			if _, _, err := r.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	video := kind == webrtc.RTPCodecTypeVideo
	if video {
		go c.askKeyframe(ctx, in, uint32(t.SSRC()))
	}
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		in.receive(pkt.Payload, video)
	}
}

func (c *client) askKeyframe(ctx context.Context, in *inStream, ssrc uint32) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for in.firstKey.Load() == 0 {
		_ = c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-tick.C:
		}
	}
}

// inStream returns the received track of a kind (nil if none came).
func (c *client) inStream(kind webrtc.RTPCodecType) *inStream {
	c.inMu.Lock()
	defer c.inMu.Unlock()
	return c.in[kind]
}

// joined is when the first whole keyframe from the other participant came,
// since the epoch (0: not yet).
func (c *client) joined() int64 {
	if in := c.inStream(webrtc.RTPCodecTypeVideo); in != nil {
		return in.firstKey.Load()
	}
	return 0
}

// send paces audio (20 ms packets) and video (fps frames a second) until
// stop closes.
func (c *client) send(stop <-chan struct{}, o Options) { pace(stop, c.done, c.audio, c.video, o) }

// pace sends on audio every 20 ms and on video fps frames a second until
// stop or done closes.
func pace(stop, done <-chan struct{}, audio, video *outStream, o Options) {
	frameBytes := o.VideoKbps * 1000 / 8 / o.FPS
	at := time.NewTicker(20 * time.Millisecond)
	defer at.Stop()
	vt := time.NewTicker(time.Second / time.Duration(o.FPS))
	defer vt.Stop()
	for {
		select {
		case <-stop:
			return
		case <-done:
			return
		case <-at.C:
			_ = audio.audioPacket(o.AudioBytes)
		case <-vt.C:
			_ = video.videoFrame(frameBytes, o.FPS)
		}
	}
}

// leave hangs up.
func (c *client) leave() {
	c.once.Do(func() {
		close(c.done)
		if c.pc != nil {
			_ = c.pc.Close()
		}
		if c.ws != nil {
			_ = c.ws.Close(websocket.StatusNormalClosure, "")
		}
	})
}

// candidateOnLoopback reports whether an ICE candidate's address is
// 127.0.0.1 ("candidate:foundation component protocol priority address port
// typ …"); any other is ignored, never dialled.
func candidateOnLoopback(cand string) bool {
	f := strings.Fields(strings.TrimPrefix(cand, "candidate:"))
	return len(f) > 5 && f[4] == loopbackHost
}

// loopbackSDP drops from a session description every candidate line whose
// address is not 127.0.0.1.
func loopbackSDP(sdp string) string {
	if !strings.Contains(sdp, "a=candidate:") {
		return sdp
	}
	lines := strings.SplitAfter(sdp, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if c, ok := strings.CutPrefix(l, "a="); ok && strings.HasPrefix(c, "candidate:") && !candidateOnLoopback(strings.TrimRight(c, "\r\n")) {
			continue
		}
		kept = append(kept, l)
	}
	return strings.Join(kept, "")
}

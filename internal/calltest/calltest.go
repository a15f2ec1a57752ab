// Package calltest plays a call page in tests: a Pion peer on loopback that
// talks to Attaché's call WebSocket as the browser's call page does. It
// answers the server's offers, sends audio and video packets that carry its
// name, counts what it receives from whom, keeps its resume token, and
// reconnects by itself when its session drops or the server says it stops,
// as the page does.
package calltest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/attache-org/attache/internal/media"
)

// Page is one participant's page.
type Page struct {
	Name string
	// Reconnect is how long the page waits before it reconnects.
	Reconnect time.Duration

	urls    []string
	cur     int // the URL in use
	header  http.Header
	publish bool
	api     *webrtc.API
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}

	mu       sync.Mutex
	ws       *websocket.Conn
	pc       *webrtc.PeerConnection
	tracks   []*webrtc.TrackLocalStaticRTP
	resume   string
	people   []media.Info
	waiting  []media.Info
	ended    string // why the call ended for good (or the page was removed)
	sessions int    // sessions opened
	last     map[string]time.Time
	count    map[string]int
	errs     []string
	log      []string
	consent  bool // agree when asked to consent to a recording
	records  bool // the server says the call is recorded
	pad      int  // bytes added to each packet sent
}

// Open opens a page on the call WebSocket at the first of wsURLs
// (ws://127.0.0.1:…) with the given headers (a session cookie for an
// officer). When a URL cannot be reached the page uses the next, as a load
// balancer would send it to another node. A page that publishes sends
// packets carrying "from NAME" every 20 ms.
func Open(wsURLs []string, header http.Header, name string, publish bool) (*Page, error) {
	for _, w := range wsURLs {
		u, err := url.Parse(w)
		if err != nil {
			return nil, err
		}
		if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("calltest: only loopback addresses, not %q", u.Host)
		}
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	var me webrtc.MediaEngine
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	var ir interceptor.Registry
	if err := webrtc.RegisterDefaultInterceptors(&me, &ir); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Page{Name: name, Reconnect: 300 * time.Millisecond, urls: wsURLs, header: header, publish: publish,
		api: webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&me), webrtc.WithInterceptorRegistry(&ir)),
		ctx: ctx, cancel: cancel, done: make(chan struct{}), last: map[string]time.Time{}, count: map[string]int{}}
	go p.run()
	if publish {
		go p.send()
	}
	return p, nil
}

// run keeps a session open until the call ends for the page or it closes.
func (p *Page) run() {
	defer close(p.done)
	for p.ctx.Err() == nil {
		over := p.session()
		p.note("session closed")
		if over || p.ctx.Err() != nil {
			return
		}
		select {
		case <-time.After(p.Reconnect):
		case <-p.ctx.Done():
			return
		}
	}
}

func (p *Page) note(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, time.Now().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
}

// session runs one session and says whether the call is over for the page.
func (p *Page) session() bool {
	p.mu.Lock()
	u := p.urls[p.cur]
	if p.resume != "" {
		u += "?resume=" + url.QueryEscape(p.resume)
	}
	p.sessions++
	p.mu.Unlock()
	dctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	ws, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPHeader: p.header})
	cancel()
	if err != nil {
		p.fail("dial: %v", err)
		p.mu.Lock()
		p.cur = (p.cur + 1) % len(p.urls)
		p.mu.Unlock()
		return false
	}
	defer ws.CloseNow()
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		p.fail("peer connection: %v", err)
		return false
	}
	defer pc.Close()
	var tracks []*webrtc.TrackLocalStaticRTP
	if p.publish {
		for _, c := range []webrtc.RTPCodecCapability{{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, {MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}} {
			kind, _, _ := strings.Cut(c.MimeType, "/")
			tr, err := webrtc.NewTrackLocalStaticRTP(c, strings.ToLower(kind), p.Name)
			if err != nil {
				p.fail("track: %v", err)
				return false
			}
			tracks = append(tracks, tr)
		}
	}
	p.mu.Lock()
	p.ws, p.pc, p.tracks = ws, pc, nil
	p.records = false // each session is told anew whether the call is recorded
	p.mu.Unlock()
	var wmu sync.Mutex
	write := func(m media.Message) {
		wmu.Lock()
		defer wmu.Unlock()
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		defer cancel()
		_ = wsjson.Write(ctx, ws, m)
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			init := c.ToJSON()
			write(media.Message{Type: "candidate", Candidate: &init})
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			from, ok := strings.CutPrefix(string(pkt.Payload), "from ")
			if !ok {
				continue
			}
			from, _, _ = strings.Cut(from, "\x00")
			key := from + "/" + tr.Kind().String()
			p.mu.Lock()
			p.count[key]++
			p.last[key] = time.Now()
			p.mu.Unlock()
		}
	})
	// The media path failing for good is a reason to start again, as the page does.
	failed := make(chan struct{}, 1)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed {
			select {
			case failed <- struct{}{}:
			default:
			}
		}
	})
	msgs := make(chan media.Message)
	readErr := make(chan error, 1)
	go func() {
		for {
			var m media.Message
			if err := wsjson.Read(p.ctx, ws, &m); err != nil {
				readErr <- err
				return
			}
			select {
			case msgs <- m:
			case <-p.ctx.Done():
				return
			}
		}
	}()
	attached := false
	for {
		var m media.Message
		select {
		case <-p.ctx.Done():
			ws.Close(websocket.StatusNormalClosure, "")
			return true
		case <-failed:
			ws.Close(4000, "")
			return false
		case err := <-readErr:
			p.note("socket: %v", err)
			return false
		case m = <-msgs:
		}
		switch m.Type {
		case "offer":
			if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
				p.fail("offer: %v", err)
				return false
			}
			if !attached {
				attached = true
				for _, tr := range tracks {
					if _, err := pc.AddTrack(tr); err != nil {
						p.fail("add track: %v", err)
					}
				}
				p.mu.Lock()
				p.tracks = tracks
				p.mu.Unlock()
			}
			answer, err := pc.CreateAnswer(nil)
			if err == nil {
				err = pc.SetLocalDescription(answer)
			}
			if err != nil {
				p.fail("answer: %v", err)
				return false
			}
			write(media.Message{Type: "answer", SDP: answer.SDP})
		case "candidate":
			if m.Candidate != nil {
				_ = pc.AddICECandidate(*m.Candidate)
			}
		case "participants":
			p.mu.Lock()
			p.people, p.waiting = m.Participants, m.Waiting
			p.mu.Unlock()
		case "admitted":
			p.mu.Lock()
			p.resume = m.Resume
			p.mu.Unlock()
		case "ended":
			p.note("ended: %s", m.Reason)
			if m.Reason == media.EndedShutdown {
				return false // the server stops: come back, as the page does
			}
			p.mu.Lock()
			p.ended = m.Reason
			p.mu.Unlock()
			return true
		case "error":
			p.mu.Lock()
			p.errs = append(p.errs, m.Error)
			p.mu.Unlock()
		case "consent":
			p.mu.Lock()
			agree := p.consent
			p.mu.Unlock()
			write(media.Message{Type: "consent", On: agree})
		case "recording":
			p.mu.Lock()
			p.records = m.On
			p.mu.Unlock()
		}
	}
}

func (p *Page) fail(format string, args ...any) {
	if p.ctx.Err() != nil {
		return
	}
	p.note(format, args...)
}

// send writes a packet of audio and video every 20 ms to the current
// session's tracks, carrying the page's name.
func (p *Page) send() {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var seq uint16
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-tick.C:
		}
		p.mu.Lock()
		tracks, pad := p.tracks, p.pad
		p.mu.Unlock()
		payload := []byte("from " + p.Name + "\x00")
		payload = append(payload, make([]byte, pad)...)
		seq++
		for i, tr := range tracks {
			pt := uint8(111)
			if i == 1 {
				pt = 96
			}
			_ = tr.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: uint32(1000 + i)},
				Payload: payload})
		}
	}
}

// Do sends a control message in the current session (admit, mute, remove,
// end, record…).
func (p *Page) Do(m media.Message) error {
	p.mu.Lock()
	ws := p.ws
	p.mu.Unlock()
	if ws == nil {
		return errors.New("calltest: no session")
	}
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	return wsjson.Write(ctx, ws, m)
}

// Received counts the packets of kind ("audio" or "video") received from
// the page named from, and says when the last came.
func (p *Page) Received(from, kind string) (int, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count[from+"/"+kind], p.last[from+"/"+kind]
}

// People are who the server last said is in the call; Waiting who waits
// (told to officers).
func (p *Page) People() (people, waiting []media.Info) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.people, p.waiting
}

// Ended says why the call ended for the page, or "".
func (p *Page) Ended() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ended
}

// Pad makes every packet the page sends n bytes longer, for a bit rate
// closer to a camera's.
func (p *Page) Pad(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pad = n
}

// Consent makes the page agree (or not) when asked to consent to a recording.
func (p *Page) Consent(agree bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.consent = agree
}

// Recorded reports whether the server last said the call is recorded.
func (p *Page) Recorded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.records
}

// URL is the address the page uses now.
func (p *Page) URL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.urls[p.cur]
}

// Sessions is how many sessions the page opened (reconnections + 1).
func (p *Page) Sessions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sessions
}

// Errors are the error messages the server sent the page.
func (p *Page) Errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string{}, p.errs...)
}

// Log is what happened to the page, for a failure message.
func (p *Page) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.log, "\n")
}

// Close hangs up.
func (p *Page) Close() {
	p.cancel()
	<-p.done
}

// Flowing reports whether media from every named page, of both kinds,
// arrived after since.
func (p *Page) Flowing(since time.Time, from ...string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range from {
		for _, k := range []string{"audio", "video"} {
			if !p.last[f+"/"+k].After(since) {
				return false
			}
		}
	}
	return true
}

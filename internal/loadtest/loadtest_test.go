package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

var summaryLine = regexp.MustCompile(`^visits=\d+ loss=\d+\.\d{3}% latency_p99=\d+\.\dms join_p95=\d+ms cpu_per_visit=\d+\.\d{2}%$`)

// A small load test through a real media server: media gets through both
// ways, every participant sees the other's video, and the report ends with
// the summary line.
func TestRunDeliversBothWays(t *testing.T) {
	for _, record := range []bool{false, true} {
		t.Run(map[bool]string{false: "forwarding", true: "recording"}[record], func(t *testing.T) { runDelivers(t, record) })
	}
}

func runDelivers(t *testing.T, record bool) {
	log := slog.New(slog.DiscardHandler)
	s, err := NewServer(log, record)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Close() })

	o := DefaultOptions()
	o.Visits, o.Warmup, o.Duration, o.Tail, o.JoinEvery = 2, 500*time.Millisecond, 2*time.Second, 500*time.Millisecond, 0
	o.JoinTimeout = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	res, err := Run(ctx, s.Addr(), o, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Joins) != 4 {
		t.Errorf("%d of 4 participants got video", len(res.Joins))
	}
	if res.Streams != 8 || res.StreamsDelivered != 8 {
		t.Errorf("%d of %d streams got through, want 8 of 8", res.StreamsDelivered, res.Streams)
	}
	// The senders pace themselves with tickers, which skip ticks on a
	// starved machine: how much was sent measures the CPU the test got,
	// not the server. That media flowed both ways is what counts here.
	if res.VideoSent == 0 || res.AudioSent == 0 {
		t.Errorf("sent %d video and %d audio packets", res.VideoSent, res.AudioSent)
	}
	if loss := res.LossPct(); loss > 5 {
		t.Errorf("loss %.2f %% on loopback", loss)
	}
	if len(res.Control) == 0 {
		t.Error("the control pair measured nothing")
	}
	if res.LatencyPct(50) <= 0 || res.JoinPct(95) <= 0 {
		t.Errorf("latency p50 %v, join p95 %v: not measured", res.LatencyPct(50), res.JoinPct(95))
	}
	if !res.SharedProcess || res.After.Server.Sessions != 4 {
		t.Errorf("server in this process %v with %d sessions, want true with 4", res.SharedProcess, res.After.Server.Sessions)
	}
	// The recorder writes a track's media 5 s at a time, so a short window
	// may see none of it written: the files exist, with their headers.
	if recorded := res.After.Server.Recorded; record != (recorded > 0) || (!record && recorded != -1) {
		t.Errorf("recording %v: %d bytes on disk", record, recorded)
	}
	var out bytes.Buffer
	if err := res.Report(&out); err != nil {
		t.Fatal(err)
	}
	if record != strings.Contains(out.String(), "MiB per visit-minute") {
		t.Errorf("recording %v, report:\n%s", record, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; !summaryLine.MatchString(last) {
		t.Errorf("last line %q is not the summary", last)
	}
}

// A server that takes the signalling but never offers: the run fails
// instead of reporting nothing delivered as a result.
func TestRunFailsWhenNothingGetsThrough(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"pid":1}`) })
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			if _, _, err := c.Read(r.Context()); err != nil {
				return
			}
		}
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	o := DefaultOptions()
	o.Visits, o.Warmup, o.Duration, o.JoinTimeout = 1, 0, time.Second, time.Second
	_, err = Run(context.Background(), ln.Addr().String(), o, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "no participant received") {
		t.Errorf("run against a server that forwards nothing: %v", err)
	}
}

// Nothing but 127.0.0.1 is ever dialled.
func TestRefusesOtherAddresses(t *testing.T) {
	for _, addr := range []string{"localhost:8080", "10.0.0.1:80", "[::1]:80", "127.0.0.2:80", "example.org:80", "127.0.0.1"} {
		t.Run(addr, func(t *testing.T) {
			_, err := Run(context.Background(), addr, DefaultOptions(), slog.New(slog.DiscardHandler))
			if err == nil || (addr != "127.0.0.1" && !errors.Is(err, errNotLoopback)) {
				t.Errorf("Run(%q): %v, want a refusal", addr, err)
			}
		})
	}
	if _, err := loopbackHTTP().Get("http://10.0.0.1:80/"); !errors.Is(err, errNotLoopback) {
		t.Errorf("the HTTP client dialled 10.0.0.1: %v", err)
	}
}

func TestCandidatesOnLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		cand string
		want bool
	}{
		{"candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", true},
		{"candidate:1 1 udp 2130706431 192.168.1.2 50000 typ host", false},
		{"candidate:1 1 udp 2130706431 ::1 50000 typ host", false},
		{"candidate:1 1 udp 2130706431 abc.local 50000 typ host", false},
		{"1 1 udp 2130706431 127.0.0.1 50000 typ host", true},
		{"garbage", false},
	} {
		if got := candidateOnLoopback(tc.cand); got != tc.want {
			t.Errorf("candidateOnLoopback(%q) = %v, want %v", tc.cand, got, tc.want)
		}
	}
	sdp := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\na=candidate:2 1 udp 1 10.1.2.3 5000 typ host\r\na=mid:0\r\n"
	want := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\na=mid:0\r\n"
	if got := loopbackSDP(sdp); got != want {
		t.Errorf("loopbackSDP:\n%q\nwant\n%q", got, want)
	}
}

func TestProbeAndVP8(t *testing.T) {
	for _, tc := range []struct {
		name        string
		size        int
		first, key  bool
		wantKeyHead bool
	}{
		{"keyframe start", 1042, true, true, true},
		{"keyframe continuation", 1042, false, true, false},
		{"delta start", 1042, true, false, false},
		{"smallest", vp8HeaderLen + probeLen, true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, tc.size)
			putVP8(b, tc.first, tc.key)
			p := probe{Sent: 123456789, Seq: 42, Frame: 7, Index: 1, Count: 6, Key: tc.key}
			p.put(b)
			if got := vp8KeyframeStart(b); got != tc.wantKeyHead {
				t.Errorf("vp8KeyframeStart = %v, want %v", got, tc.wantKeyHead)
			}
			got, err := readProbe(b)
			if err != nil || got != p {
				t.Errorf("readProbe = %+v, %v; want %+v", got, err, p)
			}
		})
	}
	if _, err := readProbe(make([]byte, 100)); !errors.Is(err, errNoProbe) {
		t.Errorf("a payload without a probe: %v", err)
	}
	// A descriptor with picture id (X, I with 15 bits), then a keyframe tag.
	if !vp8KeyframeStart([]byte{0x90, 0x80, 0x81, 0x23, 0x10}) || vp8KeyframeStart([]byte{0x90, 0x80, 0x81, 0x23, 0x11}) {
		t.Error("vp8KeyframeStart misreads the extended descriptor")
	}
}

// The receiver counts distinct packets of a range, and a keyframe as whole
// only once all its packets are in.
func TestInStream(t *testing.T) {
	var now int64 = 1000
	w := newWindow()
	w.start.Store(0)
	w.end.Store(1 << 40)
	in := newInStream(func() int64 { return now }, w)
	pkt := func(seq uint32, frame uint32, idx, count uint8) []byte {
		b := make([]byte, 200)
		putVP8(b, idx == 0, true)
		probe{Sent: 500, Seq: seq, Frame: frame, Index: idx, Count: count, Key: true}.put(b)
		return b
	}
	in.receive(pkt(1, 1, 0, 3), true)
	in.receive(pkt(3, 1, 2, 3), true)
	in.receive(pkt(3, 1, 2, 3), true) // a retransmission
	if in.firstKey.Load() != 0 {
		t.Fatal("a keyframe counted whole with a packet missing")
	}
	now = 2000
	in.receive(pkt(2, 1, 1, 3), true)
	if got := in.firstKey.Load(); got != 2000 {
		t.Errorf("first keyframe at %d, want 2000", got)
	}
	in.receive(pkt(200, 2, 0, 1), true)
	for _, tc := range []struct {
		first, last uint32
		want        int64
	}{{1, 3, 3}, {1, 10, 3}, {2, 2, 1}, {4, 199, 0}, {1, 200, 4}, {0, 0, 0}} {
		if got := in.delivered(tc.first, tc.last); got != tc.want {
			t.Errorf("delivered(%d, %d) = %d, want %d", tc.first, tc.last, got, tc.want)
		}
	}
	if in.dups != 1 || len(in.latencies()) != 4 {
		t.Errorf("%d duplicates and %d latencies, want 1 and 4", in.dups, len(in.latencies()))
	}
}

func TestPercentiles(t *testing.T) {
	for _, tc := range []struct {
		n    int
		p    float64
		want int
	}{{1, 99, 0}, {100, 50, 49}, {100, 99, 98}, {100, 100, 99}, {1000, 99, 989}, {3, 50, 1}, {10, 0, 0}} {
		if got := rank(tc.n, tc.p); got != tc.want {
			t.Errorf("rank(%d, %v) = %d, want %d", tc.n, tc.p, got, tc.want)
		}
	}
	r := Result{Options: Options{Visits: 3}, VideoSent: 1000, VideoDelivered: 999, AudioSent: 1000, AudioDelivered: 1000,
		Latency: []int32{100, 200, 3400}, Joins: []time.Duration{300 * time.Millisecond, 420 * time.Millisecond}}
	r.Before.At, r.After.At = time.Unix(0, 0), time.Unix(10, 0)
	r.Before.Server.CPU, r.After.Server.CPU = 0, int64(600*time.Millisecond)
	if got, want := r.Summary(), "visits=3 loss=0.050% latency_p99=3.4ms join_p95=420ms cpu_per_visit=2.00%"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	if !summaryLine.MatchString(r.Summary()) {
		t.Error("the summary does not match its own pattern")
	}
}

// The child's server tells its address first, then stops when its stdin
// closes.
func TestServeChild(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- ServeChild(context.Background(), nil, inR, outW, io.Discard, slog.New(slog.DiscardHandler))
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSpace(line)
	if err := checkLoopback(addr); err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	resp, err := loopbackHTTP().Get("http://" + addr + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /stats: %s", resp.Status)
	}
	inW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop when its stdin closed")
	}
}

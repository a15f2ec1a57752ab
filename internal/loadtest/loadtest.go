// Package loadtest measures the media server under load: it opens many
// two-party visits at once, each side a Pion peer sending browser-sized
// video and audio through the server, and reports what was delivered, how
// late, how long joining took, and what the server spent per visit.
//
// Everything runs on 127.0.0.1; no other address is ever dialled or
// offered. The command runs the server in a child process of its own (see
// ServeChild) so that the server's CPU time and memory are measured apart
// from the clients'.
package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/attache-org/attache/internal/media"
)

// Options configure a load test.
type Options struct {
	Visits      int           // two-party visits at once
	Warmup      time.Duration // after the joins, before measuring
	Duration    time.Duration // the measuring window
	Tail        time.Duration // after the window, for its last packets to arrive
	VideoKbps   int           // each side's video
	FPS         int           // video frames a second
	AudioBytes  int           // an audio packet's payload, one every 20 ms
	JoinEvery   time.Duration // between the starts of two visits
	JoinTimeout time.Duration // for the last visit to get its video through
	// CPUProfile, when set, is where the server's CPU profile over the
	// window is written; ClientCPUProfile the clients' (this process's).
	CPUProfile       string
	ClientCPUProfile string
	// MemProfile, when set, is where the server's heap profile at the
	// window's end is written.
	MemProfile string
	// ServerProcs, when positive, is the server process's GOMAXPROCS.
	ServerProcs int
	// Pin puts the server process alone on the last CPU (GOMAXPROCS 1)
	// and the clients on the others.
	Pin bool
	// Record records every call, as a visit whose policy is "always".
	Record bool
}

// DefaultOptions are ten visits of browser-like calls: 1.5 Mbit/s of VP8 at
// 30 frames a second and 64 kbit/s of Opus a side.
func DefaultOptions() Options {
	return Options{Visits: 10, Warmup: 3 * time.Second, Duration: 20 * time.Second, Tail: time.Second, VideoKbps: 1500, FPS: 30,
		AudioBytes: 160, JoinEvery: 100 * time.Millisecond, JoinTimeout: 20 * time.Second}
}

// Validate reports the first option out of range.
func (o Options) Validate() error {
	switch {
	case o.Visits < 1 || o.Visits > 2000:
		return errors.New("visits: 1 to 2000")
	case o.Duration < 500*time.Millisecond || o.Duration > time.Hour:
		return errors.New("duration: 500ms to 1h")
	case o.Warmup < 0 || o.Tail < 0 || o.JoinEvery < 0:
		return errors.New("warmup, tail and join interval cannot be negative")
	case o.JoinTimeout < time.Second:
		return errors.New("join timeout: at least 1s")
	case o.FPS < 1 || o.FPS > 120:
		return errors.New("fps: 1 to 120")
	case o.VideoKbps < 50 || o.VideoKbps > 50000:
		return errors.New("video bitrate: 50 to 50000 kbit/s")
	case o.VideoKbps*1000/8/o.FPS < vp8HeaderLen+probeLen:
		return errors.New("video bitrate too low for the frame rate")
	case o.ServerProcs < 0:
		return errors.New("server GOMAXPROCS cannot be negative")
	case o.AudioBytes < probeLen || o.AudioBytes > maxPayload:
		return fmt.Errorf("audio packet: %d to %d bytes", probeLen, maxPayload)
	}
	return nil
}

// env is what the clients of a run share.
type env struct {
	addr  string // the server's signalling, on 127.0.0.1
	api   *webrtc.API
	http  *http.Client
	epoch time.Time
	win   *window
}

// now is the run's clock: monotonic nanoseconds since its epoch, shared by
// every client, so that a receiver can time a packet another client sent.
func (e *env) now() int64 { return int64(time.Since(e.epoch)) }

// visit is one call: an officer and a detainee.
type visit struct {
	officer, detainee *client
}

func (v visit) clients() []*client { return []*client{v.officer, v.detainee} }

// Run load-tests the server whose signalling is at addr (which must be on
// 127.0.0.1), logging progress, and returns what it measured.
func Run(ctx context.Context, addr string, o Options, log *slog.Logger) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	if err := checkLoopback(addr); err != nil {
		return Result{}, err
	}
	api, err := clientAPI()
	if err != nil {
		return Result{}, err
	}
	e := &env{addr: addr, api: api, http: loopbackHTTP(), epoch: time.Now(), win: newWindow()}
	defer e.http.CloseIdleConnections()
	idle, err := e.stats(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("loadtest: the server's figures: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	visits := make([]visit, o.Visits)
	for i := range visits {
		room := "loadtest-" + strconv.Itoa(i)
		ssrc := uint32(i*4 + 1000)
		off, err := newClient(e, room, "officer", media.RoleOfficer, ssrc)
		if err != nil {
			return Result{}, err
		}
		det, err := newClient(e, room, "detainee", media.RoleDetainee, ssrc+2)
		if err != nil {
			return Result{}, err
		}
		visits[i] = visit{off, det}
	}
	stop := make(chan struct{})
	var joins, senders sync.WaitGroup // joins start senders
	var ctrl *control
	defer func() {
		cancel()
		joins.Wait()
		close(stop)
		senders.Wait()
		if ctrl != nil {
			ctrl.close()
		}
		var wg sync.WaitGroup
		for _, v := range visits {
			for _, c := range v.clients() {
				wg.Go(c.leave)
			}
		}
		wg.Wait()
	}()

	// Join: both sides of a visit at once, visits o.JoinEvery apart.
	log.Info("loadtest: joining", slog.Int("visits", o.Visits), slog.Duration("every", o.JoinEvery))
	started := time.Now()
	var joinErrs []error
	var errMu sync.Mutex
	for i, v := range visits {
		if err := sleep(ctx, time.Until(started.Add(time.Duration(i)*o.JoinEvery))); err != nil {
			return Result{}, err
		}
		for _, c := range v.clients() {
			joins.Go(func() {
				if err := c.join(ctx); err != nil {
					errMu.Lock()
					joinErrs = append(joinErrs, err)
					errMu.Unlock()
					return
				}
				senders.Go(func() { c.send(stop, o) })
			})
		}
	}
	joins.Wait()
	if len(joinErrs) == 2*o.Visits {
		return Result{}, fmt.Errorf("loadtest: no participant could join: %w", joinErrs[0])
	}
	deadline := time.Now().Add(o.JoinTimeout)
	for !allJoined(visits) && time.Now().Before(deadline) {
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return Result{}, err
		}
	}
	joined := 0
	for _, v := range visits {
		for _, c := range v.clients() {
			if c.joined() != 0 {
				joined++
			}
		}
	}
	if joined == 0 {
		msg := "no participant received the other's video through the server"
		if err := firstClientErr(visits); err != nil {
			return Result{}, fmt.Errorf("loadtest: %s: %w", msg, err)
		}
		return Result{}, errors.New("loadtest: " + msg)
	}
	log.Info("loadtest: joined", slog.Int("participants", joined), slog.Int("of", 2*o.Visits), slog.Duration("took", time.Since(started).Round(time.Millisecond)))

	// The control pair measures the clients' own latency under the same load.
	if ctrl, err = newControl(ctx, e); err != nil {
		log.Warn("loadtest: no control pair: latency without the server unknown", slog.String("error", err.Error()))
		ctrl = nil
	} else {
		senders.Go(func() { ctrl.send(stop, o) })
	}
	if err := sleep(ctx, o.Warmup); err != nil {
		return Result{}, err
	}
	t0 := e.now() + int64(50*time.Millisecond)
	t1 := t0 + int64(o.Duration)
	e.win.start.Store(t0)
	e.win.end.Store(t1)
	if err := sleep(ctx, time.Duration(t0-e.now())); err != nil {
		return Result{}, err
	}
	log.Info("loadtest: measuring", slog.Duration("for", o.Duration))
	before, err := e.snapshot(ctx)
	if err != nil {
		return Result{}, err
	}
	profiled := make(chan error, 1)
	if o.CPUProfile != "" {
		go func() { profiled <- e.profile(ctx, o.CPUProfile, o.Duration) }()
	} else {
		profiled <- nil
	}
	stopProfile := func() {}
	if o.ClientCPUProfile != "" {
		if stopProfile, err = startCPUProfile(o.ClientCPUProfile); err != nil {
			return Result{}, err
		}
		defer stopProfile()
	}
	if err := sleep(ctx, time.Duration(t1-e.now())); err != nil {
		return Result{}, err
	}
	stopProfile()
	after, err := e.snapshot(ctx)
	if err != nil {
		return Result{}, err
	}
	if o.MemProfile != "" {
		if err := e.download(ctx, "/heap", o.MemProfile, time.Minute); err != nil {
			return Result{}, err
		}
	}
	if err := sleep(ctx, o.Tail); err != nil {
		return Result{}, err
	}
	res := collect(visits, o)
	if ctrl != nil {
		res.Control = ctrl.latencies()
		slices.Sort(res.Control)
	}
	res.Idle, res.Before, res.After = idle, before, after
	res.SharedProcess = idle.PID == os.Getpid()
	res.JoinErrors = len(joinErrs)
	if err := <-profiled; err != nil {
		return res, err
	}
	return res, nil
}

func allJoined(visits []visit) bool {
	for _, v := range visits {
		for _, c := range v.clients() {
			if c.joined() == 0 && c.err() == nil {
				return false
			}
		}
	}
	return true
}

func firstClientErr(visits []visit) error {
	for _, v := range visits {
		for _, c := range v.clients() {
			if err := c.err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// collect counts, for every stream, what was sent in the window and what of
// it the other participant received.
func collect(visits []visit, o Options) Result {
	res := Result{Options: o, Participants: 2 * len(visits)}
	var lat []int32
	for _, v := range visits {
		for _, pair := range [][2]*client{{v.officer, v.detainee}, {v.detainee, v.officer}} {
			from, to := pair[0], pair[1]
			if j := to.joined(); j != 0 {
				res.Joins = append(res.Joins, time.Duration(j-to.joinStart))
			}
			for _, k := range []struct {
				out  *outStream
				kind webrtc.RTPCodecType
				sent *int64
				got  *int64
			}{
				{from.video, webrtc.RTPCodecTypeVideo, &res.VideoSent, &res.VideoDelivered},
				{from.audio, webrtc.RTPCodecTypeAudio, &res.AudioSent, &res.AudioDelivered},
			} {
				res.Streams++
				res.Nacked += k.out.nacked.Load()
				first, last := k.out.counted()
				if first == 0 {
					continue
				}
				*k.sent += int64(last - first + 1)
				if k.kind == webrtc.RTPCodecTypeVideo {
					res.VideoBytes += k.out.bytes.Load()
				}
				in := to.inStream(k.kind)
				if in == nil {
					continue
				}
				got := in.delivered(first, last)
				*k.got += got
				if got > 0 {
					res.StreamsDelivered++
				}
				lat = append(lat, in.latencies()...)
				in.mu.Lock()
				res.Duplicates += in.dups
				in.mu.Unlock()
			}
		}
	}
	slices.Sort(lat)
	res.Latency = lat
	slices.Sort(res.Joins)
	return res
}

// snapshot is the figures of the server, this process and the machine at
// one moment.
type snapshot struct {
	Server  Stats
	Clients time.Duration // this process's CPU time
	Machine cpuTicks
	// UDPDrops is the machine's count of datagrams dropped for a full
	// receive buffer, every socket (-1 where unknown).
	UDPDrops int64
	At       time.Time
}

func (e *env) snapshot(ctx context.Context) (snapshot, error) {
	st, err := e.stats(ctx)
	if err != nil {
		return snapshot{}, fmt.Errorf("loadtest: the server's figures: %w", err)
	}
	return snapshot{Server: st, Clients: cpuTime(), Machine: machineCPU(), UDPDrops: machineUDPDrops(), At: time.Now()}, nil
}

// stats asks the server for its figures.
func (e *env) stats(ctx context.Context) (Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.addr+"/stats", nil)
	if err != nil {
		return Stats{}, err
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return Stats{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Stats{}, fmt.Errorf("GET /stats: %s", resp.Status)
	}
	var st Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return Stats{}, fmt.Errorf("GET /stats: %w", err)
	}
	return st, nil
}

// profile writes the server's CPU profile over d to file.
func (e *env) profile(ctx context.Context, file string, d time.Duration) error {
	sec := int((d + time.Second - 1) / time.Second)
	return e.download(ctx, "/profile?seconds="+strconv.Itoa(sec), file, d+time.Minute)
}

// download writes what the server answers at path to file.
func (e *env) download(ctx context.Context, path, file string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return fmt.Errorf("loadtest: GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("loadtest: GET %s: %s", path, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("loadtest: GET %s: %w", path, err)
	}
	return f.Close()
}

// cpuTicks are the machine's CPU times from /proc/stat, and its number of
// CPUs (whatever this process's affinity).
type cpuTicks struct {
	busy, total int64
	cpus        int
}

func machineCPU() cpuTicks {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTicks{}
	}
	line, rest, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return cpuTicks{}
	}
	var t cpuTicks
	for l := range strings.Lines(rest) {
		if strings.HasPrefix(l, "cpu") {
			t.cpus++
		}
	}
	for i, s := range f[1:min(len(f), 9)] { // up to steal; guest time is in user time already
		n, _ := strconv.ParseInt(s, 10, 64)
		t.total += n
		if i != 3 && i != 4 { // idle, iowait
			t.busy += n
		}
	}
	return t
}

// startCPUProfile profiles this process into file until the returned
// function is called.
func startCPUProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("loadtest: client CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("loadtest: client CPU profile: %w", err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}, nil
}

// machineUDPDrops reads RcvbufErrors from /proc/net/snmp: datagrams the
// machine dropped because a socket's receive buffer was full.
func machineUDPDrops() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return -1
	}
	var names []string
	for l := range strings.Lines(string(b)) {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, name := range names {
			if name == "RcvbufErrors" && i < len(f) {
				n, err := strconv.ParseInt(f[i], 10, 64)
				if err != nil {
					return -1
				}
				return n
			}
		}
	}
	return -1
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

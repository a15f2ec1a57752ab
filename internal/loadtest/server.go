package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/attache-org/attache/internal/media"
)

// Server is the side of a load test that is measured: a media server with
// its signalling on 127.0.0.1, and its own resource figures. The load-test
// command runs it in a child process of its own (ServeChild), so that its
// CPU time is not the clients'; tests run it in-process.
type Server struct {
	media    *media.Server
	http     *http.Server
	ln       net.Listener
	log      *slog.Logger
	sessions atomic.Int64 // signalling sessions running
	rec      *recorder    // when every call is recorded
}

// NewServer starts a media server and its signalling on 127.0.0.1, on
// ports the system chooses; with record, every call is recorded. Serve runs
// the signalling.
func NewServer(log *slog.Logger, record bool) (*Server, error) {
	cfg := media.Config{UDPAddr: loopbackHost + ":0", Loopback: true}
	var rec *recorder
	if record {
		var err error
		if rec, err = newRecorder(log); err != nil {
			return nil, fmt.Errorf("loadtest: recorder: %w", err)
		}
		cfg.Recorder = rec
	}
	ms, err := media.New(cfg, log)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", loopbackHost+":0")
	if err != nil {
		ms.Close()
		return nil, fmt.Errorf("loadtest: listen: %w", err)
	}
	s := &Server{media: ms, ln: ln, log: log, rec: rec}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", s.signal)
	mux.HandleFunc("GET /stats", s.stats)
	mux.HandleFunc("GET /profile", s.profile)
	mux.HandleFunc("GET /heap", s.heap)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return s, nil
}

// Addr is the signalling's address (host:port on 127.0.0.1).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve answers signalling until Close.
func (s *Server) Serve() error {
	if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("loadtest: serve: %w", err)
	}
	return nil
}

// Close ends every call and stops serving.
func (s *Server) Close() error {
	err := s.media.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = errors.Join(err, s.http.Shutdown(ctx))
	if s.rec != nil {
		time.Sleep(time.Second) // the tracks finish their files apart
		s.rec.close()
	}
	return err
}

// wsConn carries a participant's signalling over a WebSocket.
type wsConn struct{ c *websocket.Conn }

func (w wsConn) Read(ctx context.Context) (media.Message, error) {
	var m media.Message
	err := wsjson.Read(ctx, w.c, &m)
	return m, err
}

func (w wsConn) Write(ctx context.Context, m media.Message) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return wsjson.Write(ctx, w.c, m)
}

// signal is GET /ws?room=R&id=P&role=officer: a participant's session, let
// straight into the room.
func (s *Server) signal(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	room, id, role := q.Get("room"), q.Get("id"), media.Role(q.Get("role"))
	switch role {
	case media.RoleOfficer, media.RoleInterpreter, media.RoleDetainee, media.RoleMonitor:
	default:
		http.Error(w, "unknown role", http.StatusBadRequest)
		return
	}
	if room == "" || id == "" {
		http.Error(w, "room and id are required", http.StatusBadRequest)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	c.SetReadLimit(256 << 10)
	s.sessions.Add(1)
	defer s.sessions.Add(-1)
	rm := s.media.Room(room)
	if s.rec != nil {
		_ = rm.Record(media.Info{}, true) // recorded from the start
	}
	if err := rm.Join(r.Context(), id, id, role, wsConn{c}); err != nil {
		s.log.Warn("loadtest: session failed", slog.String("room", room), slog.String("id", id), slog.String("error", err.Error()))
		c.Close(websocket.StatusInternalError, "session failed")
		return
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// Stats are a process's resource figures at one moment.
type Stats struct {
	PID        int   `json:"pid"`
	CPU        int64 `json:"cpu_ns"`    // user and system time so far
	RSS        int64 `json:"rss_bytes"` // resident memory (0 where unknown)
	HeapInuse  int64 `json:"heap_inuse_bytes"`
	GoSys      int64 `json:"go_sys_bytes"` // memory the Go runtime holds from the system
	Goroutines int   `json:"goroutines"`
	GOMAXPROCS int   `json:"gomaxprocs"`
	Sessions   int64 `json:"sessions"` // signalling sessions running
	// UDPDrops counts datagrams the kernel dropped on the media socket
	// because its receive buffer was full (-1 where unknown).
	UDPDrops int64 `json:"udp_drops"`
	// Recorded is what the recordings take on disk (-1: not recording).
	Recorded int64 `json:"recorded_bytes"`
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	st := processStats()
	st.Sessions = s.sessions.Load()
	st.UDPDrops = udpDrops(s.media.UDPAddr())
	st.Recorded = -1
	if s.rec != nil {
		st.Recorded = s.rec.bytes()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

// processStats measures this process.
func processStats() Stats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return Stats{PID: os.Getpid(), CPU: int64(cpuTime()), RSS: rss(), HeapInuse: int64(ms.HeapInuse), GoSys: int64(ms.Sys),
		Goroutines: runtime.NumGoroutine(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
}

// profile is GET /profile?seconds=N: a CPU profile of the next N seconds.
func (s *Server) profile(w http.ResponseWriter, r *http.Request) {
	sec, err := strconv.Atoi(r.URL.Query().Get("seconds"))
	if err != nil || sec < 1 || sec > 600 {
		http.Error(w, "seconds: 1 to 600", http.StatusBadRequest)
		return
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Duration(sec+30) * time.Second))
	w.Header().Set("Content-Type", "application/octet-stream")
	if err := pprof.StartCPUProfile(w); err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	select {
	case <-time.After(time.Duration(sec) * time.Second):
	case <-r.Context().Done():
	}
	pprof.StopCPUProfile()
}

// heap is GET /heap: a heap profile, after a collection.
func (s *Server) heap(w http.ResponseWriter, r *http.Request) {
	runtime.GC()
	w.Header().Set("Content-Type", "application/octet-stream")
	if err := pprof.Lookup("heap").WriteTo(w, 0); err != nil {
		s.log.Warn("loadtest: heap profile", slog.String("error", err.Error()))
	}
}

// rss reads this process's resident memory from /proc (0 elsewhere).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// udpDrops reads the drop count of the UDP socket bound to addr from
// /proc/net/udp (-1 if not found).
func udpDrops(addr net.Addr) int64 {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return -1
	}
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return -1
	}
	defer f.Close()
	// The local address is the IPv4 address as a host-order hex word, then
	// the port in hex: 127.0.0.1:5000 is 0100007F:1388 on little endian.
	want := fmt.Sprintf(":%04X", ua.Port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 13 || !strings.HasSuffix(fields[1], want) || !strings.HasPrefix(fields[1], "0100007F") {
			continue
		}
		n, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	return -1
}

// ServeChild runs the server side as the load-test command's child
// process: it prints the signalling address as its first line on stdout,
// then serves until stdin closes or ctx ends. Its one flag, -cpu N, pins it
// to CPU N.
func ServeChild(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("loadtest-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cpu := fs.Int("cpu", -1, "pin the server to this CPU")
	record := fs.Bool("record", false, "record every call")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpu >= 0 {
		if err := pinTo([]int{*cpu}); err != nil {
			return err
		}
	}
	s, err := NewServer(log, *record)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	if _, err := fmt.Fprintln(stdout, s.Addr()); err != nil {
		s.Close()
		return fmt.Errorf("loadtest: tell the address: %w", err)
	}
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(eof)
	}()
	select {
	case <-ctx.Done():
	case <-eof:
	case err := <-served:
		s.Close()
		return err
	}
	return s.Close()
}

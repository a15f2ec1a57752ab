package cli

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/attache-org/attache/internal/calls"
	"github.com/attache-org/attache/internal/cluster"
	"github.com/attache-org/attache/internal/config"
	"github.com/attache-org/attache/internal/demo"
	"github.com/attache-org/attache/internal/devcert"
	"github.com/attache-org/attache/internal/family"
	"github.com/attache-org/attache/internal/i18n"
	"github.com/attache-org/attache/internal/media"
	"github.com/attache-org/attache/internal/recording"
	"github.com/attache-org/attache/internal/reports"
	"github.com/attache-org/attache/internal/sso"
	"github.com/attache-org/attache/internal/turn"
	"github.com/attache-org/attache/internal/visits"
	"github.com/attache-org/attache/internal/web"
)

// shutdownGrace is how long in-flight requests get to finish on SIGTERM.
const shutdownGrace = 15 * time.Second

func serve(ctx context.Context, args []string, stdio IO) error {
	cfg, _, err := parse("serve", config.Server, args, stdio, nil)
	if err != nil {
		return err
	}
	// The data directory holds the node's id, recordings, the outbox and
	// certificates, whatever the database.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("--data %s: %w", cfg.DataDir, err)
	}
	s, err := open(ctx, cfg, stdio)
	if err != nil {
		return err
	}
	defer s.close()
	log := s.log

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	auditEntries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "attache_audit_entries_total", Help: "Audit entries written outside a larger transaction, by action.",
	}, []string{"action"})
	reg.MustRegister(auditEntries)
	s.audit.OnAppend = func(action string) { auditEntries.WithLabelValues(action).Inc() }

	catalog, err := i18n.Load()
	if err != nil {
		return err
	}
	var tlsConfig *tls.Config
	certFile, keyFile := cfg.TLSCert, cfg.TLSKey
	if cfg.TLSSelfSigned {
		if certFile, keyFile, err = devcert.Ensure(cfg.DataDir); err != nil {
			return fmt.Errorf("self-signed certificate: %w", err)
		}
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return fmt.Errorf("TLS certificate %s and key %s: %w", certFile, keyFile, err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", cfg.Addr, err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	if cfg.BaseURL == "" {
		cfg.Addr = ln.Addr().String() // the real port when :0 was asked
	}
	vs := visits.NewService(s.db, s.audit, s.cases, s.access)
	vs.SetTimes(visits.Times{OpensBefore: cfg.VisitOpensBefore, Grace: cfg.VisitGrace})
	rec, err := callRecorder(cfg, vs, log)
	if err != nil {
		return err
	}
	cl, err := joinCluster(ctx, cfg, s, rec, log)
	if err != nil {
		return err
	}
	// The node leaves last, after its calls moved and its sessions were recorded.
	defer func() {
		leaveCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := cl.Leave(leaveCtx); err != nil {
			log.Warn("leaving the cluster", slog.String("error", err.Error()))
		}
	}()
	mc := media.Config{UDPAddr: cfg.MediaUDP, TCPAddr: cfg.MediaTCP, PublicIPs: cfg.MediaPublicIPs, Loopback: isLoopback(cfg.MediaUDP)}
	switch cfg.MediaTCP {
	case "off":
		mc.TCPAddr = ""
	case "":
		mc.TCPAddr = cfg.MediaUDP // the same address, over TCP
	}
	cd := calls.Deps{DB: s.db, Visits: vs, Auth: s.auth, Cluster: cl, Recorder: rec, Log: log}
	cs, err := calls.New(cd, mc)
	if err != nil && cfg.MediaTCP == "" {
		// ICE-TCP was not asked for by name: without it, calls still work
		// for every network that lets UDP through.
		log.Warn("call media over TCP is off: cannot listen on TCP", slog.String("address", mc.TCPAddr), slog.String("error", err.Error()))
		mc.TCPAddr = ""
		cs, err = calls.New(cd, mc)
	}
	if err != nil {
		return err
	}
	ms := cs.Media()
	defer ms.Close()
	if n, err := cs.Start(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Warn("calls were cut by the last stop of this node", slog.Int64("sessions", n))
	}
	s.auth.OnRevoke = cs.Recheck
	tcpAddr := ""
	if a := ms.TCPAddr(); a != nil {
		tcpAddr = a.String()
	}
	if err := cl.Announce(ctx, ms.UDPAddr().String(), tcpAddr); err != nil {
		return err
	}
	log.Info("call media", slog.String("udp", ms.UDPAddr().String()), slog.Any("tcp", ms.TCPAddr()), slog.Any("announced", cfg.MediaPublicIPs))
	ts, err := startTURN(cfg, ms, log)
	if err != nil {
		return err
	}
	if ts != nil {
		defer ts.Close()
		cs.SetTURN(ts)
	}
	// The heartbeat outlives the request context: a draining node still beats.
	beatCtx, stopBeat := context.WithCancel(context.WithoutCancel(ctx))
	beatDone := make(chan struct{})
	go func() {
		defer close(beatDone)
		cl.Run(beatCtx, cs.Beat)
	}()
	defer func() {
		stopBeat()
		<-beatDone
	}()
	queue, err := newQueue(cfg, s.db, vs, log)
	if err != nil {
		return err
	}
	vs.SetNotices(visits.Notices{Sender: queue, Reminders: queue, BaseURL: cfg.PublicURL(), Catalog: catalog})
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "attache_notices_pending",
		Help: "E-mail notices queued and not yet delivered, given up or cancelled (including retries and reminders scheduled ahead)."},
		func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := queue.Pending(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	rs := reports.NewService(s.db, s.audit, s.cases, queue, reports.Options{BaseURL: cfg.PublicURL(), Catalog: catalog})
	fam := family.NewService(s.db, s.audit, s.cases, s.auth, queue, family.Options{BaseURL: cfg.PublicURL(), Catalog: catalog})
	fonts, err := pdfFonts(cfg, log)
	if err != nil {
		return err
	}
	var signOn *sso.Client
	if cfg.OIDCConfig != "" {
		sc, err := sso.LoadConfig(cfg.OIDCConfig, os.Getenv)
		if err != nil {
			return err
		}
		if signOn, err = sso.New(ctx, sc, s.db, log, nil); err != nil {
			return err
		}
		log.Info("single sign-on", slog.String("issuer", sc.Issuer))
	}
	srv, err := web.New(web.Deps{Config: cfg, DB: s.db, Auth: s.auth, Audit: s.audit, Cases: s.cases, Access: s.access, Visits: vs, Catalog: catalog, Log: log,
		Registry: reg, Version: version(), Calls: cs, Reports: rs, Family: fam, PDFFonts: fonts, SSO: signOn})
	if err != nil {
		return err
	}
	if err := queue.Start(ctx); err != nil {
		return fmt.Errorf("start the notice queue: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := queue.Stop(stopCtx); err != nil {
			log.Warn("stopping the notice queue", slog.String("error", err.Error()))
		}
	}()
	if cfg.Demo {
		// After listening, so that the demo visit's join links carry the real address.
		if err := demo.Load(ctx, demo.Env{Auth: s.auth, Cases: s.cases, Access: s.access, Visits: vs, Reports: rs, Family: fam,
			BaseURL: cfg.PublicURL(), Out: stdio.Stdout, Words: catalog.In(stdio.lang)}); err != nil {
			return err
		}
	}
	httpServer := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}

	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("--metrics-addr: cannot listen on %s: %w", cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", srv.MetricsHandler())
		metricsServer := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() { _ = metricsServer.Serve(mln) }()
		defer metricsServer.Close()
		log.Info("metrics", slog.String("addr", mln.Addr().String()))
	}
	url := cfg.PublicURL()
	if n, err := s.auth.CountUsers(ctx); err != nil {
		return err
	} else if n == 0 {
		token, err := s.auth.NewSetupToken(ctx)
		if err != nil {
			return err
		}
		stdio.say("No account exists yet. Create the first administrator within 24 hours at:")
		fmt.Fprintf(stdio.Stdout, "  %s/setup?token=%s\n", url, token)
		stdio.say("or from a shell: attache user add --username NAME --role admin")
		stdio.say("(or start with --demo for demonstration accounts)")
		fmt.Fprintln(stdio.Stdout)
	}
	// Printed last, in English whatever the language: scripts and tests
	// wait for this line.
	fmt.Fprintf(stdio.Stdout, "Attaché %s is running at %s (database: %s)\n", version(), url, s.db.Describe(cfg.DatabaseURL))
	log.Info("serving", slog.String("url", url), slog.String("addr", ln.Addr().String()), slog.Bool("tls", tlsConfig != nil))

	// Retention runs whether or not recording is on now: recordings made
	// before the key was removed still expire.
	recDir := cfg.Recordings
	if recDir == "" {
		recDir = filepath.Join(cfg.DataDir, "recordings")
	}
	if _, err := os.Stat(recDir); err == nil {
		go purgeDaily(ctx, vs, recDir, log)
	}
	errc := make(chan error, 1)
	go func() { errc <- httpServer.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", slog.Duration("grace", shutdownGrace))
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	// Calls first: this node takes no new call, gives up those it holds and
	// tells every page to reconnect (to another node, or here after a
	// restart); each session's record is written before the database
	// closes.
	if err := cs.Close(shutCtx); err != nil {
		log.Warn("closing the media server", slog.String("error", err.Error()))
	}
	if err := httpServer.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	cs.Wait(shutCtx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// isLoopback reports whether a HOST:PORT names a loopback address: then the
// media server offers loopback candidates (a one-machine setup or a test).
func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startTURN starts the embedded TURN server when --turn-udp asks for one.
// Its relays may reach the media server's own address (as browsers see it)
// and no other local or private one.
func startTURN(cfg config.Config, ms *media.Server, log *slog.Logger) (*turn.Server, error) {
	if cfg.TURNUDP == "" {
		return nil, nil
	}
	lo, hi, err := cfg.TURNPorts()
	if err != nil {
		return nil, err
	}
	tc := turn.Config{UDPAddr: cfg.TURNUDP, TCPAddr: cfg.TURNTCP, Secret: cfg.TURNSecret, RelayPortMin: lo, RelayPortMax: hi}
	relay := cfg.TURNRelayIP
	if relay == "" && len(cfg.MediaPublicIPs) > 0 {
		relay = cfg.MediaPublicIPs[0]
	}
	if relay != "" {
		if tc.RelayIP, err = netip.ParseAddr(relay); err != nil {
			return nil, fmt.Errorf("--turn-relay-ip %q: %w", relay, err)
		}
	}
	media := ms.UDPAddr().(*net.UDPAddr).AddrPort()
	port := media.Port()
	if ip := media.Addr().Unmap(); !ip.IsUnspecified() {
		tc.MediaPeers = append(tc.MediaPeers, netip.AddrPortFrom(ip, port))
	} else {
		// Listening everywhere: the media server offers every address of
		// this host (but loopback and link-local ones).
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return nil, fmt.Errorf("list this host's addresses: %w", err)
		}
		for _, a := range addrs {
			if pfx, err := netip.ParsePrefix(a.String()); err == nil {
				if ip := pfx.Addr().Unmap(); !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
					tc.MediaPeers = append(tc.MediaPeers, netip.AddrPortFrom(ip, port))
				}
			}
		}
	}
	for _, p := range cfg.MediaPublicIPs {
		if ip, err := netip.ParseAddr(p); err == nil {
			tc.MediaPeers = append(tc.MediaPeers, netip.AddrPortFrom(ip, port))
		}
	}
	ts, err := turn.New(tc, log)
	if err != nil {
		return nil, err
	}
	log.Info("TURN", slog.String("udp", ts.UDPAddr().String()), slog.Any("tcp", ts.TCPAddr()), slog.Any("media_peers", tc.MediaPeers))
	return ts, nil
}

// callRecorder sets up recording when there is a key to encrypt with:
// --recording-key, or for the demo a key made once in the data directory
// (next to the data, which a real deployment must not do).
func callRecorder(cfg config.Config, vs *visits.Service, log *slog.Logger) (*calls.Recorder, error) {
	path := cfg.RecordingKey
	if path == "" && cfg.Demo {
		path = filepath.Join(cfg.DataDir, "demo-recording.key")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if _, err := recording.GenerateKeyFile(path); err != nil {
				return nil, fmt.Errorf("demo recording key: %w", err)
			}
		}
		log.Warn("recordings are encrypted with a demo key kept next to the data; use --recording-key in production", slog.String("key", path))
	}
	if path == "" {
		log.Info("recording is off: no --recording-key")
		return nil, nil
	}
	keys, err := recording.LoadKeys(path, log)
	if err != nil {
		return nil, fmt.Errorf("--recording-key: %w", err)
	}
	dir := cfg.Recordings
	if dir == "" {
		dir = filepath.Join(cfg.DataDir, "recordings")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--recordings %s: %w", dir, err)
	}
	log.Info("recording available", slog.String("directory", dir), slog.String("recipient", keys.Recipient()))
	return &calls.Recorder{Visits: vs, Keys: keys, Dir: dir, Log: log}, nil
}

// purgeDaily deletes the recordings whose retention is over (and not under
// legal hold), at start and then every day, logging what it deleted.
func purgeDaily(ctx context.Context, vs *visits.Service, dir string, log *slog.Logger) {
	tick := time.NewTicker(24 * time.Hour)
	defer tick.Stop()
	for {
		if err := purgeRecordings(ctx, vs, dir, log); err != nil {
			log.Error("recording purge", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// purgeRecordings runs one purge over the recordings directory.
func purgeRecordings(ctx context.Context, vs *visits.Service, dir string, log *slog.Logger) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("recordings directory: %w", err)
	}
	defer root.Close()
	done, err := vs.PurgeRecordings(ctx, root.Remove)
	for _, p := range done {
		log.Info("recording purged", slog.String("file", p.File), slog.String("sha256", p.SHA256), slog.String("case", p.CaseID))
	}
	return err
}

// joinCluster registers this node. On SQLite it is the only one (a second
// process on the same file is refused); on PostgreSQL it checks that the
// settings every node must share are the same as the live nodes'.
func joinCluster(ctx context.Context, cfg config.Config, s *services, rec *calls.Recorder, log *slog.Logger) (*cluster.Cluster, error) {
	id := cfg.NodeID
	if id == "" {
		var err error
		if id, err = cluster.LoadID(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	secrets := map[string]string{}
	if cfg.TURNUDP != "" {
		secret := cfg.TURNSecret
		if secret == "" {
			secret = "random " + rand.Text() // made at start: never the same as another node's
		}
		secrets["--turn-secret"] = secret
	}
	if rec != nil {
		secrets["--recording-key"] = rec.Keys.Recipient()
	}
	cl, err := cluster.Join(ctx, s.db, cluster.Config{ID: id, InternalURL: cfg.InternalURL(), MediaUDP: cfg.MediaUDP, MediaTCP: cfg.MediaTCP,
		PublicIPs: cfg.MediaPublicIPs, Version: version(), Timeout: cfg.NodeTimeout, Secrets: secrets}, log)
	if err != nil {
		return nil, err
	}
	log.Info("node", slog.String("id", id), slog.String("internal_url", cfg.InternalURL()), slog.Duration("timeout", cfg.NodeTimeout))
	return cl, nil
}

package web

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/attache-org/attache/internal/db"
)

// healthz says the process is alive.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
	return nil
}

// readyz says whether the database answers.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.Calls != nil && s.Calls.Draining() {
		// A load balancer sends nobody here any more: the node is stopping.
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("draining\n"))
		return nil
	}
	if err := s.DB.PingContext(ctx); err != nil {
		s.Log.Warn("readiness check failed", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database unreachable\n"))
		return nil
	}
	_, _ = w.Write([]byte("ready\n"))
	return nil
}

// serveMetrics serves the metrics on the main address to loopback clients
// only (a Prometheus on the same host), unless they have an address of
// their own (--metrics-addr): they tell how busy the service is, which is
// nobody else's business.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	a, err := netip.ParseAddr(stateOf(r).address)
	if s.Registry == nil || s.Config.MetricsAddr != "" || err != nil || !a.IsLoopback() {
		s.notFound(w, r)
		return nil
	}
	s.MetricsHandler().ServeHTTP(w, r)
	return nil
}

// MetricsHandler serves the metrics in Prometheus's format to anyone who
// reaches it: for the --metrics-addr listener.
func (s *Server) MetricsHandler() http.Handler {
	if s.Registry == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{})
}

// metrics are the web layer's Prometheus series.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry, d *db.DB) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "attache_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "attache_http_request_duration_seconds", Help: "HTTP request duration by route.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, collectors.NewDBStatsCollector(d.DB, string(d.Engine))} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(route, method string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

package loadtest

import (
	"fmt"
	"io"
	"runtime"
	"time"
)

// Targets are what the media server should reach on a 2-core machine.
var targets = struct {
	VisitsPerCore float64
	LossPct       float64
	LatencyP99    time.Duration
	JoinP95       time.Duration
}{60, 0.5, 10 * time.Millisecond, 1500 * time.Millisecond}

// Result is what a run measured. Counts are of the measuring window:
// packets sent in it, and which of those arrived by the end of the tail.
type Result struct {
	Options      Options
	Participants int
	JoinErrors   int             // participants whose signalling failed
	Joins        []time.Duration // join to first whole keyframe, sorted, of those who got one

	// Streams are the audio and video tracks sent (four a visit);
	// StreamsDelivered those of which the other side received some of
	// the window's packets.
	Streams, StreamsDelivered int

	VideoSent, VideoDelivered int64
	AudioSent, AudioDelivered int64
	VideoBytes                int64   // video payload sent in the window
	Duplicates                int64   // packets received twice (retransmissions of packets already in)
	Nacked                    int64   // packets the server asked the clients to send again, in the window
	Latency                   []int32 // sender to receiver through the server, µs, sorted
	// Control is the latency of a pair of clients connected directly, in
	// the same process under the same load: what the clients themselves
	// add (µs, sorted; empty if the pair could not connect).
	Control []int32

	// The server's figures when idle and at the window's edges, with this
	// process's and the machine's CPU time.
	Idle          Stats
	Before, After snapshot
	// SharedProcess says the server ran in the clients' process: its CPU
	// and memory figures include theirs.
	SharedProcess bool
}

// Sent is the packets sent in the window; Delivered those of them received.
func (r Result) Sent() int64      { return r.VideoSent + r.AudioSent }
func (r Result) Delivered() int64 { return r.VideoDelivered + r.AudioDelivered }

// LossPct is the share of the window's packets that never arrived, in %.
func (r Result) LossPct() float64 { return lossPct(r.Sent(), r.Delivered()) }

func lossPct(sent, got int64) float64 {
	if sent == 0 {
		return 100
	}
	return 100 * float64(sent-got) / float64(sent)
}

// LatencyPct is the p-th percentile of the latency through the server.
func (r Result) LatencyPct(p float64) time.Duration { return pct(r.Latency, p) }

// ControlPct is the p-th percentile of the control pair's latency.
func (r Result) ControlPct(p float64) time.Duration { return pct(r.Control, p) }

func pct(sorted []int32, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return time.Duration(sorted[rank(len(sorted), p)]) * time.Microsecond
}

// JoinPct is the p-th percentile of the join times.
func (r Result) JoinPct(p float64) time.Duration {
	if len(r.Joins) == 0 {
		return 0
	}
	return r.Joins[rank(len(r.Joins), p)]
}

// rank is the index of the p-th percentile of n sorted values (nearest rank).
func rank(n int, p float64) int {
	i := int(float64(n)*p/100+0.999999) - 1
	return min(max(i, 0), n-1)
}

func (r Result) window() time.Duration { return r.After.At.Sub(r.Before.At) }

// ServerCores is the server's CPU use over the window, in cores.
func (r Result) ServerCores() float64 {
	w := r.window().Seconds()
	if w <= 0 {
		return 0
	}
	return time.Duration(r.After.Server.CPU-r.Before.Server.CPU).Seconds() / w
}

// CPUPerVisitPct is the server's CPU per visit, in % of one core.
func (r Result) CPUPerVisitPct() float64 { return 100 * r.ServerCores() / float64(r.Options.Visits) }

// Summary is the one-line result.
func (r Result) Summary() string {
	return fmt.Sprintf("visits=%d loss=%.3f%% latency_p99=%.1fms join_p95=%dms cpu_per_visit=%.2f%%",
		r.Options.Visits, r.LossPct(), ms(r.LatencyPct(99)), r.JoinPct(95).Milliseconds(), r.CPUPerVisitPct())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

const mib = 1 << 20

// Report writes the readable report, the summary line last.
func (r Result) Report(w io.Writer) error {
	o := r.Options
	n := float64(o.Visits)
	win := r.window().Seconds()
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-18s "+format+"\n", append([]any{label}, args...)...)
	}
	fmt.Fprintln(w, "Attaché media server load test (127.0.0.1 only)")
	line("visits", "%d two-party visits, %d participants, started %v apart", o.Visits, r.Participants, o.JoinEvery)
	line("each side sends", "video %d kbit/s at %d fps (keyframes 3x, on request), audio %d B every 20 ms", o.VideoKbps, o.FPS, o.AudioBytes)
	line("window", "%.1f s measured after a %v warm-up, %v tail", win, o.Warmup, o.Tail)
	where := fmt.Sprintf("own process, pid %d", r.Idle.PID)
	if o.Pin {
		where += ", alone on one CPU, the clients on the others"
	}
	if r.SharedProcess {
		where = "in the clients' process: its CPU and memory include the clients'"
	}
	line("server", "%s, GOMAXPROCS %d; %d signalling sessions at the window's end", where, r.After.Server.GOMAXPROCS, r.After.Server.Sessions)
	line("joined", "%d of %d participants got the other's video (%d signalling failures)", len(r.Joins), r.Participants, r.JoinErrors)
	line("join to keyframe", "p50 %d ms, p95 %d ms, max %d ms", r.JoinPct(50).Milliseconds(), r.JoinPct(95).Milliseconds(), r.JoinPct(100).Milliseconds())
	kbps := 0.0
	if win > 0 {
		kbps = float64(r.VideoBytes) * 8 / 1000 / win / float64(r.Participants)
	}
	line("sent in window", "%d video packets (%.0f kbit/s of payload a side), %d audio packets", r.VideoSent, kbps, r.AudioSent)
	line("delivered", "%d of %d: loss %.3f %% (video %.3f %%, audio %.3f %%); %d duplicates; %d of %d streams got through",
		r.Delivered(), r.Sent(), r.LossPct(), lossPct(r.VideoSent, r.VideoDelivered), lossPct(r.AudioSent, r.AudioDelivered),
		r.Duplicates, r.StreamsDelivered, r.Streams)
	line("NACK", "the server asked the clients for %d packets again (%.2f per packet sent)", r.Nacked, float64(r.Nacked)/float64(max(r.Sent(), 1)))
	line("latency", "p50 %.2f ms, p99 %.2f ms, max %.2f ms (sender to receiver, through the server)", ms(r.LatencyPct(50)), ms(r.LatencyPct(99)), ms(r.LatencyPct(100)))
	if len(r.Control) > 0 {
		line("without server", "p50 %.2f ms, p99 %.2f ms (a pair of clients connected directly, in the same process, same load);",
			ms(r.ControlPct(50)), ms(r.ControlPct(99)))
		add50, add99 := r.LatencyPct(50)-r.ControlPct(50), r.LatencyPct(99)-r.ControlPct(99)
		if add50 < 0 || add99 < 0 {
			line("", "the clients' own delay is larger than the server's: no estimate of what the server adds")
		} else {
			line("", "the server adds about %.2f ms at p50, %.2f ms at p99", ms(add50), ms(add99))
		}
	}
	cores := r.ServerCores()
	perCore := 0.0
	if cores > 0 {
		perCore = n / cores
	}
	line("server CPU", "%.1f %% of a core: %.2f %% per visit, %.1f visits per core", 100*cores, r.CPUPerVisitPct(), perCore)
	a, idle := r.After.Server, r.Idle
	line("server memory", "RSS %.1f MiB, %.2f MiB per visit over idle; Go heap %.1f MiB, %.2f MiB per visit; %d goroutines, %.1f per visit",
		float64(a.RSS)/mib, float64(a.RSS-idle.RSS)/mib/n, float64(a.HeapInuse)/mib, float64(a.HeapInuse-idle.HeapInuse)/mib/n,
		a.Goroutines, float64(a.Goroutines-idle.Goroutines)/n)
	if a.Recorded >= 0 && r.Before.Server.Recorded >= 0 {
		w := r.window().Minutes()
		line("recording", "every call recorded: %.1f MiB written in the window, %.2f MiB per visit-minute",
			float64(a.Recorded-r.Before.Server.Recorded)/mib, float64(a.Recorded-r.Before.Server.Recorded)/mib/n/w)
	}
	drops, others := "unknown", "unknown"
	if a.UDPDrops >= 0 && r.Before.Server.UDPDrops >= 0 {
		d := a.UDPDrops - r.Before.Server.UDPDrops
		drops = fmt.Sprint(d)
		if r.After.UDPDrops >= 0 && r.Before.UDPDrops >= 0 {
			others = fmt.Sprint(max(0, r.After.UDPDrops-r.Before.UDPDrops-d))
		}
	}
	line("UDP drops", "%s datagrams on the server's media socket, %s on other sockets (clients), receive buffers full", drops, others)
	busy, clients := 0.0, 0.0
	if dt := r.After.Machine.total - r.Before.Machine.total; dt > 0 {
		busy = 100 * float64(r.After.Machine.busy-r.Before.Machine.busy) / float64(dt)
	}
	if win > 0 {
		clients = 100 * (r.After.Clients - r.Before.Clients).Seconds() / win
	}
	server := 100 * cores
	if r.SharedProcess {
		server = 0 // counted in the clients'
	}
	cpus := r.After.Machine.cpus
	if cpus == 0 {
		cpus = runtime.NumCPU()
	}
	line("machine", "%d cores %.0f %% busy; in %% of a core: server %.0f, clients %.0f, anything else %.0f", cpus, busy,
		server, clients, max(0, busy*float64(cpus)-server-clients))
	line("targets", "visits per core >= %.0f: %.1f %s; loss < %.1f %%: %s; latency p99 < %v: %s; join p95 < %v: %s",
		targets.VisitsPerCore, perCore, verdict(perCore >= targets.VisitsPerCore), targets.LossPct, verdict(r.LossPct() < targets.LossPct),
		targets.LatencyP99, verdict(r.LatencyPct(99) < targets.LatencyP99), targets.JoinP95, verdict(r.JoinPct(95) < targets.JoinP95 && len(r.Joins) == r.Participants))
	_, err := fmt.Fprintln(w, r.Summary())
	return err
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

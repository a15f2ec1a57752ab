package loadtest

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bind adds the load test's flags to fs, with o's values as defaults.
func (o *Options) Bind(fs *flag.FlagSet) {
	fs.IntVar(&o.Visits, "visits", o.Visits, "two-party visits at once")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "measuring window")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "wait after every visit has joined, before measuring")
	fs.DurationVar(&o.Tail, "tail", o.Tail, "wait after the window for its last packets")
	fs.IntVar(&o.VideoKbps, "video-kbps", o.VideoKbps, "each side's video bitrate, kbit/s")
	fs.IntVar(&o.FPS, "fps", o.FPS, "video frames a second")
	fs.IntVar(&o.AudioBytes, "audio-bytes", o.AudioBytes, "audio payload every 20 ms, bytes")
	fs.DurationVar(&o.JoinEvery, "join-every", o.JoinEvery, "between the starts of two visits")
	fs.DurationVar(&o.JoinTimeout, "join-timeout", o.JoinTimeout, "for every participant to receive video after the last start")
	fs.BoolVar(&o.Pin, "pin", o.Pin, "run the server alone on the last CPU (GOMAXPROCS 1), the clients on the others")
	fs.IntVar(&o.ServerProcs, "server-gomaxprocs", o.ServerProcs, "GOMAXPROCS of the server process (0: Go's default, every CPU)")
	fs.BoolVar(&o.Record, "record", o.Record, "record every call (encrypted WebM files in a temporary directory): the cost of recording")
	fs.StringVar(&o.CPUProfile, "cpuprofile", o.CPUProfile, "write the server's CPU profile over the window to `file`")
	fs.StringVar(&o.MemProfile, "memprofile", o.MemProfile, "write the server's heap profile at the window's end to `file`")
	fs.StringVar(&o.ClientCPUProfile, "client-cpuprofile", o.ClientCPUProfile, "write the clients' CPU profile over the window to `file`")
}

// Command runs a load test as "attache loadtest" does: the server in a
// child process started with serverArgv (the same program, its hidden
// server subcommand), or in this process if serverArgv is empty; the
// report goes to out, the child's log to errOut.
func Command(ctx context.Context, o Options, serverArgv []string, out, errOut io.Writer, log *slog.Logger) error {
	if err := o.Validate(); err != nil {
		return err
	}
	var addr string
	if len(serverArgv) == 0 {
		if o.Pin {
			return errors.New("loadtest: pinning needs the server in a process of its own")
		}
		s, err := NewServer(log, o.Record)
		if err != nil {
			return err
		}
		defer s.Close()
		go func() {
			if err := s.Serve(); err != nil {
				log.Error("loadtest: server", slog.String("error", err.Error()))
			}
		}()
		addr = s.Addr()
	} else {
		if o.Pin {
			cpus, err := allowedCPUs()
			if err != nil {
				return err
			}
			if len(cpus) < 2 {
				return fmt.Errorf("loadtest: pinning needs two CPUs, this process may use %v", cpus)
			}
			if err := pinTo(cpus[:len(cpus)-1]); err != nil {
				return err
			}
			serverArgv = append(slices.Clone(serverArgv), "-cpu", strconv.Itoa(cpus[len(cpus)-1]))
		}
		if o.Record {
			serverArgv = append(slices.Clone(serverArgv), "-record")
		}
		var env []string
		if o.ServerProcs > 0 {
			env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(o.ServerProcs))
		}
		c, err := startChild(ctx, serverArgv, env, errOut)
		if err != nil {
			return err
		}
		defer func() {
			if err := c.stop(); err != nil {
				log.Warn("loadtest: stopping the server", slog.String("error", err.Error()))
			}
		}()
		addr = c.addr
	}
	res, err := Run(ctx, addr, o, log)
	if err != nil {
		return err
	}
	return res.Report(out)
}

// child is the server's process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
	done  chan error
}

// startChild starts the server process, with env as its environment (nil:
// this process's), and reads its address, which must be on 127.0.0.1.
func startChild(ctx context.Context, argv, env []string, errOut io.Writer) (*child, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env // nil: this process's
	cmd.Stderr = errOut
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("loadtest: server process: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("loadtest: server process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("loadtest: start the server process: %w", err)
	}
	c := &child{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- strings.TrimSpace(sc.Text())
		}
		close(first)
		_, _ = io.Copy(io.Discard, stdout)
		c.done <- cmd.Wait()
	}()
	fail := func(err error) (*child, error) {
		_ = c.stop()
		return nil, err
	}
	select {
	case line, ok := <-first:
		if !ok {
			return fail(errors.New("loadtest: the server process ended without telling its address"))
		}
		if err := checkLoopback(line); err != nil {
			return fail(err)
		}
		c.addr = line
		return c, nil
	case <-time.After(30 * time.Second):
		return fail(errors.New("loadtest: the server process did not tell its address in 30 s"))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
}

// stop closes the server's stdin, which ends it, and kills it if it has
// not ended within 15 seconds.
func (c *child) stop() error {
	_ = c.stdin.Close()
	select {
	case err := <-c.done:
		if err != nil {
			return fmt.Errorf("loadtest: server process: %w", err)
		}
		return nil
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		return errors.New("loadtest: the server process did not stop; killed")
	}
}

package cli

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/attache-org/attache/internal/config"
	"github.com/attache-org/attache/internal/recording"
	"github.com/attache-org/attache/internal/visits"
)

// recordingCmd is "attache recording verify|purge".
func recordingCmd(ctx context.Context, args []string, stdio IO) error {
	if len(args) == 0 {
		return usageErr("recording needs a subcommand: verify or purge")
	}
	var key, dir, sum string
	cfg, rest, err := parse("recording "+args[0], config.Storage, args[1:], stdio, func(fs *flag.FlagSet) {
		fs.StringVar(&key, "recording-key", stdio.Getenv("ATTACHE_RECORDING_KEY"), "age identity file of the recordings")
		fs.StringVar(&dir, "recordings", stdio.Getenv("ATTACHE_RECORDINGS"), "directory of the recordings (default: recordings in --data)")
		fs.StringVar(&sum, "sha256", "", "verify: the SHA-256 the file must have (default: the one the database recorded)")
	})
	if err != nil {
		return err
	}
	if dir == "" {
		dir = filepath.Join(cfg.DataDir, "recordings")
	}
	switch args[0] {
	case "verify":
		return verifyRecordings(ctx, cfg, key, sum, rest, stdio)
	case "purge":
		s, err := open(ctx, cfg, stdio)
		if err != nil {
			return err
		}
		defer s.close()
		vs := visits.NewService(s.db, s.audit, s.cases, s.access)
		return purgeRecordings(ctx, vs, dir, s.log)
	}
	return usageErr("unknown recording subcommand %q: verify or purge", args[0])
}

// verifyRecordings checks each file: its SHA-256 against the one recorded
// when it was closed (or given), that every part decrypts with the key
// (age authenticates each chunk), and that it is a WebM file. It fails at
// the first file that does not pass, saying what failed.
func verifyRecordings(ctx context.Context, cfg config.Config, key, sum string, files []string, stdio IO) error {
	if key == "" || len(files) == 0 {
		return usageErr("recording verify needs --recording-key and one or more files")
	}
	keys, err := recording.LoadKeys(key, nil)
	if err != nil {
		return err
	}
	var vs *visits.Service
	if sum == "" {
		s, err := open(ctx, cfg, stdio)
		if err != nil {
			return fmt.Errorf("without --sha256 the database says what each file must hash to: %w", err)
		}
		defer s.close()
		vs = visits.NewService(s.db, s.audit, s.cases, s.access)
	}
	for _, f := range files {
		want := sum
		if want == "" {
			if want, err = vs.RecordedSHA256(ctx, filepath.Base(f)); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
		}
		rep, err := recording.Verify(f, keys, want)
		if err != nil {
			return fmt.Errorf("%s: NOT VERIFIED: %w", f, err)
		}
		stdio.say("ok %s: %s, %d frames, %.1f s, sha256 %s", f, rep.Codec, rep.Frames, rep.Duration.Seconds(), want)
	}
	return nil
}

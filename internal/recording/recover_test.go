package recording

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A process killed while recording leaves its live file: Recover turns
// what of it decrypts, up to the last complete cluster, into a finished
// file that verifies and that ffprobe reads; a live file with no complete
// cluster is removed.
func TestRecover(t *testing.T) {
	keys := testKeys(t)
	rec := t.TempDir()
	tr, err := NewTrack(TrackConfig{Dir: rec, Name: "visit", MimeType: "audio/opus", Keys: keys, Start: testStart})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for i := range 1000 {
		if err := tr.WriteRTP(opusPacket(i, 0, 0), testStart.Add(time.Duration(i)*20*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	// The process dies here: its live file is all that is left.
	live, err := os.ReadFile(filepath.Join(rec, "visit"+liveExt))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "visit"+liveExt), live, 0o600); err != nil {
		t.Fatal(err)
	}
	if !Live(dir, "visit") || Live(dir, "other") {
		t.Fatal("Live does not see the live file")
	}
	res, err := Recover(dir, "visit", keys)
	if err != nil {
		t.Fatal(err)
	}
	// Two of the three clusters written lie in complete age chunks (see TestAtomicFiles).
	if res.Frames != 500 || res.Codec != "opus" || res.Start != 0 || res.Duration != 9980*time.Millisecond {
		t.Errorf("recovered %+v", res)
	}
	if Live(dir, "visit") {
		t.Error("the live file is still there")
	}
	rep, err := Verify(res.Path, keys, res.SHA256)
	if err != nil || rep.Frames != 500 || rep.Size != res.Size {
		t.Errorf("verify: %+v %v", rep, err)
	}

	// ffprobe reads it (decrypted).
	tl := needFFmpeg(t)
	f, err := Open(res.Path, keys)
	if err != nil {
		t.Fatal(err)
	}
	plain := make([]byte, f.Size())
	if n, err := f.ReadAt(plain, 0); n != len(plain) || err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(n, err)
	}
	f.Close()
	webm := filepath.Join(t.TempDir(), "visit.webm")
	if err := os.WriteFile(webm, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	var p probe
	out := run(t, tl.ffprobe, "-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", webm)
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Streams) != 1 || p.Streams[0].CodecName != "opus" || p.Streams[0].NbReadFrames != "500" {
		t.Errorf("ffprobe: %s", out)
	}

	// A live file cut before its first cluster holds nothing: it goes.
	if err := os.WriteFile(filepath.Join(dir, "early"+liveExt), live[:200], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Recover(dir, "early", keys); !errors.Is(err, ErrNoMedia) {
		t.Errorf("a live file without a cluster: %v, want ErrNoMedia", err)
	}
	if Live(dir, "early") {
		t.Error("the empty live file is still there")
	}
	if _, err := Recover(dir, "../visit", keys); err == nil {
		t.Error("a name outside the directory was accepted")
	}
}

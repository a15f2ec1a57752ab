package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/attache-org/attache/internal/recording"
)

// recordOpus writes a short Opus recording of a second (its frames are not
// real Opus, which the recorder does not decode) and returns its path and
// SHA-256.
func recordOpus(t *testing.T, dir string, keys *recording.Keys) (string, string) {
	t.Helper()
	start := time.Now()
	tr, err := recording.NewTrack(recording.TrackConfig{Dir: dir, Name: "r1-link_1-audio", MimeType: "audio/opus", ClockRate: 48000, Keys: keys, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(1000 + i), Timestamp: uint32(i * 960), SSRC: 7},
			Payload: []byte{0xfc, byte(i), 1, 2, 3}}
		if err := tr.WriteRTP(pkt, start.Add(time.Duration(i)*20*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := tr.Close()
	if err != nil {
		t.Fatal(err)
	}
	return res.Path, res.SHA256
}

// attache recording verify: a file as recorded passes; a file with one byte
// changed, another file's fingerprint, or the wrong key fail, saying so.
func TestRecordingVerify(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "recording.key")
	keys, err := recording.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	path, sum := recordOpus(t, dir, keys)
	if r := run(t, nil, "", "recording", "verify", "--recording-key", keyFile, "--sha256", sum, path); r.code != 0 || !strings.Contains(r.stdout, "ok ") {
		t.Fatalf("a good recording: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, nil, "", "recording", "verify", "--recording-key", keyFile, "--sha256", strings.Repeat("0", 64), path); r.code == 0 || !strings.Contains(r.stderr, "NOT VERIFIED") {
		t.Errorf("another fingerprint: %d %s", r.code, r.stderr)
	}
	otherKey := filepath.Join(dir, "other.key")
	if _, err := recording.GenerateKeyFile(otherKey); err != nil {
		t.Fatal(err)
	}
	if r := run(t, nil, "", "recording", "verify", "--recording-key", otherKey, "--sha256", sum, path); r.code == 0 || !strings.Contains(r.stderr, "NOT VERIFIED") {
		t.Errorf("the wrong key: %d %s", r.code, r.stderr)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	tampered := filepath.Join(dir, "tampered"+recording.Ext)
	if err := os.WriteFile(tampered, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run(t, nil, "", "recording", "verify", "--recording-key", keyFile, "--sha256", sum, tampered); r.code == 0 || !strings.Contains(r.stderr, "NOT VERIFIED") {
		t.Errorf("a tampered file: %d %s", r.code, r.stderr)
	}
	if r := run(t, nil, "", "recording", "verify", path); r.code != 2 {
		t.Errorf("no key: exit %d, want 2 (usage)", r.code)
	}
}

package recording

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// changed copies the file at path with edit applied to its bytes.
func changed(t *testing.T, path string, edit func([]byte) []byte) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(out, edit(b), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerify(t *testing.T) {
	keys := testKeys(t)
	res := recordFakeOpus(t, t.TempDir(), "visit", keys, 1000) // 300 kB: several age chunks
	if res.Size < 4*64<<10 {
		t.Fatalf("test file too small: %d bytes", res.Size)
	}
	rep, err := Verify(res.Path, keys, strings.ToUpper(res.SHA256))
	if err != nil {
		t.Fatalf("Verify of an intact file: %v", err)
	}
	if rep.Frames != 1000 || rep.Codec != "A_OPUS" || rep.Duration != 20*time.Second || rep.SHA256 != res.SHA256 || rep.Size != res.Size {
		t.Errorf("report %+v, result %+v", rep, res)
	}
	if got := sha256File(t, res.Path); got != res.SHA256 {
		t.Errorf("Result.SHA256 %s, file's %s", res.SHA256, got)
	}

	flipped := changed(t, res.Path, func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b })
	truncated := changed(t, res.Path, func(b []byte) []byte { return b[:len(b)-100] })
	chunkDropped := changed(t, res.Path, func(b []byte) []byte { // a whole chunk (64 KiB + tag) removed
		return append(b[:1000:1000], b[1000+64<<10+16:]...)
	})
	notAge := changed(t, res.Path, func(b []byte) []byte { return []byte("hello") })
	otherKeys := testKeys(t)

	tests := []struct {
		name      string
		path      string
		keys      *Keys
		sha       string
		checksum  bool // want ErrChecksum
		decrypt   bool // want ErrDecrypt
		inMessage string
	}{
		{"flipped byte", flipped, keys, res.SHA256, true, true, "SHA-256"},
		{"flipped byte, its own hash", flipped, keys, sha256File(t, flipped), false, true, "modified"},
		{"truncated, its own hash", truncated, keys, sha256File(t, truncated), false, true, "does not decrypt"},
		{"chunk removed, its own hash", chunkDropped, keys, sha256File(t, chunkDropped), false, true, "does not decrypt"},
		{"not an age file", notAge, keys, res.SHA256, true, true, "does not decrypt"},
		{"wrong key", res.Path, otherKeys, res.SHA256, false, true, "wrong key"},
		{"wrong hash", res.Path, keys, strings.Repeat("ab", 32), true, false, "recorded abab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(tt.path, tt.keys, tt.sha)
			if err == nil {
				t.Fatal("Verify passed")
			}
			if errors.Is(err, ErrChecksum) != tt.checksum || errors.Is(err, ErrDecrypt) != tt.decrypt {
				t.Errorf("checksum %v decrypt %v, want %v %v: %v",
					errors.Is(err, ErrChecksum), errors.Is(err, ErrDecrypt), tt.checksum, tt.decrypt, err)
			}
			if !strings.Contains(err.Error(), tt.inMessage) {
				t.Errorf("error %q does not say %q", err, tt.inMessage)
			}
			t.Log(err)
		})
	}

	for _, sha := range []string{"", "xyz", res.SHA256[:10]} {
		if _, err := Verify(res.Path, keys, sha); err == nil || errors.Is(err, ErrChecksum) {
			t.Errorf("Verify with hash %q: %v", sha, err)
		}
	}
}

func TestVerifyFormat(t *testing.T) {
	keys := testKeys(t)
	res := recordFakeOpus(t, t.TempDir(), "visit", keys, 10)
	// Something that is not WebM, properly encrypted to the same key.
	path := filepath.Join(t.TempDir(), "text.webm.age")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := age.Encrypt(f, keys.recipient)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "this is not a WebM file")
	w.Close()
	f.Close()
	_, err = Verify(path, keys, sha256File(t, path))
	if !errors.Is(err, ErrFormat) || errors.Is(err, ErrDecrypt) || errors.Is(err, ErrChecksum) {
		t.Errorf("Verify of encrypted text: %v", err)
	}
	if _, err := Verify(res.Path, keys, res.SHA256); err != nil {
		t.Error(err)
	}
}

func TestOpenRanges(t *testing.T) {
	keys := testKeys(t)
	res := recordFakeOpus(t, t.TempDir(), "visit", keys, 1000)
	whole := decryptFile(t, res.Path, keys)

	f, err := Open(res.Path, keys)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Size() != int64(len(whole)) {
		t.Fatalf("Size %d, decrypted %d bytes", f.Size(), len(whole))
	}
	for _, r := range []struct{ off, n int64 }{
		{0, 100}, {1, 4}, {64<<10 - 10, 20}, {64 << 10, 64 << 10}, {100_000, 150_000}, {f.Size() - 7, 7},
	} {
		got := make([]byte, r.n)
		if n, err := f.ReadAt(got, r.off); err != nil && !(err == io.EOF && int64(n) == r.n) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", r.n, r.off, n, err)
		}
		if !bytes.Equal(got, whole[r.off:r.off+r.n]) {
			t.Errorf("ReadAt(%d bytes at %d) differs from the decrypted file", r.n, r.off)
		}
	}

	// The way a download handler serves it.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/webm") // for audio too: mime.TypeByExtension varies by system
		http.ServeContent(w, r, "visit.webm", time.Time{}, io.NewSectionReader(f, 0, f.Size()))
	}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Range", "bytes=70000-70999")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, whole[70000:71000]) ||
		resp.Header.Get("Content-Type") != "video/webm" {
		t.Errorf("range request: %s, %s, %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(body))
	}

	// A modified chunk fails the reads that touch it, not the others.
	flipped := changed(t, res.Path, func(b []byte) []byte { b[len(b)/2] ^= 0x80; return b })
	g, err := Open(flipped, keys)
	if err != nil {
		t.Fatalf("Open of a file modified in the middle: %v", err)
	}
	defer g.Close()
	if _, err := io.ReadAll(io.NewSectionReader(g, 0, g.Size())); err == nil {
		t.Error("reading a modified file through succeeded")
	}
	if _, err := g.ReadAt(make([]byte, 100), 0); err != nil {
		t.Errorf("reading the intact first chunk: %v", err)
	}
	if _, err := Open(res.Path, testKeys(t)); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Open with the wrong key: %v", err)
	}
	truncated := changed(t, res.Path, func(b []byte) []byte { return b[:len(b)-1] })
	if _, err := Open(truncated, keys); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Open of a truncated file: %v", err)
	}
}

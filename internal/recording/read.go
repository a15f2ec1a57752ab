package recording

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
)

// File is the decrypted content of a finished recording, readable at any
// offset without decrypting the rest: age encrypts in authenticated 64 KiB
// chunks, and ReadAt decrypts only the chunks it needs, so that an HTTP
// handler can serve ranges for a player to seek:
//
//	http.ServeContent(w, r, name, modTime, io.NewSectionReader(f, 0, f.Size()))
//
// A chunk that was modified makes ReadAt fail.
type File struct {
	f    *os.File
	r    io.ReaderAt
	size int64
}

// Open opens the recording at path for reading with keys. It reads the age
// header and authenticates the last chunk (which fixes the plaintext size).
func Open(path string, keys *Keys) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("recording: %w", err)
	}
	r, size, err := age.DecryptReaderAt(f, fi.Size(), keys.identities...)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("recording: open %s: %w", path, decryptError(err))
	}
	return &File{f: f, r: r, size: size}, nil
}

// ReadAt reads decrypted bytes at off.
func (f *File) ReadAt(p []byte, off int64) (int, error) { return f.r.ReadAt(p, off) }

// Size returns the size of the decrypted WebM.
func (f *File) Size() int64 { return f.size }

// Close closes the underlying file.
func (f *File) Close() error { return f.f.Close() }

// Verification failures; Verify's error wraps one or more of them.
var (
	ErrChecksum = errors.New("SHA-256 does not match the one recorded")
	ErrDecrypt  = errors.New("does not decrypt")
	ErrFormat   = errors.New("is not a valid WebM recording")
)

// Report describes a verified recording.
type Report struct {
	Size     int64  // bytes of the encrypted file
	SHA256   string // hex SHA-256 of the encrypted file
	Codec    string // Matroska codec ID: V_VP8, V_VP9 or A_OPUS
	Frames   int
	Duration time.Duration // from the segment's Duration element

	firstMS, lastMS int64 // the first and last frame's time, from the recording's start
}

// Verify checks the recording at path against wantSHA256, the hex SHA-256
// recorded in the audit log when the file was closed: the file's hash must
// match, the whole file must decrypt with keys (age authenticates every
// chunk, so any modified byte fails), and the plaintext must parse as a WebM
// file with one track. It reads the file once. The error names every check
// that failed and wraps ErrChecksum, ErrDecrypt and ErrFormat accordingly.
func Verify(path string, keys *Keys, wantSHA256 string) (Report, error) {
	want := strings.ToLower(strings.TrimSpace(wantSHA256))
	if b, err := hex.DecodeString(want); err != nil || len(b) != sha256.Size {
		return Report{}, fmt.Errorf("recording: verify %s: %q is not a hex SHA-256", path, wantSHA256)
	}
	f, err := os.Open(path)
	if err != nil {
		return Report{}, fmt.Errorf("recording: verify: %w", err)
	}
	defer f.Close()

	h := sha256.New()
	cr := &countWriter{w: h}
	src := io.TeeReader(f, cr)
	var rep Report
	var decErr, fmtErr error
	plain, err := age.Decrypt(src, keys.identities...)
	if err != nil {
		decErr = err
	} else {
		rep, fmtErr = parseWebM(plain)
		// Decrypt what the parser left, if anything: a decryption error
		// is the more telling one.
		if _, err := io.Copy(io.Discard, plain); err != nil {
			decErr = err
		}
	}
	if _, err := io.Copy(cr, f); err != nil { // hash what decryption did not read
		return Report{}, fmt.Errorf("recording: verify: read %s: %w", path, err)
	}
	rep.Size, rep.SHA256 = cr.n, hex.EncodeToString(h.Sum(nil))

	var errs []error
	if rep.SHA256 != want {
		errs = append(errs, fmt.Errorf("%w: file has %s, recorded %s", ErrChecksum, rep.SHA256, want))
	}
	if decErr != nil {
		errs = append(errs, decryptError(decErr))
	} else if fmtErr != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrFormat, fmtErr))
	}
	if len(errs) > 0 {
		return rep, fmt.Errorf("recording: verify %s: %w", path, errors.Join(errs...))
	}
	return rep, nil
}

func decryptError(err error) error {
	if _, ok := errors.AsType[*age.NoIdentityMatchError](err); ok {
		return fmt.Errorf("%w: no key in the key file opens it (wrong key?): %w", ErrDecrypt, err)
	}
	return fmt.Errorf("%w (modified, truncated or damaged): %w", ErrDecrypt, err)
}

// parseWebM reads a WebM file with ebml-go, one cluster at a time, and
// checks that it has the EBML header of a WebM file and one track whose
// blocks belong to it.
func parseWebM(r io.Reader) (Report, error) {
	var doc struct {
		Header  webm.EBMLHeader `ebml:"EBML"`
		Segment struct {
			Info    webm.Info         `ebml:"Info"`
			Tracks  webm.Tracks       `ebml:"Tracks"`
			Cluster chan webm.Cluster `ebml:"Cluster"`
		} `ebml:"Segment"`
	}
	clusters := make(chan webm.Cluster)
	doc.Segment.Cluster = clusters
	done := make(chan error, 1)
	go func() {
		err := ebml.Unmarshal(r, &doc)
		close(clusters)
		done <- err
	}()
	var rep Report
	var blockErr error
	last := int64(-1)
	for c := range clusters {
		for _, b := range c.SimpleBlock {
			ts := int64(c.Timecode) + int64(b.Timecode)
			switch {
			case blockErr != nil:
			case b.TrackNumber != trackNumber:
				blockErr = fmt.Errorf("block of unknown track %d at %d ms", b.TrackNumber, ts)
			case ts < last:
				blockErr = fmt.Errorf("block at %d ms after one at %d ms", ts, last)
			}
			last = ts
			if rep.Frames == 0 {
				rep.firstMS = ts
			}
			rep.lastMS = ts
			rep.Frames++
		}
	}
	if err := <-done; err != nil {
		return rep, fmt.Errorf("parse: %w", err)
	}
	if doc.Header.DocType != "webm" {
		return rep, fmt.Errorf("document type %q, want webm", doc.Header.DocType)
	}
	if n := len(doc.Segment.Tracks.TrackEntry); n != 1 {
		return rep, fmt.Errorf("%d tracks, want 1", n)
	}
	rep.Codec = doc.Segment.Tracks.TrackEntry[0].CodecID
	rep.Duration = time.Duration(doc.Segment.Info.Duration * float64(doc.Segment.Info.TimecodeScale))
	if rep.Frames == 0 {
		return rep, errors.New("no frames")
	}
	return rep, blockErr
}

// CleanParts removes the .part files a crash left in dir and returns their
// names. Call it at start-up only, never while tracks are being recorded into
// dir. A live .part file can still be decrypted and played up to the crash;
// keep it instead if that matters.
func CleanParts(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	defer root.Close()
	var removed []string
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || !(strings.HasSuffix(n, liveExt) || strings.HasSuffix(n, finalizeExt)) {
			continue
		}
		if err := root.Remove(n); err != nil {
			return removed, fmt.Errorf("recording: %w", err)
		}
		removed = append(removed, n)
	}
	if len(removed) > 0 {
		if err := syncDir(root); err != nil {
			return removed, fmt.Errorf("recording: %w", err)
		}
	}
	return removed, nil
}

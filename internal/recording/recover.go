package recording

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
)

// Element ids of the live file's top level, as Recover walks them.
const (
	idEBMLHeader = 0x1A45DFA3
	idSegmentEl  = 0x18538067
	idClusterEl  = 0x1F43B675
)

// Live reports whether dir holds the live file a track of this name left:
// one being recorded, or left by a process that died while recording.
func Live(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name+liveExt))
	return err == nil
}

// Recover finishes the live file that a process which died while recording
// left behind (Dir/Name.webm.age.part): what of it decrypts, up to its last
// complete cluster, is written encrypted as Name.webm.age, a WebM without
// duration or index that players and ffprobe read, and the live file is
// removed. It returns ErrNoMedia, and removes the live file, when no
// complete cluster survived. Never call it on a track still being recorded.
func Recover(dir, name string, keys *Keys) (Result, error) {
	if err := checkName(name); err != nil {
		return Result{}, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Result{}, fmt.Errorf("recording: %w", err)
	}
	defer root.Close()
	src, err := root.Open(name + liveExt)
	if err != nil {
		return Result{}, fmt.Errorf("recording: recover: %w", err)
	}
	plain, err := age.Decrypt(src, keys.identities...)
	var data []byte
	if err == nil {
		// A process killed mid-chunk leaves a last chunk that does not
		// authenticate: everything before it does.
		data, _ = io.ReadAll(plain)
	}
	src.Close()
	end, clusters := completeClusters(data)
	if clusters == 0 {
		if err := root.Remove(name + liveExt); err != nil {
			return Result{}, fmt.Errorf("recording: remove empty live file: %w", err)
		}
		return Result{}, ErrNoMedia
	}
	data = data[:end]
	rep, err := parseWebM(bytes.NewReader(data))
	if err != nil && rep.Frames == 0 {
		return Result{}, fmt.Errorf("recording: recover %s: %w", name, err)
	}
	dst, err := root.OpenFile(name+finalizeExt, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return Result{}, fmt.Errorf("recording: recover: %w", err)
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(dst, h)}
	enc, err := age.Encrypt(cw, keys.recipient)
	if err == nil {
		_, err = enc.Write(data)
	}
	if err == nil {
		err = enc.Close()
	}
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(name+finalizeExt, name+Ext)
	}
	if err == nil {
		err = root.Remove(name + liveExt)
	}
	if err == nil {
		err = syncDir(root)
	}
	if err != nil {
		root.Remove(name + finalizeExt)
		return Result{}, fmt.Errorf("recording: recover %s: %w", name, err)
	}
	codec := strings.TrimPrefix(strings.TrimPrefix(rep.Codec, "V_"), "A_")
	if codec == "OPUS" {
		codec = "opus"
	}
	return Result{Path: filepath.Join(dir, name+Ext), Size: cw.n, SHA256: hex.EncodeToString(h.Sum(nil)), Codec: codec, Frames: rep.Frames,
		Start: time.Duration(rep.firstMS) * time.Millisecond, Duration: time.Duration(rep.lastMS-rep.firstMS) * time.Millisecond}, nil
}

// completeClusters walks the top-level elements of a live WebM (the EBML
// header, then a Segment of unknown size holding Info, Tracks and
// Clusters) and returns where the last complete cluster ends and how many
// complete clusters there are.
func completeClusters(data []byte) (end int, clusters int) {
	pos := 0
	id, size, n, ok := element(data, pos)
	if !ok || id != idEBMLHeader || pos+n+int(size) > len(data) {
		return 0, 0
	}
	pos += n + int(size)
	id, _, n, ok = element(data, pos)
	if !ok || id != idSegmentEl {
		return 0, 0
	}
	pos += n // into the Segment, whose size is unknown
	for {
		id, size, n, ok = element(data, pos)
		if !ok || size < 0 || pos+n+int(size) > len(data) {
			return end, clusters
		}
		pos += n + int(size)
		if id == idClusterEl {
			end, clusters = pos, clusters+1
		}
	}
}

// element reads the id and data size of the element at pos, and the length
// of both; size is -1 when unknown.
func element(data []byte, pos int) (id uint32, size int64, n int, ok bool) {
	if pos >= len(data) {
		return 0, 0, 0, false
	}
	l := vintLen(data[pos])
	if l == 0 || l > 4 || pos+l > len(data) {
		return 0, 0, 0, false
	}
	for _, b := range data[pos : pos+l] {
		id = id<<8 | uint32(b)
	}
	s := pos + l
	if s >= len(data) {
		return 0, 0, 0, false
	}
	sl := vintLen(data[s])
	if sl == 0 || s+sl > len(data) {
		return 0, 0, 0, false
	}
	v := int64(data[s]) & (0xff >> sl)
	all := v == int64(0xff>>sl)
	for _, b := range data[s+1 : s+sl] {
		v = v<<8 | int64(b)
		all = all && b == 0xff
	}
	if all {
		v = -1
	}
	return id, v, l + sl, true
}

// vintLen is the length of the variable-size integer starting with b.
func vintLen(b byte) int {
	for i := range 8 {
		if b&(0x80>>i) != 0 {
			return i + 1
		}
	}
	return 0
}

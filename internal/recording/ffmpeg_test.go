package recording

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/attache-org/attache/internal/testenv"
)

// The test in this file checks recordings with Debian's ffmpeg and ffprobe,
// a WebM parser and decoders no one here wrote. Without them it skips,
// unless ATTACHE_TEST_REQUIRE contains "ffmpeg".

type tools struct{ ffmpeg, ffprobe string }

func needFFmpeg(t *testing.T) tools {
	t.Helper()
	look := func(name string) string {
		path, err := exec.LookPath(name)
		if err != nil {
			testenv.Missing(t, "ffmpeg", name+" is not on PATH (apt-get install ffmpeg)")
		}
		return path
	}
	return tools{ffmpeg: look("ffmpeg"), ffprobe: look("ffprobe")}
}

// run runs a command and returns its standard output; it fails the test if
// the command fails.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// sentFrame is one frame as the synthetic publisher sends it.
type sentFrame struct {
	data []byte
	key  bool
	ms   int64 // on the recording's timeline
}

// sourceVideo encodes 3 s of ffmpeg's test pattern to VP8, a key frame a
// second, and returns its frames.
func sourceVideo(t *testing.T, tl tools, dir string) ([]sentFrame, string) {
	ivf := filepath.Join(dir, "source.ivf")
	run(t, tl.ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", "3",
		"-c:v", "libvpx", "-g", "30", "-keyint_min", "30", "-auto-alt-ref", "0", "-lag-in-frames", "0",
		"-deadline", "realtime", "-b:v", "600k", "-f", "ivf", ivf)
	f, err := os.Open(ivf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := ivfreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	var frames []sentFrame
	for i := 0; ; i++ {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		key, _, _ := vp8Keyframe(frame)
		frames = append(frames, sentFrame{data: frame, key: key, ms: int64(math.Round(float64(i) * 1000 / 30))})
	}
	return frames, ivf
}

// sourceAudio encodes a 3 s sine to Opus in Ogg, one 20 ms packet a page.
func sourceAudio(t *testing.T, tl tools, dir string, offset int64) ([]sentFrame, string) {
	ogg := filepath.Join(dir, "source.ogg")
	run(t, tl.ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
		"-c:a", "libopus", "-frame_duration", "20", "-page_duration", "20000", "-f", "ogg", ogg)
	f, err := os.Open(ogg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := oggreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	var frames []sentFrame
	for {
		page, header, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ht, ok := header.HeaderType(page); ok && ht == oggreader.HeaderOpusTags {
			continue
		}
		frames = append(frames, sentFrame{data: page, key: true, ms: offset + int64(len(frames))*20})
	}
	return frames, ogg
}

// packetize turns frames into RTP packets the way a WebRTC sender would,
// from RTP timestamp ts, in packets of at most mtu bytes. Sequence numbers
// are given later.
func packetize(frames []sentFrame, p rtp.Payloader, mtu uint16, clockRate uint32, ts uint32) [][]*rtp.Packet {
	out := make([][]*rtp.Packet, len(frames))
	for i, f := range frames {
		payloads := p.Payload(mtu, f.data)
		for k, pl := range payloads {
			out[i] = append(out[i], &rtp.Packet{
				Header: rtp.Header{
					Version: 2, PayloadType: 96, SSRC: 1234 + clockRate,
					Timestamp: ts + uint32(f.ms*int64(clockRate)/1000),
					Marker:    k == len(payloads)-1,
				},
				Payload: pl,
			})
		}
	}
	return out
}

type arrival struct {
	pkt *rtp.Packet
	at  time.Time
}

// shuffle reorders packets within windows of n, keeping the first packet
// first, so that the recorder sees reordering but anchors on frame 0.
func shuffle(a []arrival, n int, rng *rand.Rand) {
	for i := 1; i+n <= len(a); i += n {
		rng.Shuffle(n, func(x, y int) { a[i+x].pkt, a[i+y].pkt = a[i+y].pkt, a[i+x].pkt })
	}
}

type probe struct {
	Streams []struct {
		CodecName    string `json:"codec_name"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		SampleRate   string `json:"sample_rate"`
		Channels     int    `json:"channels"`
		NbReadFrames string `json:"nb_read_frames"`
		StartTime    string `json:"start_time"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		StartTime  string `json:"start_time"`
	} `json:"format"`
	Packets []struct {
		PTS      int64  `json:"pts"`
		Flags    string `json:"flags"`
		DataHash string `json:"data_hash"`
	} `json:"packets"`
}

func ffprobe(t *testing.T, tl tools, path string) probe {
	t.Helper()
	out := run(t, tl.ffprobe, "-v", "error", "-count_frames", "-show_data_hash", "SHA256",
		"-show_entries", "stream=codec_name,width,height,sample_rate,channels,nb_read_frames,start_time:"+
			"format=format_name,duration,start_time:packet=pts,flags,data_hash",
		"-of", "json", path)
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output: %v\n%s", err, out)
	}
	if len(p.Streams) != 1 {
		t.Fatalf("ffprobe found %d streams in %s", len(p.Streams), path)
	}
	return p
}

func seconds(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("ffprobe time %q: %v", s, err)
	}
	return f
}

func within1pc(got, want float64) bool { return math.Abs(got-want) <= 0.01*want }

// framemd5 decodes path and returns the MD5 of every decoded picture.
func framemd5(t *testing.T, tl tools, path string) []string {
	t.Helper()
	var sums []string
	for line := range strings.Lines(string(run(t, tl.ffmpeg, "-v", "error", "-i", path, "-an", "-f", "framemd5", "-"))) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			sums = append(sums, line[strings.LastIndex(line, ",")+1:])
		}
	}
	return sums
}

// TestRecordSyntheticVisit records a synthetic visit, a VP8 camera and an
// Opus microphone that joins 500 ms later, through reordering, loss,
// duplicates, padding and RTP wraparound, and checks the files with ffprobe
// and ffmpeg.
func TestRecordSyntheticVisit(t *testing.T) {
	tl := needFFmpeg(t)
	dir := t.TempDir()
	recDir := filepath.Join(dir, "recordings")
	if err := os.Mkdir(recDir, 0o700); err != nil {
		t.Fatal(err)
	}
	keys := testKeys(t)
	const audioOffset = 500 // ms

	video, ivf := sourceVideo(t, tl, dir)
	audio, ogg := sourceAudio(t, tl, dir, audioOffset)
	if len(video) != 90 || !video[0].key {
		t.Fatalf("source video: %d frames, first key %v", len(video), video[0].key)
	}
	if n := ffprobe(t, tl, ogg).Streams[0].NbReadFrames; n != strconv.Itoa(len(audio)) {
		t.Fatalf("read %d Opus packets from the Ogg file, ffprobe counts %s: not one packet a page", len(audio), n)
	}

	// Loss: the second packet of video frame 40, an inter frame. The
	// recorder drops 40 and every frame up to the next key frame, which a
	// decoder could only show corrupted. One audio packet, 77.
	const lostVideo, lostAudio = 40, 77
	nextKey := slices.IndexFunc(video[lostVideo:], func(f sentFrame) bool { return f.key }) + lostVideo
	if video[lostVideo].key || video[lostVideo+1].key || nextKey <= lostVideo {
		t.Fatalf("key frames of the source: choose another lost frame")
	}
	var keptVideo, keptAudio []int
	for i := range video {
		if i < lostVideo || i >= nextKey {
			keptVideo = append(keptVideo, i)
		}
	}
	for i := range audio {
		if i != lostAudio {
			keptAudio = append(keptAudio, i)
		}
	}

	// The send order, with padding after video frames 10 and 70 as Chrome
	// sends when it probes bandwidth; then sequence numbers, close to
	// wrapping; then the loss.
	var videoIn, audioIn []arrival
	// A small MTU, so that most frames of this simple picture take several
	// packets.
	for i, pkts := range packetize(video, &codecs.VP8Payloader{EnablePictureID: true}, 400, 90000, 0xffff_0000) {
		if i == lostVideo && len(pkts) < 2 {
			t.Fatalf("frame %d fits one packet; choose another lost frame", i)
		}
		at := testStart.Add(time.Duration(video[i].ms) * time.Millisecond)
		for _, p := range pkts {
			videoIn = append(videoIn, arrival{p, at})
		}
		if i == 10 || i == 70 {
			videoIn = append(videoIn, arrival{&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96,
				SSRC: pkts[0].SSRC, Timestamp: pkts[0].Timestamp, Padding: true, PaddingSize: 255}}, at})
		}
	}
	for k := range videoIn {
		videoIn[k].pkt.SequenceNumber = uint16(65000 + k)
	}
	lostAt := slices.IndexFunc(videoIn, func(a arrival) bool {
		return a.pkt.Timestamp == 0xffff_0000+uint32(video[lostVideo].ms*90)
	}) + 1
	videoIn = slices.Delete(videoIn, lostAt, lostAt+1)

	for i, pkts := range packetize(audio, &codecs.OpusPayloader{}, 1200, 48000, 0xffff_f000) {
		pkts[0].SequenceNumber = uint16(65500 + i)
		if i != lostAudio {
			audioIn = append(audioIn, arrival{pkts[0], testStart.Add(time.Duration(audio[i].ms) * time.Millisecond)})
		}
	}

	rng := rand.New(rand.NewPCG(7, 7))
	shuffle(videoIn, 5, rng)
	shuffle(audioIn, 4, rng)
	videoIn = slices.Insert(videoIn, 100, videoIn[90]) // a retransmission that arrives twice

	// Record both tracks at once, as the media server would.
	record := func(name, mime string, in []arrival) (Result, bool) {
		tr, err := NewTrack(TrackConfig{Dir: recDir, Name: name, MimeType: mime, Keys: keys, Start: testStart})
		if err != nil {
			t.Error(err)
			return Result{}, false
		}
		askedAgain, hadKey := false, false
		for _, a := range in {
			if err := tr.WriteRTP(a.pkt, a.at); err != nil {
				t.Error(err)
			}
			needs := tr.NeedsKeyframe()
			askedAgain = askedAgain || hadKey && needs
			hadKey = hadKey || !needs
		}
		res, err := tr.Close()
		if err != nil {
			t.Error(err)
		}
		return res, askedAgain
	}
	var videoRes, audioRes Result
	var askedAgain bool
	var wg sync.WaitGroup
	wg.Go(func() { videoRes, askedAgain = record("visit-7-camera", "video/VP8", videoIn) })
	wg.Go(func() { audioRes, _ = record("visit-7-microphone", "audio/opus", audioIn) })
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if !askedAgain {
		t.Error("the video track did not ask for a key frame after the loss")
	}
	t.Logf("video: %+v", videoRes)
	t.Logf("audio: %+v", audioRes)

	check := func(res Result, sent []sentFrame, kept []int, codec string, startMS int64) {
		t.Run(codec, func(t *testing.T) {
			last := sent[len(sent)-1]
			endMS := last.ms + last.ms - sent[len(sent)-2].ms
			if res.Frames != len(kept) || res.Start != time.Duration(startMS)*time.Millisecond ||
				res.Duration != time.Duration(endMS-startMS)*time.Millisecond {
				t.Errorf("result %+v; want %d frames from %d ms to %d ms", res, len(kept), startMS, endMS)
			}
			if _, err := Verify(res.Path, keys, res.SHA256); err != nil {
				t.Error(err)
			}
			plain := filepath.Join(dir, codec+".webm")
			if err := os.WriteFile(plain, decryptFile(t, res.Path, keys), 0o600); err != nil {
				t.Fatal(err)
			}

			p := ffprobe(t, tl, plain)
			s := p.Streams[0]
			frames, _ := strconv.Atoi(s.NbReadFrames)
			start, duration := seconds(t, p.Format.StartTime), seconds(t, p.Format.Duration)-seconds(t, p.Format.StartTime)
			sentDuration := float64(endMS-startMS) / 1000
			t.Logf("ffprobe %s: format %s, codec %s, %d frames (%d sent, %d kept), start %.3f s, duration %.3f s (sent %.3f s)",
				codec, p.Format.FormatName, s.CodecName, frames, len(sent), len(kept), start, duration, sentDuration)
			if !strings.Contains(p.Format.FormatName, "webm") || s.CodecName != codec {
				t.Errorf("format %s, codec %s", p.Format.FormatName, s.CodecName)
			}
			if codec == "vp8" && (s.Width != 320 || s.Height != 240) || codec == "opus" && (s.SampleRate != "48000" || s.Channels != 2) {
				t.Errorf("stream %+v", s)
			}
			if !within1pc(float64(frames), float64(len(kept))) {
				t.Errorf("ffprobe counts %d frames, %d were kept", frames, len(kept))
			}
			if !within1pc(duration, sentDuration) || math.Abs(start-float64(startMS)/1000) > 0.001 {
				t.Errorf("ffprobe: start %.3f s, duration %.3f s; sent from %.3f s for %.3f s",
					start, duration, float64(startMS)/1000, sentDuration)
			}
			// Exactly the frames kept, intact, at their times.
			if len(p.Packets) != len(kept) {
				t.Fatalf("ffprobe shows %d packets, want %d", len(p.Packets), len(kept))
			}
			for k, pk := range p.Packets {
				f := sent[kept[k]]
				h := sha256.Sum256(f.data)
				if pk.DataHash != "SHA256:"+hex.EncodeToString(h[:]) || pk.PTS != f.ms || strings.HasPrefix(pk.Flags, "K") != f.key {
					t.Errorf("packet %d: pts %d flags %s; want frame %d at %d ms, key %v", k, pk.PTS, pk.Flags, kept[k], f.ms, f.key)
				}
			}
			if out := decodeErrors(t, tl, plain); out != "" {
				t.Errorf("ffmpeg -v error decoding: %s", out)
			}
		})
	}
	check(videoRes, video, keptVideo, "vp8", 0)
	check(audioRes, audio, keptAudio, "opus", audioOffset)

	// ffmpeg's decode of the recording is, picture for picture, its decode
	// of the source without the frames dropped.
	src, rec := framemd5(t, tl, ivf), framemd5(t, tl, filepath.Join(dir, "vp8.webm"))
	var want []string
	for _, i := range keptVideo {
		want = append(want, src[i])
	}
	if !slices.Equal(rec, want) {
		t.Errorf("decoded pictures differ from the source's: %d recorded, %d expected", len(rec), len(want))
	}
}

// TestVP9Keyframe reads key frames and their size from a real VP9 stream.
func TestVP9Keyframe(t *testing.T) {
	tl := needFFmpeg(t)
	ivf := filepath.Join(t.TempDir(), "vp9.ivf")
	run(t, tl.ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=352x288:rate=30", "-frames:v", "3",
		"-c:v", "libvpx-vp9", "-deadline", "realtime", "-f", "ivf", ivf)
	f, err := os.Open(ivf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := ivfreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		frame, _, err := r.ParseNextFrame()
		if err != nil {
			t.Fatal(err)
		}
		key, w, h := vp9Keyframe(frame)
		if key != (i == 0) || key && (w != 352 || h != 288) {
			t.Errorf("frame %d: key %v, %dx%d", i, key, w, h)
		}
	}
}

// decodeErrors decodes a file with ffmpeg, keeping every frame at its own
// time in milliseconds (a browser's frame rate varies: resampled to a
// constant rate, frames close together would collide in ffmpeg's own
// output), and returns what ffmpeg reports at the error level.
func decodeErrors(t *testing.T, tl tools, path string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), tl.ffmpeg, "-v", "error", "-i", path, "-fps_mode", "passthrough", "-enc_time_base", "1:1000", "-f", "null", "-")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Sprintf("%v: %s", err, stderr.String())
	}
	return stderr.String()
}

// Video at a varying frame rate, as browsers send it under load: frames
// bunched a few milliseconds apart. The file decodes without an error.
func TestVariableFrameRate(t *testing.T) {
	tl := needFFmpeg(t)
	dir := t.TempDir()
	keys := testKeys(t)
	video, _ := sourceVideo(t, tl, dir)
	for i := range video {
		if i%2 == 1 {
			video[i].ms = video[i-1].ms + 2 // two frames 2 ms apart, then a gap
		}
	}
	tr, err := NewTrack(TrackConfig{Dir: dir, Name: "vfr", MimeType: "video/VP8", Keys: keys, Start: testStart})
	if err != nil {
		t.Fatal(err)
	}
	seq := uint16(0)
	for _, pkts := range packetize(video, &codecs.VP8Payloader{}, 1200, 90000, 1000) {
		for _, p := range pkts {
			p.SequenceNumber = seq
			seq++
			if err := tr.WriteRTP(p, testStart.Add(time.Duration(video[0].ms)*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := tr.Close()
	if err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "vfr.webm")
	if err := os.WriteFile(plain, decryptFile(t, res.Path, keys), 0o600); err != nil {
		t.Fatal(err)
	}
	if res.Frames != len(video) {
		t.Errorf("%d frames recorded, want %d", res.Frames, len(video))
	}
	if out := decodeErrors(t, tl, plain); out != "" {
		t.Errorf("ffmpeg decoding a variable frame rate: %s", out)
	}
}

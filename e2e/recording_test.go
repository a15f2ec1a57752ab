package e2e

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/attache-org/attache/internal/recording"
	"github.com/attache-org/attache/internal/servertest"
	"github.com/attache-org/attache/internal/testenv"
)

// TestRecordedCall holds a family visit after an administrator has set an
// explicit "always" policy for family visits at its post (consular and
// legal visits are never recorded): the call is recorded from the start,
// both pages show it, and when the officer ends the visit there are
// playable encrypted files (checked with ffprobe and ffmpeg, after
// decryption with the recording key), listed on the case.
func TestRecordedCall(t *testing.T) {
	for _, tool := range []string{"ffprobe", "ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "ffmpeg", tool+" is not on PATH (apt-get install ffmpeg)")
		}
	}
	b := newBrowser(t)
	data := t.TempDir()
	srv := servertest.Start(t, "--demo", "--data", data)

	// The administrator sets the policy, then signs out.
	admin, cancel := context.WithTimeout(b.tab(), 60*time.Second)
	defer cancel()
	err := chromedp.Do(admin,
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), srv.DemoPassword(t, "admin")),
		chromedp.Submit(chromedp.CSS(`main form`)),
		chromedp.WaitVisible(chromedp.CSS(`header nav`)),
		chromedp.Navigate(srv.URL+"/recording-policies"),
		chromedp.SendKeys(chromedp.CSS(`#f-post`), "Beijing"),
		chromedp.SetValue(chromedp.CSS(`#f-kind`), "family"),
		chromedp.SetValue(chromedp.CSS(`#f-policy`), "always"),
		chromedp.SendKeys(chromedp.CSS(`#f-retention_days`), "30"),
		chromedp.SendKeys(chromedp.CSS(`#f-note`), "Test instruction: record visits at this post"),
		chromedp.Submit(chromedp.CSS(`form[action="/recording-policies"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if text, _ := chromedp.Run(admin, chromedp.Text(chromedp.CSS(`main`))); !strings.Contains(text, "Always recorded") {
		t.Fatalf("the policy is not listed:\n%s", text)
	}
	if err := chromedp.Do(admin, chromedp.Submit(chromedp.CSS(`form[action="/logout"]`)), chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`))); err != nil {
		t.Fatal(err)
	}

	// The officer books a family visit for Spavor starting in two minutes,
	// makes the detainee's link and enters the call.
	officer := signInFor(t, b, srv, "officer", 3*time.Minute) // barton is in the demo visit
	caseHref := caseOf(t, officer, srv, "CN-2018-0002")       // Kovrig's case has the demo visit at this time
	if err := chromedp.Do(officer, chromedp.Navigate(srv.URL+caseHref), chromedp.WaitVisible(chromedp.CSS(`#visits`))); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(2 * time.Minute).In(mustLoad(t, "Asia/Shanghai"))
	book(t, officer, caseHref, "family", start)
	links, err := chromedp.Run(officer, chromedp.Evaluate[string](`[...document.querySelectorAll('#visits form[action$="/links"]')].map((f) => f.getAttribute("action")).find((a) => a && document.querySelector('form[action="' + a + '"]').closest("tr").textContent.includes("Family visit"))`))
	if err != nil || links == "" {
		t.Fatalf("the family visit is not listed with a link form: %v", err)
	}
	linkForm := `form[action="` + links + `"]`
	err = chromedp.Do(officer,
		chromedp.SetValue(chromedp.CSS(linkForm+` select[name="role"]`), "detainee"),
		chromedp.SendKeys(chromedp.CSS(linkForm+` input[name="name"]`), "Michael Spavor"),
		submitted(linkForm+` input[name="name"]`),
		chromedp.WaitVisible(chromedp.CSS(`#new-link`)))
	if err != nil {
		t.Fatal(err)
	}
	link, _ := chromedp.Run(officer, chromedp.Text(chromedp.CSS(`#new-link`)))
	err = chromedp.Do(officer, chromedp.Navigate(srv.URL+strings.TrimSuffix(links, "/links")+"/call"),
		chromedp.WaitEnabled(chromedp.CSS(`#call-join`)), chromedp.Click(chromedp.CSS(`#call-join`)))
	if err != nil {
		t.Fatal(err)
	}
	detainee := joinLink(t, b, strings.TrimSpace(link))
	if text, _ := chromedp.Run(detainee, chromedp.Text(chromedp.CSS(`#recording-policy`))); !strings.Contains(text, "This visit is recorded.") {
		t.Errorf("the detainee was not told before joining: %q", text)
	}
	admit(t, officer, detainee)
	for _, tab := range []context.Context{officer, detainee} {
		if err := chromedp.Do(tab, chromedp.Poll[chromedp.Void](`document.getElementById("call-recording").classList.contains("rec")`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatalf("a page does not show the recording: %v", err)
		}
	}
	// Media flows for a while; the "always" policy refuses a stop.
	deadline := time.Now().Add(30 * time.Second)
	for s := readStats(t, officer); s.Frames < 90; s = readStats(t, officer) {
		if time.Now().After(deadline) {
			t.Fatalf("no video: %+v", s)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err := chromedp.Do(officer, chromedp.Click(chromedp.CSS(`#call-record`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("call-status").textContent.includes("cannot be stopped")`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("stopping an always-recorded visit: %v", err)
	}
	screenshot(t, officer, "call-recorded")
	if err := chromedp.Do(officer, chromedp.Click(chromedp.CSS(`#call-end`)), chromedp.WaitVisible(chromedp.CSS(`#call-end.confirm`)),
		chromedp.Click(chromedp.CSS(`#call-end`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("call-status").textContent.includes("ended by the consular officer")`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatal(err)
	}

	// Four files: the officer's and the detainee's audio and video.
	var files []string
	for end := time.Now().Add(20 * time.Second); len(files) < 4 && time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		files, _ = filepath.Glob(filepath.Join(data, "recordings", "*", "*"+recording.Ext))
	}
	if len(files) != 4 {
		t.Fatalf("recorded files: %v", files)
	}
	keys, err := recording.LoadKeys(filepath.Join(data, "demo-recording.key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		f, err := recording.Open(path, keys)
		if err != nil {
			t.Fatal(err)
		}
		plain := filepath.Join(t.TempDir(), "track.webm")
		out, err := os.Create(plain)
		if err == nil {
			_, err = io.Copy(out, io.NewSectionReader(f, 0, f.Size()))
			out.Close()
		}
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		probe, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_name,nb_read_frames", "-of", "json", plain).Output()
		if err != nil {
			t.Fatalf("ffprobe %s: %v", filepath.Base(path), err)
		}
		var p struct {
			Streams []struct {
				Codec  string `json:"codec_name"`
				Frames string `json:"nb_read_frames"`
			} `json:"streams"`
		}
		if err := json.Unmarshal(probe, &p); err != nil || len(p.Streams) != 1 {
			t.Fatalf("ffprobe %s: %s", filepath.Base(path), probe)
		}
		n, _ := strconv.Atoi(p.Streams[0].Frames)
		if n < 30 || (p.Streams[0].Codec != "vp8" && p.Streams[0].Codec != "opus") {
			t.Errorf("%s: %s with %d frames", filepath.Base(path), p.Streams[0].Codec, n)
		}
		// A browser's frame rate varies: decode every frame with its own
		// time (passthrough), not resampled to a constant rate, where two
		// frames close together would collide in ffmpeg's output, not ours.
		if msg, err := exec.Command("ffmpeg", "-v", "error", "-i", plain, "-fps_mode", "passthrough", "-enc_time_base", "1:1000", "-f", "null", "-").CombinedOutput(); err != nil || len(msg) > 0 {
			t.Errorf("ffmpeg decoding %s: %v %s", filepath.Base(path), err, msg)
		}
	}
	// The case lists them, with their fingerprints.
	if err := chromedp.Do(officer, chromedp.Navigate(srv.URL+caseHref)); err != nil {
		t.Fatal(err)
	}
	if n, _ := chromedp.Run(officer, chromedp.Evaluate[int](`document.querySelectorAll("table[id^=recordings-] tr").length - 1`)); n != 4 {
		t.Errorf("the case lists %d recorded files, want 4", n)
	}
	// Played back in the browser: the videos know their length (the file
	// has an index), and play together.
	err = chromedp.Do(officer, chromedp.Click(chromedp.CSS(`table[id^=recordings-] a`)),
		chromedp.WaitVisible(chromedp.CSS(`#playback video`)),
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll("#playback [data-track]")].every((m) => isFinite(m.duration) && m.duration > 2)`, chromedp.WithPollingTimeout(15*time.Second)),
		chromedp.WaitEnabled(chromedp.CSS(`#play-all`)),
		chromedp.Click(chromedp.CSS(`#play-all`)),
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll("#playback video")].every((v) => v.currentTime > 1 && v.videoWidth > 0)`, chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		state, _ := chromedp.Run(officer, chromedp.Evaluate[string](`JSON.stringify([...document.querySelectorAll("#playback [data-track]")].map((m) => [m.tagName, m.duration, m.currentTime, m.error && m.error.message]))`))
		t.Errorf("playback: %v %s", err, state)
	}
	screenshot(t, officer, "recording-playback")
	b.checkClean()
}

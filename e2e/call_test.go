package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/attache-org/attache/internal/servertest"
)

// inbound reads a page's call statistics: decoded video frames and received
// audio packets summed over its inbound streams, and how many streams.
const inbound = `(async () => {
  const pc = window.attacheCall;
  if (!pc) return {frames: 0, audio: 0, videos: 0};
  let frames = 0, audio = 0, videos = 0;
  (await pc.getStats()).forEach((s) => {
    if (s.type !== "inbound-rtp") return;
    if (s.kind === "video") { frames += s.framesDecoded || 0; if (s.framesDecoded > 0) videos++; }
    if (s.kind === "audio") audio += s.packetsReceived || 0;
  });
  return {frames, audio, videos};
})()`

type stats struct {
	Frames int `json:"frames"`
	Audio  int `json:"audio"`
	Videos int `json:"videos"`
}

// TestVideoVisitCall holds the demo visit in one browser: the officer
// signed in, the detainee's terminal and the detaining state's monitor by
// their links, let in from the waiting room by the officer. The officer and
// the detainee see and hear each other; the monitor sees and hears both and
// sends nothing; everyone's list shows the monitor. The officer mutes the
// detainee; the detainee's connection drops and comes back by itself; the
// officer ends the visit and the case keeps the call's record.
func TestVideoVisitCall(t *testing.T) {
	b := newBrowser(t)
	data := t.TempDir()
	srv := servertest.Start(t, "--demo", "--data", data)
	officer, caseHref, links := enterDemoCall(t, b, srv)
	detainee := joinLink(t, b, links["detainee terminal"])
	monitor := joinLink(t, b, links["monitor"])
	// The detaining state's monitor reads its pages in its language; the
	// detainee (Kovrig's recorded languages: English first) in his.
	for _, p := range []struct {
		tab  context.Context
		want string
	}{{monitor, "zh"}, {detainee, "en"}} {
		if lang, _ := chromedp.Run(p.tab, chromedp.Evaluate[string](`document.documentElement.lang`)); lang != p.want {
			t.Errorf("join page in %q, want %q", lang, p.want)
		}
	}
	// The monitor only watches: its page asks for no camera.
	if n, _ := chromedp.Run(monitor, chromedp.Evaluate[int](`document.querySelectorAll("#preview, #precall-devices").length`)); n != 0 {
		t.Error("the monitor's join page checks a camera it never uses")
	}
	if n, _ := chromedp.Run(detainee, chromedp.Evaluate[int](`document.querySelectorAll("#preview, #precall-devices").length`)); n != 2 {
		t.Error("the detainee's join page does not check the camera and microphone")
	}
	admit(t, officer, detainee, monitor)

	read := func(tab context.Context) stats { return readStats(t, tab) }
	pages := []struct {
		name   string
		tab    context.Context
		videos int
	}{{"officer", officer, 1}, {"detainee", detainee, 1}, {"monitor", monitor, 2}}
	// Wait for each page's remote video to be decoded.
	deadline := time.Now().Add(30 * time.Second)
	first := map[string]stats{}
	for _, p := range pages {
		for {
			s := read(p.tab)
			if s.Videos >= p.videos && s.Audio > 0 {
				first[p.name] = s
				break
			}
			if time.Now().After(deadline) {
				state, _ := chromedp.Run(p.tab, chromedp.Evaluate[string](`(window.attacheCall ? window.attacheCall.connectionState + "/" + window.attacheCall.iceConnectionState : "no call") + ": " + document.getElementById("call-status").textContent`))
				t.Fatalf("%s (%s): after 30 s, %+v; want %d decoded videos and audio", p.name, state, s, p.videos)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	time.Sleep(2 * time.Second)
	for _, p := range pages {
		s := read(p.tab)
		if s.Frames <= first[p.name].Frames || s.Audio <= first[p.name].Audio || s.Videos != p.videos {
			t.Errorf("%s: media not flowing: %+v then %+v, want %d videos", p.name, first[p.name], s, p.videos)
		}
		people, _ := chromedp.Run(p.tab, chromedp.Text(chromedp.CSS(`#call-people`)))
		for _, want := range []string{"Monitor (detaining state)", "Consular officer", "Detainee"} {
			if want = pageT(t, p.tab, want); !strings.Contains(people, want) {
				t.Errorf("%s's list of people lacks %q: %q", p.name, want, people)
			}
		}
		tiles, _ := chromedp.Run(p.tab, chromedp.Evaluate[int](`document.querySelectorAll("#call-tiles .tile:not(.self)").length`))
		if tiles != p.videos {
			t.Errorf("%s shows %d tiles of others, want %d", p.name, tiles, p.videos)
		}
	}
	// The devices can be chosen; the connection's quality is shown.
	if n, _ := chromedp.Run(detainee, chromedp.Evaluate[int](`document.querySelectorAll("#call-camera option").length`)); n < 1 {
		t.Error("the detainee cannot choose a camera")
	}
	if err := chromedp.Do(officer, chromedp.Poll[chromedp.Void](`["good", "fair", "poor"].includes(document.getElementById("call-quality").dataset.grade)`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Errorf("no connection quality on the officer's page: %v", err)
	}

	// The officer mutes the detainee: the detainee's page says so and its
	// button cannot undo it; the officer lets them speak again.
	err := chromedp.Do(officer, chromedp.Click(chromedp.CSS(`#call-people li:not(.monitor) .tools button.secondary`)))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(detainee, chromedp.Poll[chromedp.Void](`document.getElementById("call-mic").disabled && document.getElementById("call-mic").textContent.includes("Muted by the officer") && window.attacheCall.getSenders().some((s) => s.track && s.track.kind === "audio" && !s.track.enabled)`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("the detainee's page does not show the officer's mute: %v", err)
	}
	if err := chromedp.Do(officer, chromedp.Poll[chromedp.Void](`document.getElementById("call-people").textContent.includes("muted")`, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Click(chromedp.CSS(`#call-people li:not(.monitor) .tools button.secondary`))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(detainee, chromedp.Poll[chromedp.Void](`!document.getElementById("call-mic").disabled`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("the officer's unmute did not reach the detainee: %v", err)
	}

	// A consular visit is privileged: no recording button, and the server
	// refuses a start request sent all the same.
	if n, _ := chromedp.Run(officer, chromedp.Evaluate[int](`document.querySelectorAll("#call-record").length`)); n != 0 {
		t.Error("a privileged visit offers to record")
	}
	if _, err := chromedp.Run(officer, chromedp.Evaluate[bool](`window.attacheCallSocket.send(JSON.stringify({type: "record", on: true})); true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(officer,
		chromedp.Poll[chromedp.Void](`document.getElementById("call-status").textContent.includes("may not be recorded")`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("a start-recording request on a consular visit: %v", err)
	}

	// The detainee's connection drops: the page reconnects by itself,
	// straight into the call (no second waiting room), and video flows again.
	if _, err := chromedp.Run(detainee, chromedp.Evaluate[bool](`window.attacheCallBefore = window.attacheCall; window.attacheCallSocket.close(); true`)); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(detainee, chromedp.Poll[chromedp.Void](`window.attacheCall !== window.attacheCallBefore && window.attacheCall.connectionState === "connected"`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("the detainee's page did not reconnect: %v", err)
	}
	again := read(detainee)
	for deadline := time.Now().Add(15 * time.Second); again.Videos < 1; again = read(detainee) {
		if time.Now().After(deadline) {
			t.Fatalf("no video after reconnecting: %+v", again)
		}
		time.Sleep(250 * time.Millisecond)
	}

	// The detainee mutes: their microphone track stops; the timer counts down.
	if err := chromedp.Do(detainee, chromedp.Click(chromedp.CSS(`#call-mic`))); err != nil {
		t.Fatal(err)
	}
	muted, _ := chromedp.Run(detainee, chromedp.Evaluate[bool](`window.attacheCall.getSenders().some((s) => s.track && s.track.kind === "audio" && !s.track.enabled) && document.getElementById("call-mic").getAttribute("aria-pressed") === "true"`))
	if !muted {
		t.Error("the detainee's microphone is still on after Mute")
	}
	timer, _ := chromedp.Run(officer, chromedp.Text(chromedp.CSS(`#call-timer`)))
	if !regexp.MustCompile(`^Ends in \d+:\d\d`).MatchString(timer) {
		t.Errorf("the officer's timer says %q", timer)
	}
	screenshot(t, officer, "call-officer-laptop")
	screenshot(t, detainee, "call-detainee-tablet")

	// The detainee leaves: the officer's page drops their tile and name.
	if err := chromedp.Do(detainee, chromedp.Click(chromedp.CSS(`#call-leave`))); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(officer, chromedp.Poll[chromedp.Void](`document.querySelectorAll("#call-tiles .tile:not(.self)").length === 0 && !document.getElementById("call-people").textContent.includes("Detainee")`, chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Errorf("the officer still sees the detainee after they left: %v", err)
	}

	// The officer ends the visit: every page says so and offers no way back in.
	// Ending is for good: the first click asks, the second ends.
	if err := chromedp.Do(officer, chromedp.Click(chromedp.CSS(`#call-end`)), chromedp.WaitVisible(chromedp.CSS(`#call-end.confirm`)),
		chromedp.Click(chromedp.CSS(`#call-end`))); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		name string
		tab  context.Context
	}{{"officer", officer}, {"monitor", monitor}} {
		err := chromedp.Do(p.tab, chromedp.Poll[chromedp.Void](`document.getElementById("call-status").textContent.includes(document.getElementById("call").dataset.msgEndHost) && document.getElementById("call-join").hidden`, chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil {
			status, _ := chromedp.Run(p.tab, chromedp.Text(chromedp.CSS(`#call-status`)))
			t.Errorf("%s's page after the end says %q: %v", p.name, status, err)
		}
	}
	if err := chromedp.Do(detainee, chromedp.Navigate(links["detainee terminal"])); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(detainee, chromedp.Text(chromedp.CSS(`main`)))
	if err != nil || !strings.Contains(text, "This visit is over.") {
		t.Errorf("the detainee's link after the end: %v %q", err, text)
	}
	// The case keeps the call's record: who was there, how it ended.
	err = chromedp.Do(officer, chromedp.Navigate(srv.URL+caseHref), chromedp.Click(chromedp.CSS(`tr.call-record summary`)))
	if err != nil {
		t.Fatal(err)
	}
	record, _ := chromedp.Run(officer, chromedp.Text(chromedp.CSS(`#visits`)))
	for _, want := range []string{"Call: Ended by the officer", "Call record", "Michael Kovrig (terminal) (Detainee)", "Left", "monitoring"} {
		if !strings.Contains(record, want) {
			t.Errorf("the case's visits lack %q:\n%s", want, record)
		}
	}
	screenshot(t, officer, "case-call-record")
	if files, _ := filepath.Glob(filepath.Join(data, "recordings", "*", "*")); len(files) != 0 {
		t.Errorf("a privileged visit left recordings: %v", files)
	}
	b.checkClean()
}

// enterDemoCall signs the demo officer in and enters the demo visit's call
// from the seed case; it returns the officer's tab, the case's address and
// the join links the server printed.
func enterDemoCall(t *testing.T, b *browser, srv *servertest.Server) (context.Context, string, map[string]string) {
	t.Helper()
	out := srv.Out.String()
	links := map[string]string{}
	for _, who := range []string{"detainee terminal", "monitor"} {
		m := regexp.MustCompile(who + `:\s+(\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no %s link printed:\n%s", who, out)
		}
		links[who] = m[1]
	}
	password := srv.DemoPassword(t, "barton")
	ctx, cancel := context.WithTimeout(b.tab(), 90*time.Second)
	t.Cleanup(cancel)
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1366, 850),
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "barton"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
		chromedp.Submit(chromedp.CSS(`main form`)),
		chromedp.WaitVisible(chromedp.CSS(`header nav`)),
		chromedp.Navigate(srv.URL+"/cases"),
		chromedp.WaitVisible(chromedp.CSS(`main table`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	caseHref, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('main a[href^="/cases/"]')].find(a => a.closest("tr") && a.closest("tr").textContent.includes("CN-2018-0001")).getAttribute("href")`))
	if err != nil {
		t.Fatalf("the seed case is not listed: %v", err)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+caseHref),
		chromedp.WaitVisible(chromedp.CSS(`a[href$="/call"]`)),
		chromedp.Click(chromedp.CSS(`a[href$="/call"]`)),
		chromedp.WaitEnabled(chromedp.CSS(`#call-join`)),
		chromedp.Click(chromedp.CSS(`#call-join`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, caseHref, links
}

// joinLink opens a join link in a tablet-sized tab and joins the call as a
// person would: the device check done, then the button.
func joinLink(t *testing.T, b *browser, link string) context.Context {
	t.Helper()
	tab, cancel := context.WithTimeout(b.tab(), 90*time.Second)
	t.Cleanup(cancel)
	if err := chromedp.Do(tab, chromedp.EmulateViewport(820, 1180), chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`#precall-network.ok-text`)),
		// A holder who sends (not the monitor) has their devices checked.
		chromedp.Poll[chromedp.Void](`!document.getElementById("precall-devices") || document.getElementById("precall-devices").classList.contains("ok-text")`,
			chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.WaitEnabled(chromedp.CSS(`#call-join`)), chromedp.Click(chromedp.CSS(`#call-join`))); err != nil {
		t.Fatal(err)
	}
	return tab
}

// admit checks that each link holder is told to wait and lets them in from
// the officer's page, one after the other.
func admit(t *testing.T, officer context.Context, waiting ...context.Context) {
	t.Helper()
	for _, tab := range waiting {
		if err := chromedp.Do(tab, chromedp.Poll[chromedp.Void](`document.getElementById("call-status").textContent === document.getElementById("call").dataset.msgWaiting`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			t.Fatalf("a link holder is not told to wait: %v", err)
		}
	}
	for n := len(waiting); n > 0; n-- {
		err := chromedp.Do(officer,
			chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelectorAll("#call-waiting li").length === %d && !document.getElementById("call-waiting-box").hidden`, n), chromedp.WithPollingTimeout(15*time.Second)))
		if err != nil {
			t.Fatalf("the officer does not see %d waiting: %v", n, err)
		}
		if n == 2 {
			screenshot(t, officer, "call-officer-waiting-room")
		}
		if err := chromedp.Do(officer, chromedp.Click(chromedp.CSS(`#call-waiting li:first-child button:first-of-type`))); err != nil {
			t.Fatal(err)
		}
	}
}

func readStats(t *testing.T, tab context.Context) stats {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Evaluate[stats](inbound, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	return s
}

// TestCallThroughTURN holds a call where the detainee's terminal may use
// nothing but the embedded TURN server's relay (as on a network that lets
// only TURN through): the officer and the detainee still see each other,
// and the detainee's media goes through a relay candidate.
func TestCallThroughTURN(t *testing.T) {
	b := newBrowser(t)
	srv := servertest.Start(t, "--demo", "--data", t.TempDir(), "--turn-udp", "127.0.0.1:0", "--turn-tcp", "127.0.0.1:0")
	officer, _, links := enterDemoCall(t, b, srv)
	detainee := joinLink(t, b, links["detainee terminal"]+"?relay")
	admit(t, officer, detainee)
	deadline := time.Now().Add(30 * time.Second)
	for _, tab := range []context.Context{officer, detainee} {
		for s := readStats(t, tab); s.Videos < 1 || s.Frames < 10; s = readStats(t, tab) {
			if time.Now().After(deadline) {
				t.Fatalf("no video through the relay: %+v", s)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	kind, err := chromedp.Run(detainee, chromedp.Evaluate[string](`(async () => {
	  const stats = await window.attacheCall.getStats();
	  let pair;
	  stats.forEach((s) => { if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s; });
	  return pair ? stats.get(pair.localCandidateId).candidateType : "none";
	})()`, chromedp.EvalAwaitPromise))
	if err != nil || kind != "relay" {
		t.Errorf("the detainee's call goes through a %q candidate (%v), want relay", kind, err)
	}
	b.checkClean()
}

package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/attache-org/attache/internal/servertest"
)

// TestJoinLinkPreCall opens the demo visit's detainee link in a browser with
// a fake camera and microphone: the page says the visit is open, shows the
// monitoring notice, and its device check finds the camera and microphone
// working and the server reachable, under the strict CSP.
func TestJoinLinkPreCall(t *testing.T) {
	b := newBrowser(t)
	srv := servertest.Start(t, "--demo", "--data", t.TempDir())
	m := regexp.MustCompile(`detainee terminal: (\S+)`).FindStringSubmatch(srv.Out.String())
	if m == nil {
		t.Fatalf("no detainee link printed:\n%s", srv.Out.String())
	}
	ctx, cancel := context.WithTimeout(b.tab(), 60*time.Second)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(820, 1180),
		chromedp.Navigate(m[1]),
		chromedp.WaitVisible(chromedp.CSS(`#precall-devices.ok-text`)),
		chromedp.WaitVisible(chromedp.CSS(`#precall-network.ok-text`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`main`)))
	for _, want := range []string{"The visit is open.", "monitored", "not recorded", "Camera and microphone work.", "Michael Kovrig (terminal)"} {
		if !strings.Contains(text, want) {
			t.Errorf("join page lacks %q", want)
		}
	}
	playing, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const v = document.getElementById("preview"); return !!v && !!v.srcObject && v.videoWidth > 0; })()`))
	if !playing {
		// the first frame may take a moment
		time.Sleep(time.Second)
		playing, _ = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("preview").videoWidth > 0`))
	}
	if !playing {
		t.Error("the camera preview shows nothing")
	}
	screenshot(t, ctx, "join-tablet")
	b.checkClean()
}

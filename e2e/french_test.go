package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/attache-org/attache/internal/servertest"
)

// TestFrenchPages switches the sign-in page to French with the header's
// switch, signs the demo officer in and walks their pages at laptop and
// phone width: the pages are in French and the longer texts do not make
// them wider than the screen.
func TestFrenchPages(t *testing.T) {
	b := newBrowser(t)
	srv := servertest.Start(t, "--demo", "--data", t.TempDir())
	ctx, cancel := context.WithTimeout(b.tab(), 90*time.Second)
	defer cancel()
	password := srv.DemoPassword(t, "barton")
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`.lang-switch button[value="fr"]`)),
		chromedp.Click(chromedp.CSS(`.lang-switch button[value="fr"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.lang-switch button[value="en"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if h1, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`main h1`))); h1 != "Se connecter" && h1 != "Connexion" {
		t.Errorf("French sign-in page heading %q", h1)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "barton"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`header nav`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/cases"), chromedp.WaitVisible(chromedp.CSS(`main table`))); err != nil {
		t.Fatal(err)
	}
	caseHref, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('main a[href^="/cases/"]')].find(a => a.closest("tr") && a.closest("tr").textContent.includes("CN-2018-0001")).getAttribute("href")`))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+caseHref), chromedp.WaitVisible(chromedp.CSS(`#visits`))); err != nil {
		t.Fatal(err)
	}
	visits, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...new Set([...document.querySelectorAll('#visits a[href*="/visits/"]')].map((a) => a.getAttribute("href")).filter((h) => /\/visits\/[^/]+$/.test(h)))]`))
	if err != nil || len(visits) < 2 {
		t.Fatalf("the demo case's visits: %v %v", visits, err)
	}
	facility, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('a[href^="/facilities/"]') || {getAttribute: () => "/facilities"}).getAttribute("href")`))
	pages := []struct{ path, name string }{{"/", "home"}, {"/cases", "cases"}, {"/people?q=Kovrig", "search"}, {"/account", "account"},
		{"/account/security", "security"}, {caseHref, "case"}, {caseHref + "/edit", "case-edit"}, {"/cases/new", "case-new"}, {visits[0], "visit"},
		{visits[1], "visit-2"}, {"/facilities", "facilities"}, {facility, "facility"}, {"/suspensions", "suspensions"}, {"/agreements", "agreements"},
		{"/recording-policies", "recording-policies"}}
	for _, v := range visits {
		if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`fetch("`+v+`/report").then((r) => r.ok)`, chromedp.EvalAwaitPromise)); ok {
			pages = append(pages, struct{ path, name string }{v + "/report", "report"})
			break
		}
	}
	for _, page := range pages {
		for _, width := range []int64{1280, 390} {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900), chromedp.Navigate(srv.URL+page.path), chromedp.WaitVisible(chromedp.CSS(`main h1`))); err != nil {
				t.Fatal(err)
			}
			if lang, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`)); lang != "fr" {
				t.Fatalf("%s: page in %q", page.path, lang)
			}
			if wide, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); wide {
				t.Errorf("%s in French is wider than %d px", page.path, width)
			}
			size := "laptop"
			if width < 500 {
				size = "phone"
			}
			screenshot(t, ctx, "fr-"+page.name+"-"+size)
		}
	}
	nav, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`header nav`)))
	if !strings.Contains(nav, "Dossiers") {
		t.Errorf("French menu %q", nav)
	}
	b.checkClean()
}

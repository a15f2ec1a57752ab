package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/attache-org/attache/internal/servertest"
)

// signInAs signs a demo account in, in a tab with cookies of its own.
func signInAs(t *testing.T, b *browser, srv *servertest.Server, user string) context.Context {
	t.Helper()
	return signInFor(t, b, srv, user, 90*time.Second)
}

// signInFor is signInAs in a tab that lasts d.
func signInFor(t *testing.T, b *browser, srv *servertest.Server, user string, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.tab(chromedp.WithNewBrowserContext()), d)
	t.Cleanup(cancel)
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1366, 850),
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), user),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), srv.DemoPassword(t, user)),
		chromedp.Submit(chromedp.CSS(`main form`)),
		chromedp.WaitVisible(chromedp.CSS(`header nav`)),
	)
	if err != nil {
		t.Fatalf("sign in as %s: %v", user, err)
	}
	return ctx
}

// fitsTablet checks the page is no wider than a tablet in portrait.
func fitsTablet(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(820, 1180), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`main h1`))); err != nil {
		t.Fatal(err)
	}
	if wide, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); wide {
		t.Errorf("%s is wider than a tablet screen", name)
	}
	screenshot(t, ctx, name+"-tablet")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1366, 850)); err != nil {
		t.Fatal(err)
	}
}

// TestReportAndFamilyPages walks the demo's visit report and family channel
// in a real browser: the supervisor sees the seed case's escalation and its
// approved report (read-only, with its PDF), the family member of the seed
// article sees the next visit and writes a message, and the officer finds it
// waiting on the visit page.
func TestReportAndFamilyPages(t *testing.T) {
	b := newBrowser(t)
	srv := servertest.Start(t, "--demo", "--data", t.TempDir())

	sup := signInAs(t, b, srv, "supervisor")
	if err := chromedp.Do(sup, chromedp.WaitVisible(chromedp.CSS(`#escalations`))); err != nil {
		t.Fatalf("the supervisor's home shows no escalation: %v", err)
	}
	esc, _ := chromedp.Run(sup, chromedp.Text(chromedp.CSS(`#escalations`)))
	if !strings.Contains(esc, "CN-2018-0001") || !strings.Contains(esc, "High-profile case") {
		t.Errorf("escalations: %q", esc)
	}
	screenshot(t, sup, "home-supervisor-laptop")
	err := chromedp.Do(sup,
		chromedp.Click(chromedp.CSS(`#escalations a[href$="/report"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#report-state`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	state, _ := chromedp.Run(sup, chromedp.Text(chromedp.CSS(`#report-state`)))
	if state != "Approved" {
		t.Errorf("the demo report is %q", state)
	}
	if forms, _ := chromedp.Run(sup, chromedp.Evaluate[int](`document.querySelectorAll('form[action$="/report/save"]').length`)); forms != 0 {
		t.Error("an approved report shows its edit form")
	}
	text, _ := chromedp.Run(sup, chromedp.Text(chromedp.CSS(`main`)))
	for _, want := range []string{"surprised by the extent of the epidemic", "Dominic Barton", "Follow-ups"} {
		if !strings.Contains(text, want) {
			t.Errorf("report page lacks %q", want)
		}
	}
	screenshot(t, sup, "report-laptop")
	fitsTablet(t, sup, "report")

	// The family member: the next visit's date and her message.
	vina := signInAs(t, b, srv, "vina")
	if loc, _ := chromedp.Run(vina, chromedp.Location()); !strings.HasSuffix(loc, "/family") {
		t.Errorf("a family member lands on %s", loc)
	}
	page, _ := chromedp.Run(vina, chromedp.Text(chromedp.CSS(`main`)))
	for _, want := range []string{"Michael Kovrig", "We think of you every day"} {
		if !strings.Contains(page, want) {
			t.Errorf("family portal lacks %q:\n%s", want, page)
		}
	}
	screenshot(t, vina, "family-laptop")
	err = chromedp.Do(vina,
		chromedp.SendKeys(chromedp.CSS(`main form textarea`), "Your mother is visiting us next week."),
		chromedp.Submit(chromedp.CSS(`main form textarea`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if page, _ := chromedp.Run(vina, chromedp.Text(chromedp.CSS(`main`))); !strings.Contains(page, "Your mother is visiting us next week.") {
		t.Error("the new message is not listed")
	}
	fitsTablet(t, vina, "family")
	// The officer finds both messages waiting on the visit page.
	barton := signInAs(t, b, srv, "barton")
	err = chromedp.Do(barton, chromedp.Navigate(srv.URL+"/cases"), chromedp.WaitVisible(chromedp.CSS(`main table`)))
	if err != nil {
		t.Fatal(err)
	}
	caseHref, err := chromedp.Run(barton, chromedp.Evaluate[string](`[...document.querySelectorAll('main a[href^="/cases/"]')].find(a => a.closest("tr") && a.closest("tr").textContent.includes("CN-2018-0001")).getAttribute("href")`))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(barton,
		chromedp.Navigate(srv.URL+caseHref),
		chromedp.WaitVisible(chromedp.CSS(`a[href$="/call"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	visitHref, err := chromedp.Run(barton, chromedp.Evaluate[string](`document.querySelector('a[href$="/call"]').getAttribute("href").replace(/\/call$/, "")`))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(barton, chromedp.Navigate(srv.URL+visitHref), chromedp.WaitVisible(chromedp.CSS(`#messages`))); err != nil {
		t.Fatal(err)
	}
	msgs, _ := chromedp.Run(barton, chromedp.Text(chromedp.CSS(`#messages`)))
	if !strings.Contains(msgs, "We think of you every day") || !strings.Contains(msgs, "Your mother is visiting us next week.") {
		t.Errorf("the visit page's queue: %q", msgs)
	}
	screenshot(t, barton, "visit-laptop")
	fitsTablet(t, barton, "visit")

	// The supervisor authorises a disclosure without consent to Vina:
	// the detainee's health, for a week.
	err = chromedp.Do(sup,
		chromedp.Navigate(srv.URL+caseHref+"#family-exceptions"),
		chromedp.WaitVisible(chromedp.CSS(`#family-exceptions`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(sup, chromedp.Evaluate[bool](`(() => { const f = document.querySelector('form[action$="/family/exceptions"]');
		f.closest("details").open = true; f.querySelector("select[name=contact_id]").selectedIndex = 1;
		window.confirm = () => true; f.scrollIntoView(); return true })()`)); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(sup,
		chromedp.Click(chromedp.CSS(`form[action$="/family/exceptions"] input[value=health]`)),
		chromedp.Click(chromedp.CSS(`form[action$="/family/exceptions"] input[value=risk_to_life]`)),
		chromedp.SendKeys(chromedp.CSS(`form[action$="/family/exceptions"] textarea`), "He was taken to the prison hospital on 12 October; his wife must know."),
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, sup, "exception-form-laptop")
	err = chromedp.Do(sup,
		chromedp.Submit(chromedp.CSS(`form[action$="/family/exceptions"] textarea`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if text, _ := chromedp.Run(sup, chromedp.Text(chromedp.CSS(`#family`))); !strings.Contains(text, "his wife must know") || !strings.Contains(text, "Vina Nadjibulla") {
		t.Errorf("the family section after the authorisation: %q", text)
	}
	screenshot(t, sup, "exception-laptop")
	fitsTablet(t, sup, "exception")
	b.checkClean()
}

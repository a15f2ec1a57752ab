package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/attache-org/attache/internal/servertest"
)

// TestSignInThroughBrowser signs the demo administrator in and out in a real
// browser, on a laptop-sized and a tablet-sized screen, and checks that the
// strict Content-Security-Policy leaves the pages working without errors.
func TestSignInThroughBrowser(t *testing.T) {
	b := newBrowser(t) // first: skips before starting anything when Chromium is missing
	srv := servertest.Start(t, "--demo", "--data", t.TempDir())
	ctx, cancel := context.WithTimeout(b.tab(), 60*time.Second)
	defer cancel()
	password := srv.DemoPassword(t, "admin")

	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1366, 850),
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "login-laptop")
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.Contains(loc, "/login?next=") {
		t.Fatalf("anonymous visitor not sent to sign in: %s", loc)
	}
	// A wrong password first: the page says so and stays.
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "not the password"),
		chromedp.Submit(chromedp.CSS(`main form`)),
		chromedp.WaitVisible(chromedp.CSS(`.alert`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.alert`))); !strings.Contains(msg, "Wrong username or password") {
		t.Fatalf("alert says %q", msg)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
		chromedp.Submit(chromedp.CSS(`main form`)),
		// The menu appears only once signed in (the sign-in page has an h1 too).
		chromedp.WaitVisible(chromedp.CSS(`header nav`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`main h1`)))
	if h1 != "Welcome, Demo administrator" {
		t.Fatalf("home heading %q", h1)
	}
	nav, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`header nav`)))
	for _, want := range []string{"Users", "Audit log", "My account"} {
		if !strings.Contains(nav, want) {
			t.Errorf("administrator's menu lacks %q: %q", want, nav)
		}
	}
	screenshot(t, ctx, "home-admin-laptop")

	// The stylesheet applied: the header has its colour (CSP allowed it).
	bg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header.top")).backgroundColor`))
	if bg != "rgb(29, 53, 87)" {
		t.Errorf("header background %q: stylesheet not applied", bg)
	}

	for _, page := range []struct{ path, name, heading string }{
		{"/cases", "cases", "Cases"},
		{"/people?q=%E5%BA%B7%E6%98%8E%E5%87%B1", "search", "Find a person"},
		{"/cases/new", "case-new", "Open a case"},
		{"/facilities", "facilities", "Facilities"},
		{"/admin/users", "users", "Users"},
		{"/admin/users/new", "user-new", "New account"},
		{"/audit", "audit", "Audit log"},
		{"/account", "account", "My account"},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+page.path), chromedp.WaitVisible(chromedp.CSS(`main h1`))); err != nil {
			t.Fatal(err)
		}
		if got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`main h1`))); !strings.HasPrefix(got, page.heading) {
			t.Errorf("%s: heading %q", page.path, got)
		}
		screenshot(t, ctx, page.name+"-laptop")
	}
	// The administrator does not find the seed case by its Chinese name
	// (traditional characters): it is outside their need-to-know.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/people?q=%E5%BA%B7%E6%98%8E%E5%87%B1"), chromedp.WaitVisible(chromedp.CSS(`main h1`))); err != nil {
		t.Fatal(err)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("main table a[href^='/cases/']").length`)); n != 0 {
		t.Fatalf("the administrator finds %d cases outside need-to-know", n)
	}
	// Break-glass: by its reference, with a reason, for an hour.
	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/cases/break-glass"),
		chromedp.WaitVisible(chromedp.CSS(`#f-reference`)),
		chromedp.SendKeys(chromedp.CSS(`#f-reference`), "CN-2018-0001"),
		chromedp.SendKeys(chromedp.CSS(`#f-reason`), "The family called at night and the China desk cannot be reached"),
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "break-glass-laptop")
	if err := chromedp.Do(ctx, chromedp.Submit(chromedp.CSS(`#f-reason`)), chromedp.WaitVisible(chromedp.CSS(`#timeline`))); err != nil {
		t.Fatal(err)
	}
	if banner, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#break-glass`))); !strings.Contains(banner, "The family called at night") || !strings.Contains(banner, "Demo administrator") {
		t.Errorf("the case does not show the break-glass opening: %q", banner)
	}
	if h1, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`main h1`))); h1 != "Michael Kovrig" {
		t.Errorf("case page heading %q", h1)
	}
	events, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("ol.timeline li.event").length`))
	if events < 10 {
		t.Errorf("the seed case's timeline has %d entries", events)
	}
	screenshot(t, ctx, "case-laptop")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(820, 1180), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#timeline`))); err != nil {
		t.Fatal(err)
	}
	if wide, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); wide {
		t.Error("the case page is wider than a tablet screen")
	}
	screenshot(t, ctx, "case-tablet")

	// A tablet in portrait: the pages still fit the width.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(820, 1180), chromedp.Navigate(srv.URL+"/audit"), chromedp.WaitVisible(chromedp.CSS(`main h1`))); err != nil {
		t.Fatal(err)
	}
	overflow, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if overflow {
		t.Error("the audit page is wider than a tablet screen")
	}
	screenshot(t, ctx, "audit-tablet")
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`main h1`))); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "home-admin-tablet")

	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`header form button`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.flash`))); msg != "You have signed out." {
		t.Fatalf("after sign-out: %q", msg)
	}
	b.checkClean()
}

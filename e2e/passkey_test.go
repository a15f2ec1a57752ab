package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/attache-org/attache/internal/servertest"
)

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestPasskeyInBrowser sets up a security key in Chromium, with the
// DevTools virtual authenticator, signs in with it as the second factor,
// and finds the session marked with it. Passkeys are bound to a host name,
// so the server is reached as localhost (loopback all the same).
func TestPasskeyInBrowser(t *testing.T) {
	b := newBrowser(t)
	port := freePort(t)
	base := fmt.Sprintf("http://localhost:%d", port)
	srv := servertest.Start(t, "--demo", "--data", t.TempDir(), "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--base-url", base)
	ctx, cancel := context.WithTimeout(b.tab(), 90*time.Second)
	defer cancel()
	password := srv.DemoPassword(t, "officer")

	// A platform authenticator that verifies its user, as a laptop's would.
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
		return err
	}))
	if err != nil {
		t.Fatalf("virtual authenticator: %v", err)
	}

	signIn := chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		return chromedp.Do(ctx,
			chromedp.Navigate(base+"/login"),
			chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "officer"),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
			chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		)
	})
	// In the demo a second factor is optional: the password signs in.
	if err := chromedp.Do(ctx, signIn, chromedp.WaitVisible(chromedp.CSS(`header nav`))); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(base+"/account/security"),
		chromedp.WaitVisible(chromedp.CSS(`#add-key`)),
		chromedp.SendKeys(chromedp.CSS(`#f-key-name`), "Laptop"),
		chromedp.Click(chromedp.CSS(`#add-key`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-codes`)),
	)
	if err != nil {
		msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#key-error`)))
		t.Fatalf("add a key: %v (page says %q)", err, msg)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#new-codes-list li").length`)); n != 10 {
		t.Fatalf("%d recovery codes shown with the first key", n)
	}
	screenshot(t, ctx, "passkey-added-laptop")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/account/security"), chromedp.WaitVisible(chromedp.CSS(`#keys table`))); err != nil {
		t.Fatal(err)
	}
	if keys, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#keys table`))); !strings.Contains(keys, "Laptop") {
		t.Fatalf("the key is not listed: %q", keys)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#keys`))); err != nil {
		t.Fatal(err)
	}
	if wide, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); wide {
		t.Error("the security page is wider than a phone")
	}
	screenshot(t, ctx, "security-phone")

	// Signed out and in again: now the password is not enough.
	err = chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Click(chromedp.CSS(`header form button`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		signIn,
		chromedp.WaitVisible(chromedp.CSS(`#use-key`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/login/verify") {
		t.Fatalf("after the password: %s", loc)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("header nav").length`)); n != 0 {
		t.Error("the menu shows before the second factor")
	}
	screenshot(t, ctx, "verify-laptop")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#use-key`)), chromedp.WaitVisible(chromedp.CSS(`header nav`))); err != nil {
		msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#key-error`)))
		t.Fatalf("sign in with the key: %v (page says %q)", err, msg)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/account"), chromedp.WaitVisible(chromedp.CSS(`#sessions`))); err != nil {
		t.Fatal(err)
	}
	if sessions, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#sessions`))); !strings.Contains(sessions, "Password, Passkey or security key") {
		t.Errorf("the session does not say it used the key: %q", sessions)
	}
	b.checkClean()
}

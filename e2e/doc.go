// Package e2e holds Attaché's end-to-end tests: the real program, started as
// "attache serve" would be, driven through headless Debian Chromium with
// chromedp. They skip when Chromium is missing, unless ATTACHE_TEST_REQUIRE
// names chromium (as CI does). Set ATTACHE_SCREENSHOTS to a directory to keep
// the screenshots they take.
package e2e

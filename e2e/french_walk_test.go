package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	_ "modernc.org/sqlite"

	"github.com/attache-org/attache/internal/db/dbtest"
	"github.com/attache-org/attache/internal/servertest"
)

// englishTexts are the interface's texts of two words or more that the
// catalog of lang translates (a page in lang must not show them), less
// those the demo data holds (a note in English is data, not interface).
func englishTexts(t *testing.T, lang, dataDir string) lexicon {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "internal", "i18n", "messages", lang+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var cat map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cat); err != nil {
		t.Fatal(err)
	}
	data := demoTexts(t, dataDir)
	var out []string
	for k, v := range cat {
		var tr string
		if strings.Contains(k, "%") || len(strings.Fields(k)) < 2 || len(k) < 10 || (json.Unmarshal(v, &tr) == nil && tr == k) {
			continue
		}
		if !strings.Contains(data, k) {
			out = append(out, k)
		}
	}
	if len(out) < 100 {
		t.Fatalf("only %d texts of the %s catalog to look for", len(out), lang)
	}
	return lexicon{english: out, data: data}
}

// lexicon is what a page in a language must not show (the interface's
// English), and the data it may show whatever its language.
type lexicon struct {
	english []string
	data    string
}

// demoTexts is every text stored in the demo database, one per line.
func demoTexts(t *testing.T, dataDir string) string {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "attache.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var b strings.Builder
	dbtest.EachText(t, d, func(_, _, v string) { b.WriteString(v + "\n") })
	return b.String()
}

// englishDate is a date written the English way: "10 December 2020",
// "Dec 10, 2020", "Thursday".
var englishDate = regexp.MustCompile(`\b(\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) \d{4}|(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}, \d{4}|(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday))\b`)

// noEnglish fails when the page open in tab shows one of texts (the
// interface's English that its language translates).
func noEnglish(t *testing.T, tab context.Context, what string, texts lexicon) {
	t.Helper()
	visible, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.innerText + "\n" + [...document.querySelectorAll("[placeholder],[title],[aria-label]")].map((e) => [e.placeholder, e.title, e.getAttribute("aria-label")].join("\n")).join("\n")`))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, d := range englishDate.FindAllString(visible, -1) {
		if !strings.Contains(texts.data, d) { // "Detained on 10 December 2018" is a note
			found = append(found, d)
		}
	}
	for _, en := range texts.english {
		if strings.Contains(visible, en) {
			found = append(found, en)
		}
	}
	if len(found) > 0 {
		t.Errorf("%s shows English: %q", what, found)
	}
}

// TestFrenchWalk is a consular officer's day in French: the demo officer
// chooses French in his preferences, signs in again and walks home → case
// → schedule a visit → the call → the report with no English visible. The
// detainee's join link, made for Chinese, opens in Chinese, joins, is
// admitted and sees the officer's video; the family member reads her
// portal in French.
func TestFrenchWalk(t *testing.T) {
	b := newBrowser(t)
	data := t.TempDir()
	srv := servertest.Start(t, "--demo", "--data", data)

	// The officer's preference, kept with his account.
	first := signInAs(t, b, srv, "barton")
	err := chromedp.Do(first, chromedp.Navigate(srv.URL+"/account"),
		chromedp.SetValue(chromedp.CSS(`form[action="/account/preferences"] select[name="lang"]`), "fr"),
		submitted(`form[action="/account/preferences"] select[name="lang"]`),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if err != nil {
		t.Fatal(err)
	}
	fr := englishTexts(t, "fr", data)
	zh := englishTexts(t, "zh", data)

	// A new browser: the preference, not a cookie, chooses French.
	officer := signInFor(t, b, srv, "barton", 4*time.Minute)
	lang := func(tab context.Context) string {
		l, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.documentElement.lang`))
		return l
	}
	if l := lang(officer); l != "fr" {
		t.Fatalf("the officer's home is in %q", l)
	}
	noEnglish(t, officer, "home", fr)
	screenshot(t, officer, "fr-walk-home")

	// The case.
	err = chromedp.Do(officer, chromedp.Navigate(srv.URL+"/cases"), chromedp.WaitVisible(chromedp.CSS(`main table`)))
	if err != nil {
		t.Fatal(err)
	}
	noEnglish(t, officer, "cases", fr)
	caseHref := caseOf(t, officer, srv, "CN-2018-0001")
	if err := chromedp.Do(officer, chromedp.Navigate(srv.URL+caseHref), chromedp.WaitVisible(chromedp.CSS(`#visits`))); err != nil {
		t.Fatal(err)
	}
	noEnglish(t, officer, "case", fr)

	// Schedule a visit, three days on, in the facility's time.
	start := time.Now().Add(72 * time.Hour).Truncate(time.Hour).In(mustLoad(t, "Asia/Shanghai"))
	book(t, officer, caseHref, "consular", start)
	if err := chromedp.Do(officer, chromedp.WaitVisible(chromedp.CSS(`.flash`))); err != nil {
		t.Fatal(err)
	}
	visits, _ := chromedp.Run(officer, chromedp.Text(chromedp.CSS(`#visits`)))
	if want := start.Format("15 h 04"); !strings.Contains(visits, want) {
		t.Errorf("the booked visit at %s is not listed in French time:\n%s", want, visits)
	}
	noEnglish(t, officer, "case after booking", fr)
	screenshot(t, officer, "fr-walk-case")

	// A join link for the detainee, in Chinese, for the demo visit that
	// is open now.
	linkForm := `#visits tr:has(a[href$="/call"]) form[action$="/links"]`
	err = chromedp.Do(officer,
		chromedp.SetValue(chromedp.CSS(linkForm+` select[name="role"]`), "detainee"),
		chromedp.SendKeys(chromedp.CSS(linkForm+` input[name="name"]`), "Michael Kovrig"),
		chromedp.SetValue(chromedp.CSS(linkForm+` select[name="lang"]`), "zh"),
		submitted(linkForm+` input[name="name"]`),
		chromedp.WaitVisible(chromedp.CSS(`#new-link`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	link, _ := chromedp.Run(officer, chromedp.Text(chromedp.CSS(`#new-link`)))
	if !regexp.MustCompile(`/join/\S+$`).MatchString(link) {
		t.Fatalf("new link %q", link)
	}
	noEnglish(t, officer, "case with the new link", fr)

	// The call.
	err = chromedp.Do(officer,
		chromedp.Click(chromedp.CSS(`#visits a[href$="/call"]`)),
		chromedp.WaitEnabled(chromedp.CSS(`#call-join`)),
		chromedp.Click(chromedp.CSS(`#call-join`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	callURL, _ := chromedp.Run(officer, chromedp.Location())
	detainee := joinLink(t, b, link)
	if l := lang(detainee); l != "zh" {
		t.Errorf("the detainee's link opens in %q", l)
	}
	noEnglish(t, detainee, "join page", zh)
	admit(t, officer, detainee)
	deadline := time.Now().Add(30 * time.Second)
	for s := readStats(t, detainee); s.Videos < 1 || s.Frames == 0; s = readStats(t, detainee) {
		if time.Now().After(deadline) {
			t.Fatalf("the detainee sees no video from the officer: %+v", s)
		}
		time.Sleep(250 * time.Millisecond)
	}
	noEnglish(t, officer, "call", fr)
	noEnglish(t, detainee, "call (detainee)", zh)
	screenshot(t, officer, "fr-walk-call")
	screenshot(t, detainee, "zh-walk-call-detainee")

	// The officer ends the call; the visit is held; he writes the report.
	if err := chromedp.Do(officer, chromedp.Click(chromedp.CSS(`#call-end`)), chromedp.WaitVisible(chromedp.CSS(`#call-end.confirm`)),
		chromedp.Click(chromedp.CSS(`#call-end`))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(detainee, chromedp.Poll[chromedp.Void](`document.getElementById("call-join").hidden`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("the detainee's page did not end: %v", err)
	}
	noEnglish(t, detainee, "the end (detainee)", zh)
	// He records the visit as held, then writes its report.
	visitURL := strings.TrimSuffix(callURL, "/call")
	visitPath := strings.TrimPrefix(visitURL, srv.URL)
	status := `form[action="` + visitPath + `/status"] select[name="to"]`
	// The call took place: the visit is held (its call opened before its
	// start, which is allowed).
	held := false
	for _, to := range []string{"confirmed", "in_progress", "held"} {
		if err := chromedp.Do(officer, chromedp.Navigate(srv.URL+caseHref), chromedp.WaitVisible(chromedp.CSS(`#visits`))); err != nil {
			t.Fatal(err)
		}
		if ok, _ := chromedp.Run(officer, chromedp.Evaluate[bool](`[...document.querySelectorAll('`+status+` option')].some((o) => o.value === "`+to+`")`)); !ok {
			continue // the visit is past this step already
		}
		err = chromedp.Do(officer, chromedp.SetValue(chromedp.CSS(status), to), submitted(status),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)))
		if err != nil {
			t.Fatalf("visit to %s: %v", to, err)
		}
		held = to == "held"
	}
	if !held {
		t.Fatal("the visit could not be recorded as held")
	}
	noEnglish(t, officer, "case after the visit", fr)
	err = chromedp.Do(officer, chromedp.Navigate(visitURL),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/report"] button`)),
		chromedp.Click(chromedp.CSS(`form[action$="/report"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#report-state`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	noEnglish(t, officer, "report", fr)
	err = chromedp.Do(officer,
		chromedp.SendKeys(chromedp.CSS(`textarea[name="summary"]`), "Entretien par vidéo; la personne détenue va bien."),
		submitted(`textarea[name="summary"]`),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	noEnglish(t, officer, "report saved", fr)
	screenshot(t, officer, "fr-walk-report")

	// The family member reads her portal in French.
	vina := signInAs(t, b, srv, "vina")
	err = chromedp.Do(vina, chromedp.Navigate(srv.URL+"/account"),
		chromedp.SetValue(chromedp.CSS(`form[action="/account/preferences"] select[name="lang"]`), "fr"),
		submitted(`form[action="/account/preferences"] select[name="lang"]`),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		chromedp.Navigate(srv.URL+"/family"), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
	if err != nil {
		t.Fatal(err)
	}
	if l := lang(vina); l != "fr" {
		t.Errorf("the family portal is in %q", l)
	}
	noEnglish(t, vina, "family portal", fr)
	screenshot(t, vina, "fr-walk-family")
	b.checkClean()
}

// book schedules a remote video visit of kind on the case page open in
// tab, for 30 minutes from start (given in the facility's time), with the
// page's form.
func book(t *testing.T, tab context.Context, caseHref, kind string, start time.Time) {
	t.Helper()
	schedule := `form[action="` + caseHref + `/visits"]`
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector('`+schedule+`').closest("details").open = true`)); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(tab,
		chromedp.SetValue(chromedp.CSS(schedule+` select[name="modality"]`), "remote_video"),
		chromedp.SetValue(chromedp.CSS(schedule+` select[name="kind"]`), kind),
		chromedp.SendKeys(chromedp.CSS(schedule+` input[name="start"]`), start.Format("2006-01-02 15:04")),
		chromedp.SendKeys(chromedp.CSS(schedule+` input[name="minutes"]`), "30"),
		submitted(schedule+` input[name="minutes"]`))
	if err != nil {
		t.Fatal(err)
	}
}

// caseOf finds a case's address in the list of cases, as a person would.
func caseOf(t *testing.T, tab context.Context, srv *servertest.Server, reference string) string {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+"/cases"), chromedp.WaitVisible(chromedp.CSS(`main table`))); err != nil {
		t.Fatal(err)
	}
	href, err := chromedp.Run(tab, chromedp.Evaluate[string](`[...document.querySelectorAll('main a[href^="/cases/"]')].find(a => a.closest("tr") && a.closest("tr").textContent.includes("`+reference+`")).getAttribute("href")`))
	if err != nil {
		t.Fatalf("case %s is not listed: %v", reference, err)
	}
	return href
}

// submitted submits the form of the element sel and waits for the page
// the server answers with (post, redirect, get) to be loaded.
func submitted(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		before, err := chromedp.Evaluate[float64](`performance.timeOrigin`)(ctx, tg)
		if err != nil {
			return err
		}
		if _, err := chromedp.Submit(chromedp.CSS(sel))(ctx, tg); err != nil {
			return err
		}
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			now, err := chromedp.Evaluate[float64](`document.readyState === "complete" ? performance.timeOrigin : 0`)(ctx, tg)
			if err == nil && now != 0 && now != before {
				return nil
			}
		}
	})
}

func mustLoad(t *testing.T, zone string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

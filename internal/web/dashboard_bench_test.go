package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
)

// fillOpenCases writes n open cases of the Beijing post directly, each with
// three contacts and, for one case in three, a request waiting for an answer.
func fillOpenCases(b testing.TB, h *harness, n int) {
	b.Helper()
	ctx := context.Background()
	now := time.Now()
	insert := func(table, cols string, width int, rows [][]any) {
		for len(rows) > 0 {
			k := min(len(rows), 400)
			ph := strings.TrimSuffix(strings.Repeat("("+strings.TrimSuffix(strings.Repeat("?,", width), ",")+"),", k), ",")
			var args []any
			for _, r := range rows[:k] {
				args = append(args, r...)
			}
			if _, err := h.db.ExecContext(ctx, "INSERT INTO "+table+" ("+cols+") VALUES "+ph, args...); err != nil {
				b.Fatal(err)
			}
			rows = rows[k:]
		}
	}
	var people, cs, contacts, requests, summaries [][]any
	for i := range n {
		pid, cid := db.NewID(), db.NewID()
		people = append(people, []any{pid, fmt.Sprintf("Person %d", i), "unknown", "", db.Instant(now), db.Instant(now)})
		cs = append(cs, []any{cid, fmt.Sprintf("CN-2020-%05d", i), pid, "open", "pretrial", "CN", "criminal_detention", "2020-01-10 [Asia/Shanghai]",
			"normal", "protected_b", "Beijing", "China", db.Instant(now), db.Instant(now), db.Instant(now)})
		for j := range 3 {
			day := now.AddDate(0, 0, -10*(j+1)-i%60)
			contacts = append(contacts, []any{db.NewID(), cid, day.Format("2006-01-02"), db.Instant(day), db.Instant(day.Add(24*time.Hour - time.Microsecond)),
				[]string{"in_person", "remote_video", "phone"}[j], "bench", db.Instant(now)})
		}
		first, last := now.AddDate(0, 0, -30-i%60), now.AddDate(0, 0, -10-i%60)
		summaries = append(summaries, []any{cid, last.Format("2006-01-02") + "|in_person", first.Format("2006-01-02") + "|phone",
			last.Format("2006-01-02") + "|in_person", now.AddDate(0, 0, -20-i%60).Format("2006-01-02") + "|remote_video"})
		if i%3 == 0 {
			requests = append(requests, []any{db.NewID(), cid, "in_person", "demarche", "post", "sent", db.Instant(now.AddDate(0, 0, -20)), db.Instant(now.AddDate(0, 0, -20)), "bench", db.Instant(now.AddDate(0, 0, -20))})
		}
	}
	insert("people", "id, display_name, sex, birth, created_at, updated_at", 6, people)
	insert("cases", "id, reference, person_id, status, legal_status, detaining_state, detention_type, notified, priority, classification, post, desk, opened_at, created_at, updated_at", 15, cs)
	insert("consular_contacts", "id, case_id, happened, earliest, latest, mode, created_by, created_at", 8, contacts)
	insert("access_summaries", "case_id, last_contact, first_contact, last_visit, first_visit", 5, summaries)
	insert("access_requests", "id, case_id, mode, channel, level, status, status_at, sent_at, created_by, created_at", 10, requests)
}

// BenchmarkDashboard10k renders the home page of a consular officer whose
// post has 10,000 open cases: the dashboard's queries, all 10,000 access
// clocks, the sort by urgency, the counts, and the HTML of the 100 most
// urgent rows (the rest are a "show all" away). Results and the command
// are in docs/benchmarks.md.
func BenchmarkDashboard10k(b *testing.B) {
	h := newHarness(b, dbtest.Open(b, db.SQLite))
	fillOpenCases(b, h, 10000)
	c := h.as(auth.RoleConsularOfficer)
	res := c.get("/")
	if res.StatusCode != 200 {
		b.Fatalf("home: %d", res.StatusCode)
	}
	body := readBody(b, res)
	if !strings.Contains(body, "10000 open cases") || strings.Count(body, "CN-2020-") < 100 {
		b.Fatalf("the dashboard shows %d cases", strings.Count(body, "CN-2020-"))
	}
	b.ReportMetric(float64(len(body))/1024, "KiB/page")
	for _, page := range []struct{ name, path string }{{"most-urgent", "/"}, {"all-rows", "/?all=1"}} {
		b.Run(page.name, func(b *testing.B) {
			for b.Loop() {
				if res := c.get(page.path); res.StatusCode != 200 {
					b.Fatal(res.StatusCode)
				}
			}
		})
	}
}

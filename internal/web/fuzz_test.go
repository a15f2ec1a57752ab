package web_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/db/dbtest"
)

// Whatever a form holds, the case form answers with the page or a clear
// 4xx, never a 500.
func FuzzCaseForm(f *testing.F) {
	h := newHarnessLog(f, dbtest.Open(f, db.SQLite), io.Discard)
	officer := h.as(auth.RoleConsularOfficer)
	f.Add("Michael Kovrig", "Latn", "2018-12-10 22:00", "Asia/Shanghai", "CA yes passport", "pretrial")
	f.Add("康明凯", "Hans", "2018-12", "", "CN no", "")
	f.Add("", "Zzzz", "~2018", "Mars/Olympus", "XX maybe", "nonsense")
	f.Add("a\x00b", "Latn", "2018-02-30", "UTC", "", "convicted")
	f.Add("\u202eKovrig", "Arab", "10 December", "Asia/Shanghai", "CA yes passport CA", "pretrial")
	f.Fuzz(func(t *testing.T, name, script, arrested, zone, nationality, legal string) {
		form := kovrigForm()
		form.Set("names.0.value", name)
		form.Set("names.0.script", script)
		form.Set("arrested", arrested)
		form.Set("arrested_zone", zone)
		form.Set("nationalities", nationality)
		form.Set("legal_status", legal)
		// The harness reports through the fuzz input's own t.
		th := *h
		th.t = t
		c := *officer
		c.h = &th
		res := c.post("/cases", form)
		res.Body.Close()
		if res.StatusCode >= http.StatusInternalServerError {
			t.Errorf("case form with name %q script %q arrested %q zone %q nationality %q legal %q: %d", name, script, arrested, zone, nationality, legal, res.StatusCode)
		}
	})
}

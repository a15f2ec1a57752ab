package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/attache-org/attache/internal/access"
)

// TestEveryAuditActionNamed fails when an action the code writes into the
// audit log has no label for the people who read the log.
func TestEveryAuditActionNamed(t *testing.T) {
	literal := regexp.MustCompile(`Action:\s+"([a-z_]+\.[a-z_]+)"`)
	n := 0
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "extract") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			if strings.HasSuffix(m[1], "_") { // the start of a code made with a status: below
				continue
			}
			n++
			if _, ok := auditActionLabels[m[1]]; !ok {
				t.Errorf("%s: the audit action %q has no label in auditActionLabels", p, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 80 {
		t.Errorf("only %d audit actions found: the scan no longer sees them", n)
	}
	// Codes made with a status: a request's new status, a visit's.
	for _, st := range access.Statuses {
		if st.Code != "draft" {
			if _, ok := auditActionLabels["access.request_"+st.Code]; !ok {
				t.Errorf("no label for access.request_%s", st.Code)
			}
		}
	}
	for _, st := range []string{"confirmed", "in_progress", "held", "cut_short", "refused_by_detainee", "no_show"} {
		if _, ok := auditActionLabels["visit."+st]; !ok {
			t.Errorf("no label for visit.%s", st)
		}
	}
	seen := map[string]string{}
	for code, label := range auditActionLabels {
		if other, ok := seen[label]; ok {
			t.Errorf("%q and %q share the label %q", code, other, label)
		}
		seen[label] = code
	}
}

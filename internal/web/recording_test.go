package web_test

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/recording"
	"github.com/attache-org/attache/internal/visits"
)

// Recording policies: anyone working on cases reads them, only an
// administrator sets them; a consular or legal visit is never recorded: the
// page does not offer it, the server refuses it, and a row that says so in
// the database is shown void and records nothing; the policy in force is
// shown on the call page and to a link holder before joining.
func TestRecordingPolicyPages(t *testing.T) {
	h := onSQLite(t)
	officer := h.as(auth.RoleConsularOfficer)
	admin := h.as(auth.RoleAdmin)
	caseID, visitID, link := scheduleVideoVisit(t, h, officer, time.Now().Add(5*time.Minute))
	var post string
	if err := h.db.QueryRowContext(context.Background(), `SELECT post FROM cases WHERE id = $1`, caseID).Scan(&post); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := h.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM recording_policies`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	shows := func(c *client, path, want string) {
		t.Helper()
		res := c.get(path)
		if body := readBody(t, res); res.StatusCode != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d, want %q", path, res.StatusCode, want)
		}
	}
	notRecorded := func() {
		t.Helper()
		shows(h.anonymous(), link, "This visit is not recorded.")
		shows(officer, "/cases/"+caseID+"/visits/"+visitID+"/call", "This visit is not recorded.")
	}
	shows(officer, "/recording-policies", "No policy set")
	notRecorded()
	if body := readBody(t, h.as(auth.RoleAdmin).get("/recording-policies")); strings.Contains(body, `<option value="consular"`) || strings.Contains(body, `<option value="legal"`) ||
		!strings.Contains(body, `<option value="family"`) {
		t.Error("the policy form offers to record privileged visits, or not family visits")
	}

	consent := url.Values{"post": {post}, "kind": {"consular"}, "policy": {"consent"}, "retention_days": {"30"}, "note": {"Instruction 14"}}
	if res := officer.post("/recording-policies", maps.Clone(consent)); res.StatusCode != http.StatusForbidden {
		t.Errorf("an officer sets a policy: %d", res.StatusCode)
	}
	if res := officer.api("PUT", "/api/v1/recording-policies", `{"post": "`+post+`", "kind": "consular", "policy": "always", "retention_days": 5, "note": "x"}`); res.StatusCode != http.StatusForbidden {
		t.Errorf("an officer sets a policy through the API: %d", res.StatusCode)
	}
	if res := admin.post("/recording-policies", maps.Clone(consent)); res.StatusCode != http.StatusBadRequest || !strings.Contains(readBody(t, res), "never recorded, whatever the policy") {
		t.Errorf("an administrator records consular visits at a post: %d", res.StatusCode)
	}
	for _, kind := range []string{"consular", "legal"} {
		if res := admin.api("PUT", "/api/v1/recording-policies", `{"post": "`+post+`", "kind": "`+kind+`", "policy": "always", "retention_days": 30, "note": "x"}`); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s visits recorded through the API: %d", kind, res.StatusCode)
		}
	}
	if res := admin.api("PUT", "/api/v1/recording-policies", `{"post": "`+post+`", "kind": "family", "policy": "always", "retention_days": 0, "note": "x"}`); res.StatusCode != http.StatusBadRequest {
		t.Errorf("no retention through the API: %d", res.StatusCode)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d policies after refusals", n)
	}

	// A family visit's policy is set; the consular visit stays unrecorded.
	family := url.Values{"post": {post}, "kind": {"family"}, "policy": {"always"}, "retention_days": {"30"}, "note": {"Instruction 14"}}
	if res := admin.post("/recording-policies", family); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("set: %d %s", res.StatusCode, readBody(t, res))
	}
	shows(officer, "/recording-policies", "Instruction 14")
	notRecorded()
	if n := h.auditActions(t)["recording.policy"]; n != 1 {
		t.Errorf("%d policy changes audited, want 1", n)
	}

	// A row that would record consular visits, written into the database
	// by hand, is void.
	if _, err := h.db.ExecContext(context.Background(), `INSERT INTO recording_policies (post, kind, policy, retention_days, note, set_by, set_at)
		VALUES ($1, 'consular', 'always', 30, 'by hand', 'someone', 0)`, post); err != nil {
		t.Fatal(err)
	}
	shows(officer, "/recording-policies", "Void: privileged visits are never recorded")
	notRecorded()

	// Removed: both rows go.
	for _, kind := range []string{"family", "consular"} {
		if res := admin.post("/recording-policies", url.Values{"post": {post}, "kind": {kind}, "note": {"withdrawn"}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("remove %s: %d", kind, res.StatusCode)
		}
	}
	if n := count(); n != 0 {
		t.Errorf("%d policies after the removals", n)
	}
}

// A recording is played decrypted, with byte ranges, to those who may read
// the case, downloaded as kept (encrypted), and each playback and download
// is audited; a legal hold is set from the case.
func TestPlayback(t *testing.T) {
	h := onSQLite(t)
	officer := h.as(auth.RoleConsularOfficer)
	caseID, visitID, _ := scheduleVideoVisit(t, h, officer, time.Now().Add(5*time.Minute))
	dir := filepath.Join(h.rec.Dir, visitID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	tr, err := recording.NewTrack(recording.TrackConfig{Dir: dir, Name: "rec1-link_x-audio", MimeType: "audio/opus", ClockRate: 48000, Keys: h.rec.Keys, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: 9},
			Payload: []byte{0xfc, byte(i), 7, 7, 7}}
		if err := tr.WriteRTP(pkt, start.Add(time.Duration(i)*20*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := tr.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Visits.SaveRecordedFile(context.Background(), visits.RecordedFile{VisitID: visitID, Recording: "rec1", Participant: "link:x",
		Name: "Terminal 3", Role: "detainee", Kind: "audio", Codec: res.Codec, File: visitID + "/" + filepath.Base(res.Path), Size: res.Size,
		SHA256: res.SHA256, Frames: res.Frames, DurationMS: res.Duration.Milliseconds(), StartedAt: start, ClosedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var fileID string
	if err := h.db.QueryRowContext(context.Background(), `SELECT id FROM recordings`).Scan(&fileID); err != nil {
		t.Fatal(err)
	}
	page := "/cases/" + caseID + "/visits/" + visitID + "/recordings/rec1"
	media := page + "/files/" + fileID
	if body := readBody(t, officer.get("/cases/"+caseID)); !strings.Contains(body, `href="`+page+`"`) {
		t.Error("the case does not link the recording")
	}
	res2 := officer.get(page)
	if body := readBody(t, res2); res2.StatusCode != 200 || !strings.Contains(body, "<audio") || !strings.Contains(body, res.SHA256) {
		t.Fatalf("playback page: %d", res2.StatusCode)
	}

	f, err := recording.Open(res.Path, h.rec.Keys)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 100)
	if _, err := f.ReadAt(want, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	officer.header = http.Header{"Range": {"bytes=0-99"}}
	got := officer.get(media)
	officer.header = nil
	if b := readBody(t, got); got.StatusCode != http.StatusPartialContent || got.Header.Get("Content-Type") != "audio/webm" || b != string(want) {
		t.Errorf("a range of the decrypted file: %d %s, %d bytes", got.StatusCode, got.Header.Get("Content-Type"), len(b))
	}
	dl := officer.get(media + "/download")
	enc, _ := os.ReadFile(res.Path)
	if b := readBody(t, dl); dl.StatusCode != 200 || b != string(enc) {
		t.Errorf("download: %d, %d bytes of %d", dl.StatusCode, len(b), len(enc))
	}
	for _, path := range []string{page, media, media + "/download"} {
		if res := h.as(auth.RoleAuditor).get(path); res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusNotFound {
			t.Errorf("an auditor gets %s: %d", path, res.StatusCode)
		}
	}
	if res := officer.get(page + "x"); res.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown recording: %d", res.StatusCode)
	}
	actions := h.auditActions(t)
	if actions["recording.play"] != 1 || actions["recording.stream"] != 1 || actions["recording.download"] != 1 {
		t.Errorf("audited %d plays, %d streams, %d downloads; want one each", actions["recording.play"], actions["recording.stream"], actions["recording.download"])
	}

	// A legal hold, with its reason.
	hold := "/cases/" + caseID + "/visits/" + visitID + "/hold"
	if res := officer.post(hold, url.Values{"hold": {"on"}}); res.StatusCode == http.StatusSeeOther {
		t.Error("a hold without a reason was accepted")
	}
	if res := officer.post(hold, url.Values{"hold": {"on"}, "reason": {"court order 77"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("hold: %d", res.StatusCode)
	}
	var held bool
	if err := h.db.QueryRowContext(context.Background(), `SELECT legal_hold FROM visits WHERE id = $1`, visitID).Scan(&held); err != nil || !held {
		t.Errorf("held %v %v", held, err)
	}
	if body := readBody(t, officer.get("/cases/"+caseID)); !strings.Contains(body, "Lift the legal hold") {
		t.Error("the case does not show the hold")
	}
}

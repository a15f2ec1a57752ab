package calls_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/attache-org/attache/internal/media"
	"github.com/attache-org/attache/internal/recording"
)

// A family visit recorded with everyone's consent goes on being recorded
// when its call moves: the holder killed, the node that takes the call over
// continues the recording in new files on the same timeline, without asking
// again; that node drained, the files it wrote are finished and the third
// node continues. The killed node, started again, finishes the files it
// was writing up to its death. Every file is a valid encrypted WebM of the
// one recording, on its timeline.
func TestRecordingFollowsTheCall(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	b := c.browser(c.nodes[0], "barton")
	var post string
	if err := c.db.QueryRowContext(ctx, `SELECT post FROM users WHERE username = 'barton'`).Scan(&post); err != nil {
		t.Fatal(err)
	}
	officerPath, linkPath := b.videoVisit(1, post, c.addOfficer("host1", post), "family")
	officer := openPage(t, officerPath, b.header, "officer", true, c.nodes...)
	detainee := openPage(t, linkPath+"/ws", nil, "detainee", true, rotate(c.nodes, 1)...)
	detainee.Consent(true)
	// About 50 kB/s a track: after 12 s the killed node's first cluster
	// (0–5 s) lies in complete encryption chunks (64 KiB; the last full one
	// before the kill does not count, nor what was still in memory).
	officer.Pad(1000)
	detainee.Pad(1000)
	admit(t, officer, "Terminal 1", detainee)
	flowing := func(since time.Time) func() bool {
		return func() bool { return officer.Flowing(since, "detainee") && detainee.Flowing(since, "officer") }
	}
	waitFor(t, 20*time.Second, "the call flowing", flowing(time.Now()), officer, detainee)
	if err := officer.Do(media.Message{Type: "record", On: true}); err != nil {
		t.Fatal(err)
	}
	recorded := func() bool { return officer.Recorded() && detainee.Recorded() }
	waitFor(t, 10*time.Second, "the recording running, with the detainee's consent", recorded, officer, detainee)
	var visit, rec string
	var started int64
	if err := c.db.QueryRowContext(ctx, `SELECT visit_id, recording_id, started_at FROM call_recordings`).Scan(&visit, &rec, &started); err != nil {
		t.Fatalf("the running recording is not kept: %v", err)
	}
	time.Sleep(12 * time.Second)

	first := c.nodeOf(c.holderOf(visit))
	killed := time.Now()
	first.Kill()
	waitFor(t, nodeTimeout, "media again after the holder was killed", flowing(killed.Add(inFlight)), officer, detainee)
	waitFor(t, 5*time.Second, "the recording running again on the new holder", recorded, officer, detainee)
	// The killed node starts again and finishes the files it was writing.
	first.Start()
	countFiles := func(want int) func() bool {
		return func() bool {
			var n int
			_ = c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM recordings WHERE recording = $1`, rec).Scan(&n)
			return n == want
		}
	}
	waitFor(t, 10*time.Second, "the killed node's files finished", countFiles(2))
	time.Sleep(2 * time.Second)

	second := c.nodeOf(c.holderOf(visit))
	second.Stop()
	waitFor(t, 20*time.Second, "media again after the new holder was stopped", flowing(time.Now()), officer, detainee)
	waitFor(t, 5*time.Second, "the recording running on the third node", recorded, officer, detainee)
	third := c.nodeOf(c.holderOf(visit))
	// (The test's pages send no real video, whose files would need key
	// frames: each part is the two participants' sound.)
	waitFor(t, 10*time.Second, "the drained node's files kept", countFiles(4))
	time.Sleep(2 * time.Second)
	if err := officer.Do(media.Message{Type: "record", On: false}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the recording stopped", func() bool { return !officer.Recorded() }, officer)

	type part struct {
		file             string
		startMS, started int64
		sha              string
	}
	var parts []part
	waitFor(t, 10*time.Second, "the third node's files kept", func() bool {
		rows, err := c.db.QueryContext(ctx, `SELECT file, start_ms, started_at, sha256 FROM recordings WHERE recording = $1 ORDER BY start_ms`, rec)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		parts = parts[:0]
		for rows.Next() {
			var p part
			if err := rows.Scan(&p.file, &p.startMS, &p.started, &p.sha); err != nil {
				t.Fatal(err)
			}
			parts = append(parts, p)
		}
		return len(parts) == 6
	})
	keys, err := recording.LoadKeys(c.key, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if p.started != started {
			t.Errorf("%s is on another timeline: started %d, want %d", p.file, p.started, started)
		}
		var found bool
		for _, n := range []*node{first, second, third} {
			path := filepath.Join(n.Data, "recordings", p.file)
			if rep, err := recording.Verify(path, keys, p.sha); err == nil {
				found = true
				if rep.Frames == 0 {
					t.Errorf("%s holds no frame", p.file)
				}
			}
		}
		if !found {
			t.Errorf("%s (from %d ms) is not a valid recording on the nodes that held the call", p.file, p.startMS)
		}
	}
	// The parts follow each other on the recording's timeline.
	if parts[0].startMS > 1000 || parts[len(parts)-1].startMS < 4000 {
		t.Errorf("the parts start at %d … %d ms: not after the moves", parts[0].startMS, parts[len(parts)-1].startMS)
	}
	if live, _ := filepath.Glob(filepath.Join(first.Data, "recordings", visit, "*.part")); len(live) != 0 {
		t.Errorf("the killed node left live files: %v", live)
	}
	var open int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM recording_parts`).Scan(&open); err != nil || open != 0 {
		t.Errorf("%d files still kept as being written (%v)", open, err)
	}
	var resumed int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE action = 'recording.resume'`).Scan(&resumed); err != nil || resumed != 2 {
		t.Errorf("%d resumptions audited (%v), want 2", resumed, err)
	}
	var left int
	if err := c.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM call_recordings`).Scan(&left); err != nil || left != 0 {
		t.Errorf("a stopped recording is still kept as running: %d (%v)", left, err)
	}
}

package web

import (
	"github.com/attache-org/attache/internal/calls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/recording"
	"github.com/attache-org/attache/internal/visits"
)

var errNoRecordingKey = problem.New(problem.Conflict, "Recordings cannot be played on this server: it has no recording key.")

// playbackPage plays the tracks of one recording side by side, in sync.
func (s *Server) playbackPage(w http.ResponseWriter, r *http.Request) error {
	files, err := s.Visits.RecordingFiles(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), r.PathValue("rec"))
	if err != nil {
		return err
	}
	v := s.view(r, "Recording")
	v.Data = map[string]any{"Files": files, "CaseID": r.PathValue("id"), "VisitID": r.PathValue("visit"), "Recording": r.PathValue("rec"),
		"Playable": s.recorder() != nil}
	return s.render(w, "playback", v)
}

// recordedFile finds a recorded file the user may read, and its path.
func (s *Server) recordedFile(r *http.Request) (visits.RecordedFile, string, error) {
	if s.recorder() == nil {
		return visits.RecordedFile{}, "", errNoRecordingKey
	}
	f, err := s.Visits.RecordedFileFor(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), r.PathValue("file"))
	if err != nil {
		return f, "", err
	}
	if f.Recording != r.PathValue("rec") || !filepath.IsLocal(f.File) {
		return f, "", problem.New(problem.NotFound, "No such recording (it may have been purged).")
	}
	return f, filepath.Join(s.recorder().Dir, f.File), nil
}

// recordingMedia streams a recorded file decrypted, with byte ranges, for
// the player. Every request is audited: a range is as much a playback as
// the whole file.
func (s *Server) recordingMedia(w http.ResponseWriter, r *http.Request) error {
	f, path, err := s.recordedFile(r)
	if err != nil {
		return err
	}
	file, err := recording.Open(path, s.recorder().Keys)
	if err != nil {
		return err
	}
	defer file.Close()
	if err := s.Visits.AuditRecordingAccess(r.Context(), s.actor(r), r.PathValue("id"), f, "recording.stream"); err != nil {
		return err
	}
	w.Header().Set("Content-Type", f.Kind+"/webm")
	w.Header().Set("Cache-Control", "no-store")
	extendWrite(w)
	http.ServeContent(w, r, "", f.ClosedAt, io.NewSectionReader(file, 0, file.Size()))
	return nil
}

// recordingDownload sends the original encrypted file, as kept; audited.
// `attache recording verify` checks a copy against its SHA-256.
func (s *Server) recordingDownload(w http.ResponseWriter, r *http.Request) error {
	f, path, err := s.recordedFile(r)
	if err != nil {
		return err
	}
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	if err := s.Visits.AuditRecordingAccess(r.Context(), s.actor(r), r.PathValue("id"), f, "recording.download"); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filepath.Base(f.File)+`"`)
	w.Header().Set("Cache-Control", "no-store")
	extendWrite(w)
	http.ServeContent(w, r, "", f.ClosedAt, file)
	return nil
}

// extendWrite gives a large file the time it takes, past the server's
// write timeout for pages.
func extendWrite(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(2 * time.Hour))
}

// legalHold puts a visit's recordings, or the case's, under legal hold or
// lifts it.
func (s *Server) legalHold(w http.ResponseWriter, r *http.Request) error {
	return s.caseAction(w, r, "visits", "visit-saved", func() error {
		return s.Visits.SetLegalHold(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), r.PostFormValue("hold") == "on",
			strings.TrimSpace(r.PostFormValue("reason")))
	})
}

// recorder is the calls' recorder: nil without a recording key.
func (s *Server) recorder() *calls.Recorder {
	if s.Calls == nil {
		return nil
	}
	return s.Calls.Recorder()
}

package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/problem"
)

// auditFilter reads the audit page's filter from the query string.
func auditFilter(r *http.Request) (audit.Filter, error) {
	q := r.URL.Query()
	f := audit.Filter{ObjectType: q.Get("object_type"), ObjectID: q.Get("object_id"), ActorID: q.Get("actor_id"), Limit: 50}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 1 {
			return f, problem.Field("before", "Give an entry number (a positive whole number).")
		}
		f.Before = n
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return f, problem.Field("limit", "Give a number from 1 to 1000.")
		}
		f.Limit = n
	}
	return f, nil
}

// readAudit lists entries and records that the caller read them: reading
// the audit log is itself audited.
func (s *Server) readAudit(r *http.Request) ([]audit.Entry, audit.Filter, error) {
	f, err := auditFilter(r)
	if err != nil {
		return nil, f, err
	}
	entries, err := s.Audit.List(r.Context(), f)
	if err != nil {
		return nil, f, err
	}
	detail := fmt.Sprintf("object_type=%q object_id=%q actor_id=%q before=%d", f.ObjectType, f.ObjectID, f.ActorID, f.Before)
	if err := s.Audit.Record(r.Context(), audit.Entry{Actor: stateOf(r).actor(), Action: "audit.view", ObjectType: "audit_log", Detail: detail}); err != nil {
		return nil, f, err
	}
	return entries, f, nil
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) error {
	entries, f, err := s.readAudit(r)
	if err != nil {
		return err
	}
	return s.renderAudit(w, r, entries, f, nil)
}

func (s *Server) renderAudit(w http.ResponseWriter, r *http.Request, entries []audit.Entry, f audit.Filter, report *audit.Report) error {
	v := s.view(r, "Audit log")
	v.Form.Values = map[string]string{"object_type": f.ObjectType, "object_id": f.ObjectID, "actor_id": f.ActorID}
	var older int64
	if len(entries) == f.Limit && len(entries) > 0 {
		older = entries[len(entries)-1].Seq
	}
	v.Data = map[string]any{"Entries": entries, "Older": older, "Report": report}
	return s.render(w, "audit", v)
}

func (s *Server) verify(r *http.Request) (audit.Report, error) {
	rep, err := s.Audit.Verify(r.Context())
	if err != nil {
		return rep, err
	}
	detail := fmt.Sprintf("entries=%d whole=%v broken_at=%d", rep.Entries, rep.OK(), rep.BrokenAt)
	if err := s.Audit.Record(r.Context(), audit.Entry{Actor: stateOf(r).actor(), Action: "audit.verify", ObjectType: "audit_log", Detail: detail}); err != nil {
		return rep, err
	}
	return rep, nil
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.verify(r)
	if err != nil {
		return err
	}
	entries, err := s.Audit.List(r.Context(), audit.Filter{Limit: 50})
	if err != nil {
		return err
	}
	return s.renderAudit(w, r, entries, audit.Filter{Limit: 50}, &rep)
}

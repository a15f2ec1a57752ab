package web

import (
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/attache-org/attache/internal/problem"
)

// status maps a problem kind to its HTTP status.
func status(k problem.Kind) int {
	switch k {
	case problem.Invalid:
		return http.StatusBadRequest
	case problem.NotFound:
		return http.StatusNotFound
	case problem.Forbidden:
		return http.StatusForbidden
	case problem.Unauthorized:
		return http.StatusUnauthorized
	case problem.Conflict:
		return http.StatusConflict
	case problem.RateLimited:
		return http.StatusTooManyRequests
	case problem.TooLarge:
		return http.StatusRequestEntityTooLarge
	case problem.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// apiError is the JSON body of every API error.
type apiError struct {
	Error struct {
		Code      string            `json:"code"`
		Message   string            `json:"message"`
		Fields    map[string]string `json:"fields,omitempty"`
		RequestID string            `json:"request_id"`
	} `json:"error"`
}

// fail turns err into the response: a safe message for the user, in HTML
// or JSON as the route speaks, and the whole error in the log when it is
// not the user's concern.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	st := stateOf(r)
	pe, ok := problem.As(err)
	switch {
	case ok:
	case r.Context().Err() != nil:
		// The client went away: nothing failed on our side, and nobody
		// reads an answer. Logged and counted as 499, as proxies do.
		s.Log.Debug("request abandoned by the client", slog.String("error", err.Error()), slog.String("path", loggedPath(r)),
			slog.String("request_id", st.id))
		w.WriteHeader(statusClientClosed)
		return
	case databaseDown(err):
		s.Log.Warn("request failed: the database cannot be reached", slog.String("error", err.Error()), slog.String("path", loggedPath(r)),
			slog.String("request_id", st.id))
		pe = problem.New(problem.Unavailable, "The service cannot reach its database just now. Try again in a moment.")
		pe.RetryAfter = 5
	default:
		s.Log.Error("request failed", slog.String("error", err.Error()), slog.String("method", r.Method),
			slog.String("path", loggedPath(r)), slog.String("request_id", st.id))
		pe = problem.New(problem.Internal, "Something went wrong on our side. The error was logged with reference %s.", st.id)
	}
	code := status(pe.Kind)
	if (pe.Kind == problem.RateLimited || pe.Kind == problem.Unavailable) && pe.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(pe.RetryAfter))
	}
	tr := func(msg string, args ...any) string { return s.Catalog.T(st.lang, msg, args...) }
	if st.api {
		var body apiError
		body.Error.Code, body.Error.Message, body.Error.RequestID = string(pe.Kind), pe.Localize(tr), st.id
		body.Error.Fields = pe.LocalizeFields(tr)
		if pe.Kind == problem.Unauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="attache"`)
		}
		writeJSON(w, code, body)
		return
	}
	if pe.Kind == problem.Unauthorized && r.Method == http.MethodGet {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	v := s.view(r, "Error")
	v.Data = map[string]any{"Status": code, "Message": pe.Localize(tr), "Fields": pe.LocalizeFields(tr)}
	if err := s.renderStatus(w, code, "error", v); err != nil {
		s.Log.Error("render error page", slog.String("error", err.Error()), slog.String("request_id", st.id))
		http.Error(w, http.StatusText(code), code)
	}
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	st := stateOf(r)
	st.api = len(r.URL.Path) >= 5 && r.URL.Path[:5] == "/api/"
	s.fail(w, r, problem.New(problem.NotFound, "There is no page at this address."))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// statusClientClosed is what a request the client abandoned is logged and
// counted as (nginx's convention): not a failure of ours.
const statusClientClosed = 499

// databaseDown reports whether err says the database cannot be reached
// (refused, reset, timed out, closed), rather than that a query was wrong.
func databaseDown(err error) bool {
	var op *net.OpError
	var conn *pgconn.ConnectError
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.As(err, &op) || errors.As(err, &conn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

package web

import (
	"net/http"
	"sync"
	"time"

	"github.com/attache-org/attache/internal/media"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/visits"
)

// joinLimiter slows guessing of join links: an address with too many
// unknown tokens in a window is refused until the window ends.
type joinLimiter struct {
	mu       sync.Mutex
	failures map[string][]time.Time
}

const (
	joinFailures = 20
	joinWindow   = 10 * time.Minute
)

func (l *joinLimiter) blocked(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failures == nil {
		l.failures = map[string][]time.Time{}
	}
	kept := l.failures[addr][:0]
	for _, t := range l.failures[addr] {
		if now.Sub(t) < joinWindow {
			kept = append(kept, t)
		}
	}
	l.failures[addr] = kept
	return len(kept) >= joinFailures
}

func (l *joinLimiter) fail(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures[addr] = append(l.failures[addr], now)
}

// admit checks the request's join link, throttling addresses that guess.
func (s *Server) admit(r *http.Request) (*visits.Admission, error) {
	st := stateOf(r)
	now := time.Now()
	if s.joins.blocked(st.address, now) {
		e := problem.New(problem.RateLimited, "Too many invalid links from this address. Try again in ten minutes.")
		e.RetryAfter = int(joinWindow.Seconds())
		return nil, e
	}
	ad, err := s.Visits.Admit(r.Context(), r.PathValue("token"), st.address)
	if problem.Is(err, problem.NotFound) {
		s.joins.fail(st.address, now)
	}
	return ad, err
}

// joinPage is the page a join link opens: who the holder is, when the
// visit opens, that it is monitored and not recorded, and a check of the
// camera, microphone and network before joining.
func (s *Server) joinPage(w http.ResponseWriter, r *http.Request) error {
	ad, err := s.admit(r)
	v := s.view(r, "Join the visit")
	if err != nil && ad == nil {
		return err
	}
	over := err == visits.ErrVisitOver || (ad != nil && s.Media != nil && s.Media.Ended(ad.VisitID))
	data := map[string]any{"Admission": ad, "Over": over}
	if ad != nil {
		data["Video"] = visits.IsVideo(ad.Modality)
		data["Publish"] = media.Role(ad.Role).Publishes()
		data["CanEnd"] = media.Role(ad.Role) == media.RoleMonitor // the monitor can cut the call, visibly
		data["Socket"] = r.URL.Path + "/ws"
		data["Ends"] = ad.Ends
		data["Recording"] = ad.Recording
	}
	v.Data = data
	return s.render(w, "join", v)
}

func (s *Server) createLink(w http.ResponseWriter, r *http.Request) error {
	token, _, err := s.Visits.CreateLink(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), r.PostFormValue("role"), r.PostFormValue("name"))
	if err != nil {
		return s.caseAction(w, r, "visits", "", func() error { return err })
	}
	v := s.view(r, "Case")
	v.Form.Values["new_link"] = s.Config.PublicURL() + "/join/" + token
	return s.renderCase(w, r, http.StatusCreated, v, "visits")
}

func (s *Server) revokeLink(w http.ResponseWriter, r *http.Request) error {
	return s.caseAction(w, r, "visits", "visit-saved", func() error {
		visit, link := r.PathValue("visit"), r.PathValue("link")
		if err := s.Visits.RevokeLink(r.Context(), s.actor(r), r.PathValue("id"), visit, link); err != nil {
			return err
		}
		// A withdrawn link's holder leaves the call at once.
		if s.Media != nil {
			s.Media.Remove(visit, "link:"+link)
		}
		return nil
	})
}

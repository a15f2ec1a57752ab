package web

import (
	"net/http"

	"github.com/attache-org/attache/internal/media"
	"github.com/attache-org/attache/internal/visits"
)

// joinPage is the page a join link opens: who the holder is, when the
// visit opens, that it is monitored and not recorded, and a check of the
// camera, microphone and network before joining.
func (s *Server) joinPage(w http.ResponseWriter, r *http.Request) error {
	if s.Calls == nil {
		return errCallsOff
	}
	ad, err := s.Calls.Admit(r.Context(), r.PathValue("token"), stateOf(r).address)
	if ad != nil {
		// The link's language, unless its holder switched.
		st := stateOf(r)
		st.lang = s.Catalog.Match(s.chosenLang(r, ad.Lang), r.Header.Get("Accept-Language"))
	}
	v := s.view(r, "Join the visit")
	if err != nil && ad == nil {
		return err
	}
	over := err == visits.ErrVisitOver
	if ad != nil && !over {
		if over, _, err = s.Calls.Over(r.Context(), ad.VisitID); err != nil {
			return err
		}
	}
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
	token, _, err := s.Visits.CreateLink(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("visit"), r.PostFormValue("role"), r.PostFormValue("name"),
		r.PostFormValue("lang"))
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
		if s.Calls != nil {
			s.Calls.RemoveLink(r.Context(), visit, link)
		}
		return nil
	})
}

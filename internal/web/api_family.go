package web

import (
	"net/http"

	"github.com/attache-org/attache/internal/family"
)

// apiCaseFamily is a case's family channel for staff: its contacts
// (archived ones included), consent records and the messages waiting for
// delivery to the detainee.
func (s *Server) apiCaseFamily(w http.ResponseWriter, r *http.Request) error {
	ctx, a, id := r.Context(), s.actor(r), r.PathValue("id")
	contacts, err := s.Family.Contacts(ctx, a, id, true)
	if err != nil {
		return err
	}
	consents, err := s.Family.Consents(ctx, a, id)
	if err != nil {
		return err
	}
	queue, err := s.Family.Queue(ctx, a, id)
	if err != nil {
		return err
	}
	exceptions, err := s.Family.Exceptions(ctx, a, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"contacts": orEmpty(contacts), "consents": orEmpty(consents), "queue": orEmpty(queue),
		"exceptions": orEmpty(exceptions)})
	return nil
}

// apiAuthorizeException records a disclosure without consent: supervisors.
func (s *Server) apiAuthorizeException(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ContactID     string            `json:"contact_id"`
		Categories    []family.Category `json:"categories"`
		Reason        string            `json:"reason"`
		Justification string            `json:"justification"`
		Days          int               `json:"days"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	e, err := s.Family.AuthorizeException(r.Context(), s.actor(r), r.PathValue("id"), family.ExceptionInput(in))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, e)
	return nil
}

func (s *Server) apiEndException(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Note string `json:"note"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return noContent(w, s.Family.EndException(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("exception"), in.Note))
}

// orEmpty makes a nil list an empty JSON array.
func orEmpty[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

func (s *Server) apiAddFamilyContact(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name         string   `json:"name"`
		Relationship string   `json:"relationship"`
		Languages    []string `json:"languages"`
		Email        string   `json:"email"`
		Phone        string   `json:"phone"`
		Designated   bool     `json:"designated"`
		Notes        string   `json:"notes"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, err := s.Family.AddContact(r.Context(), s.actor(r), r.PathValue("id"), family.ContactInput(in))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) apiRecordConsent(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Recipients []string          `json:"recipients"` // contact ids
		Categories []family.Category `json:"categories"`
		Given      string            `json:"given"` // YYYY-MM-DD
		Method     string            `json:"method"`
		MethodNote string            `json:"method_note"`
		VisitID    string            `json:"visit_id"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	c, err := s.Family.RecordConsent(r.Context(), s.actor(r), r.PathValue("id"), family.ConsentInput(in))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) apiWithdrawConsent(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Date    string `json:"date"` // YYYY-MM-DD
		Method  string `json:"method"`
		Note    string `json:"note"`
		VisitID string `json:"visit_id"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return noContent(w, s.Family.WithdrawConsent(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("consent"),
		family.Withdrawal{Date: in.Date, Method: in.Method, Note: in.Note, VisitID: in.VisitID}))
}

// apiRecordFromDetainee records a message the detainee gave for a contact;
// it is held until released.
func (s *Server) apiRecordFromDetainee(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ContactID string `json:"contact_id"`
		VisitID   string `json:"visit_id"`
		Text      string `json:"text"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	m, err := s.Family.RecordFromDetainee(r.Context(), s.actor(r), r.PathValue("id"), in.ContactID, in.VisitID, in.Text)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, m)
	return nil
}

func (s *Server) apiMessageDelivered(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		VisitID string `json:"visit_id"`
		How     string `json:"how"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return noContent(w, s.Family.Delivered(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("msg"), in.VisitID, in.How))
}

func (s *Server) apiMessageNotDelivered(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	return noContent(w, s.Family.NotDelivered(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("msg"), in.Reason))
}

// apiReleaseMessage takes no body.
func (s *Server) apiReleaseMessage(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.Family.Release(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("msg")))
}

// apiPortal is the family member's pages as JSON: for each of their cases,
// what consent lets them see, and why the rest is withheld.
func (s *Server) apiPortal(w http.ResponseWriter, r *http.Request) error {
	list, err := s.portal(r, "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"cases": list})
	return nil
}

// apiWriteFamilyMessage is a family member writing to the detainee; it
// answers with the message as they see it.
func (s *Server) apiWriteFamilyMessage(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Text string `json:"text"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	m, err := s.Family.WriteMessage(r.Context(), s.actor(r), r.PathValue("id"), in.Text)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, family.PortalMessage{ID: m.ID, Direction: m.Direction, Text: m.Text, Status: m.Status, Written: m.Created})
	return nil
}

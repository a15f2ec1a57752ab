package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/export"
	"github.com/attache-org/attache/internal/family"
	"github.com/attache-org/attache/internal/problem"
	"github.com/attache-org/attache/internal/visits"
)

// familyFlashes are the messages shown after a family page's change.
var familyFlashes = map[string]string{
	"family-contact-added":         "The contact was added.",
	"family-contact-saved":         "The contact was saved.",
	"family-contact-archived":      "The contact was archived: nothing more is shared with them.",
	"family-consent-recorded":      "The consent was recorded.",
	"family-consent-withdrawn":     "The consent was withdrawn: it no longer counts.",
	"family-consents-withdrawn":    "Every consent of the case was withdrawn: nothing is shared with the family.",
	"family-invite-revoked":        "The invitation was withdrawn.",
	"family-message-delivered":     "The message was marked delivered.",
	"family-message-not-delivered": "The message was marked not delivered; its writer sees the reason.",
	"family-message-recorded":      "The detainee's message was recorded. It is held until it is released to the family.",
	"family-message-released":      "The message was released to the family.",
	"family-summary-written":       "The summary was written.",
	"family-exception-authorised":  "The disclosure without consent was authorised. It is in the case's audit log.",
	"family-exception-ended":       "The disclosure without consent was ended: what it covered is withheld again.",
	"family-welcome":               "Welcome. Your account is ready.",
	"family-message-sent":          "Your message was sent to the consulate, which will pass it on.",
}

// familyRoutes are the family channel's pages and API.
func (s *Server) familyRoutes() []Route {
	return []Route{
		// The case page's family section, for staff.
		{"GET", "/cases/{id}/family", auth.ReadCase, false, s.caseFamilyPage},
		{"POST", "/cases/{id}/family/contacts", auth.UpdateCase, false, s.addFamilyContact},
		{"POST", "/cases/{id}/family/contacts/{contact}", auth.UpdateCase, false, s.updateFamilyContact},
		{"POST", "/cases/{id}/family/contacts/{contact}/archive", auth.UpdateCase, false, s.archiveFamilyContact},
		{"POST", "/cases/{id}/family/contacts/{contact}/invite", auth.UpdateCase, false, s.inviteFamilyContact},
		{"GET", "/cases/{id}/family/contacts/{contact}/update.pdf", auth.UpdateCase, false, s.familyUpdatePDF},
		{"POST", "/cases/{id}/family/invitations/{inv}/revoke", auth.UpdateCase, false, s.revokeFamilyInvitation},
		{"POST", "/cases/{id}/family/consents", auth.UpdateCase, false, s.recordConsent},
		{"POST", "/cases/{id}/family/consents/{consent}/withdraw", auth.UpdateCase, false, s.withdrawConsent},
		{"POST", "/cases/{id}/family/consents/withdraw-all", auth.UpdateCase, false, s.withdrawAllConsents},
		{"POST", "/cases/{id}/family/messages", auth.UpdateCase, false, s.recordFromDetainee},
		{"POST", "/cases/{id}/family/messages/{msg}/delivered", auth.UpdateCase, false, s.messageDelivered},
		{"POST", "/cases/{id}/family/messages/{msg}/not-delivered", auth.UpdateCase, false, s.messageNotDelivered},
		{"POST", "/cases/{id}/family/messages/{msg}/release", auth.UpdateCase, false, s.releaseMessage},
		{"POST", "/cases/{id}/family/summaries", auth.UpdateCase, false, s.writeSummary},
		{"POST", "/cases/{id}/family/exceptions", auth.AuthorizeDisclosure, false, s.authorizeException},
		{"POST", "/cases/{id}/family/exceptions/{exception}/end", auth.UpdateCase, false, s.endException},

		// Invitations and the family member's own pages.
		{"GET", "/family/invite/{token}", auth.Public, false, s.invitePage},
		{"POST", "/family/invite/{token}", auth.Public, false, s.acceptInvite},
		{"GET", "/family", auth.FamilyPortal, false, s.portalPage},
		{"GET", "/family/cases/{id}", auth.FamilyPortal, false, s.portalCasePage},
		{"POST", "/family/cases/{id}/messages", auth.FamilyPortal, false, s.writeFamilyMessage},

		{"GET", "/api/v1/cases/{id}/family", auth.ReadCase, true, s.apiCaseFamily},
		{"POST", "/api/v1/cases/{id}/family/contacts", auth.UpdateCase, true, s.apiAddFamilyContact},
		{"POST", "/api/v1/cases/{id}/family/consents", auth.UpdateCase, true, s.apiRecordConsent},
		{"POST", "/api/v1/cases/{id}/family/consents/{consent}/withdraw", auth.UpdateCase, true, s.apiWithdrawConsent},
		{"POST", "/api/v1/cases/{id}/family/messages", auth.UpdateCase, true, s.apiRecordFromDetainee},
		{"POST", "/api/v1/cases/{id}/family/messages/{msg}/delivered", auth.UpdateCase, true, s.apiMessageDelivered},
		{"POST", "/api/v1/cases/{id}/family/messages/{msg}/not-delivered", auth.UpdateCase, true, s.apiMessageNotDelivered},
		{"POST", "/api/v1/cases/{id}/family/messages/{msg}/release", auth.UpdateCase, true, s.apiReleaseMessage},
		{"POST", "/api/v1/cases/{id}/family/exceptions", auth.AuthorizeDisclosure, true, s.apiAuthorizeException},
		{"POST", "/api/v1/cases/{id}/family/exceptions/{exception}/end", auth.UpdateCase, true, s.apiEndException},
		{"GET", "/api/v1/family", auth.FamilyPortal, true, s.apiPortal},
		{"POST", "/api/v1/family/cases/{id}/messages", auth.FamilyPortal, true, s.apiWriteFamilyMessage},
	}
}

// familyForm is a family form that failed, carried to the page that shows
// it again: which form (Key, e.g. "contact:new" or "consent:<id>"), what
// was posted, the error of each field and the refusal of the whole form.
// It also carries an invitation link just made, shown once.
type familyForm struct {
	Key     string
	values  url.Values
	errors  map[string]string
	refusal string
	Link    string // the new invitation's link
	Mailed  string // the address it was sent to
	Expires time.Time
}

type familyFormKey struct{}

func withFamilyForm(r *http.Request, f *familyForm) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), familyFormKey{}, f))
}

func familyFormOf(r *http.Request) *familyForm {
	if f, ok := r.Context().Value(familyFormKey{}).(*familyForm); ok {
		return f
	}
	return &familyForm{}
}

// Is reports whether key is the form that failed.
func (f *familyForm) Is(key string) bool { return f.Key != "" && f.Key == key }

// Val is what was posted in a field of the form that failed, else def.
func (f *familyForm) Val(key, name, def string) string {
	if f.Is(key) {
		return f.values.Get(name)
	}
	return def
}

// Checked says whether a checkbox was ticked in the form that failed.
func (f *familyForm) Checked(key, name, value string) bool {
	return f.Is(key) && slices.Contains(f.values[name], value)
}

// Err is the error of a field of the form, if it is the one that failed.
func (f *familyForm) Err(key, name string) string {
	if f.Is(key) {
		return f.errors[name]
	}
	return ""
}

// Refusal is why the service refused the form, if it is the one that failed.
func (f *familyForm) Refusal(key string) string {
	if f.Is(key) {
		return f.refusal
	}
	return ""
}

// refusedForm turns a refusal of the service that the user can act on
// (bad input, no consent, a conflict) into the failed form; other errors
// (no such case, internal) are returned as they are.
func (s *Server) refusedForm(r *http.Request, key string, err error) (*familyForm, int, error) {
	pe, ok := problem.As(err)
	if !ok || (pe.Kind != problem.Invalid && pe.Kind != problem.Forbidden && pe.Kind != problem.Conflict) {
		return nil, 0, err
	}
	tr := s.tr(r)
	f := &familyForm{Key: key, values: r.PostForm, errors: pe.LocalizeFields(tr)}
	f.refusal = pe.Localize(tr)
	return f, status(pe.Kind), nil
}

// familyAction runs a change of the case page's family section and returns
// to the section, or shows the page again with the form's errors or the
// service's refusal next to the form (key names it).
func (s *Server) familyAction(w http.ResponseWriter, r *http.Request, key, flash string, change func() error) error {
	// The form is read before the change reads r.PostForm: a request whose
	// CSRF token came in the header has not had it read yet.
	if err := r.ParseForm(); err != nil {
		return problem.Field("form", "The form could not be read.")
	}
	err := change()
	if err == nil {
		back := "/cases/" + r.PathValue("id") + "#family"
		// The visit page delivers messages too, and returns there.
		if b := r.PostFormValue("back"); strings.HasPrefix(b, "/cases/"+r.PathValue("id")+"/visits/") && !strings.ContainsAny(b, "\\?") {
			back = b
		}
		s.redirectFlash(w, r, back, flash)
		return nil
	}
	f, code, err := s.refusedForm(r, key, err)
	if err != nil {
		return err
	}
	return s.renderCase(w, withFamilyForm(r, f), code, s.view(r, "Case"), "family")
}

// caseFamilyView is the case page's family section.
type caseFamilyView struct {
	Contacts  []family.Contact // not archived, the designated one first
	Archived  []family.Contact
	Consents  []family.Consent // active
	Withdrawn []family.Consent
	// Invited maps a contact to their pending invitation.
	Invited     map[string]*family.Invitation
	Invitations []family.Invitation // pending
	Queue       []family.Message    // to the detainee, waiting
	Held        []family.Message    // from the detainee, not yet released
	History     []family.Message    // the latest messages, newest first
	Summaries   []family.Summary
	// Exceptions are the disclosures without consent that count; Past
	// those ended, expired, lapsed or void.
	Exceptions, PastExceptions []family.Exception
	// CanAuthorize says whether the user may authorise one, for at most
	// MaxDays.
	CanAuthorize bool
	MaxDays      int
	// Visits are the case's visits a message can be delivered, or consent
	// given, at.
	Visits []visits.Visit
	Form   *familyForm
	// Elsewhere is the refusal of a form that is no longer on the page
	// (a message delivered meanwhile), shown at the top of the section.
	Elsewhere string
}

// onPage reports whether the form key names is on the page.
func (f *caseFamilyView) onPage(key string) bool {
	kind, id, _ := strings.Cut(key, ":")
	has := func(n int, idOf func(int) string) bool {
		for i := range n {
			if idOf(i) == id {
				return true
			}
		}
		return false
	}
	switch kind {
	case "contact", "archive", "invite":
		return has(len(f.Contacts), func(i int) string { return f.Contacts[i].ID })
	case "withdraw":
		return id == "all" && len(f.Consents) > 0 || has(len(f.Consents), func(i int) string { return f.Consents[i].ID })
	case "revoke":
		return has(len(f.Invitations), func(i int) string { return f.Invitations[i].ID })
	case "delivered", "not-delivered":
		return has(len(f.Queue), func(i int) string { return f.Queue[i].ID })
	case "release":
		return has(len(f.Held), func(i int) string { return f.Held[i].ID })
	case "end-exception":
		return has(len(f.Exceptions), func(i int) string { return f.Exceptions[i].ID })
	case "exception":
		return f.CanAuthorize
	}
	return true
}

// Fields is one form of the section, for its template: key names the form
// (e.g. "consent:new", "contact:<id>"), contact is the contact it edits
// (a family.Contact) or nil.
func (f *caseFamilyView) Fields(v *view, key string, contact any) familyFields {
	x := familyFields{V: v, Key: key, form: f.Form, Visits: f.Visits}
	if c, ok := contact.(family.Contact); ok {
		x.contact = &c
	}
	return x
}

// familyFields is one form of the case page's family section.
type familyFields struct {
	V       *view
	Key     string
	form    *familyForm
	contact *family.Contact
	Visits  []visits.Visit
}

// ID is the id of the form's element for a field, unique on the page.
func (x familyFields) ID(name string) string {
	return "f-" + strings.ReplaceAll(x.Key, ":", "-") + "-" + name
}

// Failed reports whether this form is the one that failed.
func (x familyFields) Failed() bool { return x.form.Is(x.Key) }

// Value is what was posted in a field if this form failed, else the
// contact's (on a contact's form), else "".
func (x familyFields) Value(name string) string {
	if x.Failed() {
		return x.form.values.Get(name)
	}
	c := x.contact
	if c == nil {
		return ""
	}
	switch name {
	case "name":
		return c.Name
	case "relationship":
		return c.Relationship
	case "languages":
		return strings.Join(c.Languages, " ")
	case "email":
		return c.Email
	case "phone":
		return c.Phone
	case "notes":
		return c.Notes
	case "designated":
		if c.Designated {
			return "on"
		}
	}
	return ""
}

// Checked says whether a checkbox was ticked when this form failed.
func (x familyFields) Checked(name, value string) bool {
	return x.form.Checked(x.Key, name, value)
}

// Err is a field's error, if this form failed.
func (x familyFields) Err(name string) string { return x.form.Err(x.Key, name) }

// Refusal is why the service refused this form.
func (x familyFields) Refusal() string { return x.form.Refusal(x.Key) }

// historyLength is how many messages the case page lists as history.
const historyLength = 20

// caseFamily loads the case page's family section through the family
// service, which audits each read.
func (s *Server) caseFamily(r *http.Request, c *cases.Case, booked []visits.Visit) (*caseFamilyView, error) {
	if s.Family == nil {
		return nil, nil
	}
	sec, err := s.Family.Section(r.Context(), s.actor(r), c.ID)
	if err != nil {
		return nil, err
	}
	contacts, consents, invitations, messages, summaries := sec.Contacts, sec.Consents, sec.Invitations, sec.Messages, sec.Summaries
	fv := &caseFamilyView{Invited: map[string]*family.Invitation{}, Summaries: summaries, Form: familyFormOf(r),
		CanAuthorize: s.policy.Can(stateOf(r).user, auth.AuthorizeDisclosure, c.Scope()), MaxDays: family.MaxExceptionDays}
	for _, e := range sec.Exceptions {
		if e.State == family.ExceptionActive {
			fv.Exceptions = append(fv.Exceptions, e)
		} else {
			fv.PastExceptions = append(fv.PastExceptions, e)
		}
	}
	for _, ct := range contacts {
		if ct.Archived.IsZero() {
			fv.Contacts = append(fv.Contacts, ct)
		} else {
			fv.Archived = append(fv.Archived, ct)
		}
	}
	for _, cs := range consents {
		if cs.Active() {
			fv.Consents = append(fv.Consents, cs)
		} else {
			fv.Withdrawn = append(fv.Withdrawn, cs)
		}
	}
	now := time.Now()
	for i, inv := range invitations {
		if inv.State(now) == "pending" {
			fv.Invitations = append(fv.Invitations, inv)
			if fv.Invited[inv.ContactID] == nil {
				fv.Invited[inv.ContactID] = &invitations[i]
			}
		}
	}
	for _, m := range messages {
		switch {
		case m.Direction == family.ToDetainee && m.Status == "waiting":
			fv.Queue = append(fv.Queue, m)
		case m.Direction == family.FromDetainee && m.Status == "held":
			fv.Held = append(fv.Held, m)
		}
	}
	for i := len(messages) - 1; i >= 0 && len(fv.History) < historyLength; i-- {
		fv.History = append(fv.History, messages[i])
	}
	for _, v := range booked {
		switch v.Status {
		case "planned", "confirmed", "in_progress", "held":
			fv.Visits = append(fv.Visits, v)
		}
	}
	if fv.Form.Key != "" && !fv.onPage(fv.Form.Key) {
		fv.Elsewhere = fv.Form.refusal
	}
	return fv, nil
}

// caseFamilyPage is where the family service's e-mails to officers lead:
// the family section of the case page.
func (s *Server) caseFamilyPage(w http.ResponseWriter, r *http.Request) error {
	http.Redirect(w, r, "/cases/"+url.PathEscape(r.PathValue("id"))+"#family", http.StatusSeeOther)
	return nil
}

func contactFromForm(r *http.Request) family.ContactInput {
	return family.ContactInput{Name: r.PostFormValue("name"), Relationship: r.PostFormValue("relationship"),
		Languages: strings.Fields(strings.ReplaceAll(r.PostFormValue("languages"), ",", " ")), Email: r.PostFormValue("email"),
		Phone: r.PostFormValue("phone"), Designated: r.PostFormValue("designated") == "on", Notes: r.PostFormValue("notes")}
}

func categoriesOf(codes []string) []family.Category {
	out := make([]family.Category, 0, len(codes))
	for _, c := range codes {
		out = append(out, family.Category(c))
	}
	return out
}

func (s *Server) addFamilyContact(w http.ResponseWriter, r *http.Request) error {
	return s.familyAction(w, r, "contact:new", "family-contact-added", func() error {
		_, err := s.Family.AddContact(r.Context(), s.actor(r), r.PathValue("id"), contactFromForm(r))
		return err
	})
}

func (s *Server) updateFamilyContact(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("contact")
	return s.familyAction(w, r, "contact:"+id, "family-contact-saved", func() error {
		_, err := s.Family.UpdateContact(r.Context(), s.actor(r), r.PathValue("id"), id, contactFromForm(r))
		return err
	})
}

func (s *Server) archiveFamilyContact(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("contact")
	return s.familyAction(w, r, "archive:"+id, "family-contact-archived", func() error {
		return s.Family.ArchiveContact(r.Context(), s.actor(r), r.PathValue("id"), id, r.PostFormValue("reason"))
	})
}

// inviteFamilyContact makes an invitation and shows its link once, as the
// visit join links are shown; the service e-mails it to the contact.
func (s *Server) inviteFamilyContact(w http.ResponseWriter, r *http.Request) error {
	contactID := r.PathValue("contact")
	path, inv, err := s.Family.Invite(r.Context(), s.actor(r), r.PathValue("id"), contactID)
	key := "invite:" + contactID
	if err != nil {
		f, code, err := s.refusedForm(r, key, err)
		if err != nil {
			return err
		}
		for _, msg := range f.errors { // the invite form has no fields: say it in words
			f.refusal = s.Catalog.T(stateOf(r).lang, msg)
		}
		return s.renderCase(w, withFamilyForm(r, f), code, s.view(r, "Case"), "family")
	}
	f := &familyForm{Key: key, Link: s.Config.PublicURL() + path, Mailed: inv.Email, Expires: inv.Expires}
	return s.renderCase(w, withFamilyForm(r, f), http.StatusCreated, s.view(r, "Case"), "family")
}

func (s *Server) revokeFamilyInvitation(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("inv")
	return s.familyAction(w, r, "revoke:"+id, "family-invite-revoked", func() error {
		return s.Family.RevokeInvitation(r.Context(), s.actor(r), r.PathValue("id"), id)
	})
}

func (s *Server) recordConsent(w http.ResponseWriter, r *http.Request) error {
	return s.familyAction(w, r, "consent:new", "family-consent-recorded", func() error {
		_, err := s.Family.RecordConsent(r.Context(), s.actor(r), r.PathValue("id"), family.ConsentInput{Recipients: r.PostForm["recipients"],
			Categories: categoriesOf(r.PostForm["categories"]), Given: r.PostFormValue("given"), Method: r.PostFormValue("method"),
			MethodNote: r.PostFormValue("method_note"), VisitID: r.PostFormValue("visit_id")})
		return err
	})
}

func (s *Server) authorizeException(w http.ResponseWriter, r *http.Request) error {
	return s.familyAction(w, r, "exception:new", "family-exception-authorised", func() error {
		days, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("days")))
		if err != nil {
			days = 0 // the service says what is wanted
		}
		_, err = s.Family.AuthorizeException(r.Context(), s.actor(r), r.PathValue("id"), family.ExceptionInput{ContactID: r.PostFormValue("contact_id"),
			Categories: categoriesOf(r.PostForm["categories"]), Reason: r.PostFormValue("reason"), Justification: r.PostFormValue("justification"),
			Days: days})
		return err
	})
}

func (s *Server) endException(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("exception")
	return s.familyAction(w, r, "end-exception:"+id, "family-exception-ended", func() error {
		return s.Family.EndException(r.Context(), s.actor(r), r.PathValue("id"), id, r.PostFormValue("note"))
	})
}

func withdrawalFromForm(r *http.Request) family.Withdrawal {
	return family.Withdrawal{Date: r.PostFormValue("date"), Method: r.PostFormValue("method"), Note: r.PostFormValue("note"),
		VisitID: r.PostFormValue("visit_id")}
}

func (s *Server) withdrawConsent(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("consent")
	return s.familyAction(w, r, "withdraw:"+id, "family-consent-withdrawn", func() error {
		return s.Family.WithdrawConsent(r.Context(), s.actor(r), r.PathValue("id"), id, withdrawalFromForm(r))
	})
}

func (s *Server) withdrawAllConsents(w http.ResponseWriter, r *http.Request) error {
	return s.familyAction(w, r, "withdraw:all", "family-consents-withdrawn", func() error {
		_, err := s.Family.WithdrawAll(r.Context(), s.actor(r), r.PathValue("id"), withdrawalFromForm(r))
		return err
	})
}

func (s *Server) recordFromDetainee(w http.ResponseWriter, r *http.Request) error {
	return s.familyAction(w, r, "message:new", "family-message-recorded", func() error {
		_, err := s.Family.RecordFromDetainee(r.Context(), s.actor(r), r.PathValue("id"), r.PostFormValue("contact_id"),
			r.PostFormValue("visit_id"), r.PostFormValue("text"))
		return err
	})
}

func (s *Server) messageDelivered(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("msg")
	return s.familyAction(w, r, "delivered:"+id, "family-message-delivered", func() error {
		return s.Family.Delivered(r.Context(), s.actor(r), r.PathValue("id"), id, r.PostFormValue("visit_id"), r.PostFormValue("how"))
	})
}

func (s *Server) messageNotDelivered(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("msg")
	return s.familyAction(w, r, "not-delivered:"+id, "family-message-not-delivered", func() error {
		return s.Family.NotDelivered(r.Context(), s.actor(r), r.PathValue("id"), id, r.PostFormValue("reason"))
	})
}

func (s *Server) releaseMessage(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("msg")
	return s.familyAction(w, r, "release:"+id, "family-message-released", func() error {
		return s.Family.Release(r.Context(), s.actor(r), r.PathValue("id"), id)
	})
}

func (s *Server) writeSummary(w http.ResponseWriter, r *http.Request) error {
	return s.familyAction(w, r, "summary:new", "family-summary-written", func() error {
		_, err := s.Family.WriteSummary(r.Context(), s.actor(r), r.PathValue("id"), family.SummaryInput{ContactID: r.PostFormValue("contact_id"),
			Categories: categoriesOf(r.PostForm["categories"]), Text: r.PostFormValue("text"), VisitID: r.PostFormValue("visit_id")})
		return err
	})
}

// ---- invitations ----

// inviteToken reads the invitation's token. The token is a credential until
// it is used: the request log shows the path without it (see observe), and
// errors are logged without the path.
func inviteToken(r *http.Request) string { return r.PathValue("token") }

func (s *Server) inviteData(v *view, token string, info *family.InvitationInfo) {
	v.Data = map[string]any{"Invite": info, "Token": token, "Languages": s.Catalog.Languages()}
}

// invitePage shows the holder of an invitation whom it is for, and the form
// that makes their account.
func (s *Server) invitePage(w http.ResponseWriter, r *http.Request) error {
	token := inviteToken(r)
	lang := r.URL.Query().Get("lang")
	s.holderLang(r, lang)
	v := s.view(r, "Your family account")
	if s.Catalog.Has(lang) {
		v.Form.Values["lang"] = lang // the account keeps the language its invitation was written in
	}
	info, err := s.Family.Invitation(r.Context(), token, stateOf(r).address)
	if err != nil {
		return s.inviteRefused(w, v, err)
	}
	s.inviteData(v, token, info)
	return s.render(w, "family_invite", v)
}

// holderLang shows an invitation's pages in lang (the language its mail
// was written in, or the one chosen on the form), unless the holder
// switched to another.
func (s *Server) holderLang(r *http.Request, lang string) {
	stateOf(r).lang = s.Catalog.Match(s.chosenLang(r, lang), r.Header.Get("Accept-Language"))
}

// inviteRefused shows why an invitation cannot be used: unknown (404), or
// used, withdrawn or expired (410 Gone).
func (s *Server) inviteRefused(w http.ResponseWriter, v *view, err error) error {
	pe, ok := problem.As(err)
	if !ok || pe.Kind == problem.Internal {
		return err
	}
	code := http.StatusGone
	if pe.Kind == problem.NotFound {
		code = http.StatusNotFound
	}
	v.Title = "Invitation"
	v.Data = map[string]any{"Refused": pe.Localize(v.T)}
	return s.renderStatus(w, code, "family_invite", v)
}

// acceptInvite makes the family account from the invitation and signs its
// holder in. Bad input comes back on the form and leaves the invitation
// usable; a used, withdrawn or expired one creates nothing.
func (s *Server) acceptInvite(w http.ResponseWriter, r *http.Request) error {
	token := inviteToken(r)
	if err := r.ParseForm(); err != nil {
		return problem.Field("form", "The form could not be read.")
	}
	st := stateOf(r)
	ctx := r.Context()
	username, lang, password := r.PostFormValue("username"), r.PostFormValue("lang"), r.PostFormValue("password")
	s.holderLang(r, lang)
	v := s.view(r, "Your family account")
	v.Form.Values["username"], v.Form.Values["lang"] = username, lang
	var u *auth.User
	var err error
	if password != r.PostFormValue("confirm") {
		err = problem.Field("confirm", "The two passwords differ.")
	} else {
		u, err = s.Family.Accept(ctx, token, username, password, lang, st.address)
	}
	if pe, ok := problem.As(err); ok && pe.Kind == problem.Invalid {
		info, ierr := s.Family.Invitation(ctx, token, st.address)
		if ierr != nil {
			return s.inviteRefused(w, v, ierr)
		}
		v.Form.Errors = pe.LocalizeFields(v.T)
		s.inviteData(v, token, info)
		return s.renderStatus(w, http.StatusBadRequest, "family_invite", v)
	}
	if err != nil {
		return s.inviteRefused(w, v, err)
	}
	if st.session != nil { // whoever was signed in on this browser is signed out
		if err := s.Auth.Logout(ctx, st.user, st.session.ID, st.address); err != nil {
			return err
		}
	}
	sessionToken, _, err := s.Auth.StartSession(ctx, u, st.address, r.UserAgent(), nil)
	if err != nil {
		return err
	}
	s.setSessionCookie(w, sessionToken)
	s.redirectFlash(w, r, family.PortalPath, "family-welcome")
	return nil
}

// ---- the family member's pages ----

// portalCaseView is one case on the family member's pages: what consent
// lets them see, and for each category it keeps from them, why.
type portalCaseView struct {
	family.PortalCase
	Withheld []withheldCategory `json:"withheld"`
}

// Sees reports whether consent lets the family member see a category.
func (pc portalCaseView) Sees(category string) bool {
	return slices.Contains(pc.Shared, family.Category(category))
}

type withheldCategory struct {
	Category family.Category `json:"category"`
	Reason   string          `json:"reason"`
}

// tr translates into the language of r's page.
func (s *Server) tr(r *http.Request) func(msg string, args ...any) string {
	lang := stateOf(r).lang
	return func(msg string, args ...any) string { return s.Catalog.T(lang, msg, args...) }
}

// portal reads what the family member may see (of one case, or of all
// theirs); the service audits what it disclosed.
func (s *Server) portal(r *http.Request, caseID string) ([]portalCaseView, error) {
	ctx, a := r.Context(), s.actor(r)
	var list []family.PortalCase
	if caseID == "" {
		var err error
		if list, err = s.Family.Portal(ctx, a); err != nil {
			return nil, err
		}
	} else {
		pc, err := s.Family.PortalCase(ctx, a, caseID)
		if err != nil {
			return nil, err
		}
		list = []family.PortalCase{*pc}
	}
	out := make([]portalCaseView, 0, len(list))
	for _, pc := range list {
		pv := portalCaseView{PortalCase: pc, Withheld: []withheldCategory{}}
		for _, c := range family.AllCategories {
			if !slices.Contains(pc.Shared, c) {
				// The family is told that the detainee has not consented,
				// not when or whether a consent was withdrawn.
				pv.Withheld = append(pv.Withheld, withheldCategory{Category: c, Reason: family.ForFamily(c, pc.ContactName).Localize(s.tr(r))})
			}
		}
		out = append(out, pv)
	}
	return out, nil
}

func (s *Server) portalPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderPortal(w, r, http.StatusOK, "", &familyForm{})
}

func (s *Server) portalCasePage(w http.ResponseWriter, r *http.Request) error {
	return s.renderPortal(w, r, http.StatusOK, r.PathValue("id"), &familyForm{})
}

func (s *Server) renderPortal(w http.ResponseWriter, r *http.Request, code int, caseID string, f *familyForm) error {
	list, err := s.portal(r, caseID)
	if err != nil {
		return err
	}
	v := s.view(r, "Family pages")
	v.Data = map[string]any{"Cases": list, "Form": f, "One": caseID != ""}
	return s.renderStatus(w, code, "family", v)
}

// writeFamilyMessage is a family member writing to the detainee. A case that
// is not theirs is not found, whatever the form says.
func (s *Server) writeFamilyMessage(w http.ResponseWriter, r *http.Request) error {
	caseID := r.PathValue("id")
	_, err := s.Family.WriteMessage(r.Context(), s.actor(r), caseID, r.PostFormValue("text"))
	if err == nil {
		s.redirectFlash(w, r, family.PortalPath+"#case-"+caseID, "family-message-sent")
		return nil
	}
	f, code, err := s.refusedForm(r, "message:"+caseID, err)
	if err != nil {
		return err
	}
	return s.renderPortal(w, r, code, "", f)
}

// familyUpdatePDF is an update for one contact, to print or send by post:
// what their own family pages would show them, under the same consent.
func (s *Server) familyUpdatePDF(w http.ResponseWriter, r *http.Request) error {
	pc, err := s.Family.UpdateFor(r.Context(), s.actor(r), r.PathValue("id"), r.PathValue("contact"))
	if err != nil {
		return err
	}
	v := s.view(r, "Family update")
	// No case reference (it names the detaining state and the year) and no
	// classification marking: the family may see only what consent allows,
	// and the paper is theirs.
	d := s.pdfDoc(v, v.T("Update for %s", pc.ContactName), v.T("About %s, from the consulate in %s", pc.Detainee, pc.Post), "")
	d.Classification = strings.ToUpper(v.T("Personal: for %s", pc.ContactName))
	sees := func(c family.Category) bool { return slices.Contains(pc.Shared, c) }
	if sees(family.Visits) {
		sec := export.Section{Heading: v.T("Next consular visit")}
		if nv := pc.NextVisit; nv != nil {
			sec.Fields = []export.Field{{Key: v.T("When"), Value: v.Local(nv.Starts, nv.Zone)}}
			if nv.Zone != "UTC" {
				sec.Fields = append(sec.Fields, export.Field{Key: v.T("In UTC"), Value: nv.Starts.UTC().Format("2006-01-02 15:04 UTC")})
			}
		} else {
			sec.Paragraphs = []string{v.T("No visit is planned at the moment.")}
		}
		d.Sections = append(d.Sections, sec)
	}
	if len(pc.Summaries) > 0 {
		t := &export.Table{Header: []string{v.T("Written"), v.T("News from the consulate")}, Widths: []float64{1, 4}}
		for _, sm := range pc.Summaries {
			t.Rows = append(t.Rows, []string{v.When(sm.Written), sm.Text})
		}
		d.Sections = append(d.Sections, export.Section{Heading: v.T("News from the consulate"), Table: t})
	}
	if sees(family.Messages) {
		sec := export.Section{Heading: v.T("Messages")}
		if len(pc.Messages) == 0 {
			sec.Paragraphs = []string{v.T("No message yet.")}
		} else {
			sec.Table = &export.Table{Header: []string{v.T("Written"), v.T("Way"), v.T("Text"), v.T("Status")}, Widths: []float64{1.2, 1.2, 4, 1.6}}
			for _, m := range pc.Messages {
				// The detainee's messages are dated when they were passed on,
				// as on the family pages.
				when, way, status := v.When(m.Decided), v.T("From %s", pc.Detainee), v.T("Passed on")
				if m.Direction == family.ToDetainee {
					when, way, status = v.When(m.Written), v.T("To %s", pc.Detainee), v.T(family.MessageStatuses.Label(m.Status))
					if m.Status == "not_delivered" {
						status += ": " + m.Reason
					}
				}
				sec.Table.Rows = append(sec.Table.Rows, []string{when, way, m.Text, status})
			}
		}
		d.Sections = append(d.Sections, sec)
	}
	var withheld []string
	for _, c := range family.AllCategories {
		if !sees(c) {
			withheld = append(withheld, family.ForFamily(c, pc.ContactName).Localize(v.T))
		}
	}
	if len(withheld) > 0 {
		d.Sections = append(d.Sections, export.Section{Heading: v.T("What the consulate may not share"), Paragraphs: withheld})
	}
	return s.sendPDF(w, d, "update-"+time.Now().UTC().Format("20060102")+".pdf")
}

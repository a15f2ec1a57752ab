package cases

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/edate"
	"github.com/attache-org/attache/internal/problem"
)

// scope loads what the policy needs to decide about a case.
func (s *Service) scope(ctx context.Context, q db.Querier, caseID string) (*auth.Scope, error) {
	var sc auth.Scope
	err := q.QueryRowContext(ctx, `SELECT post, desk FROM cases WHERE id = $1`, caseID).Scan(&sc.Post, &sc.Desk)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoCase
	}
	if err != nil {
		return nil, fmt.Errorf("read case: %w", err)
	}
	rows, err := q.QueryContext(ctx, `SELECT user_id FROM case_officers WHERE case_id = $1`, caseID)
	if err != nil {
		return nil, fmt.Errorf("read case team: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		sc.Team = append(sc.Team, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if sc.BreakGlass, err = s.breakGlassUsers(ctx, q, caseID); err != nil {
		return nil, err
	}
	return &sc, nil
}

// authorize says whether u may do action on the case: a case the user may
// not read does not exist for them (404); one they may read but not change
// is forbidden (403).
func (s *Service) authorize(ctx context.Context, q db.Querier, u *auth.User, action auth.Action, caseID string) error {
	sc, err := s.scope(ctx, q, caseID)
	if err != nil {
		return err
	}
	if !s.policy.Can(u, auth.ReadCase, sc) {
		return errNoCase
	}
	if !s.policy.Can(u, action, sc) {
		return problem.New(problem.Forbidden, "You may read this case but not change it.")
	}
	return nil
}

// validated is a case input after checking, with its parsed dates.
type validated struct {
	CaseInput
	arrested, notified edate.Date
}

func (s *Service) validateCase(ctx context.Context, q db.Querier, in CaseInput) (*validated, error) {
	f := problem.Fields{}
	v := &validated{CaseInput: in}
	c := &v.CaseInput
	c.DetainingState, c.Post, c.Desk = strings.ToUpper(clean(c.DetainingState)), clean(c.Post), clean(c.Desk)
	c.DetainingAuthority, c.Lawyer, c.Position, c.Summary = clean(c.DetainingAuthority), clean(c.Lawyer), clean(c.Position), clean(c.Summary)
	if c.Status == "" {
		c.Status = "open"
	}
	if c.Priority == "" {
		c.Priority = "normal"
	}
	if c.Classification == "" {
		c.Classification = "protected_b"
	}
	check := func(field, value string, vocab Vocab, msg string) {
		if !vocab.Has(value) {
			f.Add(field, msg)
		}
	}
	check("status", c.Status, CaseStatuses, "Choose a case status from the list.")
	check("legal_status", c.LegalStatus, LegalStatuses, "Choose a legal status from the list ("+LegalStatuses.Codes()+").")
	check("detention_type", c.DetentionType, DetentionTypes, "Choose a type of detention from the list.")
	check("priority", c.Priority, Priorities, "Choose a priority from the list.")
	check("classification", c.Classification, Classifications, "Choose a classification from the list.")
	if _, ok := CountryName(c.DetainingState); !ok {
		f.Add("detaining_state", "Choose the detaining state (a two-letter country code such as CN).")
	}
	if c.Post == "" {
		f.Add("post", "Name the responsible post (embassy or consulate).")
	}
	if c.Desk == "" {
		f.Add("desk", "Name the responsible HQ desk.")
	}
	for field, value := range map[string]string{"detaining_authority": c.DetainingAuthority, "lawyer": c.Lawyer, "post": c.Post, "desk": c.Desk} {
		if len(value) > 300 {
			f.Add(field, "Use at most 300 characters.")
		}
		if strings.ContainsFunc(value, unicode.IsControl) {
			f.Add(field, "The text has an invisible control character: type it again.")
		}
	}
	zone := ""
	if c.FacilityID != "" {
		var country string
		err := q.QueryRowContext(ctx, `SELECT country, time_zone FROM facilities WHERE id = $1`, c.FacilityID).Scan(&country, &zone)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			f.Add("facility_id", "Choose a facility from the registry.")
		case err != nil:
			return nil, fmt.Errorf("read facility: %w", err)
		case c.DetainingState != "" && country != c.DetainingState:
			f.Add("facility_id", "This facility is in another country than the detaining state.")
		}
	}
	parse := func(field, value, z string) edate.Date {
		if z == "" {
			z = zone
		}
		d, err := edate.Parse(value, z)
		if err != nil {
			if errors.Is(err, edate.ErrUnknownZone) {
				f.AddErr(field+"_zone", err)
			} else {
				f.AddErr(field, err)
			}
		}
		return d
	}
	v.arrested = parse("arrested", c.Arrested, c.ArrestedZone)
	v.notified = parse("notified", c.Notified, c.NotifiedZone)
	now := s.now()
	if !v.arrested.IsZero() && v.arrested.Earliest().After(now) {
		f.Add("arrested", "The arrest date is in the future.")
	}
	if !v.arrested.IsZero() && !v.notified.IsZero() && v.notified.Latest().Before(v.arrested.Earliest()) {
		f.Add("notified", "The consulate cannot have learned of the arrest before it happened.")
	}
	seen := map[string]bool{}
	var team []string
	for _, id := range c.Team {
		id = clean(id)
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		var role string
		var disabled bool
		err := q.QueryRowContext(ctx, `SELECT role, disabled FROM users WHERE id = $1`, id).Scan(&role, &disabled)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && (disabled || !s.policy.Can(&auth.User{ID: id, Role: auth.Role(role)}, auth.ReadCase, nil))) {
			f.Add("team", "Assign only active officers, supervisors or administrators.")
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read officer: %w", err)
		}
		team = append(team, id)
	}
	c.Team = team
	return v, f.Err()
}

// nextReference returns the next case reference for a state and year:
// CN-2018-0001, …, CN-2018-9999, CN-2018-10000. A counter per prefix gives
// the numbers, so that neither collation nor width matters.
func nextReference(ctx context.Context, tx *sql.Tx, state string, year int) (string, error) {
	prefix := fmt.Sprintf("%s-%04d-", state, year)
	var n int
	err := tx.QueryRowContext(ctx, `INSERT INTO case_reference_counters (prefix, last) VALUES ($1, 1)
		ON CONFLICT (prefix) DO UPDATE SET last = case_reference_counters.last + 1 RETURNING last`, prefix).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("next case reference: %w", err)
	}
	return fmt.Sprintf("%s%04d", prefix, n), nil
}

// OpenCase opens a case for a new person (person) or an existing one
// (personID, which the user must be able to see). The user who opens it
// joins its team, so that they keep seeing it whatever post and desk it has.
func (s *Service) OpenCase(ctx context.Context, a Actor, personID string, person *PersonInput, in CaseInput) (*Case, error) {
	if !s.policy.Can(a.User, auth.CreateCase, nil) {
		return nil, problem.New(problem.Forbidden, "You may not open cases.")
	}
	var newPerson *Person
	var personErr error
	if personID == "" {
		if person == nil {
			return nil, problem.Field("person", "Choose an existing person or enter a new one.")
		}
		newPerson, personErr = s.preparePerson(*person)
	}
	v, err := s.validateCase(ctx, s.db, in)
	if err != nil || personErr != nil {
		return nil, mergeInvalid(personErr, err)
	}
	if a.User.Role != auth.RoleAdmin && !contains(v.Team, a.User.ID) {
		v.Team = append(v.Team, a.User.ID)
	}
	id := db.NewID()
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if personID != "" {
			if err := s.mayActOnPerson(ctx, tx, a.User, auth.ReadCase, personID); err != nil {
				return err
			}
		} else {
			if err := s.insertPerson(ctx, tx, newPerson); err != nil {
				return err
			}
			personID = newPerson.ID
		}
		if err := s.db.Lock(ctx, tx, "cases.reference"); err != nil {
			return err
		}
		year := s.now().Year()
		if !v.arrested.IsZero() {
			year = v.arrested.Year
		}
		ref, err := nextReference(ctx, tx, v.DetainingState, year)
		if err != nil {
			return err
		}
		now := db.Instant(s.now())
		_, err = tx.ExecContext(ctx, `INSERT INTO cases (id, reference, person_id, status, legal_status, detaining_state, detaining_authority,
			detention_type, facility_id, arrested, arrested_earliest, arrested_latest, notified, notified_earliest, notified_latest,
			lawyer, position, priority, high_profile, classification, post, desk, summary, opened_at, closed_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $24, $24)`,
			id, ref, personID, v.Status, v.LegalStatus, v.DetainingState, v.DetainingAuthority, v.DetentionType, nullString(v.FacilityID),
			v.arrested.String(), db.NullInstant(v.arrested.Earliest()), db.NullInstant(v.arrested.Latest()),
			v.notified.String(), db.NullInstant(v.notified.Earliest()), db.NullInstant(v.notified.Latest()),
			v.Lawyer, v.Position, v.Priority, v.HighProfile, v.Classification, v.Post, v.Desk, v.Summary, now, closedAt(v.Status, now))
		if err != nil {
			return fmt.Errorf("insert case: %w", err)
		}
		if err := writeTeam(ctx, tx, id, v.Team); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.audit(), Action: "case.create", ObjectType: "case", ObjectID: id,
			Detail: fmt.Sprintf("reference=%s person=%s", ref, personID)})
	})
	if err != nil {
		return nil, err
	}
	return s.loadCase(ctx, s.db, a.User, id)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// mergeInvalid joins the fields of two invalid-input errors; anything else
// wins as it is.
func mergeInvalid(errs ...error) error {
	fields := problem.Fields{}
	for _, err := range errs {
		if err == nil {
			continue
		}
		if !fields.Merge(err) {
			return err
		}
	}
	return fields.Err()
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func closedAt(status string, now int64) sql.NullInt64 {
	if status == "closed" {
		return sql.NullInt64{Int64: now, Valid: true}
	}
	return sql.NullInt64{}
}

func writeTeam(ctx context.Context, tx *sql.Tx, caseID string, team []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM case_officers WHERE case_id = $1`, caseID); err != nil {
		return fmt.Errorf("replace case team: %w", err)
	}
	for _, uid := range team {
		if _, err := tx.ExecContext(ctx, `INSERT INTO case_officers (case_id, user_id) VALUES ($1, $2)`, caseID, uid); err != nil {
			return fmt.Errorf("assign officer: %w", err)
		}
	}
	return nil
}

// UpdateCase changes a case's facts, team and status.
func (s *Service) UpdateCase(ctx context.Context, a Actor, id string, in CaseInput) (*Case, error) {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.authorize(ctx, tx, a.User, auth.UpdateCase, id); err != nil {
			return err
		}
		old, err := s.loadCase(ctx, tx, a.User, id)
		if err != nil {
			return err
		}
		v, err := s.validateCase(ctx, tx, in)
		if err != nil {
			return err
		}
		// An editor who would lose sight of the case by saving stays on its team.
		if a.User.Role != auth.RoleAdmin && !contains(v.Team, a.User.ID) &&
			!s.policy.Can(a.User, auth.ReadCase, &auth.Scope{Post: v.Post, Desk: v.Desk, Team: v.Team}) {
			v.Team = append(v.Team, a.User.ID)
		}
		now := db.Instant(s.now())
		closed := closedAt(v.Status, now)
		if old.Status == "closed" && v.Status == "closed" {
			closed = db.NullInstant(old.ClosedAt)
		}
		_, err = tx.ExecContext(ctx, `UPDATE cases SET status = $2, legal_status = $3, detaining_state = $4, detaining_authority = $5,
			detention_type = $6, facility_id = $7, arrested = $8, arrested_earliest = $9, arrested_latest = $10, notified = $11,
			notified_earliest = $12, notified_latest = $13, lawyer = $14, position = $15, priority = $16, high_profile = $17,
			classification = $18, post = $19, desk = $20, summary = $21, closed_at = $22, updated_at = $23 WHERE id = $1`,
			id, v.Status, v.LegalStatus, v.DetainingState, v.DetainingAuthority, v.DetentionType, nullString(v.FacilityID),
			v.arrested.String(), db.NullInstant(v.arrested.Earliest()), db.NullInstant(v.arrested.Latest()),
			v.notified.String(), db.NullInstant(v.notified.Earliest()), db.NullInstant(v.notified.Latest()),
			v.Lawyer, v.Position, v.Priority, v.HighProfile, v.Classification, v.Post, v.Desk, v.Summary, closed, now)
		if err != nil {
			return fmt.Errorf("update case: %w", err)
		}
		if err := writeTeam(ctx, tx, id, v.Team); err != nil {
			return err
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.audit(), Action: "case.update", ObjectType: "case", ObjectID: id,
			Detail: describeCaseChange(old, v)})
	})
	if err != nil {
		return nil, err
	}
	return s.loadCase(ctx, s.db, a.User, id)
}

func describeCaseChange(old *Case, v *validated) string {
	var parts []string
	add := func(name, a, b string) {
		if a != b {
			parts = append(parts, fmt.Sprintf("%s: %q→%q", name, a, b))
		}
	}
	oldFacility := ""
	if old.Facility != nil {
		oldFacility = old.Facility.ID
	}
	add("status", old.Status, v.Status)
	add("legal_status", old.LegalStatus, v.LegalStatus)
	add("detaining_state", old.DetainingState, v.DetainingState)
	add("detention_type", old.DetentionType, v.DetentionType)
	add("facility", oldFacility, v.FacilityID)
	add("arrested", old.Arrested.String(), v.arrested.String())
	add("notified", old.Notified.String(), v.notified.String())
	add("priority", old.Priority, v.Priority)
	add("high_profile", fmt.Sprint(old.HighProfile), fmt.Sprint(v.HighProfile))
	add("classification", old.Classification, v.Classification)
	add("post", old.Post, v.Post)
	add("desk", old.Desk, v.Desk)
	var oldTeam []string
	for _, m := range old.Team {
		oldTeam = append(oldTeam, m.UserID)
	}
	add("team", strings.Join(oldTeam, " "), strings.Join(v.Team, " "))
	for name, pair := range map[string][2]string{"detaining_authority": {old.DetainingAuthority, v.DetainingAuthority},
		"lawyer": {old.Lawyer, v.Lawyer}, "position": {old.Position, v.Position}, "summary": {old.Summary, v.Summary}} {
		if pair[0] != pair[1] {
			parts = append(parts, name+" changed")
		}
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, ", ")
}

// Case returns a case the user may see, with its person, charges, links and
// team, and records the view.
func (s *Service) Case(ctx context.Context, a Actor, id string) (*Case, error) {
	if err := s.authorize(ctx, s.db, a.User, auth.ReadCase, id); err != nil {
		return nil, err
	}
	c, err := s.loadCase(ctx, s.db, a.User, id)
	if err != nil {
		return nil, err
	}
	return c, s.audit.Record(ctx, audit.Entry{Actor: a.audit(), Action: "case.view", ObjectType: "case", ObjectID: id})
}

// CaseFile is Case with the chronology, recorded as one view.
func (s *Service) CaseFile(ctx context.Context, a Actor, id string) (*Case, []TimelineEntry, error) {
	c, err := s.Case(ctx, a, id)
	if err != nil {
		return nil, nil, err
	}
	tl, err := s.timeline(ctx, id)
	return c, tl, err
}

// CaseByReference finds the id of a case the user may see by its reference.
func (s *Service) CaseByReference(ctx context.Context, u *auth.User, ref string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT id FROM cases WHERE reference = $1`, strings.ToUpper(clean(ref))).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errNoCase
	}
	if err != nil {
		return "", fmt.Errorf("find case: %w", err)
	}
	if err := s.authorize(ctx, s.db, u, auth.ReadCase, id); err != nil {
		return "", err
	}
	return id, nil
}

// loadCase reads a whole case without checking rights; links to cases the
// viewer may not see show only that a link exists.
func (s *Service) loadCase(ctx context.Context, q db.Querier, viewer *auth.User, id string) (*Case, error) {
	var c Case
	var personID, arrested, notified string
	var facilityID sql.NullString
	var opened, updated int64
	var closed sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT id, reference, person_id, status, legal_status, detaining_state, detaining_authority,
		detention_type, facility_id, arrested, notified, lawyer, position, priority, high_profile, classification, post, desk,
		summary, opened_at, closed_at, updated_at FROM cases WHERE id = $1`, id).
		Scan(&c.ID, &c.Reference, &personID, &c.Status, &c.LegalStatus, &c.DetainingState, &c.DetainingAuthority,
			&c.DetentionType, &facilityID, &arrested, &notified, &c.Lawyer, &c.Position, &c.Priority, &c.HighProfile,
			&c.Classification, &c.Post, &c.Desk, &c.Summary, &opened, &closed, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoCase
	}
	if err != nil {
		return nil, fmt.Errorf("read case: %w", err)
	}
	c.Arrested, _ = edate.Decode(arrested)
	c.Notified, _ = edate.Decode(notified)
	c.OpenedAt, c.ClosedAt, c.UpdatedAt = db.Time(opened), db.NullTime(closed), db.Time(updated)
	if c.Person, err = s.person(ctx, q, personID); err != nil {
		return nil, err
	}
	if facilityID.Valid {
		facs, err := s.loadFacilities(ctx, q, facilityID.String)
		if err != nil {
			return nil, err
		}
		if len(facs) == 1 {
			c.Facility = facs[0]
		}
	}
	rows, err := q.QueryContext(ctx, `SELECT u.id, u.display_name FROM case_officers co JOIN users u ON u.id = co.user_id
		WHERE co.case_id = $1 ORDER BY u.display_name`, id)
	if err != nil {
		return nil, fmt.Errorf("read case team: %w", err)
	}
	for rows.Next() {
		var m TeamMember
		if err := rows.Scan(&m.UserID, &m.Name); err != nil {
			rows.Close()
			return nil, err
		}
		c.Team = append(c.Team, m)
	}
	rows.Close()
	if c.BreakGlass, err = s.breakGlassUsers(ctx, q, id); err != nil {
		return nil, err
	}
	if c.Charges, err = s.charges(ctx, q, id); err != nil {
		return nil, err
	}
	if c.Links, err = s.links(ctx, q, viewer, id); err != nil {
		return nil, err
	}
	return &c, nil
}

// ---- charges ----

// ChargeInput is what a form gives for a charge.
type ChargeInput struct {
	Original     string
	OriginalLang string
	Translation  string
	Charged      string
	Zone         string
}

// AddCharge records a charge.
func (s *Service) AddCharge(ctx context.Context, a Actor, caseID string, in ChargeInput) (*Charge, error) {
	f := problem.Fields{}
	ch := Charge{ID: db.NewID(), Original: clean(in.Original), OriginalLang: clean(in.OriginalLang), Translation: clean(in.Translation)}
	if ch.Original == "" && ch.Translation == "" {
		f.Add("original", "Give the charge as worded by the detaining state, or its translation.")
	}
	if ch.OriginalLang != "" && !ValidLanguage(ch.OriginalLang) {
		f.Add("original_lang", "Use a language code such as zh or ru.")
	}
	var err error
	if ch.Charged, err = edate.Parse(in.Charged, in.Zone); err != nil {
		field := "charged"
		if errors.Is(err, edate.ErrUnknownZone) {
			field = "charged_zone"
		}
		f.AddErr(field, err)
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO charges (id, case_id, original, original_lang, translation, charged, charged_earliest, charged_latest, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, ch.ID, caseID, ch.Original, ch.OriginalLang, ch.Translation, ch.Charged.String(),
			db.NullInstant(ch.Charged.Earliest()), db.NullInstant(ch.Charged.Latest()), db.Instant(s.now()))
		if err != nil {
			return fmt.Errorf("insert charge: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.audit(), Action: "case.charge_add", ObjectType: "case", ObjectID: caseID, Detail: ch.ID})
	})
	if err != nil {
		return nil, err
	}
	return &ch, nil
}

// DeleteCharge removes a charge recorded in error.
func (s *Service) DeleteCharge(ctx context.Context, a Actor, caseID, chargeID string) error {
	return s.deleteChild(ctx, a, caseID, chargeID, `DELETE FROM charges WHERE id = $1 AND case_id = $2`, "case.charge_delete", "No such charge.")
}

func (s *Service) deleteChild(ctx context.Context, a Actor, caseID, childID, query, action, missing string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, query, childID, caseID)
		if err != nil {
			return fmt.Errorf("%s: %w", action, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return problem.New(problem.NotFound, "%s", missing)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.audit(), Action: action, ObjectType: "case", ObjectID: caseID, Detail: childID})
	})
}

func (s *Service) charges(ctx context.Context, q db.Querier, caseID string) ([]Charge, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, original, original_lang, translation, charged FROM charges WHERE case_id = $1
		ORDER BY charged_earliest, created_at`, caseID)
	if err != nil {
		return nil, fmt.Errorf("read charges: %w", err)
	}
	defer rows.Close()
	var out []Charge
	for rows.Next() {
		var ch Charge
		var charged string
		if err := rows.Scan(&ch.ID, &ch.Original, &ch.OriginalLang, &ch.Translation, &charged); err != nil {
			return nil, fmt.Errorf("read charges: %w", err)
		}
		ch.Charged, _ = edate.Decode(charged)
		out = append(out, ch)
	}
	return out, rows.Err()
}

// ---- links ----

// LinkInput relates a case to another case (by reference) or to an event
// outside the system (a label).
type LinkInput struct {
	OtherReference string
	OtherLabel     string
	Relation       string
}

// AddLink links two cases, or a case and an outside event.
func (s *Service) AddLink(ctx context.Context, a Actor, caseID string, in LinkInput) error {
	f := problem.Fields{}
	in.OtherReference, in.OtherLabel, in.Relation = clean(in.OtherReference), clean(in.OtherLabel), clean(in.Relation)
	if in.Relation == "" {
		f.Add("relation", "Describe how they are related, e.g. \"detained days after the arrest of …\".")
	}
	if (in.OtherReference == "") == (in.OtherLabel == "") {
		f.Add("other_reference", "Give either another case's reference or a description of the outside event.")
	}
	var otherID string
	if in.OtherReference != "" && len(f) == 0 {
		id, err := s.CaseByReference(ctx, a.User, in.OtherReference)
		if problem.Is(err, problem.NotFound) {
			f.Add("other_reference", "No case you can see has this reference.")
		} else if err != nil {
			return err
		}
		if id == caseID {
			f.Add("other_reference", "A case cannot be linked to itself.")
		}
		otherID = id
	}
	if err := f.Err(); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		id := db.NewID()
		_, err := tx.ExecContext(ctx, `INSERT INTO case_links (id, case_id, other_id, other_label, relation, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			id, caseID, nullString(otherID), in.OtherLabel, in.Relation, db.Instant(s.now()))
		if err != nil {
			return fmt.Errorf("insert link: %w", err)
		}
		return s.audit.Append(ctx, tx, audit.Entry{Actor: a.audit(), Action: "case.link_add", ObjectType: "case", ObjectID: caseID,
			Detail: fmt.Sprintf("other=%s %s: %s", otherID, in.OtherLabel, in.Relation)})
	})
}

// DeleteLink removes a link.
func (s *Service) DeleteLink(ctx context.Context, a Actor, caseID, linkID string) error {
	// A link shows on both cases, and either side may remove it.
	return s.deleteChild(ctx, a, caseID, linkID, `DELETE FROM case_links WHERE id = $1 AND (case_id = $2 OR other_id = $2)`, "case.link_delete", "No such link.")
}

// links returns a case's links in both directions. A linked case the viewer
// may not see shows as "a case you cannot see", without name or reference.
func (s *Service) links(ctx context.Context, q db.Querier, viewer *auth.User, caseID string) ([]Link, error) {
	rows, err := q.QueryContext(ctx, `SELECT l.id, COALESCE(l.other_id, ''), l.other_label, l.relation FROM case_links l WHERE l.case_id = $1
		UNION ALL SELECT l.id, l.case_id, '', l.relation FROM case_links l WHERE l.other_id = $1`, caseID)
	if err != nil {
		return nil, fmt.Errorf("read links: %w", err)
	}
	var out []Link
	for rows.Next() {
		var l Link
		if err := rows.Scan(&l.ID, &l.OtherID, &l.OtherLabel, &l.Relation); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read links: %w", err)
		}
		out = append(out, l)
	}
	rows.Close()
	for i := range out {
		l := &out[i]
		if l.OtherID == "" {
			continue
		}
		sc, err := s.scope(ctx, q, l.OtherID)
		if err != nil {
			return nil, err
		}
		if viewer == nil || !s.policy.Can(viewer, auth.ReadCase, sc) {
			// The relation's words often name the other person: hide them too.
			l.OtherID, l.OtherLabel, l.Relation = "", "a case you cannot see", "Linked to"
			continue
		}
		if err := q.QueryRowContext(ctx, `SELECT c.reference, p.display_name FROM cases c JOIN people p ON p.id = c.person_id WHERE c.id = $1`, l.OtherID).
			Scan(&l.OtherRef, &l.OtherLabel); err != nil {
			return nil, fmt.Errorf("read linked case: %w", err)
		}
	}
	return out, nil
}

// ---- timeline ----

// AddEvent adds a dated, sourced fact to a case's chronology.
func (s *Service) AddEvent(ctx context.Context, a Actor, caseID string, in TimelineInput) (*TimelineEntry, error) {
	f := problem.Fields{}
	e := TimelineEntry{ID: db.NewID(), CaseID: caseID, Kind: in.Kind, Title: clean(in.Title), Body: strings.TrimSpace(in.Body),
		SourceKind: in.SourceKind, SourceRef: clean(in.SourceRef), CreatedBy: a.User.DisplayName, CreatedAt: s.now().UTC()}
	var err error
	if e.Happened, err = edate.Parse(in.Happened, in.Zone); err != nil {
		field := "happened"
		if errors.Is(err, edate.ErrUnknownZone) {
			field = "zone"
		}
		f.AddErr(field, err)
	} else if e.Happened.IsZero() {
		f.Add("happened", "Give the date, at the precision the source gives (2020, 2020-06, 2020-06-19).")
	} else if e.Happened.Earliest().After(s.now()) && e.Kind != "hearing" && e.Kind != "trial" {
		f.Add("happened", "The date is in the future: only hearings and trials are entered ahead.")
	}
	if !EventKinds.Has(e.Kind) {
		f.Add("kind", "Choose what kind of fact this is.")
	}
	if !SourceKinds.Has(e.SourceKind) {
		f.Add("source_kind", "Choose the kind of source.")
	}
	if e.Title == "" {
		f.Add("title", "Say in a line what happened.")
	} else if len(e.Title) > 300 {
		f.Add("title", "Use at most 300 characters; put the rest in the text.")
	}
	if (e.Kind == "statement_sending" || e.Kind == "statement_detaining") && e.Body == "" {
		f.Add("body", "Keep the statement's words verbatim here.")
	}
	if e.SourceKind != "officer" && e.SourceRef == "" {
		f.Add("source_ref", "Give the source: the note's number, the article's address, who said it.")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.authorize(ctx, tx, a.User, auth.UpdateCase, caseID); err != nil {
			return err
		}
		return s.insertEvent(ctx, tx, a, &e)
	})
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// RecordEvent adds a timeline entry inside another domain's transaction
// (an access request's answer, a visit held); the caller has checked rights.
func (s *Service) RecordEvent(ctx context.Context, tx *sql.Tx, a Actor, caseID string, happened edate.Date, kind string, title, body problem.Text, sourceKind, sourceRef string) error {
	e := TimelineEntry{ID: db.NewID(), CaseID: caseID, Happened: happened, Kind: kind, Title: title.String(), TitleText: title, Body: body.String(), BodyText: body,
		SourceKind: sourceKind, SourceRef: sourceRef, CreatedBy: a.User.DisplayName, CreatedAt: s.now().UTC()}
	return s.insertEvent(ctx, tx, a, &e)
}

func (s *Service) insertEvent(ctx context.Context, tx *sql.Tx, a Actor, e *TimelineEntry) error {
	texts := [2]string{}
	for i, t := range []problem.Text{e.TitleText, e.BodyText} {
		if t.IsZero() {
			continue
		}
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("insert timeline entry: %w", err)
		}
		texts[i] = string(b)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO timeline (id, case_id, happened, earliest, latest, kind, title, title_text, body, body_text, source_kind, source_ref, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`, e.ID, e.CaseID, e.Happened.String(), db.Instant(e.Happened.Earliest()),
		db.Instant(e.Happened.Latest()), e.Kind, e.Title, texts[0], e.Body, texts[1], e.SourceKind, e.SourceRef, e.CreatedBy, db.Instant(e.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert timeline entry: %w", err)
	}
	return s.audit.Append(ctx, tx, audit.Entry{Actor: a.audit(), Action: "case.event_add", ObjectType: "case", ObjectID: e.CaseID,
		Detail: fmt.Sprintf("%s %s: %s", e.Happened, e.Kind, e.Title)})
}

// DeleteEvent removes a timeline entry entered in error (the audit log keeps
// what it said).
func (s *Service) DeleteEvent(ctx context.Context, a Actor, caseID, eventID string) error {
	return s.deleteChild(ctx, a, caseID, eventID, `DELETE FROM timeline WHERE id = $1 AND case_id = $2`, "case.event_delete", "No such timeline entry.")
}

// Timeline returns a case's chronology, oldest first, and records the view.
func (s *Service) Timeline(ctx context.Context, a Actor, caseID string) ([]TimelineEntry, error) {
	if err := s.authorize(ctx, s.db, a.User, auth.ReadCase, caseID); err != nil {
		return nil, err
	}
	tl, err := s.timeline(ctx, caseID)
	if err != nil {
		return nil, err
	}
	return tl, s.audit.Record(ctx, audit.Entry{Actor: a.audit(), Action: "case.timeline_view", ObjectType: "case", ObjectID: caseID})
}

func (s *Service) timeline(ctx context.Context, caseID string) ([]TimelineEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, happened, kind, title, title_text, body, body_text, source_kind, source_ref, created_by, created_at
		FROM timeline WHERE case_id = $1 ORDER BY earliest, latest, created_at`, caseID)
	if err != nil {
		return nil, fmt.Errorf("read timeline: %w", err)
	}
	defer rows.Close()
	var out []TimelineEntry
	for rows.Next() {
		e := TimelineEntry{CaseID: caseID}
		var happened string
		var created int64
		var titleText, bodyText string
		if err := rows.Scan(&e.ID, &happened, &e.Kind, &e.Title, &titleText, &e.Body, &bodyText, &e.SourceKind, &e.SourceRef, &e.CreatedBy, &created); err != nil {
			return nil, fmt.Errorf("read timeline: %w", err)
		}
		e.Happened, _ = edate.Decode(happened)
		e.CreatedAt = db.Time(created)
		for _, t := range []struct {
			raw string
			to  *problem.Text
		}{{titleText, &e.TitleText}, {bodyText, &e.BodyText}} {
			if t.raw == "" {
				continue
			}
			if err := json.Unmarshal([]byte(t.raw), t.to); err != nil {
				return nil, fmt.Errorf("read timeline entry %s: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Languages returns the languages recorded for a case's detainee and the
// detaining state, for the join links of its visits (which open in the
// language of the person they are for). It reads no more than that, and
// the caller has checked the user's right to the case.
func (s *Service) Languages(ctx context.Context, q db.Querier, caseID string) (detainee []string, detainingState string, err error) {
	if q == nil {
		q = s.db
	}
	var langs string
	err = q.QueryRowContext(ctx, `SELECT p.languages, c.detaining_state FROM cases c JOIN people p ON p.id = c.person_id WHERE c.id = $1`, caseID).
		Scan(&langs, &detainingState)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", errNoCase
	}
	if err != nil {
		return nil, "", fmt.Errorf("read languages: %w", err)
	}
	return strings.Fields(langs), detainingState, nil
}

// Scope returns what the policy needs to decide about a case (post, desk,
// team), for other domains that check people against it (visit officers).
func (s *Service) Scope(ctx context.Context, q db.Querier, caseID string) (*auth.Scope, error) {
	if q == nil {
		q = s.db
	}
	return s.scope(ctx, q, caseID)
}

// Authorize tells other domains (consular access, visits) whether u may do
// action on a case, with the same answers as this package: a case the user
// may not read does not exist for them.
func (s *Service) Authorize(ctx context.Context, q db.Querier, u *auth.User, action auth.Action, caseID string) error {
	if q == nil {
		q = s.db
	}
	return s.authorize(ctx, q, u, action, caseID)
}

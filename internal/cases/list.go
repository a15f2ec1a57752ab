package cases

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/attache-org/attache/internal/audit"
	"github.com/attache-org/attache/internal/auth"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/edate"
	"github.com/attache-org/attache/internal/names"
	"github.com/attache-org/attache/internal/problem"
)

// VisibleSQL is the policy's need-to-know rule for the cases of the table
// aliased alias as an SQL condition, with its arguments numbered from next,
// for other domains' lists (the access dashboard). alias goes into the SQL
// as it is: pass a constant.
func VisibleSQL(v auth.Visibility, alias string, next int) (string, []any) {
	return visibleSQL(v, alias, next)
}

// visibleSQL is the policy's need-to-know rule for alias's cases as an SQL
// condition, with its arguments numbered from next.
func visibleSQL(v auth.Visibility, alias string, next int) (string, []any) {
	switch {
	case v.All:
		return "1 = 1", nil
	case v.None:
		return "1 = 0", nil
	}
	// The post and desk tests come first: they are cheap, and when one holds
	// the team need not be looked up.
	var conds []string
	var args []any
	if v.Post != "" {
		args = append(args, v.Post)
		conds = append(conds, fmt.Sprintf("%s.post = $%d", alias, next+len(args)-1))
	}
	if v.Desk != "" {
		args = append(args, v.Desk)
		conds = append(conds, fmt.Sprintf("%s.desk = $%d", alias, next+len(args)-1))
	}
	args = append(args, v.UserID)
	conds = append(conds, fmt.Sprintf("EXISTS (SELECT 1 FROM case_officers co WHERE co.case_id = %s.id AND co.user_id = $%d)", alias, next+len(args)-1))
	return "(" + strings.Join(conds, " OR ") + ")", args
}

// Filter selects cases for the list.
type Filter struct {
	Status         string
	DetainingState string
	FacilityID     string
	Post           string
	OfficerID      string
	LegalStatus    string
	HighProfile    string // "", "yes" or "no"
	Sort           string // SortOrders
	Limit          int    // default 100, at most 500
	Offset         int
}

// SortOrders are the list's orders.
var SortOrders = Vocab{
	{"priority", "Priority"}, {"arrested", "Arrest date, oldest first"}, {"-arrested", "Arrest date, newest first"},
	{"updated", "Last changed"}, {"reference", "Reference"}, {"name", "Name"},
}

// Summary is a case as lists show it.
type Summary struct {
	ID             string
	Reference      string
	PersonID       string
	PersonName     string
	Status         string
	LegalStatus    string
	DetainingState string
	FacilityName   string
	Post           string
	Desk           string
	Priority       string
	HighProfile    bool
	Arrested       edate.Date
	UpdatedAt      time.Time
}

// Cases lists the cases the user may see that match f, and records the view.
func (s *Service) Cases(ctx context.Context, a Actor, f Filter) ([]Summary, error) {
	v := s.policy.Visibility(a.User, auth.ReadCase)
	if v.None {
		return nil, problem.New(problem.Forbidden, "You may not see cases.")
	}
	if f.Sort == "" {
		f.Sort = "priority"
	}
	fields := problem.Fields{}
	for field, c := range map[string]struct {
		value string
		vocab Vocab
	}{"status": {f.Status, CaseStatuses}, "legal_status": {f.LegalStatus, LegalStatuses}, "sort": {f.Sort, SortOrders}} {
		if c.value != "" && !c.vocab.Has(c.value) {
			fields.Add(field, "Choose a value from the list.")
		}
	}
	if f.HighProfile != "" && f.HighProfile != "yes" && f.HighProfile != "no" {
		fields.Add("high_profile", "Use yes or no.")
	}
	if err := fields.Err(); err != nil {
		return nil, err
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	f.Offset = max(f.Offset, 0)
	cond, args := visibleSQL(v, "c", 1)
	where := []string{cond}
	add := func(clause string, value any) {
		args = append(args, value)
		where = append(where, fmt.Sprintf(clause, len(args)))
	}
	if f.Status != "" {
		add("c.status = $%d", f.Status)
	}
	if f.DetainingState != "" {
		add("c.detaining_state = $%d", strings.ToUpper(f.DetainingState))
	}
	if f.FacilityID != "" {
		add("c.facility_id = $%d", f.FacilityID)
	}
	if f.Post != "" {
		add("c.post = $%d", f.Post)
	}
	if f.OfficerID != "" {
		add("EXISTS (SELECT 1 FROM case_officers o2 WHERE o2.case_id = c.id AND o2.user_id = $%d)", f.OfficerID)
	}
	if f.LegalStatus != "" {
		add("c.legal_status = $%d", f.LegalStatus)
	}
	if f.HighProfile != "" {
		add("c.high_profile = $%d", f.HighProfile == "yes")
	}
	order := map[string]string{
		"priority":  "CASE c.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END, c.high_profile DESC, c.updated_at DESC",
		"arrested":  "c.arrested_earliest IS NULL, c.arrested_earliest, c.reference",
		"-arrested": "c.arrested_earliest IS NULL, c.arrested_earliest DESC, c.reference",
		"updated":   "c.updated_at DESC",
		"reference": "c.reference",
		"name":      "p.display_name, c.reference",
	}[f.Sort]
	args = append(args, f.Limit, f.Offset)
	q := `SELECT c.id, c.reference, p.id, p.display_name, c.status, c.legal_status, c.detaining_state,
		COALESCE((SELECT n.value FROM facility_names n WHERE n.facility_id = c.facility_id AND n.position = 0), ''),
		c.post, c.desk, c.priority, c.high_profile, c.arrested, c.updated_at
		FROM cases c JOIN people p ON p.id = c.person_id
		WHERE ` + strings.Join(where, " AND ") + ` ORDER BY ` + order + fmt.Sprintf(` LIMIT $%d OFFSET $%d`, len(args)-1, len(args))
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	defer rows.Close()
	var out []Summary
	for rows.Next() {
		var c Summary
		var arrested string
		var updated int64
		if err := rows.Scan(&c.ID, &c.Reference, &c.PersonID, &c.PersonName, &c.Status, &c.LegalStatus, &c.DetainingState,
			&c.FacilityName, &c.Post, &c.Desk, &c.Priority, &c.HighProfile, &arrested, &updated); err != nil {
			return nil, fmt.Errorf("list cases: %w", err)
		}
		c.Arrested, _ = edate.Decode(arrested)
		c.UpdatedAt = db.Time(updated)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	detail := fmt.Sprintf("filter=%+v results=%d", f, len(out))
	return out, s.audit.Record(ctx, audit.Entry{Actor: a.audit(), Action: "case.list", ObjectType: "case", Detail: detail})
}

// Match is a person found by a name search.
type Match struct {
	PersonID    string
	DisplayName string
	Names       []Name
	Score       float64
	Cases       []CaseRef
}

// CaseRef names a case in search results.
type CaseRef struct {
	ID, Reference, Status string
}

// candidateLimit bounds how many people each step of a search scores in Go.
const candidateLimit = 100

// SearchPeople finds the people the user may see whose names match q in
// any script or spelling, best first, and records the search.
func (s *Service) SearchPeople(ctx context.Context, a Actor, q string, limit int) ([]Match, error) {
	matches, err := s.searchPeople(ctx, a.User, q, limit)
	if err != nil {
		return nil, err
	}
	return matches, s.audit.Record(ctx, audit.Entry{Actor: a.audit(), Action: "person.search", ObjectType: "person",
		Detail: fmt.Sprintf("q=%q results=%d", q, len(matches))})
}

func (s *Service) searchPeople(ctx context.Context, u *auth.User, q string, limit int) ([]Match, error) {
	v := s.policy.Visibility(u, auth.ReadCase)
	if v.None {
		return nil, problem.New(problem.Forbidden, "You may not search people.")
	}
	if len([]rune(q)) > 200 {
		return nil, problem.Field("q", "Use at most 200 characters.")
	}
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	query := s.names.ParseQuery(q)
	if len(query.Whole) == 0 {
		return nil, nil
	}
	// Whole-name keys first: a name matched whole ends the search. Then
	// single words; then sounds and the word being typed. Each step runs
	// only when the ones before found too few people, so that a common
	// first name or a common surname's sound does not flood a precise
	// search.
	var ids []string
	var matches []Match
	for step, keys := range [][]string{query.Whole, query.Exact, query.Fuzzy} {
		prefix := ""
		if step == 2 {
			prefix = query.Prefix
		}
		found, err := s.candidates(ctx, v, keys, prefix)
		if err != nil {
			return nil, err
		}
		var fresh []string
		for _, id := range found {
			if !slices.Contains(ids, id) {
				fresh = append(fresh, id)
			}
		}
		ids = append(ids, fresh...)
		scored, err := s.score(ctx, query, fresh)
		if err != nil {
			return nil, err
		}
		matches = append(matches, scored...)
		if step == 0 && len(matches) > 0 && matches[0].Score >= 0.99 {
			break
		}
		if len(matches) >= limit {
			break
		}
	}
	out := matches
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].DisplayName < out[j].DisplayName
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, s.attachCases(ctx, v, out)
}

// Bounds of one search step: rows read per key, people weighed, people
// kept. A key shared by more people than perKeyRows (a very common name)
// contributes only that many; the scores rank what is kept.
const (
	perKeyRows   = 1000
	weighedLimit = 400
)

// candidates returns up to candidateLimit people the viewer may see who
// have any of the keys (or a key in the prefix's range), those matching
// more keys first. Visibility is tested only for the best-weighed people.
func (s *Service) candidates(ctx context.Context, v auth.Visibility, keys []string, prefix string) ([]string, error) {
	if len(keys) == 0 && prefix == "" {
		return nil, nil
	}
	var branches []string
	var args []any
	for i, k := range keys {
		args = append(args, k)
		branches = append(branches, fmt.Sprintf(`SELECT person_id FROM (SELECT person_id FROM name_keys WHERE key = $%d LIMIT %d) AS b%d`,
			len(args), perKeyRows, i))
	}
	if prefix != "" {
		args = append(args, prefix, names.PrefixEnd(prefix))
		branches = append(branches, fmt.Sprintf(`SELECT person_id FROM (SELECT person_id FROM name_keys WHERE key >= $%d AND key < $%d LIMIT %d) AS bp`,
			len(args)-1, len(args), perKeyRows))
	}
	vis, visArgs := visibleSQL(v, "c", len(args)+1)
	args = append(args, visArgs...)
	args = append(args, candidateLimit)
	rows, err := s.db.QueryContext(ctx, `SELECT g.person_id FROM (
			SELECT person_id, COUNT(*) AS weight FROM (`+strings.Join(branches, " UNION ALL ")+`) AS hits
			GROUP BY person_id ORDER BY weight DESC, person_id LIMIT `+fmt.Sprint(weighedLimit)+`) AS g
		WHERE EXISTS (SELECT 1 FROM cases c WHERE c.person_id = g.person_id AND `+vis+`)
		ORDER BY g.weight DESC, g.person_id LIMIT $`+fmt.Sprint(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("search names: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("search names: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// score loads the names of people and keeps those that match the query,
// best first.
func (s *Service) score(ctx context.Context, query names.Query, ids []string) ([]Match, error) {
	byPerson, err := s.namesOf(ctx, s.db, ids)
	if err != nil {
		return nil, err
	}
	var out []Match
	for _, id := range ids {
		m := Match{PersonID: id, Names: byPerson[id]}
		for _, n := range m.Names {
			if n.Display {
				m.DisplayName = n.Value
			}
			m.Score = max(m.Score, s.names.Score(query, n.Value))
		}
		if m.Score >= names.MinScore {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out, nil
}

// attachCases adds to each match the cases of that person the user may see.
func (s *Service) attachCases(ctx context.Context, v auth.Visibility, ms []Match) error {
	if len(ms) == 0 {
		return nil
	}
	ids := make([]string, len(ms))
	at := map[string]int{}
	for i, m := range ms {
		ids[i], at[m.PersonID] = m.PersonID, i
	}
	cond, args := visibleSQL(v, "c", 1)
	ph, idArgs := placeholders(len(args)+1, ids)
	rows, err := s.db.QueryContext(ctx, `SELECT c.person_id, c.id, c.reference, c.status FROM cases c
		WHERE c.person_id IN (`+ph+`) AND `+cond+` ORDER BY c.reference`, append(args, idArgs...)...)
	if err != nil {
		return fmt.Errorf("read cases of matches: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pid string
		var r CaseRef
		if err := rows.Scan(&pid, &r.ID, &r.Reference, &r.Status); err != nil {
			return fmt.Errorf("read cases of matches: %w", err)
		}
		ms[at[pid]].Cases = append(ms[at[pid]].Cases, r)
	}
	return rows.Err()
}

// LikelyDuplicates returns people the user may see whose names match any of
// the names about to be entered, so that one person is not entered twice.
// A check that finds someone is audited (it showed case data); one that
// finds nobody showed nothing.
func (s *Service) LikelyDuplicates(ctx context.Context, a Actor, candidateNames []string) ([]Match, error) {
	best := map[string]Match{}
	for _, n := range candidateNames {
		if strings.TrimSpace(n) == "" || len([]rune(n)) > 200 {
			continue // the form's own check reports it
		}
		ms, err := s.searchPeople(ctx, a.User, n, 10)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if old, ok := best[m.PersonID]; !ok || m.Score > old.Score {
				best[m.PersonID] = m
			}
		}
	}
	out := make([]Match, 0, len(best))
	for _, m := range best {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].DisplayName < out[j].DisplayName
	})
	if len(out) > 0 {
		return out, s.audit.Record(ctx, audit.Entry{Actor: a.audit(), Action: "person.duplicate_check", ObjectType: "person",
			Detail: fmt.Sprintf("names=%q results=%d", candidateNames, len(out))})
	}
	return out, nil
}

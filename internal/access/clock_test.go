package access

import (
	"testing"
	"time"

	"github.com/attache-org/attache/internal/edate"
)

var beijing, _ = time.LoadLocation("Asia/Shanghai")

func d(s string) edate.Date { return edate.MustParse(s, "Asia/Shanghai") }

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, beijing)
	if err != nil {
		panic(err)
	}
	return t
}

var (
	monthly   = Profile{Name: "monthly", VisitEveryDays: 30, FirstContactHours: 24, MandatoryNotification: true, NotificationHours: 72}
	quarterly = Profile{Name: "quarterly", VisitEveryDays: 90}
)

func visit(day, mode string) Contact { return Contact{Happened: d(day), Mode: mode} }

func TestClockVisitsDue(t *testing.T) {
	cases := []struct {
		name       string
		in         ClockInput
		overdue    bool
		possibly   bool
		daysSince  int
		approx     bool
		dueEarlier string // the due span's start, Beijing time
	}{
		{"monthly, visited 32 days ago", ClockInput{Now: at("2020-12-21 10:00"), Profile: monthly,
			Contacts: []Contact{visit("2020-11-19", "onsite_video")}}, true, false, 32, false, "2020-12-19 00:00"},
		{"quarterly, same visit", ClockInput{Now: at("2020-12-21 10:00"), Profile: quarterly,
			Contacts: []Contact{visit("2020-11-19", "onsite_video")}}, false, false, 32, false, "2021-02-17 00:00"},
		{"monthly, visited 10 days ago", ClockInput{Now: at("2020-11-29 10:00"), Profile: monthly,
			Contacts: []Contact{visit("2020-10-10", "remote_video"), visit("2020-11-19", "onsite_video")}}, false, false, 10, false, "2020-12-19 00:00"},
		{"a call is contact, not a visit", ClockInput{Now: at("2020-12-21 10:00"), Profile: monthly,
			Contacts: []Contact{visit("2020-11-01", "in_person"), visit("2020-12-20", "phone")}}, true, false, 1, false, "2020-12-01 00:00"},
		{"month-precision visit: possibly, not certainly, overdue", ClockInput{Now: at("2019-03-15 10:00"), Profile: monthly,
			Contacts: []Contact{{Happened: edate.MustParse("2019-02", "Asia/Shanghai"), Mode: "in_person"}}}, false, true, 15, true, "2019-03-03 00:00"},
		{"month-precision visit, long past", ClockInput{Now: at("2019-04-15 10:00"), Profile: monthly,
			Contacts: []Contact{{Happened: edate.MustParse("2019-02", "Asia/Shanghai"), Mode: "in_person"}}}, true, false, 46, true, "2019-03-03 00:00"},
		{"no access ever: due a month after notification", ClockInput{Now: at("2019-02-01 10:00"), Profile: monthly,
			Notified: d("2018-12-12 16:00")}, true, false, -1, false, "2019-01-11 16:00"},
		{"refused assistance: no alarm", ClockInput{Now: at("2021-06-01 10:00"), Profile: monthly, Notified: d("2018-12-12"),
			Notification: &Notification{Assistance: "refused"}}, false, false, -1, false, ""},
		{"case closed: no alarm", ClockInput{Now: at("2021-06-01 10:00"), Profile: monthly,
			Contacts: []Contact{visit("2020-11-19", "onsite_video")}}, false, false, 194, false, "2020-12-19 00:00"},
		{"no visit frequency in the profile", ClockInput{Now: at("2021-06-01 10:00"), Profile: Profile{},
			Contacts: []Contact{visit("2020-11-19", "onsite_video")}}, false, false, 194, false, ""},
	}
	for _, tc := range cases {
		tc.in.Zone = beijing
		tc.in.CaseOpen = tc.name != "case closed: no alarm"
		c := ComputeClock(tc.in)
		if c.Overdue != tc.overdue || c.PossiblyOver != tc.possibly || c.DaysSinceContact != tc.daysSince || c.DaysApprox != tc.approx {
			t.Errorf("%s: overdue=%v possibly=%v days=%d approx=%v; want %v %v %d %v", tc.name, c.Overdue, c.PossiblyOver,
				c.DaysSinceContact, c.DaysApprox, tc.overdue, tc.possibly, tc.daysSince, tc.approx)
		}
		switch {
		case tc.dueEarlier == "" && !c.NextVisitDue.IsZero():
			t.Errorf("%s: a visit is due %v, want none", tc.name, c.NextVisitDue)
		case tc.dueEarlier != "" && !c.NextVisitDue.Earliest.Equal(at(tc.dueEarlier)):
			t.Errorf("%s: due from %v, want %s", tc.name, c.NextVisitDue.Earliest.In(beijing), tc.dueEarlier)
		}
	}
}

func TestClockLocalDays(t *testing.T) {
	// Visited on 19 November, Beijing. At 01:00 on the 20th in Beijing it is
	// still the 19th in UTC: one day has passed there, none here.
	in := ClockInput{Now: time.Date(2020, 11, 19, 17, 0, 0, 0, time.UTC), Profile: monthly, Contacts: []Contact{visit("2020-11-19", "onsite_video")}}
	in.Zone = beijing
	if got := ComputeClock(in).DaysSinceContact; got != 1 {
		t.Errorf("days since in Beijing = %d, want 1", got)
	}
	in.Zone = nil
	if got := ComputeClock(in).DaysSinceContact; got != 0 {
		t.Errorf("days since in UTC = %d, want 0", got)
	}
}

func TestClockWindow(t *testing.T) {
	in := ClockInput{Now: at("2020-12-01 10:00"), Zone: beijing, Profile: monthly, Window: at("2020-10-01 00:00"),
		Contacts: []Contact{visit("2020-01-14", "in_person"), visit("2020-10-10", "remote_video"), visit("2020-11-19", "onsite_video"), visit("2020-11-25", "phone")}}
	c := ComputeClock(in)
	if c.InWindowTotal != 3 || c.InWindow["remote_video"]+c.InWindow["onsite_video"] != 2 || c.InWindow["in_person"] != 0 {
		t.Errorf("in the window: %v (total %d); want 2 video accesses and a call since 1 October", c.InWindow, c.InWindowTotal)
	}
	if c.LastContact.Mode != "phone" || c.LastVisit.Mode != "onsite_video" {
		t.Errorf("last contact %s, last visit %s", c.LastContact.Mode, c.LastVisit.Mode)
	}
}

func TestClockDeadlines(t *testing.T) {
	cases := []struct {
		name                string
		profile             Profile
		arrested, notified  string
		first               string // first contact, "" none
		now                 string
		notification, fcont string
	}{
		{"notified in time, contact in time", monthly, "~2018-12-10 22:00", "2018-12-12 16:00", "2018-12-13 10:00", "2018-12-20 10:00", "met", "met"},
		{"24-hour notification rule broken", Profile{MandatoryNotification: true, NotificationHours: 24, FirstContactHours: 24}, "2018-12-10 22:00", "2018-12-12 16:00", "2018-12-14 10:00", "2018-12-20 10:00", "late", "late"},
		{"month-precision arrest: cannot tell", monthly, "2018-12", "2018-12-20", "", "2018-12-20 12:00", "possibly_late", "pending"},
		{"not notified yet, deadline past", monthly, "2018-12-10 22:00", "", "", "2018-12-20 10:00", "overdue", "unknown"},
		{"notification on request: no deadline", quarterly, "2018-12-10", "2018-12-30", "", "2019-01-10 10:00", "none", "none"},
		{"no contact, deadline past", monthly, "2018-12-10", "2018-12-12 16:00", "", "2018-12-20 10:00", "met", "overdue"},
	}
	for _, tc := range cases {
		in := ClockInput{Now: at(tc.now), Zone: beijing, Profile: tc.profile, CaseOpen: true}
		if tc.arrested != "" {
			in.Arrested = d(tc.arrested)
		}
		if tc.notified != "" {
			in.Notified = d(tc.notified)
		}
		if tc.first != "" {
			in.Contacts = []Contact{visit(tc.first, "in_person")}
		}
		c := ComputeClock(in)
		if c.Notification.State != tc.notification || c.FirstContact.State != tc.fcont {
			t.Errorf("%s: notification %s, first contact %s; want %s, %s", tc.name, c.Notification.State, c.FirstContact.State, tc.notification, tc.fcont)
		}
	}
	// A refusal recorded at first contact: no first-contact alarm.
	c := ComputeClock(ClockInput{Now: at("2019-06-01 10:00"), Zone: beijing, Profile: monthly, CaseOpen: true, Notified: d("2018-12-12"),
		Notification: &Notification{Assistance: "refused"}})
	if c.FirstContact.Breach() || c.Overdue || !c.Refused {
		t.Errorf("refused: %+v", c)
	}
}

func TestClockRequests(t *testing.T) {
	now := at("2020-11-30 10:00")
	c := ComputeClock(ClockInput{Now: now, Zone: beijing, Profile: monthly, CaseOpen: true, Requests: []Request{
		{ID: "a", Mode: "in_person", Status: "sent", SentAt: now.Add(-20 * 24 * time.Hour)},
		{ID: "b", Mode: "remote_video", Status: "acknowledged", SentAt: now.Add(-3 * 24 * time.Hour)},
		{ID: "c", Mode: "in_person", Status: "denied"},
		{ID: "d", Mode: "in_person", Status: "escalated", SentAt: now.Add(-40 * 24 * time.Hour), History: []Transition{{To: "sent"}, {To: "denied"}, {To: "escalated"}}},
		{ID: "e", Mode: "onsite_video", Status: "granted"},
		{ID: "f", Mode: "phone", Status: "draft"},
	}})
	if len(c.Pending) != 3 || c.Pending[0].ID != "d" || c.Pending[0].AgeDays != 40 || c.Pending[2].AgeDays != 3 {
		t.Errorf("pending %+v", c.Pending)
	}
	if c.Denials != 2 {
		t.Errorf("denials %d, want 2 (one denied, one denied then escalated)", c.Denials)
	}
}

func TestTransitions(t *testing.T) {
	allowed := map[[2]string]bool{}
	for from, tos := range transitions {
		for _, to := range tos {
			allowed[[2]string{from, to}] = true
		}
	}
	for _, tc := range []struct {
		from, to string
		ok       bool
	}{
		{"draft", "sent", true}, {"draft", "withdrawn", true}, {"sent", "acknowledged", true}, {"sent", "granted", true},
		{"sent", "granted_with_conditions", true}, {"sent", "denied", true}, {"sent", "no_response", true}, {"sent", "escalated", true},
		{"acknowledged", "granted", true}, {"no_response", "escalated", true}, {"escalated", "granted", true}, {"denied", "escalated", true},
		{"draft", "granted", false}, {"draft", "denied", false}, {"granted", "denied", false}, {"granted", "sent", false},
		{"withdrawn", "sent", false}, {"denied", "granted", false}, {"granted_with_conditions", "granted", false}, {"sent", "draft", false},
	} {
		if allowed[[2]string{tc.from, tc.to}] != tc.ok {
			t.Errorf("%s → %s allowed=%v, want %v", tc.from, tc.to, !tc.ok, tc.ok)
		}
	}
	for _, s := range Statuses {
		if _, ok := transitions[s.Code]; !ok {
			t.Errorf("status %s has no transitions listed", s.Code)
		}
	}
}

func TestClockNotificationOnlyFromTheDetainingState(t *testing.T) {
	in := ClockInput{Now: at("2018-12-20 10:00"), Zone: beijing, Profile: monthly, CaseOpen: true,
		Arrested: d("2018-12-10 22:00"), Notified: d("2018-12-11 09:00")}
	if got := ComputeClock(in).Notification.State; got != "met" {
		t.Errorf("no record of the source: %s, want met", got)
	}
	in.Notification = &Notification{LearnedVia: "family"}
	if got := ComputeClock(in).Notification.State; got != "overdue" {
		t.Errorf("learned from the family: %s, want overdue (the detaining state never notified)", got)
	}
	in.Notification = &Notification{LearnedVia: "host_notification"}
	if got := ComputeClock(in).Notification.State; got != "met" {
		t.Errorf("notified by the detaining state: %s, want met", got)
	}
}

func TestClockDueDateAcrossDaylightSaving(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no zone data for America/New_York")
	}
	// A visit on 20 February 2024 in New York; clocks go forward on 10 March.
	in := ClockInput{Now: time.Date(2024, 3, 22, 0, 30, 0, 0, ny), Zone: ny, Profile: monthly, CaseOpen: true,
		Contacts: []Contact{{Happened: edate.MustParse("2024-02-20", "America/New_York"), Mode: "in_person"}}}
	c := ComputeClock(in)
	if got := c.NextVisitDue.Earliest.In(ny); got.Day() != 21 || got.Hour() != 0 {
		t.Errorf("due from %v, want 21 March 00:00 New York time", got)
	}
	if !c.Overdue {
		t.Errorf("at 00:30 on 22 March the 21 March due date has passed: %+v", c)
	}
}

func TestClockFirstContactOfMixedPrecision(t *testing.T) {
	// A contact known only to the year and one on 1 June: the first contact
	// may have been in January or on 1 June at the latest, so a deadline of
	// 10 March can neither be called met nor missed.
	in := ClockInput{Now: at("2023-12-01 10:00"), Zone: beijing, CaseOpen: true, Profile: Profile{FirstContactHours: 24},
		Notified: d("2023-03-09"), Contacts: []Contact{{Happened: edate.MustParse("2023", "Asia/Shanghai"), Mode: "phone"}, visit("2023-06-01", "in_person")}}
	if got := ComputeClock(in).FirstContact.State; got != "possibly_late" {
		t.Errorf("first contact: %s, want possibly_late", got)
	}
}

package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/attache-org/attache/internal/cases"
	"github.com/attache-org/attache/internal/visits"
)

// loadVisit makes sure the seed case has a remote video visit open now or
// soon, and prints fresh join links for the detainee terminal and the
// monitor, so that a newcomer can hold the visit in two browser tabs: one
// signed in as the officer, one on the detainee's link.
func loadVisit(ctx context.Context, env Env) error {
	barton, err := env.Auth.UserByName(ctx, "barton")
	if err != nil {
		return err
	}
	a := cases.Actor{User: barton}
	id, err := env.Cases.CaseByReference(ctx, barton, "CN-2018-0001")
	if err != nil {
		return err
	}
	list, err := env.Visits.ForCase(ctx, a, id)
	if err != nil {
		return err
	}
	var visit *visits.Visit
	now := time.Now()
	for i := range list {
		if v := &list[i]; v.Ends.After(now.Add(10*time.Minute)) && (v.Status == "planned" || v.Status == "confirmed" || v.Status == "in_progress") {
			visit = v
		}
	}
	if visit == nil {
		start := now.Add(2 * time.Minute).In(time.UTC)
		v, _, err := env.Visits.Schedule(ctx, a, id, visits.ScheduleInput{Modality: "remote_video", Start: start.Format("2006-01-02 15:04"),
			Zone: "UTC", Minutes: 60, Monitor: "Detaining state's monitor", Interpreter: &visits.Participant{Name: "Demo interpreter", Language: "zh"}})
		if err != nil {
			return err
		}
		visit = v
	}
	detainee, _, err := env.Visits.CreateLink(ctx, a, id, visit.ID, "detainee", "Michael Kovrig (terminal)", "")
	if err != nil {
		return err
	}
	monitor, _, err := env.Visits.CreateLink(ctx, a, id, visit.ID, "monitor", "Detaining state's monitor", "")
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Out, env.Words.T("Demo video visit of CN-2018-0001, %s to %s UTC (the officer is barton):", visit.Starts.UTC().Format("15:04"), visit.Ends.UTC().Format("15:04")))
	// The links' labels stay as they are: tests and scripts read them.
	fmt.Fprintf(env.Out, "  detainee terminal: %s/join/%s\n  monitor:           %s/join/%s\n", env.BaseURL, detainee, env.BaseURL, monitor)
	return nil
}

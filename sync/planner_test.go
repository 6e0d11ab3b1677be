package sync_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

// plannerSetup is a fake API with calls of two agents that started a
// minute ago, a store, and a planner and a syncer on them.
type plannerSetup struct {
	*intake
	planner *callsync.Planner
	syncer  *callsync.Syncer
	model   string
	other   string
	tmpl    apitest.Call
	start   time.Time
}

func newPlannerSetup(t *testing.T) *plannerSetup {
	t.Helper()
	in := newIntake(t, apitest.Generate(apitest.GenerateOptions{Seed: 77, Calls: 2, Models: 2}))
	s := &plannerSetup{intake: in, model: in.srv.Models()[0], other: in.srv.Models()[1], tmpl: in.srv.Calls()[0]}
	in.srv.Remove(in.srv.CallIDs()...)
	s.start = time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	s.planner = &callsync.Planner{API: in.client, Store: in.db, Logger: in.logger(), Intake: fastRetry,
		Config: callsync.PlannerConfig{FallbackWait: time.Millisecond, ExtraEvery: -1}}
	s.syncer = &callsync.Syncer{Queue: in.db, API: in.client, Logger: in.logger()}
	return s
}

// add serves a call of model, started at start plus offset, with status.
func (s *plannerSetup) add(id, model string, offset time.Duration, status string) {
	s.t.Helper()
	c := liveCall(s.t, s.tmpl, id, s.start.Add(offset), status)
	c, err := c.With("model_id", model)
	if err != nil {
		s.t.Fatal(err)
	}
	s.srv.Add(c)
}

// hook queues id as a webhook would, with hint.
func (s *plannerSetup) hook(id string, hint store.Hint) {
	s.t.Helper()
	if _, err := callsync.EnqueueHook(s.t.Context(), s.db, id, hint, time.Hour, 10*time.Minute); err != nil {
		s.t.Fatal(err)
	}
}

// step runs one planner step.
func (s *plannerSetup) step() callsync.PlanStats {
	s.t.Helper()
	st, _, err := s.planner.Step(s.t.Context())
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

// drain runs passes until none claims a row.
func (s *plannerSetup) drain() {
	s.t.Helper()
	for range 10 {
		st, err := s.syncer.RunOnce(s.t.Context())
		if err != nil {
			s.t.Fatal(err)
		}
		if st.Claimed == 0 {
			return
		}
	}
}

// queueState returns the state and extra mark of id's queue row.
func (s *plannerSetup) queueState(id string) (string, bool) {
	s.t.Helper()
	var state string
	var extra bool
	if err := storetest.PoolOf(s.db).QueryRow(s.t.Context(), `SELECT state, extra FROM sync_queue WHERE call_id = $1`, id).Scan(&state, &extra); err != nil {
		s.t.Fatalf("queue row of %s: %v", id, err)
	}
	return state, extra
}

// stored checks that id is stored once, with status and model.
func (s *plannerSetup) stored(id, status, model string) {
	s.t.Helper()
	var n int
	var got, gotModel string
	err := storetest.PoolOf(s.db).QueryRow(s.t.Context(), `SELECT count(*), min(status), min(model_id) FROM calls WHERE call_id = $1`, id).Scan(&n, &got, &gotModel)
	if err != nil || n != 1 || got != status || gotModel != model {
		s.t.Fatalf("call %s: %d rows, status %q, model %q (%v); want 1 row, %q, %q", id, n, got, gotModel, err, status, model)
	}
}

func TestPlanner_OneReadServesAnAgentsRows(t *testing.T) {
	s := newPlannerSetup(t)
	for i, id := range []string{"a1", "a2", "a3"} {
		s.add(id, s.model, time.Duration(i)*time.Second, "completed")
		s.hook(id, store.Hint{ModelID: s.model, StartedAt: s.start.Add(time.Duration(i) * time.Second)})
	}
	s.add("a4", s.model, 2*time.Second, "in-progress") // no webhook yet: listed, stored, queued
	st := s.step()
	if st.Model != s.model || st.Requests != 1 || st.Served != 3 || st.Queued != 1 {
		t.Fatalf("step = %+v, want one request serving 3 rows and queueing 1", st)
	}
	for _, id := range []string{"a1", "a2", "a3"} {
		s.stored(id, "completed", s.model)
		if state, extra := s.queueState(id); state != "done" || !extra {
			t.Fatalf("%s: %s extra=%v, want done and an extra", id, state, extra)
		}
	}
	if got := s.srv.Counters().Endpoint(apitest.EndpointGetCall); got != 0 {
		t.Fatalf("%d gets, want none", got)
	}
	// The in-progress call ends; its webhook moves its row ahead of the
	// re-fetch schedule, once.
	s.add("a4", s.model, 2*time.Second, "completed")
	s.hook("a4", store.Hint{ModelID: s.model, StartedAt: s.start.Add(2 * time.Second)})
	if what, err := s.db.EnqueueHookHint(t.Context(), "a4", store.Hint{}, false, 10*time.Minute); err != nil || what != store.HookIgnored {
		t.Fatalf("replay = %q, %v; want ignored", what, err)
	}
	// Alone and due, the row goes to a get: the same request, every field.
	if st := s.step(); st.Model != s.model || st.Requests != 0 {
		t.Fatalf("step = %+v, want the row handed to a get", st)
	}
	s.drain()
	s.stored("a4", "completed", s.model)
	if got := s.srv.Counters().CallServed("a4"); got != 1 {
		t.Fatalf("a4 fetched %d times, want 1", got)
	}
}

// TestPlanner_ListLag: a call the list does not show yet is fetched alone,
// once, after the fallback wait.
func TestPlanner_ListLag(t *testing.T) {
	s := newPlannerSetup(t)
	s.add("lag1", s.model, 0, "completed")
	s.add("shown", s.model, time.Second, "completed")
	s.hook("lag1", store.Hint{ModelID: s.model, StartedAt: s.start})
	s.hook("shown", store.Hint{ModelID: s.model, StartedAt: s.start.Add(time.Second)})
	shown, _ := s.srv.Call("shown")
	s.srv.ScriptList(s.model, apitest.Step{Status: http.StatusOK,
		Body: `{"status":"ok","response":{"pagination":{"total_records":1,"limit":100,"offset":0},"calls":[` + string(shown.ListJSON()) + `]}}`})
	if st := s.step(); st.Served != 1 || st.Missed != 1 {
		t.Fatalf("step = %+v, want 1 served, 1 missed", st)
	}
	s.drain()
	s.stored("lag1", "completed", s.model)
	s.stored("shown", "completed", s.model)
	if got := s.srv.Counters().CallServed("lag1"); got != 1 {
		t.Fatalf("lag1 fetched %d times, want 1", got)
	}
	if state, extra := s.queueState("lag1"); state != "done" || extra {
		t.Fatalf("lag1: %s extra=%v, want done by its get", state, extra)
	}
}

// TestPlanner_WrongHint: a webhook body naming the wrong agent or start
// costs a fallback get, never a wrong row.
func TestPlanner_WrongHint(t *testing.T) {
	s := newPlannerSetup(t)
	s.add("w1", s.model, 0, "completed")
	s.add("w2", s.model, 0, "completed")
	s.add("w3", s.model, 0, "completed")
	s.add("o1", s.other, 0, "completed")
	// Wrong agent: its list shows o1, not w1 or w3.
	s.hook("w1", store.Hint{ModelID: s.other, StartedAt: s.start})
	s.hook("w3", store.Hint{ModelID: s.other, StartedAt: s.start})
	// Wrong start: the read begins after the call's.
	s.hook("w2", store.Hint{ModelID: s.model, StartedAt: s.start.Add(30 * time.Second)})
	for range 3 {
		s.step()
	}
	s.drain()
	for _, id := range []string{"w1", "w2", "w3"} {
		s.stored(id, "completed", s.model)
	}
	s.stored("o1", "completed", s.other)
	for _, id := range []string{"w1", "w2", "w3"} {
		if state, _ := s.queueState(id); state != "done" {
			t.Fatalf("%s: %s, want done", id, state)
		}
	}
	if got := s.srv.Counters().Endpoint(apitest.EndpointGetCall); got != 3 {
		t.Fatalf("%d gets, want one per wrong hint", got)
	}
}

// TestPlanner_MissedWebhook: a polled agent's call seen in progress lands
// final from a later poll, without its webhook and without a get.
func TestPlanner_MissedWebhook(t *testing.T) {
	s := newPlannerSetup(t)
	now := time.Now()
	s.planner.Models = []string{s.model}
	s.planner.Now = func() time.Time { return now }
	s.add("m1", s.model, 0, "in-progress")
	if st := s.step(); !st.Poll || st.Queued != 1 {
		t.Fatalf("first poll = %+v, want the call queued", st)
	}
	s.stored("m1", "in-progress", s.model)
	s.add("m1", s.model, 0, "completed")
	now = now.Add(time.Minute) // the next poll is due
	if st := s.step(); !st.Poll || st.Settled != 1 {
		t.Fatalf("second poll = %+v, want the call's row settled", st)
	}
	s.stored("m1", "completed", s.model)
	if state, _ := s.queueState("m1"); state != "done" {
		t.Fatalf("m1: %s, want done", state)
	}
	if got := s.srv.Counters().Endpoint(apitest.EndpointGetCall); got != 0 {
		t.Fatalf("%d gets, want none", got)
	}
}

// TestPlanner_RateLimitBurst: 429s on a read are waited out; the rows are
// served by the read once it goes through, each call stored once.
func TestPlanner_RateLimitBurst(t *testing.T) {
	s := newPlannerSetup(t)
	for _, id := range []string{"r1", "r2"} {
		s.add(id, s.model, 0, "completed")
		s.hook(id, store.Hint{ModelID: s.model, StartedAt: s.start})
	}
	burst := make([]apitest.Step, 5)
	for i := range burst {
		burst[i] = apitest.Step{Status: http.StatusTooManyRequests}
	}
	s.srv.ScriptList(s.model, burst...)
	st := s.step()
	if st.Served != 2 || st.Requests != 6 {
		t.Fatalf("step = %+v, want 2 served after 6 requests", st)
	}
	for _, id := range []string{"r1", "r2"} {
		s.stored(id, "completed", s.model)
	}
}

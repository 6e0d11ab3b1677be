package sync_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

// smallSet is 300 calls of one model over the generator's 30 days.
func smallSet() []apitest.Call {
	return apitest.Generate(apitest.GenerateOptions{Seed: 21, Calls: 300, Models: 1})
}

func TestBackfiller_RetriesFaults(t *testing.T) {
	in := newIntake(t, smallSet())
	model := in.srv.Models()[0]
	in.srv.ScriptList(model,
		apitest.Step{Status: http.StatusBadGateway},
		apitest.Step{Fault: apitest.FaultTruncated},
		apitest.Step{Fault: apitest.FaultInvalidBody},
		apitest.Step{Status: http.StatusTooManyRequests},
		apitest.Step{Fault: apitest.FaultReset},
	)
	windows := in.windows(genFrom, genTo, 24*time.Hour)
	rep, err := in.backfiller(genTo.Add(time.Hour)).Run(t.Context(), windows, callsync.BackfillOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "calls", in.ids(`SELECT call_id FROM calls`), apiIDs(in.srv, nil))
	if len(rep.Failed) != 0 || rep.Requests < len(windows)+4 {
		t.Fatalf("report = %+v, want no failure and the faults retried", rep)
	}
}

func TestBackfiller_WindowFailsThenResumes(t *testing.T) {
	in := newIntake(t, smallSet())
	model := in.srv.Models()[0]
	steps := make([]apitest.Step, callsync.DefaultIntakeConfig().Attempts)
	for i := range steps {
		steps[i] = apitest.Step{Status: http.StatusInternalServerError}
	}
	in.srv.ScriptList(model, steps...) // the first window's request fails every attempt
	windows := in.windows(genFrom, genTo, 24*time.Hour)
	b := in.backfiller(genTo.Add(time.Hour))
	rep, err := b.Run(t.Context(), windows, callsync.BackfillOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) != 1 || rep.Done != len(windows)-1 {
		t.Fatalf("report = %+v, want the first window failed and the others done", rep)
	}
	f := rep.Failed[0]
	if !f.From.Equal(windows[0].From) || !strings.Contains(f.Err.Error(), "HTTP 500") ||
		!strings.Contains(f.Err.Error(), "gave up after 4 attempts") || !errors.Is(f.Err, api.ErrServer) {
		t.Fatalf("failed window %v: %v", f.Window, f.Err)
	}
	t.Logf("failed window: %v", f.Err)
	rep, err = b.Run(t.Context(), windows, callsync.BackfillOptions{})
	if err != nil || rep.Skipped != len(windows)-1 || rep.Done != 1 {
		t.Fatalf("rerun: report %+v, err %v", rep, err)
	}
	sameIDs(t, "calls", in.ids(`SELECT call_id FROM calls`), apiIDs(in.srv, nil))
}

func TestBackfiller_StopsWhenWindowsKeepFailing(t *testing.T) {
	in := newIntake(t, smallSet())
	in.srv.SetFaults(apitest.Faults{ServerErrorRate: 1, Endpoints: []apitest.Endpoint{apitest.EndpointListCalls}})
	windows := in.windows(genFrom, genTo, 24*time.Hour)
	// Four windows at once, on a server of their own (requests the run
	// gave up on may still reach it): the run stops all the same, with the
	// failures as its cause, not the cancelled context of the others.
	in4 := newIntake(t, smallSet())
	in4.srv.SetFaults(apitest.Faults{ServerErrorRate: 1, Endpoints: []apitest.Endpoint{apitest.EndpointListCalls}})
	at4, err := in4.backfiller(genTo.Add(time.Hour)).Run(t.Context(), windows, callsync.BackfillOptions{Windows: 4})
	if err == nil || !strings.Contains(err.Error(), "windows failed in a row") || len(at4.Failed) < 3 || len(at4.Failed) > 6 ||
		errors.Is(err, context.Canceled) {
		t.Fatalf("4 at once: err = %v, failed %d; want a stop after 3 windows failed in a row", err, len(at4.Failed))
	}
	rep, err := in.backfiller(genTo.Add(time.Hour)).Run(t.Context(), windows, callsync.BackfillOptions{})
	if err == nil || !strings.Contains(err.Error(), "3 windows failed in a row") || len(rep.Failed) != 3 {
		t.Fatalf("err = %v, failed %d; want a stop after 3 windows", err, len(rep.Failed))
	}
	if got := in.srv.Counters().Endpoint(apitest.EndpointListCalls); got != 3*callsync.DefaultIntakeConfig().Attempts {
		t.Fatalf("%d list requests, want %d", got, 3*callsync.DefaultIntakeConfig().Attempts)
	}
}

func TestBackfiller_BadRequestFailsAtOnce(t *testing.T) {
	in := newIntake(t, smallSet())
	in.srv.ScriptList(in.srv.Models()[0], apitest.Step{Status: http.StatusBadRequest})
	windows := in.windows(genFrom, genFrom.AddDate(0, 0, 2), 24*time.Hour)
	rep, err := in.backfiller(genTo).Run(t.Context(), windows, callsync.BackfillOptions{})
	if err != nil || len(rep.Failed) != 1 || rep.Requests != 2 {
		t.Fatalf("report %+v, err %v: want one window failed without retries", rep, err)
	}
}

func TestBackfiller_Unauthorized(t *testing.T) {
	in := newIntake(t, smallSet())
	in.srv.SetAPIKey("another-key")
	_, err := in.backfiller(genTo).Run(t.Context(), in.windows(genFrom, genTo, 24*time.Hour), callsync.BackfillOptions{})
	if !errors.Is(err, callsync.ErrUnauthorized) || !errors.Is(err, api.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if got := in.srv.Counters().Total(); got != 1 {
		t.Fatalf("%d requests, want 1: a refused key stops at once", got)
	}
	if n := in.count(`SELECT count(*) FROM backfill_checkpoints`); n != 0 {
		t.Fatalf("%d checkpoints written", n)
	}
}

func TestBackfiller_DryRun(t *testing.T) {
	in := newIntake(t, smallSet())
	rep, err := in.backfiller(genTo.Add(time.Hour)).Run(t.Context(), in.windows(genFrom, genTo, 24*time.Hour),
		callsync.BackfillOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Calls != 300 || len(rep.Mismatched) != 0 || rep.Done != 30 {
		t.Fatalf("report = %+v, want 300 calls counted", rep)
	}
	for _, table := range []string{"calls", "sync_queue", "backfill_checkpoints"} {
		if n := in.count(`SELECT count(*) FROM ` + table); n != 0 {
			t.Errorf("dry run wrote %d rows to %s", n, table)
		}
	}
}

func TestBackfiller_EnrichAndRefetch(t *testing.T) {
	in := newIntake(t, smallSet())
	windows := in.windows(genFrom, genTo, 24*time.Hour)
	b := in.backfiller(genTo.Add(time.Hour))
	if _, err := b.Run(t.Context(), windows, callsync.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := storetest.PoolOf(in.db).Exec(t.Context(), `UPDATE sync_queue SET state = 'done'`); err != nil {
		t.Fatal(err)
	}
	in.srv.Counters().Reset()
	rep, err := b.Run(t.Context(), windows, callsync.BackfillOptions{Enrich: true, Refetch: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Skipped != 0 || rep.Unchanged != 300 || rep.Enqueued != 300 || in.srv.Counters().Endpoint(apitest.EndpointListCalls) != 30 {
		t.Fatalf("report = %+v; want every window read again and every call queued", rep)
	}
	if n := in.count(`SELECT count(*) FROM sync_queue WHERE state = 'pending'`); n != 300 {
		t.Fatalf("%d calls pending, want 300", n)
	}
}

func TestBackfiller_OpenWindowIsNotDone(t *testing.T) {
	in := newIntake(t, smallSet())
	last := genTo.Add(-24 * time.Hour)
	windows := in.windows(last, genTo, 24*time.Hour)
	b := in.backfiller(genTo.Add(-time.Hour)) // the window has not closed yet
	if _, err := b.Run(t.Context(), windows, callsync.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := in.count(`SELECT count(*) FROM backfill_checkpoints WHERE NOT done AND next_offset = 0`); n != 1 {
		t.Fatal("the open window is not checkpointed as to be read again")
	}
	in.srv.Counters().Reset()
	if rep, err := b.Run(t.Context(), windows, callsync.BackfillOptions{}); err != nil || rep.Skipped != 0 {
		t.Fatalf("rerun: %+v, %v; want the open window read again", rep, err)
	}
}

// TestBackfiller_MergesListAndGet stores calls from the get endpoint and
// from list pages, in both orders: neither erases what only the other sends.
func TestBackfiller_MergesListAndGet(t *testing.T) {
	calls := smallSet()
	for i := range calls[:2] {
		c, err := calls[i].With("end_call_reason", "custom_end_call")
		if err == nil {
			c, err = c.With("custom_end_call_reason", "caller asked for a human")
		}
		if err == nil {
			c, err = c.With("judge_results", map[string]string{"goal": "true"})
		}
		if err == nil {
			c, err = c.With("status", "completed")
		}
		if err != nil {
			t.Fatal(err)
		}
		calls[i] = c
	}
	in := newIntake(t, calls)
	getFirst, listFirst := calls[0].ID(), calls[1].ID()
	ctx := t.Context()
	fetch := func(id string) {
		if _, err := callsync.Enqueue(ctx, in.db, []string{id}); err != nil {
			t.Fatal(err)
		}
		s := &callsync.Syncer{Queue: in.db, API: in.client, Logger: in.logger()}
		if _, err := s.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	fetch(getFirst)
	windows := in.windows(genFrom, genTo, 24*time.Hour)
	if _, err := in.backfiller(genTo.Add(time.Hour)).Run(ctx, windows, callsync.BackfillOptions{}); err != nil {
		t.Fatal(err)
	}
	fetch(listFirst)
	for _, id := range []string{getFirst, listFirst} {
		var custom, status *string
		var prompt, raw []byte
		if err := storetest.PoolOf(in.db).QueryRow(ctx, `SELECT custom_end_call_reason, status, prompt_variables, raw FROM calls
			WHERE call_id = $1`, id).Scan(&custom, &status, &prompt, &raw); err != nil {
			t.Fatal(err)
		}
		if custom == nil || *custom != "caller asked for a human" || status == nil || *status != "completed" || prompt == nil {
			t.Errorf("call %s: custom_end_call_reason %v, status %v, prompt_variables %s: get-only fields lost", id, custom, status, prompt)
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(raw, &keys); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"judge_results", "lead_phone_number", "call_status", "prompt_variables", "custom_end_call_reason", "status"} {
			if _, ok := keys[k]; !ok {
				t.Errorf("call %s: raw lacks %s", id, k)
			}
		}
	}
}

func TestAllModels(t *testing.T) {
	in := newIntake(t, apitest.Generate(apitest.GenerateOptions{Seed: 5, Calls: 400, Models: 130}))
	sent := 0
	models, err := callsync.AllModels(t.Context(), in.client, fastRetry, &sent)
	if err != nil {
		t.Fatal(err)
	}
	want := in.srv.Models()
	if len(want) < 101 || strings.Join(models, ",") != strings.Join(want, ",") || sent != 2 {
		t.Fatalf("%d models in %d requests, want the API's %d in 2", len(models), sent, len(want))
	}
}

// stallingLimiter lets the first request through; every later one cancels
// the run and then takes a while to notice, like a request caught on a slow
// network when the run stops.
type stallingLimiter struct {
	cancel   context.CancelFunc
	waits    atomic.Int64
	inFlight atomic.Int64
}

func (l *stallingLimiter) Wait(ctx context.Context) error {
	l.inFlight.Add(1)
	defer l.inFlight.Add(-1)
	if l.waits.Add(1) == 1 {
		return nil
	}
	l.cancel()
	<-ctx.Done()
	time.Sleep(time.Second) // longer than the first page takes to store
	return ctx.Err()
}

func (l *stallingLimiter) Throttled(context.Context, time.Duration) {}

func TestBackfiller_NoRequestOutlivesTheRun(t *testing.T) {
	in := newIntake(t, smallSet())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	lim := &stallingLimiter{cancel: cancel}
	client, err := api.NewClient(api.Options{BaseURL: in.srv.URL, APIKey: testKey, Limiter: lim})
	if err != nil {
		t.Fatal(err)
	}
	b := in.backfiller(genTo.Add(time.Hour))
	b.API = client
	b.Config.PageSize = 100
	// One window of 300 calls, 100 a page: the second page is being asked
	// for while the first is stored when the run stops.
	windows := in.windows(genFrom, genTo, genTo.Sub(genFrom))
	if _, err := b.Run(ctx, windows, callsync.BackfillOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := lim.inFlight.Load(); n != 0 {
		t.Fatalf("%d requests still in progress after Run returned", n)
	}
	if lim.waits.Load() < 2 {
		t.Fatalf("%d requests, want the second page asked for", lim.waits.Load())
	}
}

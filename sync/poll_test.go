package sync_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

func (in *intake) poller(now *time.Time) *callsync.Poller {
	return &callsync.Poller{API: in.client, Store: in.db, Logger: in.logger(), Config: fastRetry,
		Now: func() time.Time { return *now }}
}

// liveCall returns a copy of template with a new id, start time and status.
func liveCall(t *testing.T, template apitest.Call, id string, start time.Time, status string) apitest.Call {
	t.Helper()
	c, err := template.With("call_id", id)
	if err == nil {
		c, err = c.With("start_time", start.UnixMilli())
	}
	if err == nil {
		c, err = c.With("status", status)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPoller_Watermark(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	// 3 days of calls up to now: only the last hour's are polled at first.
	in := newIntake(t, apitest.Generate(apitest.GenerateOptions{Seed: 31, Calls: 300, Models: 1,
		From: now.Add(-72 * time.Hour), To: now}))
	model := in.srv.Models()[0]
	tmpl := in.srv.Calls()[0]
	p := in.poller(&now)
	ctx := t.Context()

	st, err := p.Poll(ctx, []string{model})
	if err != nil {
		t.Fatal(err)
	}
	lastHour := apiIDs(in.srv, func(c apitest.Call) bool { return !c.Start().Before(now.Add(-time.Hour)) })
	sameIDs(t, "first poll", in.ids(`SELECT call_id FROM calls`), lastHour)
	newest := in.srv.Calls()[0].Start()
	wm, err := in.db.Watermark(ctx, model)
	if err != nil || !wm.Equal(newest) {
		t.Fatalf("watermark = %v, %v; want the newest call's start %v", wm, err, newest)
	}
	if st.Models != 1 || st.Calls != len(lastHour) || st.Requests != 1 {
		t.Fatalf("stats = %+v", st)
	}

	// A minute later: a new call in progress, and a call that started
	// before the watermark but shows up late, within the lookback.
	now = now.Add(time.Minute)
	in.srv.Add(liveCall(t, tmpl, "new-1", now.Add(-30*time.Second), "in-progress"),
		liveCall(t, tmpl, "late-1", wm.Add(-20*time.Minute), "completed"),
		liveCall(t, tmpl, "too-late", wm.Add(-2*time.Hour), "completed"))
	if _, err := p.Poll(ctx, []string{model}); err != nil {
		t.Fatal(err)
	}
	if got := in.ids(`SELECT call_id FROM calls WHERE call_id IN ('new-1', 'late-1', 'too-late')`); strings.Join(got, ",") != "late-1,new-1" {
		t.Fatalf("second poll stored %v, want late-1 and new-1 (too-late is before the lookback)", got)
	}
	if got := in.ids(`SELECT call_id FROM sync_queue WHERE call_id IN ('new-1', 'late-1')`); strings.Join(got, ",") != "new-1" {
		t.Fatalf("queued %v, want new-1, the call not final yet", got)
	}
	if wm2, err := in.db.Watermark(ctx, model); err != nil || !wm2.Equal(now.Add(-30*time.Second)) {
		t.Fatalf("watermark = %v, %v; want new-1's start", wm2, err)
	}

	// Polling again does not queue new-1 again: the worker's schedule of
	// re-fetches stands.
	if _, err := storetest.PoolOf(in.db).Exec(ctx, `UPDATE sync_queue SET next_attempt_at = now() + interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Poll(ctx, []string{model}); err != nil {
		t.Fatal(err)
	}
	if n := in.count(`SELECT count(*) FROM sync_queue WHERE next_attempt_at <= now()`); n != 0 {
		t.Fatalf("%d queue rows made due again by a poll", n)
	}
}

func TestPoller_WatermarkStaysOnFailure(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	in := newIntake(t, apitest.Generate(apitest.GenerateOptions{Seed: 32, Calls: 250, Models: 1,
		From: now.Add(-time.Hour), To: now}))
	model := in.srv.Models()[0]
	p := in.poller(&now)
	steps := []apitest.Step{{}} // the first page is served, the second keeps failing
	for range callsync.DefaultIntakeConfig().Attempts {
		steps = append(steps, apitest.Step{Status: http.StatusServiceUnavailable})
	}
	in.srv.ScriptList(model, steps...)
	st, err := p.Poll(t.Context(), []string{model, "unknown-model"})
	if err == nil || !strings.Contains(err.Error(), "1 of 2 models failed") || st.Failed != 1 || st.Models != 1 {
		t.Fatalf("stats %+v, err %v; want one model failed, the other polled", st, err)
	}
	if n := in.count(`SELECT count(*) FROM calls`); n != 100 {
		t.Fatalf("%d calls stored, want the first page's 100", n)
	}
	if _, err := in.db.Watermark(t.Context(), model); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("watermark err = %v, want none set", err)
	}
	// A model without calls keeps its place at the start of its first poll.
	if wm, err := in.db.Watermark(t.Context(), "unknown-model"); err != nil || !wm.Equal(now.Add(-time.Hour)) {
		t.Fatalf("empty model's watermark = %v, %v", wm, err)
	}
	if _, err := p.Poll(t.Context(), []string{model}); err != nil {
		t.Fatal(err)
	}
	if n := in.count(`SELECT count(*) FROM calls`); n != 250 {
		t.Fatalf("%d calls after the second poll, want 250", n)
	}
}

func TestPoller_Unauthorized(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	in := newIntake(t, smallSet())
	in.srv.SetAPIKey("other")
	if _, err := in.poller(&now).Poll(t.Context(), []string{"a", "b"}); !errors.Is(err, callsync.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if n := in.srv.Counters().Total(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

package sync_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

var _ callsync.Queue = (*store.DB)(nil)
var _ callsync.Fetcher = (*api.Client)(nil)
var _ callsync.Buckets = (*store.DB)(nil)

const testKey = "test-key-do-not-log"

type harness struct {
	t      *testing.T
	db     *store.DB
	api    *apitest.Server
	client *api.Client
	logs   *syncBuffer
}

// syncBuffer is a bytes.Buffer that several goroutines may write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newHarness(t *testing.T, calls []apitest.Call) *harness {
	t.Helper()
	srv, err := apitest.NewServer(apitest.Options{Calls: calls, APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	client, err := api.NewClient(api.Options{BaseURL: srv.URL, APIKey: testKey, Timeout: 30 * time.Second}) // ample: the hostile 20 MB body must be refused for its size, not a slow read on a busy machine
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, db: store.New(storetest.Pool(t)), api: srv, client: client, logs: &syncBuffer{}}
}

func (h *harness) syncer(cfg callsync.Config) *callsync.Syncer {
	return &callsync.Syncer{Queue: h.db, API: h.client, Config: cfg,
		Logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

func (h *harness) enqueue(ids ...string) {
	h.t.Helper()
	if _, err := callsync.Enqueue(h.t.Context(), h.db, ids); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) runOnce(cfg callsync.Config) callsync.Stats {
	h.t.Helper()
	st, err := h.syncer(cfg).RunOnce(h.t.Context())
	if err != nil {
		h.t.Fatalf("RunOnce: %v", err)
	}
	return st
}

// makeDue makes every pending row due now, as if time had passed.
func (h *harness) makeDue() {
	h.t.Helper()
	if _, err := storetest.PoolOf(h.db).Exec(h.t.Context(), `UPDATE sync_queue SET next_attempt_at = now() WHERE state = 'pending'`); err != nil {
		h.t.Fatal(err)
	}
}

type row struct {
	State    store.State
	Attempts int
	Polls    int
	Error    string
}

func (h *harness) queue() map[string]row {
	h.t.Helper()
	rows, err := storetest.PoolOf(h.db).Query(h.t.Context(), `SELECT call_id, state, attempts, polls, coalesce(last_error, '') FROM sync_queue`)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]row{}
	for rows.Next() {
		var id string
		var r row
		if err := rows.Scan(&id, &r.State, &r.Attempts, &r.Polls, &r.Error); err != nil {
			h.t.Fatal(err)
		}
		out[id] = r
	}
	return out
}

// afterStop counts the queue rows of a pass that was stopped: done, or
// pending without an attempt counted (given back untouched). Any other
// row is an error.
func (h *harness) afterStop() (pending, done int) {
	h.t.Helper()
	for id, r := range h.queue() {
		switch {
		case r.State == "pending" && r.Attempts == 0:
			pending++
		case r.State == "done":
			done++
		default:
			h.t.Errorf("%s: %+v after the stop", id, r)
		}
	}
	return pending, done
}

func (h *harness) count(sql string, args ...any) int {
	h.t.Helper()
	var n int
	if err := storetest.PoolOf(h.db).QueryRow(h.t.Context(), sql, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func ids(calls []apitest.Call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.ID()
	}
	return out
}

func TestSyncer_RunOnce_GeneratedCalls(t *testing.T) {
	// Recent calls, so that those whose status is not final are polled.
	now := time.Now()
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 7, Calls: 300, From: now.Add(-2 * time.Hour), To: now})
	h := newHarness(t, calls)
	h.enqueue(ids(calls)...)
	st := h.runOnce(callsync.Config{BatchSize: 64})

	// What the API serves, decoded and normalized, is the source of truth.
	wantLines, wantVars, wantPolling := 0, 0, 0
	for _, c := range calls {
		ac, err := api.DecodeCall(c.GetJSON())
		if err != nil {
			t.Fatal(err)
		}
		norm, _, err := callsync.Normalize(ac)
		if err != nil {
			t.Fatal(err)
		}
		wantLines += len(norm.Transcript)
		wantVars += len(norm.Variables)
		if norm.Status == nil || !callsync.IsFinal(*norm.Status) {
			wantPolling++
		}
	}
	if got := h.count(`SELECT count(*) FROM calls`); got != len(calls) {
		t.Errorf("calls = %d, want %d", got, len(calls))
	}
	if got := h.count(`SELECT count(*) FROM transcript_lines`); got != wantLines {
		t.Errorf("transcript_lines = %d, want %d", got, wantLines)
	}
	if got := h.count(`SELECT count(*) FROM collected_variables`); got != wantVars {
		t.Errorf("collected_variables = %d, want %d", got, wantVars)
	}
	if st.Done != len(calls)-wantPolling || st.Polling != wantPolling || st.Claimed != len(calls) {
		t.Errorf("Stats = %+v, want %d done, %d polling", st, len(calls)-wantPolling, wantPolling)
	}
	if wantPolling == 0 {
		t.Error("generated data has no call with a status that is not final")
	}
	for id, r := range h.queue() {
		if r.State != "done" && !(r.State == "pending" && r.Polls == 1) {
			t.Errorf("%s: %+v", id, r)
		}
	}
	for id, n := range h.api.Counters().Calls() {
		if n != 1 {
			t.Errorf("call %s fetched %d times, want 1", id, n)
		}
	}

	// Syncing everything again changes nothing but the bookkeeping.
	before := storetest.Snapshot(t, storetest.PoolOf(h.db), storetest.DataTables, "synced_at")
	h.enqueue(ids(calls)...)
	h.runOnce(callsync.Config{BatchSize: 64})
	after := storetest.Snapshot(t, storetest.PoolOf(h.db), storetest.DataTables, "synced_at")
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("re-sync changed data (-first +second):\n%.3000s", diff)
	}
}

func TestSyncer_OfficialExample(t *testing.T) {
	body, err := os.ReadFile("../api/testdata/get-call.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := apitest.ParseCall(body)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, []apitest.Call{c})
	h.enqueue(c.ID())
	h.runOnce(callsync.Config{})
	var started time.Time
	var duration int
	var status string
	err = storetest.PoolOf(h.db).QueryRow(t.Context(), `SELECT started_at, duration_seconds, status FROM calls WHERE call_id = $1`, c.ID()).
		Scan(&started, &duration, &status)
	if err != nil {
		t.Fatal(err)
	}
	if !started.Equal(time.Date(2024, 7, 29, 13, 41, 55, 0, time.UTC)) || duration != 108 || status != "completed" {
		t.Errorf("call = %v, %d, %q", started, duration, status)
	}
	if got := h.count(`SELECT count(*) FROM transcript_lines`); got != 29 {
		t.Errorf("transcript lines = %d, want 29", got)
	}
	if got := h.count(`SELECT count(*) FROM transcript_lines WHERE speaker = 'bot'`); got != 23 {
		t.Errorf("bot lines = %d, want 23", got)
	}
	if got := h.count(`SELECT count(*) FROM transcript_lines WHERE speaker = 'human'`); got != 6 {
		t.Errorf("human lines = %d, want 6", got)
	}
	if got := h.count(`SELECT count(*) FROM collected_variables WHERE agent_id = 'agent_123'
		AND ((name = 'user_name' AND value = '"Julian"') OR (name = 'appointment_date' AND value = '{}'))`); got != 2 {
		t.Errorf("matching collected variables = %d, want 2", got)
	}
	if got := h.count(`SELECT count(*) FROM call_telephony WHERE duration_ms = 66000 AND ringing_duration_ms = 15000
		AND started_at IS NULL AND ended_at IS NULL`); got != 1 {
		t.Errorf("matching telephony rows = %d, want 1", got)
	}
}

func TestSyncer_NonFinalIsPolledUntilFinal(t *testing.T) {
	base := apitest.Generate(apitest.GenerateOptions{Seed: 1, Calls: 1})[0]
	start := time.Now().Add(-10 * time.Minute).UnixMilli()
	live, err := base.With("status", "in-progress")
	if err != nil {
		t.Fatal(err)
	}
	live, _ = live.With("start_time", start)
	h := newHarness(t, []apitest.Call{live})
	h.enqueue(live.ID())
	st := h.runOnce(callsync.Config{})
	if st.Polling != 1 {
		t.Fatalf("Stats = %+v, want 1 polling", st)
	}
	if r := h.queue()[live.ID()]; r.State != "pending" || r.Polls != 1 || r.Attempts != 0 {
		t.Fatalf("queue row = %+v, want pending, 1 poll", r)
	}
	if got := h.count(`SELECT count(*) FROM sync_queue WHERE next_attempt_at > now() + interval '50 seconds'`); got != 1 {
		t.Fatal("the re-fetch is not delayed")
	}
	// Not due yet: nothing happens.
	if st := h.runOnce(callsync.Config{}); st.Claimed != 0 {
		t.Fatalf("claimed %d rows before they were due", st.Claimed)
	}
	done, _ := live.With("status", "completed")
	h.api.Add(done)
	h.makeDue()
	h.runOnce(callsync.Config{})
	if r := h.queue()[live.ID()]; r.State != "done" {
		t.Fatalf("queue row = %+v, want done", r)
	}
	if got := h.count(`SELECT count(*) FROM calls WHERE status = 'completed'`); got != 1 {
		t.Fatal("stored status is not completed")
	}
}

func TestSyncer_NonFinalPastMaxAgeIsDone(t *testing.T) {
	base := apitest.Generate(apitest.GenerateOptions{Seed: 1, Calls: 1})[0]
	old, _ := base.With("status", "in-progress")
	old, _ = old.With("start_time", time.Now().Add(-25*time.Hour).UnixMilli())
	h := newHarness(t, []apitest.Call{old})
	h.enqueue(old.ID())
	h.runOnce(callsync.Config{})
	if r := h.queue()[old.ID()]; r.State != "done" {
		t.Fatalf("queue row = %+v, want done", r)
	}
}

func TestSyncer_Failures(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 3, Calls: 3})
	h := newHarness(t, calls)
	flaky, gone, bad := calls[0].ID(), "no-such-call", calls[1].ID()
	h.api.Script(flaky, apitest.Step{Status: http.StatusServiceUnavailable})
	h.api.Script(bad, apitest.Step{Status: 200, Body: `<html>`}, apitest.Step{Status: 200, Body: `<html>`})
	h.enqueue(flaky, gone, bad)
	cfg := callsync.Config{MaxAttempts: 2, NotFoundAttempts: 2}
	st := h.runOnce(cfg)
	if st.Retrying != 3 {
		t.Fatalf("Stats = %+v, want 3 retrying", st)
	}
	q := h.queue()
	if r := q[flaky]; r.State != "pending" || r.Attempts != 1 || !strings.Contains(r.Error, "HTTP 503") {
		t.Errorf("flaky = %+v", r)
	}
	h.makeDue()
	st = h.runOnce(cfg)
	q = h.queue()
	if r := q[flaky]; r.State != "done" || r.Error != "" {
		t.Errorf("flaky after retry = %+v, want done with error cleared", r)
	}
	if r := q[gone]; r.State != "failed" || r.Attempts != 2 || !strings.Contains(r.Error, "not found") {
		t.Errorf("gone = %+v, want failed not found", r)
	}
	if r := q[bad]; r.State != "failed" || !strings.Contains(r.Error, "decode response") {
		t.Errorf("bad = %+v, want failed with a decode error", r)
	}
	if st.Failed != 2 || st.Done != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestSyncer_RateLimited(t *testing.T) {
	t.Run("RetriedAfterThePause", func(t *testing.T) {
		calls := apitest.Generate(apitest.GenerateOptions{Seed: 3, Calls: 1})
		h := newHarness(t, calls)
		h.api.Script(calls[0].ID(), apitest.Step{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}})
		h.enqueue(calls[0].ID())
		st := h.runOnce(callsync.Config{})
		if st.Done != 1 || st.RateLimited != 0 {
			t.Fatalf("Stats = %+v, want the call done after the pause", st)
		}
		if r := h.queue()[calls[0].ID()]; r.Attempts != 0 {
			t.Fatalf("row = %+v, want no attempt counted", r)
		}
		arrivals := h.api.Counters().Arrivals()
		if len(arrivals) != 2 || arrivals[1].Sub(arrivals[0]) < 900*time.Millisecond {
			t.Fatalf("arrivals = %v, want a second request after the 1 s Retry-After", arrivals)
		}
	})
	t.Run("GivenBackWhenItPersists", func(t *testing.T) {
		calls := apitest.Generate(apitest.GenerateOptions{Seed: 3, Calls: 1})
		h := newHarness(t, calls)
		steps := make([]apitest.Step, 10)
		for i := range steps {
			steps[i] = apitest.Step{Status: http.StatusTooManyRequests}
		}
		h.api.Script(calls[0].ID(), steps...)
		h.enqueue(calls[0].ID())
		st := h.runOnce(callsync.Config{RateLimitPause: 20 * time.Millisecond})
		if st.RateLimited != 1 {
			t.Fatalf("Stats = %+v, want 1 rate limited", st)
		}
		r := h.queue()[calls[0].ID()]
		if r.State != "pending" || r.Attempts != 0 || !strings.Contains(r.Error, "HTTP 429") {
			t.Fatalf("row = %+v, want pending with no attempt and the 429 as last error", r)
		}
		if n := h.api.Counters().Total(); n != 4 {
			t.Errorf("%d requests, want 4 (the first and 3 retries)", n)
		}
	})
}

func TestSyncer_UnauthorizedReleasesEverything(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 3, Calls: 50})
	h := newHarness(t, calls)
	h.api.SetAPIKey("another-key")
	h.enqueue(ids(calls)...)
	_, err := h.syncer(callsync.Config{Concurrency: 4}).RunOnce(t.Context())
	if !errors.Is(err, callsync.ErrUnauthorized) {
		t.Fatalf("RunOnce = %v, want ErrUnauthorized", err)
	}
	for id, r := range h.queue() {
		if r.State != "pending" || r.Attempts != 0 || r.Error != "" {
			t.Errorf("%s = %+v, want untouched pending", id, r)
		}
	}
	if n := h.api.Counters().Total(); n > 4 {
		t.Errorf("%d requests after the first 401, want at most the ones in flight (4)", n)
	}
	if strings.Contains(h.logs.String(), testKey) || strings.Contains(err.Error(), testKey) {
		t.Error("the API key appears in logs or errors")
	}
}

func TestSyncer_KeepsTranscriptAndRecordingWhenGone(t *testing.T) {
	c := apitest.Generate(apitest.GenerateOptions{Seed: 11, Calls: 1})[0]
	c, _ = c.With("status", "completed")
	c, _ = c.With("transcript", "bot: Hello\nhuman: Hi")
	c, _ = c.With("recording_url", "https://rec.example/1")
	h := newHarness(t, []apitest.Call{c})
	h.enqueue(c.ID())
	h.runOnce(callsync.Config{})
	purged, _ := c.With("transcript", "")
	purged = purged.Without("recording_url", "collected_variables")
	h.api.Add(purged)
	before := storetest.Snapshot(t, storetest.PoolOf(h.db), []string{"transcript_lines", "collected_variables"})
	h.enqueue(c.ID())
	h.runOnce(callsync.Config{})
	after := storetest.Snapshot(t, storetest.PoolOf(h.db), []string{"transcript_lines", "collected_variables"})
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("retention purge erased history (-before +after):\n%s", diff)
	}
	if got := h.count(`SELECT count(*) FROM calls WHERE recording_url = 'https://rec.example/1'`); got != 1 {
		t.Error("recording_url was erased")
	}
	if len(before["transcript_lines"]) != 2 {
		t.Errorf("stored %d transcript lines, want 2", len(before["transcript_lines"]))
	}
}

func TestSyncer_ConcurrentWorkers(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 5, Calls: 400})
	h := newHarness(t, calls)
	h.api.SetFaults(apitest.Faults{LatencyMin: time.Millisecond, LatencyMax: 3 * time.Millisecond})
	h.enqueue(ids(calls)...)
	var wg sync.WaitGroup
	stats := make([]callsync.Stats, 3)
	for i := range stats {
		wg.Go(func() {
			st, err := h.syncer(callsync.Config{BatchSize: 10, Concurrency: 4}).RunOnce(context.Background())
			if err != nil {
				t.Error(err)
			}
			stats[i] = st
		})
	}
	wg.Wait()
	claimed := 0
	for _, st := range stats {
		claimed += st.Claimed
		if st.Claimed == 0 {
			t.Error("a worker claimed nothing: the test does not race")
		}
	}
	if claimed != len(calls) {
		t.Errorf("claimed %d in all, want %d", claimed, len(calls))
	}
	for id, n := range h.api.Counters().Calls() {
		if n != 1 {
			t.Errorf("call %s fetched %d times", id, n)
		}
	}
	if got := h.count(`SELECT count(*) FROM calls`); got != len(calls) {
		t.Errorf("calls = %d, want %d", got, len(calls))
	}
}

func TestSyncer_ShutdownReleasesUnfetched(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 5, Calls: 40})
	h := newHarness(t, calls)
	h.api.SetFaults(apitest.Faults{LatencyMin: 50 * time.Millisecond, LatencyMax: 50 * time.Millisecond})
	h.enqueue(ids(calls)...)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Millisecond)
	defer cancel()
	st, err := h.syncer(callsync.Config{Concurrency: 2}).RunOnce(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RunOnce = %v, want the context's error", err)
	}
	pending, done := h.afterStop()
	if pending == 0 || pending+done != len(calls) || st.Released != pending {
		t.Errorf("pending %d, done %d, stats %+v", pending, done, st)
	}
}

func TestSyncer_ShutdownGraceEnds(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 5, Calls: 4})
	h := newHarness(t, calls)
	h.api.SetFaults(apitest.Faults{LatencyMin: 10 * time.Second})
	h.enqueue(ids(calls)...)
	// The claim must be done before ctx ends, on a busy machine too: a
	// claim cut short is rescued when its lease expires, not released.
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	start := time.Now()
	st, err := h.syncer(callsync.Config{Concurrency: 4, ShutdownGrace: 200 * time.Millisecond}).RunOnce(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RunOnce = %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("RunOnce took %v: the grace period did not end the fetches", took)
	}
	for id, r := range h.queue() {
		if r.State != "pending" || r.Attempts != 0 {
			t.Errorf("%s = %+v, want given back untouched", id, r)
		}
	}
	if st.Released != len(calls) {
		t.Errorf("Stats = %+v, want all %d released", st, len(calls))
	}
}

func TestSyncer_KeepsUndecodableBody(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 3, Calls: 1})
	h := newHarness(t, calls)
	id := calls[0].ID()
	bad := "<html>" + strings.Repeat("x", 100<<10)
	h.api.Script(id, apitest.Step{Status: 200, Body: bad})
	h.enqueue(id)
	h.runOnce(callsync.Config{})
	var body []byte
	if err := storetest.PoolOf(h.db).QueryRow(t.Context(), `SELECT last_bad_body FROM sync_queue WHERE call_id = $1`, id).Scan(&body); err != nil {
		t.Fatal(err)
	}
	if len(body) != 64<<10 || string(body[:6]) != "<html>" {
		t.Fatalf("kept %d bytes starting %q, want the first 64 KiB", len(body), body[:min(len(body), 6)])
	}
	h.makeDue()
	h.runOnce(callsync.Config{})
	if err := storetest.PoolOf(h.db).QueryRow(t.Context(), `SELECT last_bad_body FROM sync_queue WHERE call_id = $1`, id).Scan(&body); err != nil {
		t.Fatal(err)
	}
	if body != nil {
		t.Fatalf("bad body kept after the call was stored")
	}
}

func TestSyncer_ClaimFitsTheRequestBudget(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 9, Calls: 30})
	h := newHarness(t, calls)
	h.enqueue(ids(calls)...)
	s := h.syncer(callsync.Config{BatchSize: 100, RequestsPerSecond: 1, Lease: 20 * time.Second})
	var mu sync.Mutex
	var writes []int
	s.ObserveWrite = func(_ time.Duration, rows int) {
		mu.Lock()
		defer mu.Unlock()
		writes = append(writes, rows)
	}
	st, err := s.RunOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// 1 request/s over half a 20 s lease: 10 rows a claim.
	if want := []int{10, 10, 10}; !slices.Equal(writes, want) || st.Claimed != 30 {
		t.Fatalf("writes = %v, claimed %d; want %v", writes, st.Claimed, want)
	}
}

// panicky is a Fetcher that panics for one call and asks the real client
// for the others: a stand-in for a payload that crashes the decoder.
type panicky struct {
	poison string
	inner  callsync.Fetcher
}

func (p *panicky) GetPayload(ctx context.Context, id string) (*api.Payload, error) {
	if id == p.poison {
		var calls []*api.Call
		_ = calls[len(id)] // an index out of range: a runtime panic, as a decoder bug would raise
	}
	return p.inner.GetPayload(ctx, id)
}

// TestSyncer_PanicIsAFailedAttempt: a panic while handling one call fails
// that call's attempt (stack in the log, a short last_error) and the others
// of its batch are stored.
func TestSyncer_PanicIsAFailedAttempt(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 9, Calls: 5})
	h := newHarness(t, calls)
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.ID()
	}
	h.enqueue(ids...)
	s := h.syncer(callsync.Config{MaxAttempts: 2, Retry: callsync.Backoff{Base: time.Millisecond, Max: time.Millisecond}})
	s.API = &panicky{poison: ids[2], inner: h.client}
	for range 2 {
		if _, err := s.RunOnce(t.Context()); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		h.makeDue()
	}
	q := h.queue()
	if r := q[ids[2]]; r.State != "failed" || r.Attempts != 2 || !strings.Contains(r.Error, "panic") || len(r.Error) > 300 {
		t.Fatalf("poison row = %+v, want failed after 2 attempts with a short panic message", r)
	}
	for i, id := range ids {
		if i != 2 && q[id].State != "done" {
			t.Errorf("row %s = %+v, want done", id, q[id])
		}
	}
	if logs := h.logs.String(); !strings.Contains(logs, "goroutine") || !strings.Contains(logs, "syncer_test.go") {
		t.Errorf("the log has no stack of the panic:\n%s", logs)
	}
}

// TestSyncer_RejectsConfigItCannotRun: a config Validate refuses is an
// error at once, not a pass that hangs.
func TestSyncer_RejectsConfigItCannotRun(t *testing.T) {
	h := newHarness(t, nil)
	h.enqueue("a")
	for name, cfg := range map[string]callsync.Config{
		"NegativeConcurrency": {Concurrency: -1},
		"NegativeBatch":       {BatchSize: -5},
		"ShortLease":          {Lease: time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, err := h.syncer(cfg).RunOnce(ctx)
			if err == nil || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("RunOnce = %v, want a config error at once", err)
			}
		})
	}
	if r := h.queue()["a"]; r.State != "pending" || r.Attempts != 0 {
		t.Fatalf("row = %+v, want untouched", r)
	}
}

// TestSyncer_WrongURLStopsThePass: a base URL without /v2 reaches no
// endpoint; the pass stops with ErrAPIUnavailable and no attempt counts.
func TestSyncer_WrongURLStopsThePass(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 3, Calls: 4})
	h := newHarness(t, calls)
	for _, c := range calls {
		h.enqueue(c.ID())
	}
	for name, base := range map[string]string{
		"NoVersion":   strings.TrimSuffix(h.api.URL, "/v2"),
		"Unreachable": "http://127.0.0.1:1/v2",
	} {
		t.Run(name, func(t *testing.T) {
			client, err := api.NewClient(api.Options{BaseURL: base, APIKey: testKey, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			s := h.syncer(callsync.Config{})
			s.API = client
			_, err = s.RunOnce(t.Context())
			if !errors.Is(err, callsync.ErrAPIUnavailable) {
				t.Fatalf("RunOnce = %v, want ErrAPIUnavailable", err)
			}
			for id, r := range h.queue() {
				if r.State != "pending" || r.Attempts != 0 {
					t.Fatalf("row %s = %+v, want pending with no attempt", id, r)
				}
			}
		})
	}
}

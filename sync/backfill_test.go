package sync_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

var _ callsync.ModelLister = (*api.Client)(nil)

// The generator's default range: the 30 days before 2026-06-01 UTC.
var (
	genFrom = time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)
	genTo   = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
)

// intake is a fake API, a client for it and a fresh warehouse.
type intake struct {
	t      *testing.T
	srv    *apitest.Server
	client *api.Client
	db     *store.DB
	logs   *syncBuffer
}

func newIntake(t *testing.T, calls []apitest.Call) *intake {
	t.Helper()
	srv, err := apitest.NewServer(apitest.Options{Calls: calls, APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	client, err := api.NewClient(api.Options{BaseURL: srv.URL, APIKey: testKey, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &intake{t: t, srv: srv, client: client, db: store.New(storetest.Pool(t)), logs: &syncBuffer{}}
}

func (in *intake) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(in.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fastRetry keeps retries quick in tests.
var fastRetry = callsync.IntakeConfig{Retry: callsync.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond}}

// backfiller returns a backfiller whose clock reads now.
func (in *intake) backfiller(now time.Time) *callsync.Backfiller {
	return &callsync.Backfiller{API: in.client, Store: in.db, Logger: in.logger(), Config: fastRetry,
		Now: func() time.Time { return now }}
}

func (in *intake) windows(from, to time.Time, size time.Duration, models ...string) []callsync.Window {
	in.t.Helper()
	if len(models) == 0 {
		models = in.srv.Models()
	}
	ws, err := callsync.Windows(models, from, to, size)
	if err != nil {
		in.t.Fatal(err)
	}
	return ws
}

// ids runs a query returning call ids and returns them sorted.
func (in *intake) ids(sql string, args ...any) []string {
	in.t.Helper()
	rows, err := storetest.PoolOf(in.db).Query(in.t.Context(), sql, args...)
	if err != nil {
		in.t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		in.t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

func (in *intake) count(sql string, args ...any) int {
	in.t.Helper()
	var n int
	if err := storetest.PoolOf(in.db).QueryRow(in.t.Context(), sql, args...).Scan(&n); err != nil {
		in.t.Fatal(err)
	}
	return n
}

// apiIDs returns the sorted ids of the server's calls that match keep.
func apiIDs(srv *apitest.Server, keep func(apitest.Call) bool) []string {
	var ids []string
	for _, c := range srv.Calls() {
		if keep == nil || keep(c) {
			ids = append(ids, c.ID())
		}
	}
	slices.Sort(ids)
	return ids
}

func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	missing, extra := 0, 0
	for _, id := range want {
		if _, ok := slices.BinarySearch(got, id); !ok {
			missing++
		}
	}
	for _, id := range got {
		if _, ok := slices.BinarySearch(want, id); !ok {
			extra++
		}
	}
	t.Fatalf("%s: %d ids, want %d (%d missing, %d extra)", what, len(got), len(want), missing, extra)
}

// status returns a call's status field as the API sends it.
func status(c apitest.Call) string {
	raw, _ := c.Field("status")
	return strings.Trim(string(raw), `"`)
}

func TestWindows(t *testing.T) {
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ws, err := callsync.Windows([]string{"a", "b"}, day.Add(6*time.Hour), day.AddDate(0, 0, 2).Add(time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]time.Time{
		{day.Add(6 * time.Hour), day.AddDate(0, 0, 1)},
		{day.AddDate(0, 0, 1), day.AddDate(0, 0, 2)},
		{day.AddDate(0, 0, 2), day.AddDate(0, 0, 2).Add(time.Hour)},
	}
	if len(ws) != 6 {
		t.Fatalf("%d windows, want 6", len(ws))
	}
	for i, w := range ws {
		wantModel := []string{"a", "b"}[i/3]
		if w.ModelID != wantModel || !w.From.Equal(want[i%3][0]) || !w.To.Equal(want[i%3][1]) {
			t.Errorf("window %d = %v, want model %s [%v, %v)", i, w, wantModel, want[i%3][0], want[i%3][1])
		}
	}
	if _, err := callsync.Windows([]string{"a"}, day, day, time.Hour); err == nil {
		t.Error("empty range: no error")
	}
	if _, err := callsync.Windows([]string{"a"}, day, day.Add(time.Hour), 0); err == nil {
		t.Error("zero window: no error")
	}
}

// TestBackfiller_30Days backfills 3,000 calls over 30 days (about 100 a
// day: half the windows take a second page) and checks that exactly those
// rows land, with at most ceil(calls/100) list requests plus one per window,
// and that only calls whose status is not final and that are recent are
// queued.
func TestBackfiller_30Days(t *testing.T) {
	// One window after another, and four at once: the same warehouse.
	for _, atOnce := range []int{1, 4} {
		t.Run(fmt.Sprintf("windows-at-once=%d", atOnce), func(t *testing.T) { backfill30Days(t, atOnce) })
	}
}

func backfill30Days(t *testing.T, atOnce int) {
	const n = 3000
	in := newIntake(t, apitest.Generate(apitest.GenerateOptions{Seed: 11, Calls: n, Models: 1}))
	now := genTo.Add(time.Hour) // the last 23 hours of calls are recent
	windows := in.windows(genFrom, genTo, 24*time.Hour)
	if len(windows) != 30 {
		t.Fatalf("%d windows, want 30", len(windows))
	}
	rep, err := in.backfiller(now).Run(t.Context(), windows, callsync.BackfillOptions{Windows: atOnce})
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "calls", in.ids(`SELECT call_id FROM calls`), apiIDs(in.srv, nil))
	budget := int(math.Ceil(n/100.0)) + len(windows)
	lists := in.srv.Counters().Endpoint(apitest.EndpointListCalls)
	if lists > budget || rep.Requests != lists {
		t.Fatalf("%d list requests (report: %d), want at most %d", lists, rep.Requests, budget)
	}
	if got := in.srv.Counters().Endpoint(apitest.EndpointGetCall); got != 0 {
		t.Fatalf("%d get requests, want none", got)
	}
	wantQueued := apiIDs(in.srv, func(c apitest.Call) bool {
		return !callsync.IsFinal(status(c)) && now.Sub(c.Start()) < 24*time.Hour
	})
	if len(wantQueued) == 0 {
		t.Fatal("test data has no recent call whose status is not final")
	}
	sameIDs(t, "queued", in.ids(`SELECT call_id FROM sync_queue`), wantQueued)
	if rep.Calls != n || rep.Done != 30 || rep.Enqueued != len(wantQueued) || len(rep.Mismatched) != 0 || rep.Duplicates != 0 {
		t.Fatalf("report = %+v", rep)
	}
	if got := in.count(`SELECT count(*) FROM backfill_checkpoints WHERE done AND landed = total_records AND next_offset = 0`); got != 30 {
		t.Fatalf("%d windows checkpointed as done, want 30", got)
	}
	t.Logf("%d calls, %d list requests (budget %d)", n, lists, budget)

	// A rerun reads nothing: every window is done.
	in.srv.Counters().Reset()
	rep, err = in.backfiller(now).Run(t.Context(), windows, callsync.BackfillOptions{Windows: atOnce})
	if err != nil || rep.Skipped != 30 || in.srv.Counters().Total() != 0 {
		t.Fatalf("rerun: skipped %d, %d requests, err %v; want 30 skipped, none sent", rep.Skipped, in.srv.Counters().Total(), err)
	}
}

// TestBackfiller_ResumesAfterCancel stops a backfill half-way through a
// window and runs it again: it continues at the page where it stopped, does
// not read finished windows again and lands every call once.
func TestBackfiller_ResumesAfterCancel(t *testing.T) {
	const n = 2000
	in := newIntake(t, apitest.Generate(apitest.GenerateOptions{Seed: 12, Calls: n, Models: 1}))
	windows := in.windows(genFrom, genTo, 72*time.Hour) // 10 windows of about 200 calls: 3 pages each
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	var reqs []apitest.ListRequest
	in.srv.OnList(func(r apitest.ListRequest) {
		mu.Lock()
		defer mu.Unlock()
		reqs = append(reqs, r)
		if !r.From.Before(windows[5].From) && r.Offset == 100 { // half-way, mid-window
			cancel()
		}
	})
	b := in.backfiller(genTo.Add(time.Hour))
	if _, err := b.Run(ctx, windows, callsync.BackfillOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	first := len(reqs)
	done := in.count(`SELECT count(*) FROM backfill_checkpoints WHERE done`)
	if done != 5 {
		t.Fatalf("%d windows done after the cancel, want 5", done)
	}
	var resumeAt int
	if err := storetest.PoolOf(in.db).QueryRow(t.Context(), `SELECT next_offset FROM backfill_checkpoints WHERE NOT done`).Scan(&resumeAt); err != nil || resumeAt != 100 {
		t.Fatalf("interrupted window's next_offset = %d (%v), want 100", resumeAt, err)
	}

	rep, err := b.Run(t.Context(), windows, callsync.BackfillOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs[first:] {
		if r.From.Before(windows[5].From) {
			t.Fatalf("rerun read finished window starting %v", r.From)
		}
	}
	if r := reqs[first]; !r.From.Equal(windows[5].From) || r.Offset != 100 {
		t.Fatalf("rerun began at window %v offset %d, want %v offset 100", r.From, r.Offset, windows[5].From)
	}
	sameIDs(t, "calls", in.ids(`SELECT call_id FROM calls`), apiIDs(in.srv, nil))
	if rep.Skipped != 5 || rep.Duplicates != 0 || len(rep.Mismatched) != 0 {
		t.Fatalf("rerun report = %+v", rep)
	}
	// The page being read at the cancel is the only one read twice.
	if budget := int(math.Ceil(n/100.0)) + len(windows) + 1; len(reqs) > budget {
		t.Fatalf("%d list requests over both runs, want at most %d", len(reqs), budget)
	}
}

// TestBackfiller_LiveInserts adds calls to the window being paged, where
// offset paging shifts pages: the count check finds the gap and a rescan
// fills it.
func TestBackfiller_LiveInserts(t *testing.T) {
	in := newIntake(t, apitest.Generate(apitest.GenerateOptions{Seed: 13, Calls: 600, Models: 1,
		From: genTo.AddDate(0, 0, -3), To: genTo}))
	windows := in.windows(genTo.AddDate(0, 0, -3), genTo, 24*time.Hour)
	w := windows[1]
	template := in.srv.Calls()[0]
	var once sync.Once
	in.srv.OnList(func(r apitest.ListRequest) {
		if !r.From.Equal(w.From) || r.Offset != 100 {
			return
		}
		once.Do(func() { // three calls start while the window is read: newest first, they shift every page
			for i, id := range []string{"live-1", "live-2", "live-3"} {
				c, err := template.With("call_id", id)
				if err == nil {
					c, err = c.With("start_time", w.To.Add(-time.Duration(i+1)*time.Minute).UnixMilli())
				}
				if err != nil {
					t.Error(err)
					return
				}
				in.srv.Add(c)
			}
		})
	})
	rep, err := in.backfiller(genTo.Add(48*time.Hour)).Run(t.Context(), windows, callsync.BackfillOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "calls", in.ids(`SELECT call_id FROM calls`), apiIDs(in.srv, nil))
	if got := in.count(`SELECT count(*) FROM calls WHERE call_id LIKE 'live-%'`); got != 3 {
		t.Fatalf("%d live calls stored, want 3", got)
	}
	if rep.Rescans != 1 || rep.Duplicates < 3 || len(rep.Mismatched) != 0 {
		t.Fatalf("report = %+v, want one rescan, duplicates, no mismatch", rep)
	}
	if !strings.Contains(in.logs.String(), "reading the window again") {
		t.Error("the rescan is not logged")
	}
}

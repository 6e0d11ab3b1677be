package main

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
)

// TestRun_WebhookWakesWorker posts signed webhooks, one at a time, to an
// idle `callsync run` whose schedule is an hour, and waits for each call's
// row: only the database's notification can start the pass that stores it.
// Other settings are the defaults (30 requests a minute), so the latency it
// logs is the one the README gives:
//
//	go test ./cmd/callsync -run TestRun_WebhookWakesWorker -count=1 -v
func TestRun_WebhookWakesWorker(t *testing.T) {
	const n = 5
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 11, Calls: n})
	srv := fakeAPI(t, calls...)
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey,
		"HTTP_ADDR": "127.0.0.1:0", "SYNC_SCHEDULE": "@every 1h", "LOG_FORMAT": "json",
		"SYNTHFLOW_WEBHOOK_SECRET": hookSecret}
	addr := startRun(t, env)
	waitFor(t, time.Minute, "the first pass to be recorded", func() bool {
		return count(t, dbURL, `SELECT count(*) FROM sync_runs`) > 0
	})

	var took []time.Duration
	for i, c := range calls {
		id := c.ID()
		start := time.Now()
		h := http.Header{api.SignatureHeader: {api.SignWebhook([]byte(hookSecret), id)}}
		if code := post(t, "http://"+addr+"/webhooks/synthflow", "application/json",
			fmt.Sprintf(`{"call":{"call_id":%q,"status":"completed"}}`, id), h); code != http.StatusAccepted {
			t.Fatalf("webhook %d answered %d", i, code)
		}
		waitFor(t, 2*time.Minute, "call "+id+" in calls (woken by the webhook; the schedule is an hour)", func() bool {
			return count(t, dbURL, `SELECT count(*) FROM calls WHERE call_id = '`+id+`'`) == 1
		})
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	t.Logf("webhook to row, %d calls one at a time, idle worker, default rate limit: p50 %v, max %v",
		n, took[n/2].Round(10*time.Millisecond), took[n-1].Round(10*time.Millisecond))
}

// TestRun_WakeBurstStartsOnePass posts a burst of webhooks at once and
// checks that they start one pass (and at most one more, owed to a
// notification that came while it ran), not one each.
func TestRun_WakeBurstStartsOnePass(t *testing.T) {
	const n = 40
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 12, Calls: n})
	srv := fakeAPI(t, calls...)
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey,
		"SYNTHFLOW_RATE_LIMIT": "0", "HTTP_ADDR": "127.0.0.1:0", "SYNC_SCHEDULE": "@every 1h", "LOG_FORMAT": "json",
		"SYNTHFLOW_WEBHOOK_SECRET": hookSecret}
	addr := startRun(t, env)
	waitFor(t, time.Minute, "the first pass to be recorded", func() bool {
		return count(t, dbURL, `SELECT count(*) FROM sync_runs`) == 1
	})
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() {
			id := c.ID()
			h := http.Header{api.SignatureHeader: {api.SignWebhook([]byte(hookSecret), id)}}
			if code := post(t, "http://"+addr+"/webhooks/synthflow", "application/json",
				fmt.Sprintf(`{"call":{"call_id":%q,"status":"completed"}}`, id), h); code != http.StatusAccepted {
				t.Errorf("webhook for %s answered %d", id, code)
			}
		})
	}
	wg.Wait()
	waitFor(t, 2*time.Minute, "every call stored and its pass recorded", func() bool {
		return count(t, dbURL, `SELECT count(*) FROM calls`) == n &&
			count(t, dbURL, `SELECT coalesce(sum(claimed), 0) FROM sync_runs`) >= n
	})
	// A pass owed to a late notification, whenever it runs, finds nothing
	// due: a woken pass that claims nothing leaves no sync_runs row, so
	// the count is final now.
	passes := count(t, dbURL, `SELECT count(*) FROM sync_runs WHERE claimed > 0`)
	if passes < 1 || passes > 2 {
		t.Errorf("%d passes claimed the burst's %d calls, want 1 or 2", passes, n)
	}
}

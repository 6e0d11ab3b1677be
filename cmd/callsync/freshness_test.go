package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
)

// freshScenario is one workload of the freshness runs.
type freshScenario struct {
	phases   []apitest.LivePhase
	webhooks bool
	loss     float64
	listLag  time.Duration
}

var freshScenarios = map[string]freshScenario{
	"20":      {phases: []apitest.LivePhase{{PerMinute: 20, Duration: 2 * time.Minute}}, webhooks: true},
	"60":      {phases: []apitest.LivePhase{{PerMinute: 60, Duration: 4 * time.Minute}}, webhooks: true},
	"300":     {phases: []apitest.LivePhase{{PerMinute: 300, Duration: 5 * time.Minute}}, webhooks: true},
	"poll20":  {phases: []apitest.LivePhase{{PerMinute: 20, Duration: 2 * time.Minute}}},
	"poll60":  {phases: []apitest.LivePhase{{PerMinute: 60, Duration: 4 * time.Minute}}},
	"poll300": {phases: []apitest.LivePhase{{PerMinute: 300, Duration: 5 * time.Minute}}},
	"lag":     {phases: []apitest.LivePhase{{PerMinute: 60, Duration: 4 * time.Minute}}, webhooks: true, loss: 0.1, listLag: time.Minute},
}

// TestRun_Freshness runs `callsync run` with default settings (the
// planner's durations compressed with the workspace's time) against a live
// workspace of 5 agents at 30 requests a minute, and reports the lag from
// each call's end to its final row. A measurement, not a check: it runs
// only with CALLSYNC_FRESHNESS set to a scenario (20, 60, 300, poll20,
// poll60, poll300, lag); CALLSYNC_FRESHNESS_SCALE compresses time (default 4), and
// CALLSYNC_FRESHNESS_REPLICAS runs that many processes on one database.
func TestRun_Freshness(t *testing.T) {
	name := os.Getenv("CALLSYNC_FRESHNESS")
	if name == "" {
		t.Skip("a measurement: set CALLSYNC_FRESHNESS to 20, 60, 300, poll60 or lag")
	}
	sc, ok := freshScenarios[name]
	if !ok {
		t.Fatalf("no scenario %q", name)
	}
	scale := 4.0
	if v := os.Getenv("CALLSYNC_FRESHNESS_SCALE"); v != "" {
		scale, _ = strconv.ParseFloat(v, 64)
	}
	benchTimeScale = scale
	defer func() { benchTimeScale = 1 }()

	addr := freeAddr(t)
	live := &apitest.LiveOptions{Agents: 5, Phases: sc.phases, Scale: scale, ListLag: sc.listLag, WebhookLoss: sc.loss, Seed: 7}
	if sc.webhooks {
		live.WebhookURL, live.WebhookSecret = "http://"+addr+"/webhooks/synthflow", []byte(hookSecret)
	}
	srv, err := apitest.NewServer(apitest.Options{APIKey: testKey, Live: live, RateLimit: apitest.LiveBudget(30, scale)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	models := ""
	for i := range 5 {
		if i > 0 {
			models += ","
		}
		models += "agent-" + strconv.Itoa(i)
	}
	dbURL := storetest.NewDatabase(t)
	scaled := func(d time.Duration) string { return time.Duration(float64(d) / scale).String() }
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey,
		"SYNTHFLOW_RATE_LIMIT": strconv.Itoa(int(30 * scale)), "LOG_LEVEL": "info", "LOG_FORMAT": "json", "HTTP_ADDR": addr,
		"SYNTHFLOW_WEBHOOK_SECRET": hookSecret, "SYNC_POLL_MODELS": models,
		"SYNC_SCHEDULE": "@every " + scaled(time.Minute), "SYNTHFLOW_WEBHOOK_COOLDOWN": scaled(10 * time.Minute)}
	startRun(t, env)
	if v := os.Getenv("CALLSYNC_FRESHNESS_REPLICAS"); v != "" {
		// More replicas on the same database and key; webhooks go to the first.
		n, _ := strconv.Atoi(v)
		for range n - 1 {
			other := maps.Clone(env)
			other["HTTP_ADDR"] = freeAddr(t)
			startRun(t, other)
		}
	}
	srv.Live().Start()

	pool, err := pgxpool.New(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	landed := map[string]time.Time{}
	deadline := srv.Live().LastEnd().Add(time.Duration(float64(3*time.Minute) / scale))
	var backlog []int
	lastSample := time.Now()
	for time.Now().Before(deadline) {
		rows, err := pool.Query(t.Context(), `SELECT call_id FROM calls WHERE status IN ('completed','failed','no-answer','busy','canceled','user-canceled','hangup_on_voicemail','left_voicemail')`)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			if _, ok := landed[id]; !ok {
				landed[id] = now
			}
		}
		rows.Close()
		if now.Sub(lastSample) >= time.Duration(float64(30*time.Second)/scale) {
			lastSample = now
			ended := 0
			for _, c := range srv.Live().Calls() {
				if !c.End.After(now) {
					if _, ok := landed[c.ID]; !ok {
						ended++
					}
				}
			}
			backlog = append(backlog, ended)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var lags []float64
	missing := 0
	for _, c := range srv.Live().Calls() {
		at, ok := landed[c.ID]
		if !ok {
			missing++
			continue
		}
		lags = append(lags, max(at.Sub(c.End).Seconds()*scale, 0))
	}
	slices.Sort(lags)
	pct := func(p float64) float64 {
		if len(lags) == 0 {
			return 0
		}
		return lags[min(len(lags)-1, int(p*float64(len(lags))))]
	}
	st := srv.Counters().Statuses()
	total := srv.Counters().Total()
	dupes := count(t, dbURL, `SELECT count(*) - count(DISTINCT call_id) FROM calls`)
	by := map[string]int64{}
	if r, err := pool.Query(context.WithoutCancel(t.Context()), `SELECT purpose, sum(requests)::bigint FROM api_requests GROUP BY 1`); err == nil {
		for r.Next() {
			var p string
			var n int64
			_ = r.Scan(&p, &n)
			by[p] = n
		}
		r.Close()
	}
	n := len(srv.Live().Calls())
	pStart, pEnd := srv.Live().Phase(len(sc.phases) - 1)
	inPhase, withTail := 0, 0
	for _, r := range srv.Counters().Requests() {
		if !r.At.Before(pStart) && !r.At.After(pEnd) {
			inPhase++
		}
		if !r.At.Before(pStart) {
			withTail++
		}
	}
	phaseRPC := float64(inPhase) / float64(max(n, 1))
	tailRPC := float64(withTail) / float64(max(n, 1))
	t.Logf("scenario %s (scale %v): %d calls, %d landed, %d missing, %d stored twice; lag p50 %.1fs p90 %.1fs p99 %.1fs max %.1fs; "+
		"%d requests (%.3f per call; by purpose %v), 429s %d; backlog every 30s %v",
		name, scale, n, len(lags), missing, dupes, pct(0.5), pct(0.9), pct(0.99), pct(1), total,
		float64(total)/float64(max(n, 1)), by, st[429], backlog)
	fmt.Printf("FRESH %s calls=%d landed=%d missing=%d dupes=%d p50=%.1f p90=%.1f p99=%.1f req=%d rpc=%.3f phase_rpc=%.3f with_tail=%.3f 429=%d by=%v backlog=%v\n",
		name, n, len(lags), missing, dupes, pct(0.5), pct(0.9), pct(0.99), total, float64(total)/float64(max(n, 1)), phaseRPC, tailRPC, st[429], by, backlog)
}

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

// Chaos test settings: sized so that workers die holding rows many times and
// PostgreSQL restarts mid-drain, while the test stays under half a minute on
// two cores. The floor is the lease: rows a killed worker held come back
// only when it ends (10 s at least).
const (
	chaosCalls   = 600
	chaosWorkers = 6
	// chaosKillMin and chaosKillMax bound the pause between two kills.
	chaosKillMin, chaosKillMax = 200 * time.Millisecond, 600 * time.Millisecond
	// chaosMinKills is the fewest kills the test accepts as chaos.
	chaosMinKills = 10
	// chaosPhase is the longest the kills go on; they stop earlier, once
	// PostgreSQL has restarted and chaosMinKills workers were killed,
	// leaving the rest to drain: every fault strands rows for a lease, so
	// the sooner the faults end, the sooner the last rows come back.
	chaosPhase = 15 * time.Second
	// chaosRestartAt is the share of calls done when PostgreSQL restarts
	// (or half-way through chaosPhase, if that comes first).
	chaosRestartAt = 0.4
	// chaosDrain bounds the wait for the last calls after chaosPhase: a
	// safety net against hangs, far above the lease (10 s) plus a drain.
	chaosDrain = 3 * time.Minute
)

// chaosSlot runs one worker process after another, restarting it whenever
// it exits, until stop is closed; then it stops the current one with
// SIGTERM.
type chaosSlot struct {
	env map[string]string

	mu      sync.Mutex
	cur     *proc
	history []*proc // every process started, the current one last
	// starts counts processes started; spawnErrs failures to start one.
	starts, spawnErrs int
}

func (s *chaosSlot) current() *proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *chaosSlot) supervise(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		p, err := spawn(s.env, "run")
		s.mu.Lock()
		if err != nil {
			s.spawnErrs++
		} else {
			s.cur = p
			s.history = append(s.history, p)
			s.starts++
		}
		s.mu.Unlock()
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		select {
		case <-p.done:
			time.Sleep(20 * time.Millisecond) // a worker that cannot start does not spin
		case <-stop:
			p.signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(time.Minute):
				p.kill()
			}
			return
		}
	}
}

// kill kills every process of the slot that still runs.
func (s *chaosSlot) kill() {
	s.mu.Lock()
	procs := append([]*proc(nil), s.history...)
	s.mu.Unlock()
	for _, p := range procs {
		p.kill()
	}
}

// tryCounts is queueCounts returning the error, for polling while the
// database may be down.
func tryCounts(ctx context.Context, pool *pgxpool.Pool) (map[string]int, error) {
	rows, err := pool.Query(ctx, `SELECT state, count(*) FROM sync_queue GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, err
		}
		counts[state] = n
	}
	return counts, rows.Err()
}

// TestChaos drains a queue of 600 calls with several worker processes
// (the real binary) from a fake API that fails 10% of requests with 5xx and
// 5% with 429, with random latency, while one worker is SIGKILLed and
// restarted every few hundred milliseconds and PostgreSQL restarts once.
// At the end every call is done, nothing is running, and the warehouse
// holds exactly what the API serves, compared with the API's data decoded
// and normalized on the side.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos test takes half a minute; it runs without -short")
	}
	begin := time.Now()
	pg, dbURL := ownServer(t)
	calls := finalCalls(t, 71, chaosCalls)
	seed := uint64(time.Now().UnixNano())
	srv, err := apitest.NewServer(apitest.Options{Calls: calls, APIKey: testKey, Seed: seed,
		Faults: apitest.Faults{
			ServerErrorRate: 0.10, TooManyRequestsRate: 0.05, RetryAfter: time.Second,
			LatencyMin: 2 * time.Millisecond, LatencyMax: 40 * time.Millisecond,
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	env := map[string]string{
		"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey,
		"SYNTHFLOW_RATE_LIMIT": "0", "SYNC_SCHEDULE": "@every 1s", "SYNC_LEASE": "10s",
		"SYNC_BATCH_SIZE": "25", "SYNC_CONCURRENCY": "8", "SYNC_MAX_ATTEMPTS": "1000",
		"SYNC_RETRY_BASE": "100ms", "SYNC_RETRY_MAX": "1s", "SYNTHFLOW_API_TIMEOUT": "10s",
	}
	if r := runCmd(t, env, strings.Join(callIDs(calls), "\n"), "enqueue", "-"); r.err != nil {
		t.Fatalf("enqueue: %v\n%s", r.err, r.stderr)
	}
	pool := mustPool(t, dbURL)
	// The reference warehouse, written on the shared test server while the
	// workers drain the queue.
	ref := storetest.Pool(t)
	refWritten := make(chan error, 1)
	go func() { refWritten <- writeReference(t.Context(), ref, calls) }()
	setup := time.Since(begin)

	// The workers, and a cleanup that leaves no process behind whatever
	// happens to the test.
	stop := make(chan struct{})
	var stopOnce sync.Once
	stopAll := func() { stopOnce.Do(func() { close(stop) }) }
	slots := make([]*chaosSlot, chaosWorkers)
	var supervisors sync.WaitGroup
	for i := range slots {
		slots[i] = &chaosSlot{env: env}
		supervisors.Go(func() { slots[i].supervise(stop) })
	}
	t.Cleanup(func() {
		stopAll()
		for _, s := range slots {
			s.kill()
		}
		supervisors.Wait()
	})

	// The killer: one worker every few hundred milliseconds.
	var kills atomic.Int64
	killerDone := make(chan struct{})
	stopKilling := make(chan struct{})
	var stopKillingOnce sync.Once
	endKills := func() {
		stopKillingOnce.Do(func() { close(stopKilling) })
		<-killerDone
	}
	t.Cleanup(endKills) // runs before the workers' cleanup
	go func() {
		defer close(killerDone)
		for {
			select {
			case <-stopKilling:
				return
			case <-time.After(chaosKillMin + rand.N(chaosKillMax-chaosKillMin)):
			}
			if p := slots[rand.N(len(slots))].current(); p != nil && !p.exited() {
				p.signal(syscall.SIGKILL)
				kills.Add(1)
			}
		}
	}()

	// Watch the queue: restart PostgreSQL once, end the kills, wait for the
	// last calls.
	chaosStart := time.Now()
	var restartedAt, killsEndedAt time.Duration
	var counts map[string]int
	for {
		c, err := tryCounts(t.Context(), pool)
		if err == nil {
			counts = c
		}
		done := float64(counts["done"]) / chaosCalls
		if restartedAt == 0 && (done >= chaosRestartAt || time.Since(chaosStart) > chaosPhase/2) {
			pool.Reset()
			if err := pg.Restart(t.Context()); err != nil {
				t.Fatalf("restart PostgreSQL: %v", err)
			}
			restartedAt = time.Since(chaosStart)
		}
		if killsEndedAt == 0 && restartedAt > 0 && (kills.Load() >= chaosMinKills || time.Since(chaosStart) > chaosPhase) {
			endKills()
			killsEndedAt = time.Since(chaosStart)
		}
		if counts["done"] == chaosCalls {
			break
		}
		if time.Since(chaosStart) > chaosPhase+chaosDrain {
			t.Errorf("queue %v after %v", counts, chaosPhase+chaosDrain)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	drained := time.Since(chaosStart)
	stopAll()
	supervisors.Wait()

	// What the processes said.
	var starts int
	var outputs []string
	rescued := 0
	rescuedRE := regexp.MustCompile(`rescued=(\d+)`)
	for i, s := range slots {
		starts += s.starts
		if s.spawnErrs > 0 {
			t.Errorf("worker %d: %d processes could not be started", i, s.spawnErrs)
		}
		for j, p := range s.history {
			out := p.out.String()
			outputs = append(outputs, fmt.Sprintf("worker %d, process %d (exit %d):\n%s", i, j, p.code, out))
			for _, m := range rescuedRE.FindAllStringSubmatch(out, -1) {
				n, _ := strconv.Atoi(m[1])
				rescued += n
			}
			if strings.Contains(out, "panic:") || strings.Contains(out, "DATA RACE") {
				t.Errorf("worker %d, process %d crashed:\n%s", i, j, out)
			}
			if p.code != 0 && p.code != -1 && !strings.Contains(out, "connect") && !strings.Contains(out, "database") {
				t.Errorf("worker %d, process %d exited %d:\n%s", i, j, p.code, out)
			}
		}
		if last := s.history[len(s.history)-1]; last.code != 0 {
			t.Errorf("worker %d did not stop cleanly on SIGTERM (exit %d):\n%s", i, last.code, last.out)
		}
	}
	fc := srv.Counters()
	t.Logf("fault seed %d; setup %v; %d calls done in %v (PostgreSQL restarted at %v, kills ended at %v); %d kills, %d processes; "+
		"%d requests: %d 5xx, %d 429; %d rows rescued from dead workers",
		seed, setup.Round(time.Millisecond), chaosCalls, drained.Round(time.Millisecond), restartedAt.Round(time.Millisecond),
		killsEndedAt.Round(time.Millisecond), kills.Load(), starts, fc.Total(), fc.Faults(apitest.FaultServerError),
		fc.Faults(apitest.FaultTooManyRequests), rescued)
	if t.Failed() {
		t.Logf("process output (last 30000 bytes):\n%s", lastBytes(strings.Join(outputs, "\n"), 30000))
		t.FailNow()
	}

	// The chaos really happened.
	if kills.Load() < chaosMinKills || rescued == 0 || restartedAt == 0 {
		t.Errorf("%d kills, %d rows rescued, restart at %v: not the chaos the test promises", kills.Load(), rescued, restartedAt)
	}
	if fc.Faults(apitest.FaultServerError) == 0 || fc.Faults(apitest.FaultTooManyRequests) == 0 {
		t.Errorf("faults injected: %d 5xx, %d 429", fc.Faults(apitest.FaultServerError), fc.Faults(apitest.FaultTooManyRequests))
	}

	// Every call done, nothing running or failed.
	if got := queueCounts(t, pool); got["done"] != chaosCalls || got["pending"]+got["running"]+got["failed"] != 0 {
		t.Fatalf("queue = %v, want all %d done", got, chaosCalls)
	}
	// No duplicates: each table's key is unique (the primary keys say so;
	// this proves them present).
	for table, key := range map[string]string{"calls": "call_id", "transcript_lines": "call_id, line_no",
		"collected_variables": "call_id, agent_id, name", "call_telephony": "call_id", "sync_queue": "call_id"} {
		if n := count(t, dbURL, `SELECT count(*) - count(DISTINCT (`+key+`)) FROM `+table); n != 0 {
			t.Errorf("%s has %d duplicate keys", table, n)
		}
	}
	// Per call: the payload hash and the numbers of child rows, against the
	// API's data decoded and normalized here.
	want := expect(t, calls)
	checkComplete(t, want, storedRows(t, pool), true)
	// Every column of every row, against a warehouse written directly from
	// the same normalized calls.
	if err := <-refWritten; err != nil {
		t.Fatalf("write the reference warehouse: %v", err)
	}
	// Pseudonyms are keyed per database (pseudonym_key): each warehouse's
	// differ; checked below against this one's key instead.
	ignore := []string{"synced_at", "first_synced_at", "phone_number_from_pseudonym", "phone_number_to_pseudonym"}
	if n := count(t, dbURL, `SELECT count(*) FROM calls WHERE phone_number_from_pseudonym IS DISTINCT FROM callsync_pseudonym(phone_number_from)
		OR phone_number_to_pseudonym IS DISTINCT FROM callsync_pseudonym(phone_number_to)`); n != 0 {
		t.Errorf("%d calls whose pseudonyms are not those of their numbers", n)
	}
	got := storetest.Snapshot(t, pool, storetest.DataTables, ignore...)
	wantSnap := storetest.Snapshot(t, ref, storetest.DataTables, ignore...)
	if diff := cmp.Diff(wantSnap, got); diff != "" {
		t.Errorf("warehouse differs from the API's data (-want +got):\n%.5000s", diff)
	}
}

// writeReference writes calls, decoded and normalized, into pool's
// database without queue, API or faults: what the warehouse must hold.
func writeReference(ctx context.Context, pool *pgxpool.Pool, calls []apitest.Call) error {
	rows := make([]store.Call, 0, len(calls))
	for _, c := range calls {
		ac, err := api.DecodeCall(c.GetJSON())
		if err != nil {
			return fmt.Errorf("decode call %s: %w", c.ID(), err)
		}
		row, _, err := callsync.Normalize(ac)
		if err != nil {
			return fmt.Errorf("normalize call %s: %w", c.ID(), err)
		}
		rows = append(rows, row)
	}
	_, err := store.New(pool).SaveCalls(ctx, rows)
	return err
}

// lastBytes returns the end of s, at most n bytes.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

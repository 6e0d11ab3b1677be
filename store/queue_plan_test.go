package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

// planLog collects the plans that auto_explain reports, as notices, for
// every statement run on a pool from explainedPool.
type planLog struct {
	mu    sync.Mutex
	plans []explained
}

// explained is one statement auto_explain reported: its text and its plan
// with what each node really did (EXPLAIN ANALYZE, JSON format).
type explained struct {
	Query string   `json:"Query Text"`
	Plan  planNode `json:"Plan"`
}

type planNode struct {
	Type         string     `json:"Node Type"`
	Relation     string     `json:"Relation Name"`
	Index        string     `json:"Index Name"`
	Rows         float64    `json:"Actual Rows"`
	Loops        float64    `json:"Actual Loops"`
	Filtered     float64    `json:"Rows Removed by Filter"`
	JoinFiltered float64    `json:"Rows Removed by Join Filter"`
	Rechecked    float64    `json:"Rows Removed by Index Recheck"`
	Plans        []planNode `json:"Plans"`
}

// examined is how many rows the plan's scans read, over all their loops,
// plus the pairs its joins compared and threw away: the work that grows
// when a plan does not fit the data.
func (n planNode) examined() float64 {
	sum := n.JoinFiltered * n.Loops
	if strings.Contains(n.Type, "Scan") {
		sum += (n.Rows + n.Filtered + n.Rechecked) * n.Loops
	}
	for _, c := range n.Plans {
		sum += c.examined()
	}
	return sum
}

// outline is the plan's node types, indented, for failure messages.
func (n planNode) outline(depth int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s%s %s%s (rows=%.0f loops=%.0f filtered=%.0f join-filtered=%.0f)\n", strings.Repeat("  ", depth),
		n.Type, n.Relation, n.Index, n.Rows, n.Loops, n.Filtered, n.JoinFiltered)
	for _, c := range n.Plans {
		b.WriteString(c.outline(depth + 1))
	}
	return b.String()
}

// explainedPool opens a pool on dbURL whose sessions report the plan of
// every statement, with what it really did, through auto_explain, which
// needs a superuser, after the statements settings.
func explainedPool(t *testing.T, dbURL, settings string) (*pgxpool.Pool, *planLog) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	log := &planLog{}
	cfg.MaxConns = 1
	cfg.ConnConfig.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		_, text, ok := strings.Cut(n.Message, "plan:\n")
		if !ok {
			return
		}
		var e explained
		if err := json.Unmarshal([]byte(text), &e); err != nil {
			t.Errorf("auto_explain: %v in %q", err, text)
			return
		}
		log.mu.Lock()
		log.plans = append(log.plans, e)
		log.mu.Unlock()
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `LOAD 'auto_explain';
			SET auto_explain.log_min_duration = 0;
			SET auto_explain.log_analyze = on;
			SET auto_explain.log_timing = off;
			SET auto_explain.log_format = json;
			SET client_min_messages = log;`+settings)
		return err
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(t.Context()); err != nil {
		t.Fatalf("load auto_explain (the tests connect as a superuser): %v", err)
	}
	return pool, log
}

// take returns the plans collected since the last take.
func (l *planLog) take() []explained {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.plans
	l.plans = nil
	return p
}

// A pass over a queue must cost the same per row whatever the planner
// believes of it. The statistics of sync_queue are taken by autovacuum at
// most once a minute, while a pass moves thousands of rows a second from
// pending to running to done; so the claim and the settling are planned
// from counts that are wrong by orders of magnitude. Here they say that
// almost no row is pending and a handful are running, while 5,000 are
// due and every claimed batch is running: the plans that fit the
// statistics read every due row at each claim (a bitmap scan and a sort
// in place of the ordered index), or compare every running row with every
// outcome at each settle (a nested loop over the batch), which made a
// pass quadratic in the queue or the batch. Each statement, prepared and
// planned generically as pgx runs it after five executions, must examine
// rows in proportion to the batch.
func TestDB_QueuePass_WorkPerBatchWhateverTheStatistics(t *testing.T) {
	storetest.Parallel(t)
	ctx := t.Context()
	dbURL := storetest.NewDatabase(t)
	setupPool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(setupPool.Close)
	setup := store.New(setupPool)
	const queued, batch = 5000, 250
	calls := testCalls(t, 7, 100)
	ids := make([]string, queued)
	hash := map[string][]byte{}
	for i := range ids {
		ids[i] = fmt.Sprintf("q-%05d", i)
	}
	// A hundred of the calls are stored, so that their settling touches
	// them as unchanged payloads, as a re-sync does.
	for i := range calls {
		calls[i].ID = ids[i*(queued/len(calls))]
		hash[calls[i].ID] = calls[i].PayloadHash
	}
	if _, err := setup.SaveCalls(ctx, calls); err != nil {
		t.Fatal(err)
	}
	if _, err := storetest.PoolOf(setup).Exec(ctx, `INSERT INTO sync_queue (call_id, state) SELECT unnest($1::text[]), 'done'`, ids); err != nil {
		t.Fatal(err)
	}
	_, err = storetest.PoolOf(setup).Exec(ctx, `
		ALTER TABLE sync_queue SET (autovacuum_enabled = off);
		ALTER TABLE calls SET (autovacuum_enabled = off);
		UPDATE sync_queue SET state = 'running', lease_token = 7, locked_until = now() + interval '1 hour'
		WHERE  call_id IN (SELECT call_id FROM sync_queue ORDER BY call_id DESC LIMIT 20);
		UPDATE sync_queue SET state = 'pending'
		WHERE  call_id IN (SELECT call_id FROM sync_queue ORDER BY call_id LIMIT 20);
		ANALYZE sync_queue;
		ANALYZE calls;
		UPDATE sync_queue SET state = 'pending', lease_token = NULL, locked_until = NULL, next_attempt_at = now()`)
	if err != nil {
		t.Fatal(err)
	}

	pool, log := explainedPool(t, dbURL, "")
	db := store.New(pool)
	worst, pinned := worstPlans{}, worstPlans{}
	// Three passes: the first also leaves the table twice its size, as a
	// pass over a queue does until vacuum catches up. The third runs with
	// plain index scans priced out of every plan that can do without them,
	// as a bench saw with statistics taken by autovacuum in the middle of
	// a pass: the claim read all 14,500 due rows in a bitmap scan and
	// sorted them, for each batch of 250 (52 ms a claim). The claim pins
	// its plan, so it must not notice; the other statements do (without
	// plain index scans, no scan skips the queue's dead index entries, and
	// vacuum is off here), and are checked in the first two passes only.
	for pass := range 3 {
		into := worst
		if pass == 2 {
			pool, log = explainedPool(t, dbURL, `SET enable_indexscan = off`)
			db, into = store.New(pool), pinned
		}
		if pass > 0 {
			if _, err := storetest.PoolOf(setup).Exec(ctx, `UPDATE sync_queue SET state = 'pending', attempts = 0, next_attempt_at = now()`); err != nil {
				t.Fatal(err)
			}
		}
		if n := drain(t, db, batch, hash, log, into); n != queued/batch {
			t.Fatalf("pass %d drained the queue in %d claims, want %d", pass, n, queued/batch)
		}
		// The failed attempts are pending again, later; every other row is done.
		var done, pending int
		if err := storetest.PoolOf(setup).QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'done'),
			count(*) FILTER (WHERE state = 'pending' AND attempts = 1 AND next_attempt_at > now()) FROM sync_queue`).Scan(&done, &pending); err != nil {
			t.Fatal(err)
		}
		if done+pending != queued || pending == 0 {
			t.Fatalf("%d done and %d pending after a failed attempt, want %d in all", done, pending, queued)
		}
	}
	// A claim reads its batch from the ordered index, the stored calls of
	// the batch and the batch's rows: a few rows per claimed row. So does
	// a settle, and the touch of the unchanged calls.
	const limit = 8 * batch
	claim := planKey(store.ClaimSQL)
	if len(worst) == 0 || pinned[claim].Query == "" {
		t.Fatal("auto_explain reported no plan, or none of the claim")
	}
	worst[claim+" (index scans priced out)"] = pinned[claim]
	for q, e := range worst {
		x := e.Plan.examined()
		t.Logf("%6.0f rows examined at most: %s", x, q)
		if x > limit {
			t.Errorf("%s… examined %.0f rows for a batch of %d (at most %d expected):\n%s", q, x, batch, limit, e.Plan.outline(1))
		}
	}
}

// worstPlans keeps, for each statement (its first 60 characters), the plan
// that examined the most rows.
type worstPlans map[string]explained

func (w worstPlans) add(plans []explained) {
	for _, e := range plans {
		q := planKey(e.Query)
		if old, ok := w[q]; !ok || e.Plan.examined() > old.Plan.examined() {
			w[q] = e
		}
	}
}

// planKey is the key of statement q in worstPlans.
func planKey(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	return q[:min(len(q), 60)]
}

// drain claims batches until none is due and completes each, as a pass
// does: calls with a hash in hash as unchanged payloads, one in seven of
// the others as a failed attempt with an error of its own, the rest done.
// It returns how many claims found rows.
func drain(t *testing.T, db *store.DB, batch int, hash map[string][]byte, log *planLog, worst worstPlans) int {
	t.Helper()
	ctx := t.Context()
	for claims := 0; ; claims++ {
		l, err := db.Claim(ctx, batch, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Rows) == 0 {
			worst.add(log.take())
			return claims
		}
		outcomes := make([]store.Outcome, len(l.Rows))
		for i, r := range l.Rows {
			o := store.Outcome{CallID: r.CallID, State: store.StateDone}
			switch {
			case hash[r.CallID] != nil:
				o.UnchangedHash = hash[r.CallID]
			case i%7 == 0:
				o.State, o.Attempt, o.Delay = store.StatePending, true, time.Duration(i+1)*time.Hour
				o.Error, o.BadBody = "attempt 1: boom "+r.CallID, []byte("<html>"+r.CallID)
			}
			outcomes[i] = o
		}
		res, err := db.Complete(ctx, l.Token, outcomes)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Lost) > 0 || len(res.Stale) > 0 {
			t.Fatalf("lost %v, stale %v", res.Lost, res.Stale)
		}
		worst.add(log.take())
	}
}

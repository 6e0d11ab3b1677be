package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
)

// slowWorker is a database with n queued calls and a fake API that
// answers each request after latency, with the environment of a worker
// that fetches 4 calls at a time.
type slowWorker struct {
	dbURL string
	srv   *apitest.Server
	calls []apitest.Call
	env   map[string]string
}

func newSlowWorker(t *testing.T, n int, latency time.Duration) *slowWorker {
	t.Helper()
	calls := finalCalls(t, 31, n)
	srv := fakeAPI(t, calls...)
	srv.SetFaults(apitest.Faults{LatencyMin: latency})
	w := &slowWorker{dbURL: storetest.NewDatabase(t), srv: srv, calls: calls}
	w.env = map[string]string{"DATABASE_URL": w.dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey,
		"SYNTHFLOW_RATE_LIMIT": "0", "SYNC_CONCURRENCY": "4", "SYNC_SCHEDULE": "@every 1h"}
	if r := runCmd(t, w.env, "", append([]string{"enqueue"}, callIDs(calls)...)...); r.err != nil {
		t.Fatalf("enqueue: %v\n%s", r.err, r.stderr)
	}
	return w
}

// inFlight waits until the worker has sent its first 4 requests, which
// the fake API holds for its latency.
func (w *slowWorker) inFlight(t *testing.T, p *proc) {
	t.Helper()
	waitFor(t, time.Minute, "4 requests in flight", func() bool {
		if p.exited() {
			t.Fatalf("callsync exited early (%d):\n%s", p.code, p.out)
		}
		return w.srv.Counters().Total() >= 4
	})
}

// TestSignal_GracefulStop stops once and run with a signal while calls are
// being fetched: the calls in flight finish and are stored, no call is
// fetched after the signal, the rest go back to pending without an
// attempt, and the process exits 0.
func TestSignal_GracefulStop(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cmd string
		sig syscall.Signal
	}{{"once", syscall.SIGTERM}, {"run", syscall.SIGINT}} {
		t.Run(tt.cmd+"_"+tt.sig.String(), func(t *testing.T) {
			t.Parallel()
			w := newSlowWorker(t, 20, 4*time.Second)
			p := startProc(t, w.env, tt.cmd)
			w.inFlight(t, p)
			p.signal(tt.sig)
			if code := p.wait(t, time.Minute); code != 0 {
				t.Fatalf("%s exited %d after %v:\n%s", tt.cmd, code, tt.sig, p.out)
			}
			counts := queueCounts(t, mustPool(t, w.dbURL))
			if counts["done"] != 4 || counts["fresh"] != 16 || counts["pending"] != 16 || counts["running"] != 0 {
				t.Errorf("queue = %v, want the 4 calls in flight done and 16 pending untouched", counts)
			}
			if n := w.srv.Counters().Total(); n != 4 {
				t.Errorf("%d requests, want 4: calls were fetched after the signal", n)
			}
			out := p.out.String()
			if !strings.Contains(out, "sync pass stopped") || !strings.Contains(out, "released=16") {
				t.Errorf("no pass summary with 16 released:\n%s", out)
			}
			if tt.cmd == "run" && !strings.Contains(out, "callsync stopped") {
				t.Errorf("run did not log its stop:\n%s", out)
			}
		})
	}
}

// TestSignal_GraceEnds stops a pass whose calls take longer than
// --shutdown-grace: the process exits 0 when the grace ends, and every
// call, those in flight included, is pending again without an attempt.
func TestSignal_GraceEnds(t *testing.T) {
	t.Parallel()
	w := newSlowWorker(t, 20, 2*time.Minute)
	p := startProc(t, w.env, "once", "--shutdown-grace", "1s")
	w.inFlight(t, p)
	p.signal(syscall.SIGTERM)
	// The API would hold the calls for 2 minutes; the grace is 1 s.
	if code := p.wait(t, time.Minute); code != 0 {
		t.Fatalf("once exited %d:\n%s", code, p.out)
	}
	if counts := queueCounts(t, mustPool(t, w.dbURL)); counts["fresh"] != 20 || counts["pending"] != 20 {
		t.Errorf("queue = %v, want all 20 pending without an attempt", counts)
	}
	if out := p.out.String(); !strings.Contains(out, "released=20") {
		t.Errorf("no pass summary with 20 released:\n%s", out)
	}
}

// TestSignal_SecondSignalExitsAtOnce sends a second signal while the first
// one waits for calls in flight: the process exits at once with 130, and
// its rows, still leased, are synced by the next pass once the lease ends.
func TestSignal_SecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cmd           string
		first, second syscall.Signal
	}{{"run", syscall.SIGTERM, syscall.SIGTERM}, {"once", syscall.SIGTERM, syscall.SIGINT}} {
		t.Run(tt.cmd, func(t *testing.T) {
			t.Parallel()
			w := newSlowWorker(t, 20, 2*time.Minute)
			p := startProc(t, w.env, tt.cmd, "--shutdown-grace", "2m", "--lease", "10m")
			w.inFlight(t, p)
			p.signal(tt.first)
			if tt.first == tt.second {
				// The same signal twice in a row may be delivered once: send
				// the second after the first was handled.
				waitFor(t, time.Minute, "the first signal to be handled", func() bool {
					return strings.Contains(p.out.String(), "shutting down")
				})
			}
			p.signal(tt.second)
			// The grace (2 min) and the API (2 min) would hold a clean stop.
			if code := p.wait(t, time.Minute); code != 130 {
				t.Fatalf("%s exited %d after a second signal, want 130:\n%s", tt.cmd, code, p.out)
			}
			if out := p.out.String(); !strings.Contains(out, "second signal") || !strings.Contains(out, "lease") {
				t.Errorf("no message about the immediate exit:\n%s", out)
			}
			pool := mustPool(t, w.dbURL)
			if counts := queueCounts(t, pool); counts["running"] != 20 {
				t.Fatalf("queue = %v, want the 20 claimed rows still leased", counts)
			}

			// Nothing is lost: once the lease has run out (here, moved into
			// the past), the next pass takes the rows back and syncs them.
			w.srv.SetFaults(apitest.Faults{})
			if _, err := pool.Exec(t.Context(), `UPDATE sync_queue SET locked_until = now() - interval '1 second' WHERE state = 'running'`); err != nil {
				t.Fatal(err)
			}
			out, code := execCmd(t, t.Context(), w.env, "once")
			if code != 0 || !strings.Contains(out, "rescued=20") {
				t.Fatalf("once after the lease: exit %d, want 20 rescued:\n%s", code, out)
			}
			if counts := queueCounts(t, pool); counts["done"] != 20 {
				t.Errorf("queue = %v, want all 20 done", counts)
			}
			checkComplete(t, expect(t, w.calls), storedRows(t, pool), true)
		})
	}
}

// TestSignal_SIGKILLLeasesComeBack kills a worker mid-pass: its rows stay
// leased, so that no other worker fetches them meanwhile, and come back
// when the lease ends. No row stays running.
func TestSignal_SIGKILLLeasesComeBack(t *testing.T) {
	t.Parallel()
	w := newSlowWorker(t, 20, 2*time.Minute)
	p := startProc(t, w.env, "once", "--lease", "10m")
	w.inFlight(t, p)
	p.signal(syscall.SIGKILL)
	if code := p.wait(t, time.Minute); code != -1 {
		t.Fatalf("exit code %d after SIGKILL, want -1 (killed)", code)
	}
	pool := mustPool(t, w.dbURL)
	if n := count(t, w.dbURL, `SELECT count(*) FROM sync_queue WHERE state = 'running' AND locked_until > now() + interval '5 minutes'`); n != 20 {
		t.Fatalf("%d rows running under the dead worker's lease, want 20 (queue %v)", n, queueCounts(t, pool))
	}
	w.srv.SetFaults(apitest.Faults{})
	before := w.srv.Counters().Total()

	// While the lease holds, another worker leaves the rows alone.
	out, code := execCmd(t, t.Context(), w.env, "once", "--log-level", "debug") // an idle pass logs at debug
	if code != 0 || !strings.Contains(out, "claimed=0") {
		t.Fatalf("once during the lease: exit %d, want nothing claimed:\n%s", code, out)
	}
	if n := w.srv.Counters().Total(); n != before {
		t.Fatalf("%d requests during the lease, want none", n-before)
	}
	r := runCmd(t, w.env, "", "status")
	if r.err != nil || !strings.Contains(r.stdout, "running  20") {
		t.Errorf("status: %v\n%s", r.err, r.stdout)
	}

	// After it, they are synced.
	if _, err := pool.Exec(t.Context(), `UPDATE sync_queue SET locked_until = now() - interval '1 second' WHERE state = 'running'`); err != nil {
		t.Fatal(err)
	}
	out, code = execCmd(t, t.Context(), w.env, "once")
	if code != 0 || !strings.Contains(out, "rescued=20") || !strings.Contains(out, "done=20") {
		t.Fatalf("once after the lease: exit %d, want 20 rescued and done:\n%s", code, out)
	}
	if counts := queueCounts(t, pool); counts["done"] != 20 || counts["running"] != 0 {
		t.Errorf("queue = %v, want all 20 done", counts)
	}
	checkComplete(t, expect(t, w.calls), storedRows(t, pool), true)
}

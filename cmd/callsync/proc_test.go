package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	callsync "github.com/callsync/callsync/sync"
)

// lockedBuffer is a bytes.Buffer that a process's output and the test may
// use at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a callsync process started by a test, with its standard output
// and standard error captured together.
type proc struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the process has exited and code is set
	code int
}

// startProc starts the callsync binary with env added to a minimal
// environment. The process is killed, if still running, when t ends.
func startProc(t testing.TB, env map[string]string, args ...string) *proc {
	t.Helper()
	p, err := spawn(env, args...)
	if err != nil {
		t.Fatalf("start callsync %v: %v", args, err)
	}
	t.Cleanup(p.kill)
	return p
}

// spawn starts the binary; the caller must kill or wait for it.
func spawn(env map[string]string, args ...string) (*proc, error) {
	return spawnPath(binary, env, args...)
}

// spawnPath is spawn for the callsync binary at path.
func spawnPath(path string, env map[string]string, args ...string) (*proc, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{cmd: cmd, out: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		err := cmd.Wait()
		p.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode() // -1 when a signal killed it
		} else if err != nil {
			p.code = -2
		}
		close(p.done)
	}()
	return p, nil
}

// signal sends sig to the process; a process that has exited is left alone.
func (p *proc) signal(sig syscall.Signal) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(sig)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL)
	<-p.done
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to limit for the process to exit and returns its exit
// code; it fails t, after killing the process, when it does not exit.
func (p *proc) wait(t testing.TB, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(limit):
		p.kill()
		t.Fatalf("callsync %v still running after %v; output:\n%s", p.cmd.Args[1:], limit, p.out)
		return 0
	}
}

// waitFor polls cond every 20 ms until it holds, failing t with what when
// it does not within limit. limit is a safety net against hangs, never a
// measure of speed: pick it generously.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// queueCounts returns the number of sync_queue rows per state, with
// "fresh" counting pending rows that no attempt was counted for.
func queueCounts(t testing.TB, pool *pgxpool.Pool) map[string]int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT state, count(*) FROM sync_queue GROUP BY state
		UNION ALL
		SELECT 'fresh', count(*) FROM sync_queue WHERE state = 'pending' AND attempts = 0`)
	if err != nil {
		t.Fatalf("count queue rows: %v", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			t.Fatalf("count queue rows: %v", err)
		}
		counts[state] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("count queue rows: %v", err)
	}
	return counts
}

// mustPool opens a pool on dbURL, closed when t ends.
func mustPool(t testing.TB, dbURL string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// callIDs returns the ids of calls.
func callIDs(calls []apitest.Call) []string {
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.ID()
	}
	return ids
}

// finalCalls generates n calls, all with the final status completed, so
// that one successful fetch settles each.
func finalCalls(t testing.TB, seed uint64, n int) []apitest.Call {
	t.Helper()
	calls := apitest.Generate(apitest.GenerateOptions{Seed: seed, Calls: n})
	for i, c := range calls {
		var err error
		if calls[i], err = c.With("status", "completed"); err != nil {
			t.Fatal(err)
		}
	}
	return calls
}

// expectedRows is what the warehouse must hold for calls as the API serves
// them: per call, the payload hash and the numbers of child rows.
type expectedRows struct {
	hash      map[string]string // call_id → hex SHA-256 of the normalized raw
	lines     map[string]int
	variables map[string]int
	telephony map[string]int
}

// expect decodes and normalizes each call as served, the source of truth.
func expect(t testing.TB, calls []apitest.Call) expectedRows {
	t.Helper()
	e := expectedRows{hash: map[string]string{}, lines: map[string]int{}, variables: map[string]int{}, telephony: map[string]int{}}
	for _, c := range calls {
		ac, err := api.DecodeCall(c.GetJSON())
		if err != nil {
			t.Fatalf("decode served call %s: %v", c.ID(), err)
		}
		row, _, err := callsync.Normalize(ac)
		if err != nil {
			t.Fatalf("normalize served call %s: %v", c.ID(), err)
		}
		e.hash[c.ID()] = hex.EncodeToString(row.PayloadHash)
		e.lines[c.ID()] = len(row.Transcript)
		e.variables[c.ID()] = len(row.Variables)
		if row.Telephony != nil {
			e.telephony[c.ID()] = 1
		}
	}
	return e
}

// storedRows reads, per stored call, the same figures as expect.
func storedRows(t testing.TB, pool *pgxpool.Pool) expectedRows {
	t.Helper()
	got := expectedRows{hash: map[string]string{}, lines: map[string]int{}, variables: map[string]int{}, telephony: map[string]int{}}
	rows, err := pool.Query(context.Background(), `
		SELECT c.call_id, encode(c.payload_hash, 'hex'),
		       (SELECT count(*) FROM transcript_lines t WHERE t.call_id = c.call_id),
		       (SELECT count(*) FROM collected_variables v WHERE v.call_id = c.call_id),
		       (SELECT count(*) FROM call_telephony p WHERE p.call_id = c.call_id)
		FROM calls c`)
	if err != nil {
		t.Fatalf("read stored calls: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, hash string
		var lines, vars, tel int
		if err := rows.Scan(&id, &hash, &lines, &vars, &tel); err != nil {
			t.Fatalf("read stored calls: %v", err)
		}
		got.hash[id], got.lines[id], got.variables[id] = hash, lines, vars
		if tel > 0 {
			got.telephony[id] = tel
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read stored calls: %v", err)
	}
	return got
}

// checkComplete fails t for every stored call that differs from the
// expectation: a half-written call (children missing) or a wrong payload.
// With all, it also fails for expected calls that are not stored.
func checkComplete(t testing.TB, want, got expectedRows, all bool) {
	t.Helper()
	bad := 0
	report := func(format string, args ...any) {
		if bad++; bad <= 20 {
			t.Errorf(format, args...)
		}
	}
	for id, hash := range got.hash {
		w, ok := want.hash[id]
		switch {
		case !ok:
			report("stored call %s is not one the API serves", id)
		case hash != w:
			report("call %s: payload_hash %s, want %s", id, hash, w)
		case got.lines[id] != want.lines[id]:
			report("call %s: %d transcript lines, want %d", id, got.lines[id], want.lines[id])
		case got.variables[id] != want.variables[id]:
			report("call %s: %d collected variables, want %d", id, got.variables[id], want.variables[id])
		case got.telephony[id] != want.telephony[id]:
			report("call %s: %d telephony rows, want %d", id, got.telephony[id], want.telephony[id])
		}
	}
	if all {
		for id := range want.hash {
			if _, ok := got.hash[id]; !ok {
				report("call %s is not stored", id)
			}
		}
	}
	if bad > 20 {
		t.Errorf("… and %d more differences", bad-20)
	}
}

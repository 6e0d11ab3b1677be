package store_test

// Benchmarks of the write path over realistic calls (apitest.Generate, then
// api.DecodeCall and callsync.Normalize as a sync pass does). Each reports
// calls/s; ns/op is per call. They run only with -bench:
//
//	go test ./store -run '^$' -bench 'BenchmarkWrite$' -benchtime 3s
//	go test ./store -run '^$' -bench 'BenchmarkWrite_Warehouse' -benchtime 20000x -timeout 30m

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storebench"
	"github.com/callsync/callsync/store/storetest"
)

// benchSetSize is the number of distinct generated calls; fresh writes
// reuse them under new ids.
const benchSetSize = 5000

var benchSet struct {
	once  sync.Once
	calls []store.Call
}

// benchCalls returns the generated calls, built once per test binary.
func benchCalls(b *testing.B) []store.Call {
	b.Helper()
	benchSet.once.Do(func() { benchSet.calls = testCalls(b, 42, benchSetSize) })
	return benchSet.calls
}

// freshSeq makes the ids of freshCalls unique within the test binary.
var freshSeq atomic.Int64

// freshCalls returns n generated calls under ids never written before.
func freshCalls(b *testing.B, n int) []store.Call {
	b.Helper()
	set := benchCalls(b)
	out := make([]store.Call, n)
	for i := range out {
		out[i] = set[i%len(set)]
		out[i].ID = "bench-" + strconv.FormatInt(freshSeq.Add(1), 10)
	}
	return out
}

// chunks calls write per batch of size.
func chunks(calls []store.Call, size int, write func([]store.Call) error) error {
	for len(calls) > 0 {
		n := min(size, len(calls))
		if err := write(calls[:n]); err != nil {
			return err
		}
		calls = calls[n:]
	}
	return nil
}

// reportRate reports calls per second of the timed part of the benchmark.
func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// A writer prepares to write b.N calls into db and returns the part to
// measure.
type writer func(b *testing.B, db *store.DB) (timed func())

func naive(b *testing.B, db *store.DB) func() {
	calls := freshCalls(b, b.N)
	return func() {
		for _, c := range calls {
			if err := storebench.SaveCallSlow(b.Context(), db, c); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func batched(size int) writer {
	return func(b *testing.B, db *store.DB) func() {
		calls := freshCalls(b, b.N)
		return func() {
			err := chunks(calls, size, func(c []store.Call) error { return db.SaveCallsBatched(b.Context(), c) })
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func copied(size int) writer {
	return func(b *testing.B, db *store.DB) func() {
		calls := freshCalls(b, b.N)
		return func() {
			err := chunks(calls, size, func(c []store.Call) error {
				_, err := db.SaveCalls(b.Context(), c)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// unchanged writes calls already stored with the same payload.
func unchanged(size int) writer {
	return func(b *testing.B, db *store.DB) func() {
		calls := freshCalls(b, min(b.N, benchSetSize))
		if _, err := db.SaveCalls(b.Context(), calls); err != nil {
			b.Fatal(err)
		}
		write := func(c []store.Call) error {
			r, err := db.SaveCalls(b.Context(), c)
			if err == nil && r.Unchanged != len(c) {
				err = fmt.Errorf("%d of %d calls unchanged", r.Unchanged, len(c))
			}
			return err
		}
		return func() {
			for done := 0; done < b.N; done += len(calls) {
				part := calls[:min(len(calls), b.N-done)]
				if err := chunks(part, size, write); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// changed writes calls already stored with a new payload: every call is
// merged into its row and its transcript and variables replaced.
func changed(size int) writer {
	return func(b *testing.B, db *store.DB) func() {
		calls := freshCalls(b, min(b.N, benchSetSize))
		if _, err := db.SaveCalls(b.Context(), calls); err != nil {
			b.Fatal(err)
		}
		write := func(c []store.Call) error {
			r, err := db.SaveCalls(b.Context(), c)
			if err == nil && r.Unchanged != 0 {
				err = fmt.Errorf("%d of %d calls unchanged", r.Unchanged, len(c))
			}
			return err
		}
		return func() {
			for done := 0; done < b.N; done += len(calls) {
				part := calls[:min(len(calls), b.N-done)]
				for i := range part {
					part[i].PayloadHash = []byte("changed-" + strconv.Itoa(done))
				}
				if err := chunks(part, size, write); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// completed runs the queue path of a sync pass, without the API: enqueue
// (untimed), then claim a batch and complete it with its calls, by writers
// concurrent workers.
func completed(size, writers int) writer {
	return func(b *testing.B, db *store.DB) func() {
		calls := freshCalls(b, b.N)
		byID := make(map[string]*store.Call, len(calls))
		ids := make([]string, len(calls))
		for i := range calls {
			byID[calls[i].ID], ids[i] = &calls[i], calls[i].ID
		}
		for len(ids) > 0 {
			n := min(len(ids), 10000)
			if _, err := db.Enqueue(b.Context(), ids[:n]); err != nil {
				b.Fatal(err)
			}
			ids = ids[n:]
		}
		return func() {
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for {
						l, err := db.Claim(b.Context(), size, time.Minute)
						if err != nil {
							b.Error(err)
							return
						}
						if len(l.Rows) == 0 {
							return
						}
						outcomes := make([]store.Outcome, len(l.Rows))
						for i, r := range l.Rows {
							outcomes[i] = store.Outcome{CallID: r.CallID, Call: byID[r.CallID], State: store.StateDone}
						}
						if _, err := db.Complete(b.Context(), l.Token, outcomes); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		}
	}
}

// completedUnchanged runs the queue path of an unchanged re-sync, without
// the API: the calls are stored and their rows done (untimed); each round
// enqueues them again (untimed), then claims batches of size and
// completes them as unchanged, as a pass does when every payload hashes
// to the stored hash.
func completedUnchanged(size int) writer {
	return func(b *testing.B, db *store.DB) func() {
		calls := freshCalls(b, min(b.N, benchSetSize))
		if _, err := db.SaveCalls(b.Context(), calls); err != nil {
			b.Fatal(err)
		}
		ids := make([]string, len(calls))
		hash := make(map[string][]byte, len(calls))
		for i, c := range calls {
			ids[i], hash[c.ID] = c.ID, c.PayloadHash
		}
		return func() {
			for done := 0; done < b.N; done += len(ids) {
				b.StopTimer()
				if _, err := db.Enqueue(b.Context(), ids[:min(len(ids), b.N-done)]); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for {
					l, err := db.Claim(b.Context(), size, time.Minute)
					if err != nil {
						b.Fatal(err)
					}
					if len(l.Rows) == 0 {
						break
					}
					outcomes := make([]store.Outcome, len(l.Rows))
					for i, r := range l.Rows {
						outcomes[i] = store.Outcome{CallID: r.CallID, UnchangedHash: hash[r.CallID], State: store.StateDone}
					}
					res, err := db.Complete(b.Context(), l.Token, outcomes)
					if err != nil {
						b.Fatal(err)
					}
					if res.Unchanged != len(outcomes) {
						b.Fatalf("%d of %d calls unchanged", res.Unchanged, len(outcomes))
					}
				}
			}
		}
	}
}

// run runs w as a sub-benchmark, on db or, when db is nil, on a new empty
// database for each run.
//
// Besides calls/s it reports the CPU time per call of this process and,
// when the server runs on this machine, of the server processes serving
// the database: unlike the rate, these barely move when other work shares
// the machine.
func run(b *testing.B, name string, db *store.DB, w writer) {
	b.Run(name, func(b *testing.B) {
		on := db
		if on == nil {
			on = store.New(storetest.Pool(b))
		}
		timed := w(b, on)
		server, client := serverCPU(b, on), clientCPU()
		b.ResetTimer()
		timed()
		b.StopTimer()
		reportRate(b)
		b.ReportMetric(float64((clientCPU()-client).Microseconds())/float64(b.N), "client-cpu-µs/call")
		if after := serverCPU(b, on); len(after) > 0 {
			var used time.Duration
			for pid, t := range after {
				used += t - server[pid]
			}
			b.ReportMetric(float64(used.Microseconds())/float64(b.N), "db-cpu-µs/call")
		}
	})
}

// clientCPU returns the CPU time this process has used.
func clientCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU returns the CPU time used by each server process connected to
// db's database, read from /proc; none when the server is not local.
func serverCPU(b *testing.B, db *store.DB) map[int]time.Duration {
	rows, err := storetest.PoolOf(db).Query(context.Background(),
		`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	out := map[int]time.Duration{}
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil
		}
		// Fields 14 and 15, after the parenthesised command name: user and
		// system time in clock ticks of 10 ms.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 13 {
			return nil
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		out[int(pid)] = time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return out
}

// BenchmarkWrite compares the writers on an empty warehouse: the naive one
// (a transaction per call, a statement per row), one pgx.Batch of per-call
// statements per transaction, COPY into staging and a set-based merge at
// several batch sizes, unchanged and changed payloads of stored calls, and
// the whole queue path (claim, then complete with the write in the same
// transaction) with one and two workers.
func BenchmarkWrite(b *testing.B) {
	run(b, "naive", nil, naive)
	run(b, "batch/500", nil, batched(500))
	run(b, "copy/100", nil, copied(100))
	run(b, "copy/500", nil, copied(500))
	run(b, "copy/2000", nil, copied(2000))
	run(b, "copy/500/unchanged", nil, unchanged(500))
	run(b, "copy/500/changed", nil, changed(500))
	run(b, "complete/500", nil, completed(500, 1))
	run(b, "complete/500/2workers", nil, completed(500, 2))
	run(b, "complete/250/unchanged", nil, completedUnchanged(250))
}

// BenchmarkWrite_Warehouse measures the batched writes on an empty
// warehouse and on one holding 200,000 calls (about 6 million transcript
// lines) whose queue rows are done, loaded with SaveCalls in an untimed
// setup of a few minutes and then vacuumed and analysed, as autovacuum
// would. Per-call cost should stay flat: the rates of the two should be
// close. Use a fixed -benchtime (e.g. 20000x) so that both do the same work.
func BenchmarkWrite_Warehouse(b *testing.B) {
	const stored = 200_000
	empty := store.New(storetest.Pool(b))
	full := store.New(storetest.Pool(b))
	ctx := context.Background()
	begin := time.Now()
	if err := chunks(freshCalls(b, stored), 2000, func(c []store.Call) error {
		_, err := full.SaveCalls(ctx, c)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	_, err := storetest.PoolOf(full).Exec(ctx, `INSERT INTO sync_queue (call_id, state) SELECT call_id, 'done' FROM calls`)
	if err != nil {
		b.Fatal(err)
	}
	for _, db := range []*store.DB{empty, full} {
		if _, err := storetest.PoolOf(db).Exec(ctx, `VACUUM ANALYZE`); err != nil {
			b.Fatal(err)
		}
	}
	// Write the load's dirty pages now rather than during the measurements
	// (needs a superuser or pg_checkpoint; without it, later checkpoints
	// add noise).
	if _, err := storetest.PoolOf(full).Exec(ctx, `CHECKPOINT`); err != nil {
		b.Logf("checkpoint: %v", err)
	}
	b.Logf("loaded %d calls in %v", stored, time.Since(begin).Round(time.Second))
	// Alternate between the two so that a change in the machine's load
	// affects both alike.
	for _, w := range []struct {
		name  string
		write writer
	}{
		{"copy/500", copied(500)}, {"copy/500/unchanged", unchanged(500)}, {"copy/500/changed", changed(500)},
		{"complete/500", completed(500, 1)},
	} {
		run(b, "empty/"+w.name, empty, w.write)
		run(b, "200k/"+w.name, full, w.write)
	}
}

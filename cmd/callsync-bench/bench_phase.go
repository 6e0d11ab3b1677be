package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/report"
	"github.com/callsync/callsync/store/storebench"
	callsync "github.com/callsync/callsync/sync"
)

// phase is what one bench phase measured.
type phase struct {
	synced        int           // calls stored (done or polling)
	took          time.Duration // the longest sync passes, with their rollup folds, of a worker (without process start and migration check)
	fold          time.Duration // the rollup folds of that worker
	wall          time.Duration // from the workers' start to the last one's exit
	rows          int64         // warehouse rows added
	requests      int           // GET /calls/{id} requests
	peakRSS       int64         // largest peak resident set of a worker, bytes
	rateLimit     int           // requests per minute, 0 for none
	maxIn10s      int           // most requests the API saw in any 10 s
	reqRate       float64       // requests per second between the first and last request
	limiterWrites int64         // rows of the shared rate limit bucket written (a commit each)
	rateWait      time.Duration // time requests waited for the rate limiter, summed over requests and workers
	fetchTime     time.Duration // the fetch workers' time: each worker's sync passes times its concurrency, summed
}

func (p phase) rate() float64 { return float64(p.synced) / p.took.Seconds() }

// limiterWritesPerRequest is the limiter's cost: commits to the shared
// bucket per API request.
func (p phase) limiterWritesPerRequest() float64 {
	if p.requests == 0 {
		return 0
	}
	return float64(p.limiterWrites) / float64(p.requests)
}

// limiterWaitShare is the limiter's other cost: the share of the fetch
// workers' time that requests spent waiting for it.
func (p phase) limiterWaitShare() float64 {
	if p.fetchTime == 0 {
		return 0
	}
	return p.rateWait.Seconds() / p.fetchTime.Seconds()
}

// benchPhase enqueues ids and runs the worker processes until they drain
// the queue (or for c.duration), measuring them.
func benchPhase(ctx context.Context, c benchConfig, processes int, db *store.DB, fake *apitest.Server, ids []string, dbURL string) (phase, error) {
	p := phase{rateLimit: c.rateLimit}
	if _, err := callsync.Enqueue(ctx, db, ids); err != nil {
		return p, err
	}
	before, err := report.TableCounts(ctx, db)
	if err != nil {
		return p, err
	}
	writesBefore, err := storebench.LimiterWrites(ctx, db)
	if err != nil {
		return p, err
	}
	env := append(os.Environ(),
		"DATABASE_URL="+dbURL, "SYNTHFLOW_API_URL="+fake.URL, "SYNTHFLOW_API_KEY="+fakeAPIKey,
		"SYNTHFLOW_API_KEY_FILE=", "SYNTHFLOW_RATE_LIMIT="+strconv.Itoa(c.rateLimit),
		"SYNC_CONCURRENCY="+strconv.Itoa(c.concurrency), "SYNC_BATCH_SIZE="+strconv.Itoa(c.batchSize),
		"LOG_FORMAT=json", "LOG_LEVEL=info")
	start := time.Now()
	var wg sync.WaitGroup
	results := make([]workerResult, processes)
	for i := range processes {
		wg.Go(func() { results[i] = runWorker(ctx, c.worker, env, c.duration) })
	}
	wg.Wait()
	p.wall = time.Since(start)
	for _, r := range results {
		if r.err != nil {
			return p, r.err
		}
		p.synced += r.synced
		if r.took > p.took {
			p.took, p.fold = r.took, r.fold
		}
		p.peakRSS = max(p.peakRSS, r.peakRSS)
		p.rateWait += r.rateWait
		p.fetchTime += time.Duration(c.concurrency) * r.passes
	}
	after, err := report.TableCounts(ctx, db)
	if err != nil {
		return p, err
	}
	if c.rateLimit > 0 {
		time.Sleep(200 * time.Millisecond) // the workers' server processes report their statistics as they exit
	}
	writesAfter, err := storebench.LimiterWrites(ctx, db)
	if err != nil {
		return p, err
	}
	p.limiterWrites = writesAfter - writesBefore
	for _, t := range []string{"calls", "transcript_lines", "collected_variables", "call_telephony"} {
		p.rows += after[t] - before[t]
	}
	cnt := fake.Counters()
	p.requests = cnt.Endpoint(apitest.EndpointGetCall)
	p.maxIn10s = cnt.MaxInWindow(10 * time.Second)
	if a := cnt.Arrivals(); len(a) > 1 {
		p.reqRate = float64(len(a)-1) / a[len(a)-1].Sub(a[0]).Seconds()
	}
	return p, nil
}

// workerResult is what one worker process did.
type workerResult struct {
	synced   int
	took     time.Duration // its sync passes and the rollup folds after them, summed
	fold     time.Duration // the rollup folds
	passes   time.Duration // its sync passes alone
	rateWait time.Duration // time its requests waited for the rate limiter, summed
	peakRSS  int64
	err      error
}

// runWorker runs `callsync once` with env, stopping it with SIGTERM after
// duration when that is set, and reads its pass summaries.
func runWorker(ctx context.Context, binary string, env []string, duration time.Duration) workerResult {
	cmd := exec.CommandContext(ctx, binary, "once")
	cmd.Env = env
	var logs bytes.Buffer
	cmd.Stderr = &logs
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return workerResult{err: fmt.Errorf("bench: start worker: %w", err)}
	}
	if duration > 0 {
		t := time.AfterFunc(duration, func() { _ = cmd.Process.Signal(syscall.SIGTERM) })
		defer t.Stop()
	}
	var r workerResult
	stopWatch := watchPeakRSS(cmd.Process.Pid, &r.peakRSS)
	err := cmd.Wait()
	stopWatch()
	if err != nil {
		r.err = fmt.Errorf("bench: worker: %w\n%s", err, tailLines(logs.String(), 20))
		return r
	}
	sc := bufio.NewScanner(&logs)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg      string `json:"msg"`
			Took     string `json:"took"` // JSON logs write durations as strings, e.g. "1.5s"
			RateWait string `json:"rate_wait"`
			Done     int    `json:"done"`
			Polling  int    `json:"polling"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		took, _ := time.ParseDuration(line.Took) // a line without it adds no time
		switch line.Msg {
		case "sync pass done", "sync pass stopped":
			r.synced += line.Done + line.Polling
			r.took += took
			r.passes += took
			wait, _ := time.ParseDuration(line.RateWait)
			r.rateWait += wait
		case "rollups folded": // the fold after a pass is part of the cost of syncing
			r.took += took
			r.fold += took
		}
	}
	return r
}

// naiveSync syncs calls the naive way, for comparison: one at a time,
// fetch, decode, normalize and write in a transaction of its own, statement
// by statement. The calls are stored under new ids so that they are fresh
// inserts like the fast path's.
func naiveSync(ctx context.Context, db *store.DB, fake *apitest.Server, calls []apitest.Call) (int, time.Duration, error) {
	client, err := api.NewClient(api.Options{BaseURL: fake.URL, APIKey: fakeAPIKey})
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	for _, gc := range calls {
		ac, err := client.GetCall(ctx, gc.ID())
		if err != nil {
			return 0, 0, err
		}
		ac.ID = "naive-" + ac.ID
		row, _, err := callsync.Normalize(ac)
		if err != nil {
			return 0, 0, err
		}
		if err := storebench.SaveCallSlow(ctx, db, row); err != nil {
			return 0, 0, err
		}
	}
	return len(calls), time.Since(start), nil
}

func printPhase(w io.Writer, name string, p phase) {
	perCall := 0.0
	if p.synced > 0 {
		perCall = float64(p.requests) / float64(p.synced)
	}
	fmt.Fprintf(w, "%-18s %7d calls in %8s  %8.0f calls/s  %9.0f rows/s  %.2f requests/call  peak RSS %.0f MB  (%s with process start; rollup folds %s)\n",
		name, p.synced, p.took.Round(time.Millisecond), p.rate(), float64(p.rows)/p.took.Seconds(), perCall,
		float64(p.peakRSS)/(1<<20), p.wall.Round(time.Millisecond), p.fold.Round(time.Millisecond))
}

func printLimit(w io.Writer, p phase) {
	limit10s := p.rateLimit / 6
	verdict := "under the limit"
	if p.maxIn10s > limit10s {
		verdict = "OVER THE LIMIT"
	}
	fmt.Fprintf(w, "  requests: %.2f/s = %.1f%% of the %d/min limit; at most %d in any 10 s (limit %d): %s\n",
		p.reqRate, 100*p.reqRate*60/float64(p.rateLimit), p.rateLimit, p.maxIn10s, limit10s, verdict)
}

// printLimiterCost prints what the limiter cost a phase: the time requests
// waited for it, and its writes to the shared bucket.
func printLimiterCost(w io.Writer, p phase) {
	fmt.Fprintf(w, "  limiter: requests waited %s in all, %.1f %% of the fetch workers' time; %.4f bucket writes per request\n",
		p.rateWait.Round(time.Millisecond), 100*p.limiterWaitShare(), p.limiterWritesPerRequest())
}

// watchPeakRSS samples the peak resident set (VmHWM) of process pid into
// peak until stop is called. getrusage's maxrss would not do: Linux keeps it
// across exec, so a child counts the memory of the parent it was forked from.
func watchPeakRSS(pid int, peak *int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if kb, ok := readVmHWM(pid); ok {
				*peak = max(*peak, kb*1024)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// readVmHWM reads the peak resident set of pid, in kilobytes, from /proc.
func readVmHWM(pid int) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			f := bytes.Fields(rest)
			if len(f) > 0 {
				kb, err := strconv.ParseInt(string(f[0]), 10, 64)
				return kb, err == nil
			}
		}
	}
	return 0, false
}

func tailLines(s string, n int) string {
	lines := bytes.Split([]byte(s), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/report"
	"github.com/callsync/callsync/store/storebench"
	callsync "github.com/callsync/callsync/sync"
)

// liveWebhookSecret signs the live workspace's webhooks; it guards nothing
// real.
const liveWebhookSecret = "bench-webhook-secret"

// liveSample is how often the bench reads the warehouse for calls that
// landed: the resolution of the lags it measures, in clock time.
const liveSample = 100 * time.Millisecond

// benchLiveRun runs the workspace and the worker on a fresh database until
// every call has landed or c.tail after the last call ended, and returns
// what it measured.
func benchLiveRun(ctx context.Context, c liveConfig, admin string, run uint64, logger *slog.Logger) (liveRun, error) {
	var r liveRun
	db, dbURL, drop, err := benchDB(ctx, admin, slog.New(slog.DiscardHandler))
	if err != nil {
		return r, err
	}
	defer drop()
	defer db.Close()
	addr, err := liveFreeAddr()
	if err != nil {
		return r, err
	}
	lo := apitest.LiveOptions{Agents: c.agents, Phases: c.phases, MinLength: c.minLen, MaxLength: c.maxLen,
		WebhookLoss: c.loss, ListLag: c.listLag, Scale: c.scale, Seed: c.seed + run}
	if c.webhooks {
		lo.WebhookURL, lo.WebhookSecret = "http://"+addr+"/webhooks/synthflow", []byte(liveWebhookSecret)
	}
	fake, err := apitest.NewServer(apitest.Options{APIKey: demoKey, RateLimit: apitest.LiveBudget(c.budget, c.scale), Live: &lo})
	if err != nil {
		return r, err
	}
	defer fake.Close()
	w, err := startLiveWorker(ctx, c, fake.URL, dbURL, addr)
	if err != nil {
		return r, err
	}
	defer func() { _ = w.stop(logger) }()
	live := fake.Live()
	live.Start()
	r, err = watchLanding(ctx, c, db, live)
	if err != nil {
		return r, err
	}
	if r.metrics, err = w.webhookMetrics(ctx); err != nil {
		logger.Warn("bench: read the worker's webhook metrics", "err", err)
	}
	if err := w.stop(logger); err != nil {
		return r, err
	}
	r.skipped = strings.Count(w.logs.String(), "skipping this tick")
	counts, err := report.TableCounts(ctx, db)
	if err != nil {
		return r, err
	}
	r.rows = int(counts["calls"])
	r.calls = live.Calls()
	r.requests = fake.Counters().Requests()
	r.phaseTimes = make([][2]time.Time, len(c.phases))
	for i := range c.phases {
		start, end := live.Phase(i)
		r.phaseTimes[i] = [2]time.Time{start, end}
	}
	return r, nil
}

// liveFreeAddr returns a loopback address with a port free a moment ago.
func liveFreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench: find a free port: %w", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr, nil
}

// liveWorker is the `callsync run` process under measure.
type liveWorker struct {
	cmd     *exec.Cmd
	logs    bytes.Buffer
	addr    string
	exited  chan struct{}
	waitErr error
	stopped bool
}

// startLiveWorker starts `callsync run` against the fake API and waits
// until it serves HTTP.
func startLiveWorker(ctx context.Context, c liveConfig, apiURL, dbURL, addr string) (*liveWorker, error) {
	models := make([]string, c.agents)
	for i := range models {
		models[i] = "agent-" + strconv.Itoa(i)
	}
	env := append(workerBaseEnv(),
		"DATABASE_URL="+dbURL, "SYNTHFLOW_API_URL="+apiURL, "SYNTHFLOW_API_KEY="+demoKey,
		"SYNTHFLOW_RATE_LIMIT="+strconv.Itoa(int(float64(c.budget)*c.scale+0.5)),
		"HTTP_ADDR="+addr, "SYNC_POLL_MODELS="+strings.Join(models, ","), "LOG_FORMAT=json", "LOG_LEVEL=info")
	if c.webhooks {
		env = append(env, "SYNTHFLOW_WEBHOOK_SECRET="+liveWebhookSecret)
	} else {
		env = append(env, "SYNTHFLOW_WEBHOOK_PATH=off")
	}
	env = append(env, scaledWorkerEnv(c.scale)...)
	env = append(env, c.extraEnv...) // last: the later of two equal keys wins
	w := &liveWorker{addr: addr, exited: make(chan struct{})}
	w.cmd = exec.Command(c.worker, "run")
	w.cmd.Env = env
	w.cmd.Stderr = &w.logs
	if err := w.cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start worker: %w", err)
	}
	go func() { w.waitErr = w.cmd.Wait(); close(w.exited) }()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + addr + healthzPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return w, nil
			}
		}
		select {
		case <-w.exited:
			return nil, fmt.Errorf("bench: worker exited at start: %v\n%s", w.waitErr, tailLines(w.logs.String(), 20))
		case <-ctx.Done():
			_ = w.stop(slog.New(slog.DiscardHandler))
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = w.stop(slog.New(slog.DiscardHandler))
			return nil, fmt.Errorf("bench: worker not serving %s after a minute\n%s", addr, tailLines(w.logs.String(), 20))
		}
	}
}

// workerBaseEnv is this process's environment without callsync's own
// settings, so that the worker runs with its defaults whatever the shell
// exports.
func workerBaseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "SYNC_") || strings.HasPrefix(name, "SYNTHFLOW_") || strings.HasPrefix(name, "LOG_") ||
			name == "HTTP_ADDR" || name == "AGENTS_REFRESH" || name == "DATABASE_URL" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// scaledWorkerEnv compresses the worker's timings by scale, as the
// workspace's: nothing at scale 1. The re-fetch delay of calls not final
// yet has no setting, so it cannot follow.
func scaledWorkerEnv(scale float64) []string {
	if scale == 1 {
		return nil
	}
	d := callsync.DefaultConfig()
	s := func(v time.Duration) string { return time.Duration(float64(v) / scale).String() }
	return []string{
		"SYNC_SCHEDULE=@every " + s(time.Minute),
		"SYNTHFLOW_WEBHOOK_COOLDOWN=" + s(defaultWebhookCooldown),
		"SYNC_RETRY_BASE=" + s(d.Retry.Base), "SYNC_RETRY_MAX=" + s(d.Retry.Max),
		"SYNC_LEASE=" + max(time.Duration(float64(d.Lease)/scale), 10*time.Second).String(),
		"SYNC_MAX_POLL_AGE=" + s(d.MaxPollAge), "SYNC_POLL_LOOKBACK=" + s(callsync.DefaultPollLookback),
		"AGENTS_REFRESH=" + s(time.Hour),
	}
}

// webhookMetrics reads the worker's webhook answers by code and reason
// from /metrics.
func (w *liveWorker) webhookMetrics(ctx context.Context) (map[string]int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.addr+metricsPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for line := range strings.Lines(b.String()) {
		rest, ok := strings.CutPrefix(line, "callsync_webhook_requests_total{")
		if !ok {
			continue
		}
		labels, value, _ := strings.Cut(rest, "} ")
		n, _ := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if n > 0 {
			out[labels] += int(n)
		}
	}
	return out, nil
}

// stop ends the worker with SIGTERM (SIGKILL after 30 s) and returns how
// it exited; calling it again does nothing.
func (w *liveWorker) stop(logger *slog.Logger) error {
	if w.stopped {
		return nil
	}
	w.stopped = true
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(30 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.exited
		logger.Warn("bench: worker did not stop within 30s of SIGTERM; killed")
	}
	var ee *exec.ExitError
	if w.waitErr != nil && !errors.As(w.waitErr, &ee) {
		return fmt.Errorf("bench: worker: %w", w.waitErr)
	}
	if w.waitErr != nil {
		return fmt.Errorf("bench: worker: %w\n%s", w.waitErr, tailLines(w.logs.String(), 20))
	}
	return nil
}

// watchLanding reads the warehouse every liveSample until every call has
// landed with a final status or c.tail has passed since the last call
// ended, noting when each landed and, every workspace minute, the
// backlog.
func watchLanding(ctx context.Context, c liveConfig, db *store.DB, live *apitest.Live) (liveRun, error) {
	r := liveRun{landed: map[string]time.Time{}}
	calls := live.Calls()
	if len(calls) == 0 {
		return r, nil
	}
	minute := time.Duration(float64(time.Minute) / c.scale)
	deadline := live.LastEnd().Add(time.Duration(float64(c.tail) / c.scale))
	epoch, _ := live.Phase(0)
	nextBacklog := epoch.Add(minute)
	t := time.NewTicker(liveSample)
	defer t.Stop()
	for {
		now := time.Now()
		var due []string
		for _, lc := range calls {
			if _, ok := r.landed[lc.ID]; !ok && !lc.End.After(now) {
				due = append(due, lc.ID)
			}
		}
		if len(due) > 0 {
			statuses, err := storebench.CallStatuses(ctx, db, due)
			if err != nil {
				return r, err
			}
			for id, st := range statuses {
				if callsync.IsFinal(st) {
					r.landed[id] = now
				}
			}
		}
		if !now.Before(nextBacklog) {
			b := backlogSample{at: nextBacklog.Sub(epoch)}
			for _, lc := range calls {
				if !lc.Start.After(now) {
					b.started++
				}
				if _, ok := r.landed[lc.ID]; !ok && !lc.End.After(now) {
					b.notFinal++
				}
			}
			depth, err := storebench.QueueDepth(ctx, db)
			if err != nil {
				return r, err
			}
			b.queued = depth
			r.backlog = append(r.backlog, b)
			nextBacklog = nextBacklog.Add(minute)
		}
		if len(r.landed) == len(calls) || now.After(deadline) {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-t.C:
		}
	}
}

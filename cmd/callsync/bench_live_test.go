package main

import (
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
)

// TestBenchLive_Scenario runs a short live scenario in compressed time
// (a workspace minute lasts a second) through the real worker binary: one
// agent, six calls, webhooks on. Every call lands final, once, and a
// worker whose limit matches the key's budget gets no 429.
func TestBenchLive_Scenario(t *testing.T) {
	admin := storetest.NewDatabase(t)
	c := liveConfig{phases: []apitest.LivePhase{{PerMinute: 12, Duration: 30 * time.Second}}, agents: 1,
		minLen: 20 * time.Second, maxLen: time.Minute, budget: 30, webhooks: true, scale: 60, runs: 1,
		tail: 3 * time.Minute, seed: 1, worker: binary}
	r, err := benchLiveRun(t.Context(), c, admin, 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.calls) != 6 {
		t.Fatalf("calls = %d, want 6", len(r.calls))
	}
	for _, lc := range r.calls {
		if _, ok := r.landed[lc.ID]; !ok {
			t.Errorf("call %s (ends %v) never landed with a final status", lc.ID, lc.End)
		}
		if lc.WebhookStatus != http.StatusAccepted {
			t.Errorf("webhook of %s answered %d, want 202", lc.ID, lc.WebhookStatus)
		}
	}
	if r.rows != len(r.calls) {
		t.Errorf("calls table has %d rows for %d calls", r.rows, len(r.calls))
	}
	for _, req := range r.requests {
		if req.Status == http.StatusTooManyRequests {
			t.Fatalf("the worker got a 429 at %v (%s)", req.At, req.Endpoint)
		}
	}
	figs := r.figures(c)
	if whole := figs[len(figs)-1]; whole.landed != 6 || whole.total() == 0 {
		t.Fatalf("whole run: %d landed, %d requests", whole.landed, whole.total())
	}
}

// TestLiveFigures checks how a run's figures are split by phase: calls by
// the phase they started in, requests by when they were sent, lags in
// workspace seconds.
func TestLiveFigures(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	c := liveConfig{phases: []apitest.LivePhase{{PerMinute: 2, Duration: time.Minute}, {PerMinute: 1, Duration: time.Minute}}, scale: 2}
	r := liveRun{
		calls: []apitest.LiveCall{
			{ID: "a", Phase: 0, End: at(10)}, {ID: "b", Phase: 0, End: at(20)}, {ID: "c", Phase: 1, End: at(40)},
		},
		landed:     map[string]time.Time{"a": at(11), "b": at(25)},
		phaseTimes: [][2]time.Time{{at(0), at(30)}, {at(30), at(60)}},
		requests: []apitest.Request{
			{At: at(-1), Endpoint: apitest.EndpointAssistants, Status: 200},
			{At: at(5), Endpoint: apitest.EndpointListCalls, Status: 200},
			{At: at(30), Endpoint: apitest.EndpointGetCall, Status: 429},
			{At: at(90), Endpoint: apitest.EndpointRecording, Status: 404},
		},
	}
	figs := r.figures(c)
	if len(figs) != 3 {
		t.Fatalf("figures = %d rows, want 3", len(figs))
	}
	p0, p1, whole := figs[0], figs[1], figs[2]
	if p0.calls != 2 || p0.landed != 2 || p1.calls != 1 || p1.landed != 0 || whole.calls != 3 || whole.landed != 2 {
		t.Fatalf("calls/landed: %d/%d, %d/%d, %d/%d", p0.calls, p0.landed, p1.calls, p1.landed, whole.calls, whole.landed)
	}
	if !slices.Equal(p0.lags, []float64{2, 10}) {
		t.Fatalf("lags = %v, want [2 10] workspace seconds", p0.lags)
	}
	if got := p0.lag(0.5); got != 2 {
		t.Fatalf("p50 = %v, want 2", got)
	}
	if got := p0.lag(0.99); got != 10 {
		t.Fatalf("p99 = %v, want 10", got)
	}
	if !math.IsNaN(p1.lag(0.5)) {
		t.Fatalf("p50 without landed calls = %v, want NaN", p1.lag(0.5))
	}
	if p0.requests != [5]int{1, 0, 1, 0, 0} || p1.requests != [5]int{0, 1, 0, 1, 0} {
		t.Fatalf("requests by kind: %v, %v", p0.requests, p1.requests)
	}
	if p0.tooMany != 0 || p1.tooMany != 1 || whole.tooMany != 1 || whole.total() != 4 {
		t.Fatalf("429s %d, %d, %d; total %d", p0.tooMany, p1.tooMany, whole.tooMany, whole.total())
	}
	if got := r.maxAccepted(time.Minute); got != 2 {
		t.Fatalf("maxAccepted = %d, want 2 (the 429 takes no slot, the last request is 91 s after the first)", got)
	}
	if got := p0.perCall(p0.total()); got != 1 {
		t.Fatalf("requests per call = %v, want 1", got)
	}
}

func TestBenchLive_Flags(t *testing.T) {
	if live, rest := liveArg([]string{"--runs", "3", "--live", "--agents", "2"}); !live || strings.Join(rest, " ") != "--runs 3 --agents 2" {
		t.Fatalf("liveArg = %v, %v", live, rest)
	}
	if live, _ := liveArg([]string{"--calls", "10", "--", "--live"}); live {
		t.Fatal("--live after -- taken as the flag")
	}
	var phases []apitest.LivePhase
	pl := phaseList{&phases}
	if err := pl.Set("20:2m, 60/min:4m"); err != nil {
		t.Fatal(err)
	}
	if want := []apitest.LivePhase{{PerMinute: 20, Duration: 2 * time.Minute}, {PerMinute: 60, Duration: 4 * time.Minute}}; !slices.Equal(phases, want) {
		t.Fatalf("phases = %v, want %v", phases, want)
	}
	for _, bad := range []string{"", "20", "20:", "x:2m", "0:2m", "20:-1m"} {
		if err := pl.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
	for _, args := range [][]string{
		{"--phases", "20"}, {"--agents", "0"}, {"--webhook-loss", "2"}, {"--time-scale", "0"}, {"--min-length", "2m", "--max-length", "1m"},
	} {
		r := runCmd(t, nil, "", append([]string{"bench", "--live"}, args...)...)
		if r.err == nil {
			t.Errorf("bench --live %v: no error", args)
		}
	}
	var el envList
	if err := el.Set("SYNC_SCHEDULE=@every 5s"); err != nil || el.Set("=x") == nil || el.Set("NOEQUALS") == nil {
		t.Fatalf("envList: %v, %v", el, err)
	}
	// A bad value of a flag type of our own is a usage error, not a panic.
	if r := runCmd(t, nil, "", "bench", "--processes", "x"); r.err == nil || !strings.Contains(r.err.Error(), "--processes") && !strings.Contains(r.err.Error(), "-processes") {
		t.Errorf("bench --processes x: %v", r.err)
	}
	if got := scaledWorkerEnv(1); got != nil {
		t.Fatalf("scaledWorkerEnv(1) = %v, want nothing", got)
	}
	if got := scaledWorkerEnv(60); !slices.Contains(got, "SYNC_SCHEDULE=@every 1s") || !slices.Contains(got, "SYNC_LEASE=10s") {
		t.Fatalf("scaledWorkerEnv(60) = %v", got)
	}
}

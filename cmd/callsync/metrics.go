package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

// telemetry observes what the worker does: Prometheus metrics on a registry
// of its own, and per-pass API counts for sync_runs. Its methods are safe
// for concurrent use.
type telemetry struct {
	reg *prometheus.Registry

	calls        *prometheus.CounterVec
	unchanged    prometheus.Counter
	apiRequests  *prometheus.CounterVec
	apiLatency   *prometheus.HistogramVec
	rateLimited  prometheus.Counter
	rateWait     prometheus.Counter
	writeLatency prometheus.Histogram
	writtenRows  prometheus.Counter
	passes       *prometheus.CounterVec
	failures     *prometheus.CounterVec
	passDuration prometheus.Histogram
	lastSuccess  prometheus.Gauge
	keyRefused   prometheus.Gauge

	// Requests and 429s since the current pass began, for its sync_runs row.
	passRequests, passThrottled atomic.Int64
	// Time requests waited for the rate limiter since the pass began, in
	// nanoseconds, for its summary.
	passWaited atomic.Int64

	// afterPass, when set, is called after each pass (to refresh the queue
	// snapshot).
	afterPass func()

	webhookOnce  sync.Once
	webhooks     *prometheus.CounterVec // see webhookCounter
	analysisOnce sync.Once
	analyses     *prometheus.CounterVec // see webhookAnalysisCounter

	rec *recordingMetrics // nil while archiving is off
}

func newTelemetry() *telemetry {
	t := &telemetry{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callsync_calls_synced_total",
			Help: "Claimed calls by outcome: done (stored, final status), polling (stored, fetched again later), retrying, failed (gave up), rate_limited, released (given back unprocessed), lost (lease taken over).",
		}, []string{"outcome"}),
		unchanged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callsync_calls_unchanged_total",
			Help: "Stored calls whose payload was the same as the stored one.",
		}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callsync_api_requests_total",
			Help: "Requests to the Synthflow API by endpoint and HTTP status code (0: no answer).",
		}, []string{"endpoint", "code"}),
		apiLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callsync_api_request_duration_seconds",
			Help:    "Time to get an answer from the Synthflow API, by endpoint.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callsync_rate_limit_pauses_total",
			Help: "429 answers from the Synthflow API, each pausing requests.",
		}),
		rateWait: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callsync_rate_limit_wait_seconds_total",
			Help: "Time API requests waited for the rate limiter (the shared budget, or a pause after a 429), summed over requests: where the limit binds, it grows by about the requests in flight each second.",
		}),
		writeLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "callsync_write_duration_seconds",
			Help:    "Time to write one batch of calls and settle its queue rows, in one transaction.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		writtenRows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callsync_write_rows_total",
			Help: "Queue rows settled by batch writes.",
		}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callsync_sync_passes_total",
			Help: "Sync passes by result: ok (drained the queue), stopped (shutdown) or failed.",
		}, []string{"result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callsync_sync_pass_failures_total",
			Help: "Failed sync passes by cause: api_key (401/403), api_url (404/405/redirect: the URL leads to no endpoint of the API), api_unreachable (no connection to the API host), database (anything else).",
		}, []string{"cause"}),
		passDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "callsync_sync_pass_duration_seconds",
			Help:    "Duration of sync passes.",
			Buckets: prometheus.ExponentialBuckets(0.1, 4, 9), // 0.1 s to 1.8 h
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callsync_last_successful_pass_timestamp_seconds",
			Help: "Unix time at which this process last finished a pass without error; 0 before the first.",
		}),
		keyRefused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callsync_api_key_refused",
			Help: "1 while the Synthflow API refuses the API key (the last pass was stopped by a 401), else 0.",
		}),
	}
	t.register()
	return t
}

// register registers t's collectors, the build's and the Go runtime's with
// them, and shows every outcome and pass result at 0 from the start.
func (t *telemetry) register() {
	bv := readBuildVersion()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "callsync_build_info",
		Help:        "Always 1; its labels name the running build, as `callsync version` prints it.",
		ConstLabels: prometheus.Labels{"version": bv.Version, "revision": bv.Revision, "goversion": bv.GoVersion},
	})
	buildInfo.Set(1)
	t.reg.MustRegister(t.calls, t.unchanged, t.apiRequests, t.apiLatency, t.rateLimited, t.rateWait, t.writeLatency,
		t.writtenRows, t.passes, t.failures, t.passDuration, t.lastSuccess, t.keyRefused, buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, o := range callsync.Outcomes {
		t.calls.WithLabelValues(o) // every outcome shows, at 0, from the start
	}
	for _, r := range []string{"ok", "stopped", "failed"} {
		t.passes.WithLabelValues(r)
	}
	for _, c := range passCauses {
		t.failures.WithLabelValues(c)
	}
}

// observeAPI is api.Options.Observe: it counts one request.
func (t *telemetry) observeAPI(endpoint string, status int, took time.Duration) {
	t.apiRequests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	t.apiLatency.WithLabelValues(endpoint).Observe(took.Seconds())
	t.passRequests.Add(1)
	if status == http.StatusTooManyRequests {
		t.rateLimited.Inc()
		t.passThrottled.Add(1)
	}
}

// observeWait is api.Options.ObserveWait: it counts the time one request
// waited for the rate limiter.
func (t *telemetry) observeWait(waited time.Duration) {
	t.rateWait.Add(waited.Seconds())
	t.passWaited.Add(int64(waited))
}

// observeWrite is callsync.Syncer.ObserveWrite: it times one batch write.
func (t *telemetry) observeWrite(took time.Duration, rows int) {
	t.writeLatency.Observe(took.Seconds())
	t.writtenRows.Add(float64(rows))
}

// observeBatch is callsync.Syncer.ObserveBatch: it counts the outcomes of
// one settled batch, so that the counters move while a long pass runs.
func (t *telemetry) observeBatch(st callsync.Stats) {
	for o, n := range st.ByOutcome() {
		t.calls.WithLabelValues(o).Add(float64(n))
	}
	t.unchanged.Add(float64(st.Unchanged))
}

// startPass resets the per-pass request counts. Passes of one process never
// overlap, so the counts belong to the pass that follows.
func (t *telemetry) startPass() {
	t.passRequests.Store(0)
	t.passThrottled.Store(0)
	t.passWaited.Store(0)
}

// passRateWait returns the time requests waited for the rate limiter since
// startPass, summed over requests.
func (t *telemetry) passRateWait() time.Duration { return time.Duration(t.passWaited.Load()) }

// passAPI returns the requests and 429s since startPass.
func (t *telemetry) passAPI() (requests, throttled int) {
	return int(t.passRequests.Load()), int(t.passThrottled.Load())
}

// observePass counts a finished pass; result is ok, stopped, failed or
// unauthorized (counted as failed). Its calls were counted batch by batch.
func (t *telemetry) observePass(took time.Duration, result string, end time.Time) {
	t.keyRefused.Set(0)
	if result == "unauthorized" {
		t.keyRefused.Set(1)
		result = "failed"
	}
	t.passes.WithLabelValues(result).Inc()
	t.passDuration.Observe(took.Seconds())
	if result == "ok" {
		t.lastSuccess.Set(float64(end.UnixNano()) / 1e9)
	}
	if t.afterPass != nil {
		t.afterPass()
	}
}

// observeFailure counts a failed pass by its cause (see passCause).
func (t *telemetry) observeFailure(cause string) {
	t.failures.WithLabelValues(cause).Inc()
}

// watchQueue adds the queue gauges, read from snap: a scrape costs the
// database nothing.
func (t *telemetry) watchQueue(snap *queueSnapshot) {
	t.reg.MustRegister(&queueCollector{snap: snap})
}

// handler serves the metrics in the Prometheus text format. A failed
// database reading leaves out the queue gauges and serves the rest (the
// snapshot logs why, once).
func (t *telemetry) handler(logger *slog.Logger) http.Handler {
	return promhttp.HandlerFor(t.reg, promhttp.HandlerOpts{
		ErrorLog:      promLogger{logger},
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      t.reg,
	})
}

// queueCollector reports the queue from the latest snapshot of the
// sync_health view.
type queueCollector struct {
	snap *queueSnapshot
}

var (
	queueDepthDesc = prometheus.NewDesc("callsync_queue_depth",
		"Queue rows by state.", []string{"state"}, nil)
	queueDueDesc = prometheus.NewDesc("callsync_queue_due",
		"Pending queue rows whose next attempt is due now.", nil, nil)
	oldestDueDesc = prometheus.NewDesc("callsync_queue_oldest_due_age_seconds",
		"Age of the oldest due pending call: how long it has waited since it became due (0 when none is).", nil, nil)
	failedRecentDesc = prometheus.NewDesc("callsync_queue_failed_last_24h",
		"Queue rows that became failed in the last 24 hours and are still failed.", nil, nil)
	pausedUntilDesc = prometheus.NewDesc("callsync_api_paused_until_timestamp_seconds",
		"Unix time until which requests to the API are paused after a 429, as shared in the database (0: no pause).", nil, nil)
	pauseLeftDesc = prometheus.NewDesc("callsync_api_pause_remaining_seconds",
		"Seconds until requests to the API resume after a 429, as shared in the database (0: no pause); at most 300.", nil, nil)
	snapshotDesc = prometheus.NewDesc("callsync_queue_snapshot_timestamp_seconds",
		"Unix time of the reading of the queue that the callsync_queue_* gauges show (read every 10s and after each pass).", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueDepthDesc, queueDueDesc, oldestDueDesc, failedRecentDesc, pausedUntilDesc, pauseLeftDesc, snapshotDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	h, at, err := c.snap.queue()
	if err != nil {
		// Left out: the snapshot logged why once ("not ready"), and a
		// line at every scrape would repeat it for as long as it lasts.
		return
	}
	ch <- prometheus.MustNewConstMetric(snapshotDesc, prometheus.GaugeValue, float64(at.UnixNano())/1e9)
	for s, n := range map[store.State]int64{store.StatePending: h.Pending, store.StateRunning: h.Running,
		store.StateDone: h.Done, store.StateFailed: h.Failed} {
		ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(n), string(s))
	}
	ch <- prometheus.MustNewConstMetric(queueDueDesc, prometheus.GaugeValue, float64(h.Due))
	ch <- prometheus.MustNewConstMetric(oldestDueDesc, prometheus.GaugeValue, h.OldestDueAge.Seconds())
	ch <- prometheus.MustNewConstMetric(failedRecentDesc, prometheus.GaugeValue, float64(h.FailedLast24h))
	var paused, left float64
	if !h.APIPausedUntil.IsZero() {
		paused = float64(h.APIPausedUntil.UnixNano()) / 1e9
		// From the reading's time: the gauge says what the database said.
		left = max(h.APIPausedUntil.Sub(h.CheckedAt).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(pausedUntilDesc, prometheus.GaugeValue, paused)
	ch <- prometheus.MustNewConstMetric(pauseLeftDesc, prometheus.GaugeValue, left)
}

// promLogger adapts promhttp.Logger to slog.
type promLogger struct{ l *slog.Logger }

func (p promLogger) Println(v ...any) {
	p.l.Warn("metrics: " + strings.TrimSpace(fmt.Sprintln(v...)))
}

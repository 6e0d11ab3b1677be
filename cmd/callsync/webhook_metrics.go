package main

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// webhookReasons are the values of callsync_webhook_requests_total's reason
// label, each shown at 0 from the start with the status it is answered with.
var webhookReasons = map[string]string{
	"queued": "202", "replay": "202", "method": "405", "content_type": "415", "too_large": "413",
	"no_signature": "401", "bad_signature": "401", "bad_payload": "400", "bad_call_id": "422",
	"busy": "503", "queue_error": "503", "slow_body": "408", "client_busy": "429", "erased": "200",
}

// webhookHelp is callsync_webhook_requests_total's help text.
const webhookHelp = "Webhook requests by HTTP answer (code) and reason: queued, replay (within the cooldown: nothing done), " +
	"erased (the call was erased by forget: accepted and dropped), " +
	"or why it was refused (method, content_type, too_large, no_signature, bad_signature, bad_payload, " +
	"bad_call_id, busy, client_busy, slow_body, queue_error)."

// webhookCounter returns the counter of webhook requests by answer and
// reason, registered on t's registry; nil when t is nil.
func (t *telemetry) webhookCounter() *prometheus.CounterVec {
	if t == nil {
		return nil
	}
	t.webhookOnce.Do(func() {
		t.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callsync_webhook_requests_total",
			Help: webhookHelp,
		}, []string{"code", "reason"})
		t.reg.MustRegister(t.webhooks)
		for reason, code := range webhookReasons {
			t.webhooks.WithLabelValues(code, reason)
		}
	})
	return t.webhooks
}

// webhookAnalysisOutcomes are the values of
// callsync_webhook_analysis_total's outcome label, each shown at 0 from the
// start.
var webhookAnalysisOutcomes = []string{"stored", "staged", "none", "unverified", "too_large", "invalid",
	"erased", "pruned", "unqueued", "error"}

// webhookAnalysisCounter returns the counter of webhook analysis objects by
// outcome, registered on t's registry; nil when t is nil.
func (t *telemetry) webhookAnalysisCounter() *prometheus.CounterVec {
	if t == nil {
		return nil
	}
	t.analysisOnce.Do(func() {
		t.analyses = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callsync_webhook_analysis_total",
			Help: "Analysis objects (call-quality judgements) of queued webhooks by outcome: stored (the call's judgements " +
				"replaced), staged (kept on the queue row until the call is written), none (not sent, null or empty), " +
				"unverified (signatures not checked: ignored), too_large (over 64 KiB: dropped), invalid (not JSON: dropped), " +
				"erased, pruned, unqueued (dropped), error (the database failed; the call is queued all the same).",
		}, []string{"outcome"})
		t.reg.MustRegister(t.analyses)
		for _, o := range webhookAnalysisOutcomes {
			t.analyses.WithLabelValues(o)
		}
	})
	return t.analyses
}

// refusalLog logs refused webhooks: each one, until a flood makes that a
// flood of its own; then one line per reason and second, with how many it
// stands for.
type refusalLog struct {
	logger *slog.Logger
	mu     sync.Mutex
	last   map[string]time.Time
	quiet  map[string]int
}

func newRefusalLog(logger *slog.Logger) *refusalLog {
	return &refusalLog{logger: logger, last: map[string]time.Time{}, quiet: map[string]int{}}
}

func (l *refusalLog) log(code int, reason, detail, remote string) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last[reason]) < time.Second {
		l.quiet[reason]++
		l.mu.Unlock()
		return
	}
	l.last[reason] = now
	more := l.quiet[reason]
	l.quiet[reason] = 0
	l.mu.Unlock()
	attrs := []any{"status", code, "reason", reason, "detail", detail, "remote", remote}
	if more > 0 {
		attrs = append(attrs, "more_refused_last_second", more)
	}
	l.logger.Warn("webhook refused", attrs...)
}

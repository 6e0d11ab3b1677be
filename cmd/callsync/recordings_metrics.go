package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	callsync "github.com/callsync/callsync/sync"
)

// recordingMetrics are the metrics of archiving, registered when it is on.
type recordingMetrics struct {
	outcomes  *prometheus.CounterVec
	bytes     prometheus.Counter
	storageUp prometheus.Gauge
	backlog   prometheus.Gauge
	oldest    prometheus.Gauge
	retention prometheus.Gauge
}

// watchRecordings registers the recordings metrics; upstream is the
// declared upstream retention (0: unknown).
func (t *telemetry) watchRecordings(upstream time.Duration) {
	m := &recordingMetrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callsync_recordings_total",
			Help: "Recordings worked on, by outcome: archived, none (no recording), processing, gone (deleted upstream), failed, deleted (forget, retention).",
		}, []string{"outcome"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callsync_recordings_archived_bytes_total",
			Help: "Bytes of recordings archived.",
		}),
		storageUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callsync_recordings_storage_up",
			Help: "1 when the last use of the recordings storage worked, 0 while it fails (archiving paused; the sync goes on).",
		}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callsync_recordings_backlog",
			Help: "Recordings still to archive (pending, processing, failed and tried again), as of the last archive step.",
		}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callsync_recordings_backlog_oldest_age_seconds",
			Help: "Age of the oldest call whose recording is still to archive (0 when none is): Synthflow deletes recordings older than its retention.",
		}),
		retention: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "callsync_recordings_upstream_retention_seconds",
			Help: "How long Synthflow keeps recordings, as declared by SYNC_RECORDINGS_UPSTREAM_RETENTION (0: not declared).",
		}),
	}
	m.storageUp.Set(1)
	m.retention.Set(upstream.Seconds())
	for _, o := range []string{"archived", "none", "processing", "gone", "failed", "deleted"} {
		m.outcomes.WithLabelValues(o)
	}
	t.reg.MustRegister(m.outcomes, m.bytes, m.storageUp, m.backlog, m.oldest, m.retention)
	t.rec = m
}

// recordingsStorageUp is callsync.Archiver.StorageUp.
func (t *telemetry) recordingsStorageUp(up bool) {
	if t.rec == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	t.rec.storageUp.Set(v)
}

// observeArchive counts what an archive step did.
func (t *telemetry) observeArchive(st callsync.ArchiveStats) {
	if t.rec == nil {
		return
	}
	for o, n := range map[string]int{"archived": st.Archived, "none": st.None, "processing": st.Processing,
		"gone": st.Gone, "failed": st.Failed, "deleted": st.Deleted} {
		t.rec.outcomes.WithLabelValues(o).Add(float64(n))
	}
	t.rec.bytes.Add(float64(st.Bytes))
}

// observeBacklog sets the backlog gauges.
func (t *telemetry) observeBacklog(n int, oldest time.Time) {
	if t.rec == nil {
		return
	}
	t.rec.backlog.Set(float64(n))
	age := 0.0
	if !oldest.IsZero() {
		age = time.Since(oldest).Seconds()
	}
	t.rec.oldest.Set(age)
}

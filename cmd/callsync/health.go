package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/callsync/callsync/store"
)

// Paths of the operational endpoints `callsync run --http-addr` serves.
const (
	metricsPath = "/metrics"
	healthzPath = "/healthz"
	readyzPath  = "/readyz"
)

// Snapshot timing: how often the queue figures and readiness are read from
// the database, and how long one reading may take.
const (
	snapshotEvery   = 10 * time.Second
	snapshotTimeout = 5 * time.Second
)

// mountTelemetry registers /metrics, /healthz and /readyz on mux. None of
// them touches the database: the queue gauges and readiness come from snap;
// and /metrics is rendered at most once a second per format, and answered
// at most 20 times a second.
// The endpoints need no credentials, so they say what a prober needs and
// no more: the reasons go to the log.
func mountTelemetry(mux *http.ServeMux, snap *queueSnapshot, tel *telemetry, logger *slog.Logger) {
	tel.watchQueue(snap)
	mux.Handle("GET "+metricsPath, cachedMetrics(tel.handler(logger), metricsCacheFor))
	mux.HandleFunc("GET "+healthzPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET "+readyzPath, readyHandler(snap))
}

// readyHandler answers 200 "ready" when the latest snapshot found the
// database answering with its migrations current, and 503 "not ready"
// otherwise (why is in the log, not in the answer).
func readyHandler(snap *queueSnapshot) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if snap.ready() != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready")
			return
		}
		fmt.Fprintln(w, "ready")
	})
}

// queueSnapshot is what /metrics and /readyz report of the database: the
// sync_health row and readiness, read on a schedule (and after each pass)
// through a pool of its own, so that scrapes and probes, however many,
// cost no database work and never take a connection the webhook or a pass
// is waiting for.
type queueSnapshot struct {
	db     *store.DB
	logger *slog.Logger
	kickCh chan struct{}

	mu     sync.Mutex
	health store.Health
	hErr   error // reading sync_health failed
	rErr   error // not ready
	at     time.Time

	loggedDown bool // "not ready" was logged, "ready" was not since
}

// newQueueSnapshot returns a snapshot read through db, not yet read.
func newQueueSnapshot(db *store.DB, logger *slog.Logger) *queueSnapshot {
	return &queueSnapshot{db: db, logger: logger, kickCh: make(chan struct{}, 1),
		rErr: fmt.Errorf("not read yet"), hErr: fmt.Errorf("not read yet")}
}

// openQueueSnapshot opens a one-connection pool on the database of c,
// reads the snapshot once and keeps it fresh until ctx ends or close is
// stop is called. stop ends the refreshing, waits for it and closes the pool.
func openQueueSnapshot(ctx context.Context, c dbConfig, logger *slog.Logger) (s *queueSnapshot, stop func(), err error) {
	db, err := store.Open(ctx, c.url, store.Options{MaxConns: 1, StatementTimeout: snapshotTimeout})
	if err != nil {
		return nil, nil, err
	}
	s = newQueueSnapshot(db, logger)
	s.refresh(ctx)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(ctx)
	}()
	return s, func() { cancel(); <-done; db.Close() }, nil
}

// run refreshes the snapshot every snapshotEvery and when kicked, until
// ctx ends.
func (s *queueSnapshot) run(ctx context.Context) {
	t := time.NewTicker(snapshotEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kickCh:
		}
		s.refresh(ctx)
	}
}

// kick asks for a refresh soon, without waiting for it.
func (s *queueSnapshot) kick() {
	select {
	case s.kickCh <- struct{}{}:
	default:
	}
}

// refresh reads readiness and the sync_health row, and logs a change of
// readiness with its reason.
func (s *queueSnapshot) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()
	rErr := s.db.Ready(ctx)
	var h store.Health
	hErr := rErr
	if rErr == nil {
		h, hErr = s.db.Health(ctx)
	}
	if ctx.Err() != nil && rErr == nil && hErr != nil {
		return // shutting down: keep the last reading
	}
	s.mu.Lock()
	was := s.rErr
	s.rErr, s.hErr, s.at = rErr, hErr, time.Now()
	if hErr == nil {
		s.health = h
	}
	s.mu.Unlock()
	switch {
	case rErr != nil && !s.loggedDown: // once: the reason's wording changes as an outage goes on
		s.logger.Warn("not ready", errAttr(rErr))
		s.loggedDown = true
	case rErr == nil && was != nil:
		s.logger.Info("ready")
		s.loggedDown = false
	case rErr == nil && hErr != nil: // when not ready, the line above said why
		s.logger.Warn("queue figures not read", errAttr(hErr))
	}
}

// ready returns why the process is not ready, or nil. A snapshot older
// than three periods counts as not ready: the database does not answer in
// time.
func (s *queueSnapshot) ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rErr != nil {
		return s.rErr
	}
	if age := time.Since(s.at); age > 3*snapshotEvery {
		return fmt.Errorf("database not read for %v", age.Round(time.Second))
	}
	return nil
}

// queue returns the latest sync_health reading and when it was taken; an
// error when there is none or the latest failed.
func (s *queueSnapshot) queue() (store.Health, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health, s.at, s.hErr
}

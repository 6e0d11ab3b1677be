package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/lmittmann/tint"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

// archiveWindow is how long the archive step after a pass may wait for the
// budget to refill: it holds no token meanwhile, and a wake-up for queued
// calls ends it.
const archiveWindow = 20 * time.Second

// archiveStep archives recordings after each pass: the hook a planner that
// hands out the budget can re-wire.
type archiveStep struct {
	archiver *callsync.Archiver
	db       *store.DB
	tel      *telemetry
	logger   *slog.Logger
}

// openArchiveStep wires the archiver of a worker, or returns nil when
// archiving is off. Call after the worker's client is built.
func openArchiveStep(ctx context.Context, c *recordingsConfig, ac *apiConfig, w *worker, logger *slog.Logger) (*archiveStep, error) {
	if !c.enabled() {
		return nil, nil
	}
	st, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	client, err := ac.unpacedClient()
	if err != nil {
		return nil, err
	}
	log := withComponent(logger, componentRecordings)
	w.tel.watchRecordings(c.retention)
	a := &callsync.Archiver{Queue: w.db, Deletions: w.db, API: client, Objects: st, Budget: ac.limiter, Logger: log,
		Download: api.NewDownloader(api.DownloadOptions{AllowPrivate: c.allow}), Window: archiveWindow,
		Config: callsync.ArchiveConfig{UpstreamRetention: c.retention}, StorageUp: w.tel.recordingsStorageUp,
		Redact: w.syncer.Config.Redact}
	log.Info("archiving recordings", "storage", st.String(), "allow_private_hosts", c.allow)
	return &archiveStep{archiver: a, db: w.db, tel: w.tel, logger: log}, nil
}

// run archives what the budget left over allows, logs a summary and
// updates the metrics. Its failures are logged: they never fail the pass.
func (r *archiveStep) run(ctx context.Context) {
	if r == nil {
		return
	}
	start := time.Now()
	st, err := r.archiver.RunOnce(ctx)
	r.tel.observeArchive(st)
	attrs := []any{attrTook, time.Since(start).Round(time.Millisecond), "requests", st.Requests, "archived", st.Archived,
		"bytes", st.Bytes, "none", st.None, "processing", st.Processing, "gone", st.Gone, "failed", st.Failed,
		"deleted", st.Deleted, "waiting", st.Waiting}
	if n, oldest, berr := r.db.RecordingBacklog(context.WithoutCancel(ctx)); berr == nil {
		r.tel.observeBacklog(n, oldest)
		attrs = append(attrs, "backlog", n)
	}
	switch {
	case err == nil && st == (callsync.ArchiveStats{}):
		r.logger.Debug("recordings: nothing archived", attrs...)
	case err == nil:
		r.logger.Info("recordings archived", attrs...)
	case errors.Is(err, context.Canceled):
		r.logger.Info("recordings archiving stopped", attrs...)
	case errors.Is(err, callsync.ErrStorageDown):
		r.logger.Warn("recordings archiving paused: storage unavailable", append(attrs, tint.Err(err))...)
	default:
		r.logger.Error("recordings archiving failed", append(attrs, tint.Err(err))...)
	}
}

// deleteMarkedRecordings deletes the objects forget or prune marked, when
// the storage is configured, and says so on out; otherwise it says the
// worker will.
func deleteMarkedRecordings(ctx context.Context, c *recordingsConfig, db *store.DB, say func(format string, a ...any)) error {
	if !c.enabled() {
		if objs, err := db.RecordingsToDelete(ctx, 1); err == nil && len(objs) > 0 {
			say("archived recordings of these calls are marked for deletion; set SYNC_RECORDINGS_URL here, or the worker deletes them on its next pass\n")
		}
		return nil
	}
	st, err := c.open(ctx)
	if err != nil {
		return err
	}
	n, err := callsync.DeleteMarkedRecordings(ctx, db, st)
	if n > 0 {
		say("deleted %d archived recordings from %s\n", n, st.String())
	}
	if err != nil {
		return err
	}
	return nil
}

// printRecordingStatus prints the recordings part of status.
func printRecordingStatus(w io.Writer, rs store.RecordingStatus) {
	fmt.Fprintln(w, "recordings:")
	for _, s := range []string{store.RecordingArchived, store.RecordingPending, store.RecordingProcessing, store.RecordingNone,
		store.RecordingGone, store.RecordingError, store.RecordingDelete, store.RecordingDeleted} {
		if n := rs.Counts[s]; n > 0 || s == store.RecordingArchived || s == store.RecordingPending {
			fmt.Fprintf(w, "  %-10s %d\n", s, n)
		}
	}
	fmt.Fprintf(w, "archived: %.1f MB\n", float64(rs.Bytes)/1e6)
	if rs.Backlog > 0 {
		fmt.Fprintf(w, "backlog: %d to archive, oldest call from %s (%s ago)\n", rs.Backlog,
			rs.OldestBacklog.UTC().Format(time.DateTime), time.Since(rs.OldestBacklog).Round(time.Minute))
	} else {
		fmt.Fprintln(w, "backlog: 0")
	}
	if rs.LastError != "" {
		fmt.Fprintf(w, "latest error of a recording still tried:\n  %s\n", rs.LastError)
	}
}

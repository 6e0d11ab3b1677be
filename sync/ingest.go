package sync

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

// intake says how the calls of one model's list pages are taken in.
type intake struct {
	store *store.DB
	log   *slog.Logger
	cfg   IntakeConfig
	model string
	now   time.Time // a call is recent when it started less than MaxPollAge before now
	// enrich queues every call for a fetch of its own (done ones again).
	enrich bool
	// dry stores and queues nothing, only counts.
	dry bool
}

// ingested counts what ingest did.
type ingested struct {
	calls, unchanged, enqueued int
	erased                     int       // calls skipped because they were erased
	newest                     time.Time // latest start time among the calls
}

// writeTimeout bounds the write of a page already fetched when the context
// has ended, so that a stop does not throw the page away.
const writeTimeout = 30 * time.Second

// ingest normalizes calls from a list page of the model's calls and, unless
// dry, stores them and queues those that need a fetch of their own: with
// enrich every call (done ones again), else calls whose status is not final
// and that started less than MaxPollAge before now, when the queue does not
// know them yet. Erased calls (callsync forget) are neither stored nor
// queued, only counted. It returns a store error.
func (in intake) ingest(ctx context.Context, calls []*api.Call) (ingested, error) {
	rows, fetch, res := in.normalize(calls)
	if in.dry {
		res.enqueued = len(fetch)
		return res, nil
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	saved, err := in.store.SaveCalls(wctx, rows)
	if err != nil {
		return res, err
	}
	res.unchanged = saved.Unchanged
	res.erased = len(saved.Erased)
	res.calls -= res.erased
	valid := in.queueable(fetch, saved.Erased)
	if in.enrich {
		r, err := in.store.Enqueue(wctx, valid)
		res.enqueued = r.Added + r.Requeued
		return res, err
	}
	res.enqueued, err = in.store.EnqueueNew(wctx, valid)
	return res, err
}

// normalize turns calls into rows, and returns the rows, the ids of those
// to fetch and their counts so far.
func (in intake) normalize(calls []*api.Call) ([]store.Call, []string, ingested) {
	var res ingested
	rows := make([]store.Call, 0, len(calls))
	var fetch []string
	for _, c := range calls {
		row, notes, err := Normalize(c)
		if note := plausibleStart(&row, in.now); note != "" {
			notes = append(notes, note)
		}
		if err == nil {
			err = in.cfg.HashPhones.apply(&row)
		}
		if err != nil {
			in.log.Warn("call from a list page not stored", callIDAttr(c.ID), errAttr(err))
			continue
		}
		if len(notes) > 0 {
			in.log.Warn("call stored with changes", callIDAttr(c.ID), "notes", strings.Join(notes, "; "))
		}
		if row.ModelID == nil {
			row.ModelID = &in.model
		}
		rows = append(rows, row)
		if row.StartedAt != nil && row.StartedAt.After(res.newest) {
			res.newest = *row.StartedAt
		}
		status := ""
		if row.Status != nil {
			status = *row.Status
		}
		recent := row.StartedAt == nil || in.now.Sub(*row.StartedAt) < in.cfg.MaxPollAge
		if in.enrich || (!IsFinal(status) && recent) {
			fetch = append(fetch, row.ID)
		}
	}
	res.calls = len(rows)
	return rows, fetch, res
}

// queueable returns the ids of fetch that may be queued: not erased, and a
// valid call id.
func (in intake) queueable(fetch, erasedIDs []string) []string {
	erased := make(map[string]bool, len(erasedIDs))
	for _, id := range erasedIDs {
		erased[id] = true
		in.log.Debug("erased call skipped", callIDAttr(id))
	}
	valid := make([]string, 0, len(fetch))
	for _, id := range fetch {
		if erased[id] {
			continue
		}
		if err := ValidateCallID(id); err != nil {
			in.log.Warn("call stored but not queued for a fetch", errAttr(err))
			continue
		}
		valid = append(valid, id)
	}
	return valid
}

package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

// CallLister lists calls page by page. *api.Client implements it.
type CallLister interface {
	ListCalls(ctx context.Context, opts api.ListOptions) (*api.CallPage, error)
}

// ModelLister lists the workspace's agents. *api.Client implements it.
type ModelLister interface {
	ListAssistants(ctx context.Context, limit, offset int) (*api.AssistantPage, error)
}

// CallSaver stores calls read from list pages and queues those that need a
// fetch of their own. *store.DB implements it.
type CallSaver interface {
	SaveCalls(ctx context.Context, calls []store.Call) (store.SaveResult, error)
	Enqueue(ctx context.Context, ids []string) (store.EnqueueResult, error)
	EnqueueNew(ctx context.Context, ids []string) (added int, err error)
}

// IntakeConfig tunes backfill, polling and verification. Zero fields take
// the defaults of DefaultIntakeConfig.
type IntakeConfig struct {
	// PageSize is the limit of each list request, at most api.MaxPageSize.
	PageSize int
	// MaxPollAge is the worker's: a call whose status is not final is queued
	// for a fetch of its own only if it started less than this long ago.
	MaxPollAge time.Duration
	// Retry spaces the attempts of a request that failed with a 5xx, a
	// transport error or an undecodable body.
	Retry Backoff
	// Attempts is how many times such a request is sent before its window
	// (or model, when polling) fails. 429s are retried without limit.
	Attempts int
	// HashPhones, when set, stores phone numbers only as their keyed hashes.
	HashPhones *PhoneHasher
}

// DefaultIntakeConfig returns the defaults.
func DefaultIntakeConfig() IntakeConfig {
	return IntakeConfig{PageSize: api.MaxPageSize, MaxPollAge: 24 * time.Hour,
		Retry: Backoff{Base: time.Second, Max: 30 * time.Second}, Attempts: 4}
}

func (c IntakeConfig) withDefaults() IntakeConfig {
	d := DefaultIntakeConfig()
	if c.PageSize <= 0 || c.PageSize > api.MaxPageSize {
		c.PageSize = d.PageSize
	}
	if c.MaxPollAge == 0 {
		c.MaxPollAge = d.MaxPollAge
	}
	if c.Retry == (Backoff{}) {
		c.Retry = d.Retry
	}
	if c.Attempts <= 0 {
		c.Attempts = d.Attempts
	}
	return c
}

// request sends one API request through fn, retrying it: after a 429 at
// once (the shared limiter's Wait holds it through the pause; a Retry-After
// is waited here too, for clients without one); after a 5xx, transport or
// decode error up to cfg.Attempts times with jittered backoff. A refused key
// returns an error matching ErrUnauthorized at once, a wrong base URL one
// matching ErrAPIUnavailable at once, an unreachable host one matching
// ErrAPIUnavailable once its attempts are used; other errors are
// returned as they are. sent counts every request made.
func request[T any](ctx context.Context, cfg IntakeConfig, sent *int, fn func() (T, error)) (T, error) {
	var zero T
	failures, throttled := 0, 0
	for {
		*sent++
		v, err := fn()
		if err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		var wait time.Duration
		switch {
		case errors.Is(err, api.ErrUnauthorized):
			return zero, fmt.Errorf("%w: %w", ErrUnauthorized, err)
		case errors.Is(err, api.ErrWrongURL):
			return zero, fmt.Errorf("%w: %w", ErrAPIUnavailable, err)
		case errors.Is(err, api.ErrUnreachable):
			failures++
			if failures >= cfg.Attempts {
				return zero, fmt.Errorf("%w: %w (gave up after %d attempts)", ErrAPIUnavailable, err, failures)
			}
			wait = max(cfg.Retry.Delay(failures), cfg.Retry.Base/4)
		case errors.Is(err, api.ErrRateLimited):
			throttled++
			var se *api.StatusError
			if errors.As(err, &se) && se.RetryAfter > 0 {
				wait = se.RetryAfter
			} else {
				wait = cfg.Retry.Ceiling(throttled)
			}
		case retryable(err):
			failures++
			if failures >= cfg.Attempts {
				return zero, fmt.Errorf("%w (gave up after %d attempts)", err, failures)
			}
			wait = max(cfg.Retry.Delay(failures), cfg.Retry.Base/4)
		default:
			return zero, err
		}
		if err := sleep(ctx, wait); err != nil {
			return zero, err
		}
	}
}

// retryable reports whether a request that failed with err may succeed if
// sent again: a 5xx, a transport failure, an undecodable body.
func retryable(err error) bool {
	var te *api.TransportError
	var de *api.DecodeError
	return errors.Is(err, api.ErrServer) || errors.As(err, &te) || errors.As(err, &de)
}

// AllModels pages GET /v2/assistants and returns every agent's model id,
// in the API's order, each once. It retries as backfill does; sent counts
// the requests made.
func AllModels(ctx context.Context, l ModelLister, cfg IntakeConfig, sent *int) ([]string, error) {
	agents, err := ListAgents(ctx, l, cfg, sent)
	models := make([]string, len(agents))
	for i, a := range agents {
		models[i] = a.ModelID
	}
	return models, err
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

// ingest normalizes calls from a list page of model's calls and, unless
// dry, stores them and queues those that need a fetch of their own: with
// enrich every call (done ones again), else calls whose status is not final
// and that started less than MaxPollAge before now, when the queue does not
// know them yet. Erased calls (callsync forget) are neither stored nor
// queued, only counted. It returns a store error.
func ingest(ctx context.Context, s CallSaver, log *slog.Logger, cfg IntakeConfig, model string,
	calls []*api.Call, now time.Time, enrich, dry bool) (ingested, error) {
	var res ingested
	rows := make([]store.Call, 0, len(calls))
	var fetch []string
	for _, c := range calls {
		row, notes, err := Normalize(c)
		if err == nil {
			err = cfg.HashPhones.Apply(&row)
		}
		if err != nil {
			log.Warn("call from a list page not stored", callIDAttr(c.ID), errAttr(err))
			continue
		}
		if len(notes) > 0 {
			log.Warn("call stored with changes", callIDAttr(c.ID), "notes", strings.Join(notes, "; "))
		}
		if row.ModelID == nil {
			row.ModelID = &model
		}
		rows = append(rows, row)
		if row.StartedAt != nil && row.StartedAt.After(res.newest) {
			res.newest = *row.StartedAt
		}
		status := ""
		if row.Status != nil {
			status = *row.Status
		}
		recent := row.StartedAt == nil || now.Sub(*row.StartedAt) < cfg.MaxPollAge
		if enrich || (!IsFinal(status) && recent) {
			fetch = append(fetch, row.ID)
		}
	}
	res.calls = len(rows)
	if dry {
		res.enqueued = len(fetch)
		return res, nil
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	saved, err := s.SaveCalls(wctx, rows)
	if err != nil {
		return res, err
	}
	res.unchanged = saved.Unchanged
	res.erased = len(saved.Erased)
	res.calls -= res.erased
	erased := make(map[string]bool, len(saved.Erased))
	for _, id := range saved.Erased {
		erased[id] = true
		log.Debug("erased call skipped", callIDAttr(id))
	}
	valid := make([]string, 0, len(fetch))
	for _, id := range fetch {
		if erased[id] {
			continue
		}
		if err := ValidateCallID(id); err != nil {
			log.Warn("call stored but not queued for a fetch", errAttr(err))
			continue
		}
		valid = append(valid, id)
	}
	if enrich {
		r, err := s.Enqueue(wctx, valid)
		res.enqueued = r.Added + r.Requeued
		return res, err
	}
	res.enqueued, err = s.EnqueueNew(wctx, valid)
	return res, err
}

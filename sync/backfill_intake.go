package sync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callsync/callsync/api"
)

// ModelLister lists the workspace's agents. *api.Client implements it.
type ModelLister interface {
	ListAssistants(ctx context.Context, limit, offset int) (*api.AssistantPage, error)
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
				wait = cfg.Retry.ceiling(throttled)
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

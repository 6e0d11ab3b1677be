package sync

import (
	"fmt"
	"time"

	"github.com/callsync/callsync/api"
)

// Config tunes a Syncer. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// BatchSize is how many queue rows one claim takes.
	BatchSize int
	// Concurrency is how many API requests are in flight at once.
	Concurrency int
	// Lease is how long claimed rows stay reserved for this worker. Rows not
	// finished in time are released; rows of a crashed worker are taken
	// back after it.
	Lease time.Duration
	// MaxAttempts is how many failed attempts make a call failed.
	MaxAttempts int
	// NotFoundAttempts is how many "not found" answers make a call failed;
	// a new call can take a while to become visible.
	NotFoundAttempts int
	// Retry spaces attempts after failures.
	Retry Backoff
	// Poll spaces re-fetches of calls whose status is not final.
	Poll Backoff
	// MaxPollAge is how long after its start a call with a status that is
	// not final is fetched again; after that it is left as it is.
	MaxPollAge time.Duration
	// RateLimitPause is how long to pause after a 429 without Retry-After.
	RateLimitPause time.Duration
	// RequestsPerSecond is the API budget the limiter allows, 0 when there
	// is none. A claim then takes no more rows than can be fetched in half
	// the lease, so rows do not sit claimed while others could take them.
	RequestsPerSecond float64
	// ShutdownGrace is how long calls being fetched when a pass is asked
	// to stop may take to finish; the rest go back to the queue.
	ShutdownGrace time.Duration
	// HashPhones, when set, stores phone numbers only as their keyed
	// hashes, and keeps no undecodable body (it may hold numbers in clear).
	HashPhones *PhoneHasher
	// Redact holds the secrets (API key, webhook secret) kept out of
	// last_error; nil keeps none out but still cuts safely.
	Redact *api.Redactor
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		BatchSize:        250,
		Concurrency:      8,
		Lease:            5 * time.Minute,
		MaxAttempts:      8,
		NotFoundAttempts: 4,
		Retry:            Backoff{Base: 30 * time.Second, Max: time.Hour},
		Poll:             Backoff{Base: time.Minute, Max: time.Hour},
		MaxPollAge:       24 * time.Hour,
		RateLimitPause:   10 * time.Second,
		ShutdownGrace:    20 * time.Second,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.BatchSize == 0 {
		c.BatchSize = d.BatchSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = d.Concurrency
	}
	if c.Lease == 0 {
		c.Lease = d.Lease
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.NotFoundAttempts == 0 {
		c.NotFoundAttempts = d.NotFoundAttempts
	}
	if c.Retry == (Backoff{}) {
		c.Retry = d.Retry
	}
	if c.Poll == (Backoff{}) {
		c.Poll = d.Poll
	}
	if c.MaxPollAge == 0 {
		c.MaxPollAge = d.MaxPollAge
	}
	if c.RateLimitPause == 0 {
		c.RateLimitPause = d.RateLimitPause
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = d.ShutdownGrace
	}
	return c
}

// ConfigError is a Config setting out of range. Field names it as in
// Config (Retry for either of Retry's bounds).
type ConfigError struct {
	Field   string
	Problem string
}

func (e *ConfigError) Error() string { return "sync: config " + e.Field + ": " + e.Problem }

// Validate returns a *ConfigError for the first setting that is out of
// range, after zero fields take their defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(field, problem string) error { return &ConfigError{Field: field, Problem: problem} }
	switch {
	case c.BatchSize < 1 || c.BatchSize > 10000:
		return bad("BatchSize", fmt.Sprintf("%d: want between 1 and 10000", c.BatchSize))
	case c.Concurrency < 1 || c.Concurrency > 1000:
		return bad("Concurrency", fmt.Sprintf("%d: want between 1 and 1000", c.Concurrency))
	case c.Lease < 10*time.Second:
		return bad("Lease", fmt.Sprintf("%v: want at least 10s", c.Lease))
	case c.MaxAttempts < 1:
		return bad("MaxAttempts", fmt.Sprintf("%d: want at least 1", c.MaxAttempts))
	case c.NotFoundAttempts < 1:
		return bad("NotFoundAttempts", fmt.Sprintf("%d: want at least 1", c.NotFoundAttempts))
	case c.Retry.Base < 0 || c.Retry.Max < c.Retry.Base:
		return bad("Retry", fmt.Sprintf("base %v, max %v: want 0 ≤ base ≤ max", c.Retry.Base, c.Retry.Max))
	case c.Poll.Base <= 0 || c.Poll.Max < c.Poll.Base:
		return bad("Poll", fmt.Sprintf("base %v, max %v: want 0 < base ≤ max", c.Poll.Base, c.Poll.Max))
	case c.MaxPollAge < 0:
		return bad("MaxPollAge", fmt.Sprintf("%v: want 0 or more", c.MaxPollAge))
	case c.RateLimitPause < 0:
		return bad("RateLimitPause", fmt.Sprintf("%v: want 0 or more", c.RateLimitPause))
	case c.RequestsPerSecond < 0:
		return bad("RequestsPerSecond", fmt.Sprintf("%v: want 0 or more", c.RequestsPerSecond))
	case c.ShutdownGrace < 0:
		return bad("ShutdownGrace", fmt.Sprintf("%v: want 0 or more", c.ShutdownGrace))
	}
	return nil
}

// claimSize is how many rows one claim takes: the batch size, or fewer when
// the API budget cannot fetch that many in half the lease.
func (c Config) claimSize() int {
	if c.RequestsPerSecond <= 0 {
		return c.BatchSize
	}
	return max(1, min(c.BatchSize, int(c.RequestsPerSecond*c.Lease.Seconds()/2)))
}

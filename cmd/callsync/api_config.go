package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

// apiConfig holds the Synthflow API settings.
type apiConfig struct {
	url       string
	key       string
	keyFile   string
	timeout   time.Duration
	rateLimit int
	rateBurst int
	// observe, when set, is told of every request (api.Options.Observe).
	observe func(endpoint string, status int, took time.Duration)
	// observeWait, when set, is told how long each request waited for the
	// rate limiter (api.Options.ObserveWait).
	observeWait func(waited time.Duration)
	secrets     *secretSet
	// limiter is the rate limiter of the last client built, also for work
	// that takes only the budget left over (recordings).
	limiter *callsync.Limiter
}

func (c *apiConfig) register(f *flagSet) {
	c.secrets = f.secrets
	f.stringVar(&c.url, "api-url", "SYNTHFLOW_API_URL", api.DefaultBaseURL,
		"Synthflow API base URL with /v2: https://api.synthflow.ai/v2, https://api.us.synthflow.ai/v2 or https://api.eu.synthflow.ai/v2")
	f.secretVar(&c.key, "api-key", "SYNTHFLOW_API_KEY", "Synthflow API key (prefer the environment or a key file to a flag)")
	f.stringVar(&c.keyFile, "api-key-file", "SYNTHFLOW_API_KEY_FILE", "", "file holding the Synthflow API key, e.g. a mounted secret")
	f.durationVar(&c.timeout, "api-timeout", "SYNTHFLOW_API_TIMEOUT", 30*time.Second, "timeout of one API request")
	f.intVar(&c.rateLimit, "rate-limit", "SYNTHFLOW_RATE_LIMIT", 30,
		"API requests per minute, shared by every callsync process using the key (0: no limit)")
	f.intVar(&c.rateBurst, "rate-burst", "SYNTHFLOW_RATE_BURST", 2, "requests that may be sent at once after a quiet spell")
}

// validate checks the settings and resolves the key, before anything
// connects anywhere. Errors name the setting, never the key.
func (c *apiConfig) validate() error {
	if c.keyFile != "" {
		if strings.TrimSpace(c.key) != "" {
			return usagef("set SYNTHFLOW_API_KEY or SYNTHFLOW_API_KEY_FILE, not both")
		}
		b, err := os.ReadFile(c.keyFile)
		if pe := (*os.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err // not the path: a key set there by mistake must not be shown
		}
		if err != nil {
			return usagef("read SYNTHFLOW_API_KEY_FILE: %v", err)
		}
		c.key, c.keyFile = string(b), ""
	}
	c.key = strings.TrimSpace(c.key)
	c.secrets.add(c.key)
	switch {
	case c.key == "":
		return usagef("no API key: set SYNTHFLOW_API_KEY, or SYNTHFLOW_API_KEY_FILE to a file holding it")
	case c.timeout <= 0:
		return usagef("--api-timeout (SYNTHFLOW_API_TIMEOUT) must be positive, got %v", c.timeout)
	case c.rateLimit < 0:
		return usagef("--rate-limit (SYNTHFLOW_RATE_LIMIT) must be 0 (no limit) or more, got %d", c.rateLimit)
	case c.rateBurst < 1:
		return usagef("--rate-burst (SYNTHFLOW_RATE_BURST) must be at least 1, got %d", c.rateBurst)
	}
	if _, err := api.NewClient(api.Options{BaseURL: c.url}); err != nil {
		return usagef("SYNTHFLOW_API_URL: %v", err)
	}
	return nil
}

// client builds the API client, paced by a limiter whose budget and pauses
// are shared through the database with every process using the same key
// and host. Call validate first.
func (c *apiConfig) client(db *store.DB, logger *slog.Logger) (*api.Client, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	limiter := callsync.NewLimiter(db, callsync.LimiterKey(c.url, c.key), float64(c.rateLimit), c.rateBurst, withComponent(logger, componentLimiter))
	c.limiter = limiter
	cl, err := api.NewClient(api.Options{BaseURL: c.url, APIKey: c.key, Timeout: c.timeout, Limiter: limiter,
		Observe: c.observe, ObserveWait: c.observeWait, Secrets: c.secrets.list()})
	if err != nil {
		return nil, usagef("SYNTHFLOW_API_URL: %v", err)
	}
	c.limiter = limiter
	return cl, nil
}

// unpacedClient builds a client that does not wait for the limiter: for
// callers that take their tokens themselves (callsync.Limiter.TryTake).
func (c *apiConfig) unpacedClient() (*api.Client, error) {
	cl, err := api.NewClient(api.Options{BaseURL: c.url, APIKey: c.key, Timeout: c.timeout,
		Observe: c.observe, Secrets: c.secrets.list()})
	if err != nil {
		return nil, usagef("SYNTHFLOW_API_URL: %v", err)
	}
	return cl, nil
}

// requestsPerSecond is the request budget the limiter allows (0: none).
func (c *apiConfig) requestsPerSecond() float64 {
	return float64(c.rateLimit) * callsync.RateMargin / 60
}

// authError explains a refused key: which settings to check.
func (c *apiConfig) authError(err error) error {
	return fmt.Errorf("%w\n%s", err, c.authHint())
}

func (c *apiConfig) authHint() string {
	return fmt.Sprintf("The API refused the key. Check SYNTHFLOW_API_KEY (or SYNTHFLOW_API_KEY_FILE), and that "+
		"SYNTHFLOW_API_URL (now %s) is your workspace's region: a key used against another region's host gets 401", c.url)
}

// urlError explains an API that cannot be used at SYNTHFLOW_API_URL (an
// error matching callsync.ErrAPIUnavailable): which setting to check, and
// that no call was blamed for it.
func (c *apiConfig) urlError(err error) error {
	return fmt.Errorf("%w\n%s", err, c.urlHint(err))
}

func (c *apiConfig) urlHint(err error) string {
	if errors.Is(err, api.ErrWrongURL) {
		return fmt.Sprintf("SYNTHFLOW_API_URL (now %s) does not lead to the Synthflow API: set it to the API base "+
			"with its version, %s (or the api.us. or api.eu. host of your region). No queued call was counted as failed",
			c.url, api.DefaultBaseURL)
	}
	return fmt.Sprintf("SYNTHFLOW_API_URL (now %s): the host cannot be reached; check the URL, DNS and the "+
		"network path (egress rules, proxy). No queued call was counted as failed", c.url)
}

// hint says what to do about a refused key or an API that cannot be used
// at its URL; "" for other errors.
func (c *apiConfig) hint(err error) string {
	switch {
	case errors.Is(err, callsync.ErrUnauthorized):
		return c.authHint()
	case errors.Is(err, callsync.ErrAPIUnavailable):
		return c.urlHint(err)
	}
	return ""
}

// apiError explains a refused key or an API that cannot be used at its
// URL, and passes other errors on.
func apiError(ac apiConfig, err error) error {
	switch {
	case errors.Is(err, callsync.ErrUnauthorized):
		return ac.authError(err)
	case errors.Is(err, callsync.ErrAPIUnavailable):
		return ac.urlError(err)
	}
	return err
}

package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors, matched with errors.Is against what Client returns.
var (
	// ErrNotFound: the API answered 404, or 200 with an empty calls array.
	ErrNotFound = errors.New("api: call not found")
	// ErrUnauthorized: the API answered 401 or 403. The key is wrong, revoked,
	// or belongs to another region's host.
	ErrUnauthorized = errors.New("api: unauthorized")
	// ErrRateLimited: the API answered 429.
	ErrRateLimited = errors.New("api: rate limited")
	// ErrServer: the API answered with a 5xx status.
	ErrServer = errors.New("api: server error")
)

// StatusError is a non-2xx answer from the API.
type StatusError struct {
	// Op is what was being done, e.g. "get call 123".
	Op string
	// Code is the HTTP status code.
	Code int
	// Message is the API's own error text, one line, possibly empty.
	Message string
	// RetryAfter is the delay the API asked for with Retry-After (429, 503);
	// zero when it sent none.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: HTTP %d %s", e.Op, e.Code, http.StatusText(e.Code))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Is matches the sentinel errors by status code.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == http.StatusNotFound
	case ErrUnauthorized:
		return e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden
	case ErrRateLimited:
		return e.Code == http.StatusTooManyRequests
	case ErrServer:
		return e.Code >= 500
	}
	return false
}

// TransportError is a request that got no complete answer: a connection
// refused or reset, a timeout, a body cut short.
type TransportError struct {
	Op  string
	Err error
}

func (e *TransportError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// DecodeError is a 2xx answer whose body is not what the API documents:
// not JSON, no calls array, larger than the size cap.
type DecodeError struct {
	Op  string
	Err error
	// Body holds the first MaxKeptBody bytes of the body, for inspection.
	Body []byte
}

// MaxKeptBody is how much of an undecodable body a DecodeError keeps.
const MaxKeptBody = 64 << 10

func (e *DecodeError) Error() string { return e.Op + ": decode response: " + e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }

// parseRetryAfter reads a Retry-After header: delta-seconds or an HTTP-date.
// It returns zero when the header is absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

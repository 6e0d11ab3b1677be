package api

import (
	"errors"
	"fmt"
	"math"
	"net"
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
	// ErrWrongURL: the base URL does not lead to the Synthflow API. The
	// server answered a redirect (*RedirectError), or a 404 or 405 that is
	// not the API's answer for an unknown call: an unmatched route
	// ({"detail": "Not Found"}), the gateway's {"error", "message"}, or a
	// body of another shape. Not the fault of any one call.
	ErrWrongURL = errors.New("api: the base URL does not lead to the Synthflow API")
	// ErrUnreachable: no connection could be made to the API host (name not
	// resolved, connection refused, no route). Not the fault of any one call.
	ErrUnreachable = errors.New("api: host unreachable")
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
	// NoRoute is set on a 404 or 405 whose body is not the API's answer
	// for an unknown call ({"detail": {…}}): the request reached no
	// endpoint of the API. It matches ErrWrongURL, not ErrNotFound.
	NoRoute bool
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
		return e.Code == http.StatusNotFound && !e.NoRoute
	case ErrWrongURL:
		return e.NoRoute
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

// Is matches ErrUnreachable when no connection could be made: the name did
// not resolve or the dial failed. A connection that broke or timed out
// later is a failure of that request only.
func (e *TransportError) Is(target error) bool {
	if target != ErrUnreachable {
		return false
	}
	var dns *net.DNSError
	var op *net.OpError
	return errors.As(e.Err, &dns) || errors.As(e.Err, &op) && op.Op == "dial" && !op.Timeout()
}

// RedirectError is a 3xx answer. The client follows no redirect: it would
// send the API key to wherever the redirect points. It matches ErrWrongURL.
type RedirectError struct {
	Op   string
	Code int
	// Location is where the server pointed, without its query.
	Location string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("%s: HTTP %d %s to %s: not followed, it would carry the API key there", e.Op, e.Code,
		http.StatusText(e.Code), e.Location)
}

// Is matches ErrWrongURL.
func (e *RedirectError) Is(target error) bool { return target == ErrWrongURL }

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

// MaxRetryAfter is the longest delay a Retry-After header can ask for: a
// longer one is cut to it. The delay pauses every process that shares the
// key, so one answer, from a confused gateway or anything between, must not
// stop them for more than a few minutes.
const MaxRetryAfter = 5 * time.Minute

// parseRetryAfter reads a Retry-After header: delta-seconds or an HTTP-date,
// at most MaxRetryAfter. It returns zero when the header is absent or is
// not a delay to come (unreadable, negative, not finite, a past date).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	d := time.Duration(0)
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(secs) || math.IsInf(secs, 0) || secs <= 0 {
			return 0
		}
		d = time.Duration(min(secs, MaxRetryAfter.Seconds()) * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = min(t.Sub(now), MaxRetryAfter) // Sub saturates: no overflow
	}
	return max(d, 0)
}

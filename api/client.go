// Package api is a client for the parts of the Synthflow Platform API that
// callsync reads: getting and listing calls. It decodes the API as it is, not
// as one example shows it: fields that change type, two names for the
// status, the list envelope around a single call. It knows nothing about
// storage.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is Synthflow's global API host.
const DefaultBaseURL = "https://api.synthflow.ai/v2"

// DefaultMaxBodyBytes caps a response body. Real calls are a few KB to a few
// hundred KB (executed_actions can be large).
const DefaultMaxBodyBytes = 16 << 20

// Limiter paces requests. Wait blocks until one more request may be sent, or
// returns an error when ctx ends first. Throttled tells it the API answered
// 429, with the delay the API asked for (zero when it sent no Retry-After):
// a Limiter shared by every user of a key pauses them all.
type Limiter interface {
	Wait(ctx context.Context) error
	Throttled(ctx context.Context, retryAfter time.Duration)
}

// Reserver is a Limiter that may go on working for a request while it is
// in flight: Reserve is Wait, and the client calls done once the request
// is over (its answer read, or its error known).
type Reserver interface {
	Reserve(ctx context.Context) (done func(), err error)
}

// Options configures a Client.
type Options struct {
	// BaseURL includes the version, e.g. https://api.eu.synthflow.ai/v2.
	// Empty means DefaultBaseURL.
	BaseURL string
	// APIKey is sent as a bearer token.
	APIKey string
	// Timeout bounds each request, body included. Zero means 30 s.
	Timeout time.Duration
	// MaxBodyBytes caps a response body. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Limiter, when set, is waited on before every request.
	Limiter Limiter
	// HTTPClient replaces the default client (its Timeout is left alone).
	HTTPClient *http.Client
	// UserAgent is sent with every request. Empty means "callsync".
	UserAgent string
	// Secrets are redacted, besides APIKey, from every error the client
	// returns (API messages and kept bodies included), for when the API
	// sends one back. Empty strings are ignored.
	Secrets []string
	// Observe, when set, is called after every request with the endpoint
	// ("get_call", "list_calls", …), the HTTP status (0 when no answer
	// came) and how long the request took. For metrics.
	Observe func(endpoint string, status int, took time.Duration)
	// ObserveWait, when set, is called before every request sent with a
	// Limiter, with how long the request waited for it. For metrics.
	ObserveWait func(waited time.Duration)
}

// Client talks to the Synthflow API. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	key     string
	http    *http.Client
	maxBody int64
	limiter Limiter
	agent   string
	observe func(string, int, time.Duration)
	waited  func(time.Duration)
	redact  *Redactor
}

// NewClient returns a client for opts. It returns an error when the base URL
// is not an absolute http(s) URL.
func NewClient(opts Options) (*Client, error) {
	raw := opts.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("api base url %q: want an absolute http(s) URL such as %s", raw, DefaultBaseURL)
	}
	c := &Client{base: base, key: opts.APIKey, http: opts.HTTPClient, maxBody: opts.MaxBodyBytes,
		limiter: opts.Limiter, agent: opts.UserAgent, observe: opts.Observe, waited: opts.ObserveWait,
		redact: NewRedactor(append([]string{opts.APIKey}, opts.Secrets...)...)}
	if c.http == nil {
		timeout := opts.Timeout
		if timeout == 0 {
			timeout = 30 * time.Second
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		c.http = &http.Client{Timeout: timeout, Transport: tr, CheckRedirect: noRedirect}
	}
	if c.maxBody == 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	if c.agent == "" {
		c.agent = "callsync"
	}
	return c, nil
}

// GetCall fetches one call with GET /calls/{id} and decodes it: GetPayload
// followed by Payload.Decode, with their errors.
func (c *Client) GetCall(ctx context.Context, id string) (*Call, error) {
	p, err := c.GetPayload(ctx, id)
	if err != nil {
		return nil, err
	}
	return p.Decode()
}

// GetPayload fetches one call with GET /calls/{id} and returns its call
// object as sent, validated as JSON but not decoded, so that a caller who
// already holds the same bytes can skip decoding them. It returns an error
// matching ErrNotFound when the API does not know the call, a *StatusError
// for other non-2xx answers (matching ErrUnauthorized, ErrRateLimited or
// ErrServer), a *TransportError when no complete answer came, and a
// *DecodeError when the body is not a calls envelope.
func (c *Client) GetPayload(ctx context.Context, id string) (*Payload, error) {
	op := "get call " + id
	body, err := c.get(ctx, "get_call", op, c.endpoint(nil, "calls", id))
	if err != nil {
		return nil, err
	}
	first, err := firstCall(body)
	if errors.Is(err, errNoCalls) {
		return nil, fmt.Errorf("%s: empty calls array: %w", op, ErrNotFound)
	}
	if err != nil {
		return nil, &DecodeError{Op: op, Err: err, Body: c.redact.keep(body)}
	}
	return &Payload{ID: id, JSON: first, op: op, body: body, redact: c.redact}, nil
}

// Payload is one call object of a get-call response, byte for byte as the
// API sent it.
type Payload struct {
	// ID is the call id that was asked for.
	ID string
	// JSON is the call object, valid JSON; a sub-slice of the response body.
	JSON json.RawMessage

	op     string    // the request, for errors
	body   []byte    // the whole response, kept in a DecodeError
	redact *Redactor // cleans what a DecodeError keeps
}

// Decode decodes the call object. It returns a *DecodeError when it is not
// a JSON object. A call whose fields are odd is returned with the oddities
// listed in Call.Problems, never as an error. A call_id other than the one
// asked for is noted in Problems and replaced by it.
func (p *Payload) Decode() (*Call, error) {
	call, err := decodeValidCall(p.JSON)
	if err != nil {
		return nil, &DecodeError{Op: p.op, Err: err, Body: p.redact.keep(p.body)}
	}
	if call.ID == "" {
		call.ID = p.ID
	} else if call.ID != p.ID {
		call.Problems = append(call.Problems, "call_id: not the id asked for; replaced by it")
		call.ID = p.ID
	}
	return call, nil
}

// get sends a GET and returns the body of a 2xx answer. endpoint names the
// operation for Observe; op names the request in errors.
func (c *Client) get(ctx context.Context, endpoint, op string, u *url.URL) ([]byte, error) {
	if c.limiter != nil {
		start := time.Now()
		done, err := c.reserve(ctx)
		if err != nil {
			return nil, err
		}
		defer done()
		if c.waited != nil {
			c.waited(time.Since(start))
		}
	}
	start := time.Now()
	status, body, err := c.do(ctx, op, u)
	if c.observe != nil {
		c.observe(endpoint, status, time.Since(start))
	}
	if se, ok := err.(*StatusError); ok && se.Code == http.StatusTooManyRequests && c.limiter != nil {
		c.limiter.Throttled(ctx, se.RetryAfter)
	}
	return body, err
}

// reserve waits for the limiter, through Reserve when it has one.
func (c *Client) reserve(ctx context.Context) (done func(), err error) {
	if r, ok := c.limiter.(Reserver); ok {
		return r.Reserve(ctx)
	}
	return func() {}, c.limiter.Wait(ctx)
}

// do sends one GET and returns the status and the body of a 2xx answer.
func (c *Client) do(ctx context.Context, op string, u *url.URL) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.agent)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		return 0, nil, &TransportError{Op: op, Err: c.redact.Error(stripURL(err))}
	}
	defer resp.Body.Close()
	body, err := readBody(resp, c.maxBody)
	if err != nil {
		if ctx.Err() != nil {
			return resp.StatusCode, nil, ctx.Err()
		}
		return resp.StatusCode, nil, &TransportError{Op: op, Err: fmt.Errorf("read body: %w", c.redact.Error(stripURL(err)))}
	}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return resp.StatusCode, nil, &RedirectError{Op: op, Code: resp.StatusCode,
			Location: redirectTarget(c.redact, u, resp.Header.Get("Location"))}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, nil, &StatusError{Op: op, Code: resp.StatusCode, Message: errorMessage(c.redact, body),
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), NoRoute: noRoute(resp.StatusCode, body)}
	}
	if int64(len(body)) > c.maxBody {
		return resp.StatusCode, nil, &DecodeError{Op: op, Err: fmt.Errorf("body larger than %d bytes", c.maxBody),
			Body: c.redact.keep(body)}
	}
	return resp.StatusCode, body, nil
}

// readBody reads resp's body, at most max+1 bytes of it, into one buffer
// of the announced size when the server announced one within max (a body
// longer than announced is still read, up to max+1 bytes).
func readBody(resp *http.Response, max int64) ([]byte, error) {
	var buf bytes.Buffer
	if n := resp.ContentLength; n > 0 && n <= max {
		buf.Grow(int(n) + bytes.MinRead) // ReadFrom wants MinRead free to read the end
	}
	_, err := buf.ReadFrom(io.LimitReader(resp.Body, max+1))
	return buf.Bytes(), err
}

// endpoint returns the base URL with path segments appended, each
// path-escaped (a "/" in a call id stays inside its segment, and "." and ".."
// are escaped so no server reads them as directories), and query attached.
func (c *Client) endpoint(query url.Values, segments ...string) *url.URL {
	u := *c.base
	p := u.EscapedPath()
	for _, s := range segments {
		e := url.PathEscape(s)
		if s == "." || s == ".." {
			e = strings.ReplaceAll(s, ".", "%2E")
		}
		p += "/" + e
	}
	u.RawPath = p
	u.Path, _ = url.PathUnescape(p)
	u.RawQuery = query.Encode()
	return &u
}

// noRedirect stops the client at a redirect: following it would send the
// Authorization header to wherever it points. do reports it.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// redirectTarget resolves a Location header against the request URL and
// drops its query and fragment, which may hold tokens.
func redirectTarget(rd *Redactor, u *url.URL, location string) string {
	if location == "" {
		return "(no Location header)"
	}
	l, err := u.Parse(location)
	if err != nil {
		return fmt.Sprintf("%q (unreadable)", oneLine(rd, location, 200))
	}
	l.RawQuery, l.Fragment, l.User = "", "", nil
	return rd.Cut(l.String(), 2000)
}

// noRoute reports whether a 404 or 405 body is anything but the API's
// answer for an unknown call, {"detail": {…}}: an unmatched route answers
// {"detail": "Not Found"}, the gateway {"error": …, "message": …}, and a
// proxy in front of the wrong host anything at all.
func noRoute(code int, body []byte) bool {
	if code == http.StatusMethodNotAllowed {
		return true
	}
	if code != http.StatusNotFound {
		return false
	}
	var v struct {
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &v) != nil {
		return true
	}
	d := bytes.TrimSpace(v.Detail)
	return len(d) == 0 || d[0] != '{'
}

// stripURL drops the request URL from a *url.Error: the op already names
// the request, and the message reads better without it.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// keep returns what a DecodeError keeps of a body: its first MaxKeptBody
// bytes, secrets redacted before the cut and pieces of them masked at it.
func (rd *Redactor) keep(body []byte) []byte { return rd.CutBytes(body, MaxKeptBody) }

// errorMessage pulls the API's error text out of the three body shapes it
// uses: {"detail": {"description": …}}, {"detail": "…"} and {"error", "message"}.
// Anything else gives the start of the body. The result is one line.
func errorMessage(rd *Redactor, body []byte) string {
	var v struct {
		Detail  json.RawMessage `json:"detail"`
		Error   any             `json:"error"`
		Message string          `json:"message"`
	}
	msg := ""
	if json.Unmarshal(body, &v) == nil {
		var s string
		var d struct {
			Description string `json:"description"`
			Status      string `json:"status"`
		}
		switch {
		case json.Unmarshal(v.Detail, &s) == nil && s != "":
			msg = s
		case json.Unmarshal(v.Detail, &d) == nil && d.Description != "":
			msg = d.Description
		case v.Message != "":
			msg = v.Message
		case v.Error != nil:
			msg = fmt.Sprint(v.Error)
		}
	}
	if msg == "" {
		msg = string(body)
	}
	return oneLine(rd, msg, 300)
}

// maxFolded bounds the text oneLine folds: a body can be megabytes long.
const maxFolded = 4 << 10

// oneLine folds whitespace runs into single spaces and cuts s to max
// bytes, with rd's secrets redacted before each cut (see Redactor.Cut).
func oneLine(rd *Redactor, s string, max int) string {
	s = rd.Cut(s, maxFolded)
	return rd.Cut(strings.Join(strings.Fields(strings.ToValidUTF8(s, "?")), " "), max)
}

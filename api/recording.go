package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Errors of RecordingLink, matched with errors.Is. The API documents only
// the 302 (§9a of the API notes): what it answers when there is no
// recording is read defensively.
var (
	// ErrNoRecording: the API answered 404 with its own error body for the
	// recording of a call: none was saved, or not yet.
	ErrNoRecording = errors.New("api: the call has no recording")
	// ErrRecordingNotReady: the API answered 202, 409 or 425: the
	// recording is still being processed.
	ErrRecordingNotReady = errors.New("api: the recording is still being processed")
	// ErrRecordingGone: the API answered 410: the recording was deleted
	// upstream (retention).
	ErrRecordingGone = errors.New("api: the recording was deleted upstream")
)

// RecordingLink asks GET /calls/{id}/recording for the call's recording and
// returns the signed download link its 302 points to. The link is a secret
// for its 24 hours: it is never put in an error. The request waits for the
// client's Limiter like every other. It returns an error matching
// ErrNoRecording, ErrRecordingNotReady (a *StatusError with the RetryAfter
// the API sent) or ErrRecordingGone for those answers, ErrWrongURL when the
// route does not exist, and the errors of GetPayload otherwise.
func (c *Client) RecordingLink(ctx context.Context, id string) (*url.URL, error) {
	op := "get recording of call " + id
	if c.limiter != nil {
		done, err := c.reserve(ctx)
		if err != nil {
			return nil, err
		}
		defer done()
	}
	u := c.endpoint(nil, "calls", id, "recording")
	start := time.Now()
	status, link, err := c.askRecording(ctx, op, u)
	if c.observe != nil {
		c.observe("get_recording", status, time.Since(start))
	}
	if se, ok := err.(*StatusError); ok && se.Code == http.StatusTooManyRequests && c.limiter != nil {
		c.limiter.Throttled(ctx, se.RetryAfter)
	}
	return link, err
}

// askRecording sends the request and reads the answer; it returns the status.
func (c *Client) askRecording(ctx context.Context, op string, u *url.URL) (int, *url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("User-Agent", c.agent)
	resp, err := c.http.Do(req) // the client never follows redirects: noRedirect
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		return 0, nil, &TransportError{Op: op, Err: c.redact.Error(stripURL(err))}
	}
	defer resp.Body.Close()
	// Error bodies are small; a redirect's is not read past this.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil && ctx.Err() != nil {
		return resp.StatusCode, nil, ctx.Err()
	}
	switch code := resp.StatusCode; {
	case code == http.StatusFound || code == http.StatusMovedPermanently || code == http.StatusSeeOther ||
		code == http.StatusTemporaryRedirect || code == http.StatusPermanentRedirect:
		loc := resp.Header.Get("Location")
		link, perr := u.Parse(loc)
		if loc == "" || perr != nil || (link.Scheme != "https" && link.Scheme != "http") || link.Host == "" {
			return code, nil, &DecodeError{Op: op, Err: errors.New("redirect without a usable Location")}
		}
		return code, link, nil
	case code >= 200 && code <= 299 && code != http.StatusAccepted:
		return code, nil, &DecodeError{Op: op, Err: fmt.Errorf("HTTP %d instead of a redirect to the recording", code)}
	}
	se := &StatusError{Op: op, Code: resp.StatusCode, Message: errorMessage(c.redact, body),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), NoRoute: noRoute(resp.StatusCode, body)}
	switch {
	case se.Code == http.StatusNotFound && !se.NoRoute:
		return se.Code, nil, fmt.Errorf("%w: %w", ErrNoRecording, se)
	case se.Code == http.StatusAccepted || se.Code == http.StatusConflict || se.Code == http.StatusTooEarly:
		return se.Code, nil, fmt.Errorf("%w: %w", ErrRecordingNotReady, se)
	case se.Code == http.StatusGone:
		return se.Code, nil, fmt.Errorf("%w: %w", ErrRecordingGone, se)
	}
	return se.Code, nil, se
}

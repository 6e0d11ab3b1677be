package apitest

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Fault is a kind of failure the server injects, at random (Faults) or
// scripted (Step.Fault).
type Fault int

// The faults. Each is what a flaky proxy or an overloaded API really does.
const (
	// FaultNone serves the request normally.
	FaultNone Fault = iota
	// FaultServerError answers 500, 502 or 503 with a small non-API body
	// (text/plain or an HTML proxy page).
	FaultServerError
	// FaultTooManyRequests answers 429 {"detail":"Too Many Requests"}, with
	// Retry-After in whole seconds when Faults.RetryAfter is set.
	FaultTooManyRequests
	// FaultTruncated starts the normal response and closes the connection
	// half-way through the body: either the Content-Length promises more
	// than is sent, or a chunked body ends without its last chunk. Clients
	// see io.ErrUnexpectedEOF while reading the body.
	FaultTruncated
	// FaultInvalidBody answers 200 with a body that is not JSON (an HTML
	// page, plain text, nothing, or broken JSON).
	FaultInvalidBody
	// FaultReset resets the connection (TCP RST) without a response. Note
	// that Go's http.Transport retries a GET once by itself when this
	// happens on a reused connection, so clients see fewer resets than the
	// server injects.
	FaultReset
)

var faultNames = []string{"none", "server_error", "too_many_requests", "truncated", "invalid_body", "reset"}

// String returns the fault's snake_case name.
func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// Faults are random latency and failures. Rates are probabilities in
// [0, 1], drawn once per request from the server's seeded source; their sum
// should not exceed 1. The zero value injects nothing.
type Faults struct {
	// LatencyMin delays every response; when LatencyMax is larger, the
	// delay is uniform in [LatencyMin, LatencyMax). Sleeping holds no lock.
	LatencyMin, LatencyMax time.Duration
	// ServerErrorRate is the share of requests answered 500/502/503.
	ServerErrorRate float64
	// TooManyRequestsRate is the share answered 429.
	TooManyRequestsRate float64
	// RetryAfter, when positive, is sent (rounded up to whole seconds) as
	// Retry-After on injected 429s; zero sends none, as the real API
	// documents none.
	RetryAfter time.Duration
	// TruncateRate is the share of responses cut half-way.
	TruncateRate float64
	// InvalidBodyRate is the share answered 200 with a non-JSON body.
	InvalidBodyRate float64
	// ResetRate is the share of connections reset without a response.
	ResetRate float64
	// Endpoints limits failures (not latency) to these routes; empty means
	// all routes.
	Endpoints []Endpoint
}

// latency returns the delay for a request, given a draw u in [0, 1).
func (f Faults) latency(u float64) time.Duration {
	if f.LatencyMax <= f.LatencyMin {
		return f.LatencyMin
	}
	return f.LatencyMin + time.Duration(u*float64(f.LatencyMax-f.LatencyMin))
}

// pick returns the fault for a request to ep, given a draw u in [0, 1).
func (f Faults) pick(ep Endpoint, u float64) Fault {
	if len(f.Endpoints) > 0 && !slices.Contains(f.Endpoints, ep) {
		return FaultNone
	}
	for _, c := range []struct {
		rate  float64
		fault Fault
	}{
		{f.ResetRate, FaultReset}, {f.TruncateRate, FaultTruncated}, {f.InvalidBodyRate, FaultInvalidBody},
		{f.TooManyRequestsRate, FaultTooManyRequests}, {f.ServerErrorRate, FaultServerError},
	} {
		if u < c.rate {
			return c.fault
		}
		u -= c.rate
	}
	return FaultNone
}

// cannedResponse is a fixed status, content type and body.
type cannedResponse struct {
	status int
	ctype  string
	body   []byte
}

var serverErrors = []cannedResponse{
	{http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("Internal Server Error")},
	{http.StatusBadGateway, "text/html", []byte("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n")},
	{http.StatusServiceUnavailable, "text/plain", []byte("upstream connect error or disconnect/reset before headers. reset reason: connection failure")},
}

var invalidBodies = [][]byte{
	[]byte("<html><body><h1>Service temporarily unavailable</h1></body></html>"),
	[]byte("upstream request timeout"),
	{},
	[]byte(`{"status":"ok","response":{"pagination":{"total_records":1,},"calls":[]}}`),
	[]byte(`{"status": "ok", "response": NaN}`),
}

var bodyTooManyRequests = []byte(`{"detail":"Too Many Requests"}`)

// fault injects f and reports whether the response is done; FaultTruncated
// only arms the exchange, so the normal response is the one cut short.
func (x *exchange) fault(f Fault, retryAfter time.Duration) bool {
	x.s.counters.injected(f)
	u := x.s.draw(x.n, saltKind)
	switch f {
	case FaultServerError:
		e := serverErrors[int(u*float64(len(serverErrors)))]
		x.reply(e.status, http.Header{"Content-Type": {e.ctype}}, e.body)
	case FaultTooManyRequests:
		var h http.Header
		if retryAfter > 0 {
			h = http.Header{"Retry-After": {retryAfterSeconds(retryAfter)}}
		}
		x.reply(http.StatusTooManyRequests, h, bodyTooManyRequests)
	case FaultInvalidBody:
		x.reply(http.StatusOK, nil, invalidBodies[int(u*float64(len(invalidBodies)))])
	case FaultTruncated:
		x.cut = 1 + int(u*2)
		return false
	case FaultReset:
		x.record(0)
		x.reset()
	default:
		return false
	}
	return true
}

// retryAfterSeconds formats d as whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(int64((d+time.Second-1)/time.Second), 1), 10)
}

// writeCut sends status, headers and half of body on the raw connection,
// then closes it: mode 1 promises the full Content-Length, mode 2 sends a
// chunked body without its terminating chunk.
func (x *exchange) writeCut(status int, h http.Header, body []byte) {
	conn, _, err := http.NewResponseController(x.w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // cannot hijack: abort the response instead
	}
	defer conn.Close()
	half := body[:len(body)/2]
	b := []byte("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	ctype := "application/json"
	if v := h.Get("Content-Type"); v != "" {
		ctype = v
	}
	b = append(b, "Content-Type: "+ctype+"\r\n"...)
	if x.cut == 1 {
		b = append(b, "Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"...)
		b = append(b, half...)
	} else {
		b = append(b, "Transfer-Encoding: chunked\r\n\r\n"...)
		b = append(b, strconv.FormatInt(int64(len(half)), 16)+"\r\n"...)
		b = append(b, half...)
		b = append(b, "\r\n"...)
	}
	_, _ = conn.Write(b) // the connection is dropped either way
}

// reset closes the connection with a TCP RST.
func (x *exchange) reset() {
	conn, _, err := http.NewResponseController(x.w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close sends RST instead of FIN
	}
	_ = conn.Close()
}

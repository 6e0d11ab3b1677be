package apitest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Endpoint names a route of the fake API, for counters and for limiting
// faults to some routes.
type Endpoint string

// The routes the server knows. EndpointOther counts requests to any other
// path (answered 404).
const (
	EndpointGetCall    Endpoint = "GET /v2/calls/{call_id}"
	EndpointListCalls  Endpoint = "GET /v2/calls"
	EndpointAssistants Endpoint = "GET /v2/assistants"
	// EndpointRecording answers a 302 to a signed link (see recording.go).
	EndpointRecording Endpoint = "GET /v2/calls/{call_id}/recording"
	EndpointOther     Endpoint = "other"
)

// Canned bodies, as the real API (FastAPI behind a proxy) sends them.
var (
	bodyNotAuthenticated = []byte(`{"detail":"Not authenticated"}`)
	bodyRouteNotFound    = []byte(`{"detail":"Not Found"}`)
	bodyMethodNotAllowed = []byte(`{"detail":"Method Not Allowed"}`)
)

var jsonContentType = []string{"application/json"}

// exchange is one request being answered.
type exchange struct {
	s   *Server
	w   http.ResponseWriter
	r   *http.Request
	n   uint64
	ep  Endpoint
	id  string // call ID of a get-one request
	i   int    // index in the counters' request log
	cut int    // FaultTruncated armed: 1 short Content-Length, 2 unfinished chunks
}

// record counts the response status before it is sent, so a client never
// sees a response its counters do not include. 0 means no response.
func (x *exchange) record(status int) { x.s.counters.finish(x.i, status) }

// abandon drops a request whose client left or whose server is closing:
// no response at all, rather than net/http's implicit empty 200.
func (x *exchange) abandon() {
	x.record(0)
	panic(http.ErrAbortHandler)
}

// reply records and sends a complete response; a JSON content type unless
// h sets one.
func (x *exchange) reply(status int, h http.Header, body []byte) {
	x.record(status)
	if x.cut != 0 {
		x.writeCut(status, h, body)
		return
	}
	wh := x.w.Header()
	wh["Content-Type"] = jsonContentType
	for k, v := range h {
		wh[http.CanonicalHeaderKey(k)] = v
	}
	wh["Content-Length"] = []string{strconv.Itoa(len(body))}
	x.w.WriteHeader(status)
	if x.r.Method != http.MethodHead {
		_, _ = x.w.Write(body) // the client may be gone; nothing to do
	}
}

// route maps a request to an endpoint, unescaping the call ID segment by
// hand so IDs containing "/", "?", "%" or spaces round-trip when clients
// path-escape them.
func route(r *http.Request) (ep Endpoint, id string, ok bool) {
	p := r.URL.EscapedPath()
	switch {
	case p == "/v2/calls" || p == "/v2/calls/":
		return EndpointListCalls, "", true
	case strings.HasPrefix(p, "/v2/calls/"):
		rest := p[len("/v2/calls/"):]
		ep := EndpointGetCall
		if r, ok := strings.CutSuffix(rest, "/recording"); ok {
			rest, ep = r, EndpointRecording
		}
		if strings.Contains(rest, "/") || rest == "" {
			return EndpointOther, "", false
		}
		id, err := url.PathUnescape(rest)
		if err != nil {
			return EndpointOther, "", false
		}
		return ep, id, true
	case p == "/v2/assistants" || p == "/v2/assistants/":
		return EndpointAssistants, "", true
	}
	return EndpointOther, "", false
}

// authorized reports whether r carries "Bearer key" (scheme in any case).
func authorized(r *http.Request, key string) bool {
	return bearer(r) == key
}

// getCall answers GET /v2/calls/{call_id} from the precomputed body.
func (s *Server) getCall(x *exchange) {
	c, ok := s.data.get(x.id)
	if !ok {
		x.reply(http.StatusNotFound, nil, detailBody("Call not found", x.n))
		return
	}
	if x.cut == 0 {
		s.counters.served(x.id)
	}
	x.reply(http.StatusOK, nil, c.getBody)
}

// listCalls answers GET /v2/calls: one model's calls, newest first, paged.
func (s *Server) listCalls(x *exchange) {
	q := x.r.URL.Query()
	req := ListRequest{ModelID: q.Get("model_id")}
	var err error
	if req.ModelID == "" {
		x.reply(http.StatusBadRequest, nil, detailBody("model_id is required.", x.n))
		return
	}
	var problem string
	if req.Limit, req.Offset, problem = paging(q); problem != "" {
		x.reply(http.StatusBadRequest, nil, detailBody(problem, x.n))
		return
	}
	for _, d := range []struct {
		name string
		t    *time.Time
	}{{"from_date", &req.From}, {"to_date", &req.To}} {
		if v := q.Get(d.name); v != "" {
			if *d.t, err = parseDate(v); err != nil {
				x.reply(http.StatusBadRequest, nil, detailBody("Invalid "+d.name+": "+err.Error(), x.n))
				return
			}
		}
	}
	if hook := s.listHook.Load(); hook != nil {
		(*hook)(req)
	}
	w := window{from: req.From, to: req.To}
	if s.live != nil {
		if cut := s.live.listCutoff(s.live.clock()); !cut.IsZero() && (w.to.IsZero() || cut.Before(w.to)) {
			w.to = cut
		}
	}
	total, calls := s.data.page(req.ModelID, w, req.Offset, req.Limit)
	size := 128
	for _, c := range calls {
		size += len(c) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, `{"status":"ok","response":{"pagination":`...)
	b = appendPagination(b, total, req.Limit, req.Offset)
	b = append(b, `,"calls":[`...)
	for i, c := range calls {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, c...)
	}
	b = append(b, "]}}"...)
	x.reply(http.StatusOK, nil, b)
}

// listAssistants answers GET /v2/assistants with the models that have
// calls and have not been deleted (DeleteAssistant), in the live shape.
func (s *Server) listAssistants(x *exchange) {
	limit, offset, problem := paging(x.r.URL.Query())
	if problem != "" {
		x.reply(http.StatusBadRequest, nil, detailBody(problem, x.n))
		return
	}
	models := s.Assistants()
	all := s.models()
	start := min(offset, len(models))
	end := min(start+limit, len(models))
	b := []byte(`{"status":"ok","response":{"assistants":[`)
	for i, m := range models[start:end] {
		if i > 0 {
			b = append(b, ',')
		}
		n, _ := slices.BinarySearch(all, m)
		b = appendValue(b, assistant(m, modelName(n)))
	}
	b = append(b, `],"pagination":`...)
	b = appendPagination(b, len(models), limit, offset)
	b = append(b, "}}"...)
	x.reply(http.StatusOK, nil, b)
}

// assistant is the agent object of a model as GET /v2/assistants/ sends
// it: stable for the model ID and its name.
func assistant(id, name string) obj {
	h := fnv(id)
	kind := []string{"outbound", "outbound", "inbound", "widget"}[h%4]
	lang := []string{"en-US", "en-US", "es-ES", "de-DE"}[h>>8%4]
	return obj{
		{"model_id", id},
		{"name", name},
		{"description", "Handles " + strings.ToLower(name) + " calls"},
		{"type", kind},
		{"phone_number", agentPhone(id)},
		{"external_webhook_url", "https://hooks.example.com/synthflow?token=" + strconv.FormatUint(h, 16)},
		{"is_recording", h%5 != 0},
		{"end_call_reasons", []string{"Customer asks to stop calling"}},
		{"max_duration", obj{{"duration_seconds", 600}, {"is_enabled", true}}},
		{"voicemail_message", obj{{"enabled", h%3 == 0}, {"mode", "exact_message"}, {"exact_message", "Please call us back."}}},
		{"agent", obj{
			{"timezone", timezones[h>>16%uint64(len(timezones))]},
			{"language", lang},
			{"llm", []string{"gpt-4o", "gpt-4.1-mini", "synthflow-fast"}[h>>24%3]},
			{"voice_id", "voice_" + strconv.FormatUint(h>>32%1000, 10)},
			{"prompt", "You are " + name + "."},
			{"greeting_message", "Hello!"},
			{"is_transcript_disabled", false},
			{"redact_pii", h%7 == 0},
		}},
	}
}

// agentPhone is the stable phone number of a model's agent.
func agentPhone(model string) string { return "+1415555" + strconv.Itoa(1000+int(fnv(model)%9000)) }

func appendPagination(b []byte, total, limit, offset int) []byte {
	b = append(b, `{"total_records":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, `,"limit":`...)
	b = strconv.AppendInt(b, int64(limit), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, int64(offset), 10)
	return append(b, '}')
}

// paging reads limit (default 20, 1–100) and offset (default 0, ≥ 0). A
// bad value yields the API's description of the problem.
func paging(q url.Values) (limit, offset int, problem string) {
	limit, offset = 20, 0
	var err error
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 100 {
			return 0, 0, "Limit must be between 1 and 100."
		}
	}
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return 0, 0, "Offset must be a non-negative integer."
		}
	}
	return limit, offset, ""
}

// parseDate reads a from_date/to_date value: epoch milliseconds, YYYY-MM-DD
// (UTC midnight), RFC 3339, or ISO 8601 without offset (UTC).
func parseDate(v string) (time.Time, error) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not epoch milliseconds, YYYY-MM-DD or ISO 8601", v)
}

// detailBody is the API's error object for 400 and 404.
func detailBody(description string, n uint64) []byte {
	b := []byte(`{"detail":{"status":"error","description":`)
	b = appendJSONString(b, description)
	b = append(b, `,"request_id":"`...)
	b = append(b, requestID(n)...)
	return append(b, `","category":"important"}}`...)
}

// requestID is a UUID-shaped ID derived from the request number.
func requestID(n uint64) string {
	a, b := mix(n), mix(^n)
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>48&0x3fff|0x8000, b&0xffffffffffff)
}

var modelNames = []string{"Inbound Support", "Appointment Setter", "Lead Qualifier", "Collections Reminder",
	"Recepción Clínica Dental", "After-hours Receptionist", "Renewal Outreach", "Customer Survey"}

// modelName is the display name of the n-th model (in ID order), distinct
// for every n.
func modelName(n int) string {
	name := modelNames[n%len(modelNames)]
	if n >= len(modelNames) {
		name += " " + strconv.Itoa(n/len(modelNames)+1)
	}
	return name
}

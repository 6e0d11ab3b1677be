package apitest

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Step is one scripted response. A Step with a Fault injects it (Status,
// Body and Header are ignored). Otherwise a Step with a Status answers it
// with Body (or, if Body is empty, the API's usual body for that status)
// and Header; Content-Type defaults to application/json. A zero Step, or
// Status 200 with an empty Body, serves the request normally. Delay is
// waited first in every case.
type Step struct {
	Status int
	Body   string
	Header http.Header
	Fault  Fault
	Delay  time.Duration
}

// scripts are queued steps per target; active counts queued steps so the
// common case (no scripts) takes no lock.
type scripts struct {
	active atomic.Int64
	mu     sync.Mutex
	queue  map[string][]Step
}

// Script queues steps for GET /v2/calls/{callID}: each request for that
// call takes the next step instead of its random faults, and once the
// steps are used up the call is served normally again. Steps are consumed
// only by requests that pass authentication and the rate limit. Calling
// Script again appends to the queue.
func (s *Server) Script(callID string, steps ...Step) { s.scripts.add("call\x00"+callID, steps) }

// ScriptList is Script for GET /v2/calls?model_id=modelID.
func (s *Server) ScriptList(modelID string, steps ...Step) { s.scripts.add("list\x00"+modelID, steps) }

// ClearScripts drops every queued step.
func (s *Server) ClearScripts() {
	s.scripts.mu.Lock()
	defer s.scripts.mu.Unlock()
	s.scripts.queue = nil
	s.scripts.active.Store(0)
}

func (sc *scripts) add(key string, steps []Step) {
	if len(steps) == 0 {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.queue == nil {
		sc.queue = map[string][]Step{}
	}
	sc.queue[key] = append(sc.queue[key], steps...)
	sc.active.Add(int64(len(steps)))
}

// next pops the next step for the exchange's target, if any.
func (sc *scripts) next(x *exchange) (Step, bool) {
	if sc.active.Load() == 0 {
		return Step{}, false
	}
	var key string
	switch x.ep {
	case EndpointGetCall:
		key = "call\x00" + x.id
	case EndpointListCalls:
		key = "list\x00" + x.r.URL.Query().Get("model_id")
	default:
		return Step{}, false
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	q := sc.queue[key]
	if len(q) == 0 {
		return Step{}, false
	}
	st := q[0]
	if len(q) == 1 {
		delete(sc.queue, key)
	} else {
		sc.queue[key] = q[1:]
	}
	sc.active.Add(-1)
	return st, true
}

// step answers a scripted step and reports whether the response is done;
// false means serve normally (possibly armed to be truncated).
func (x *exchange) step(st Step, retryAfter time.Duration) bool {
	if st.Fault != FaultNone {
		return x.fault(st.Fault, retryAfter)
	}
	if st.Status == 0 || (st.Status == http.StatusOK && st.Body == "") {
		return false
	}
	h, body := st.Header, []byte(st.Body)
	if st.Body == "" {
		var ctype string
		ctype, body = x.defaultBody(st.Status)
		if ctype != "" && h.Get("Content-Type") == "" {
			h = h.Clone()
			if h == nil {
				h = http.Header{}
			}
			h.Set("Content-Type", ctype)
		}
	}
	x.reply(st.Status, h, body)
	return true
}

// defaultBody is what the API usually sends with status.
func (x *exchange) defaultBody(status int) (ctype string, body []byte) {
	switch status {
	case http.StatusBadRequest:
		return "", detailBody("Bad request.", x.n)
	case http.StatusUnauthorized:
		return "", bodyNotAuthenticated
	case http.StatusNotFound:
		return "", detailBody("Call not found", x.n)
	case http.StatusTooManyRequests:
		return "", bodyTooManyRequests
	}
	for _, e := range serverErrors {
		if e.status == status {
			return e.ctype, e.body
		}
	}
	return "", []byte(`{"detail":` + string(appendJSONString(nil, http.StatusText(status))) + `}`)
}

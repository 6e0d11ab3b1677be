package apitest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
)

func TestFaults_EachObservedByClient(t *testing.T) {
	calls := testCalls(20)
	for _, tc := range []struct {
		name   string
		faults apitest.Faults
		fault  apitest.Fault
		check  func(t *testing.T, r response)
	}{
		{"ServerError", apitest.Faults{ServerErrorRate: 1}, apitest.FaultServerError, func(t *testing.T, r response) {
			if r.err != nil || !slices.Contains([]int{500, 502, 503}, r.status) || len(r.body) == 0 || len(r.body) > 300 {
				t.Fatalf("got %d %q %v, want 500/502/503 with a small body", r.status, r.body, r.err)
			}
		}},
		{"TooManyRequestsRetryAfter", apitest.Faults{TooManyRequestsRate: 1, RetryAfter: 1500 * time.Millisecond}, apitest.FaultTooManyRequests, func(t *testing.T, r response) {
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "2" {
				t.Fatalf("got %d Retry-After %q, want 429 with 2", r.status, r.header.Get("Retry-After"))
			}
		}},
		{"TooManyRequestsBare", apitest.Faults{TooManyRequestsRate: 1}, apitest.FaultTooManyRequests, func(t *testing.T, r response) {
			if _, ok := r.header["Retry-After"]; r.status != http.StatusTooManyRequests || ok {
				t.Fatalf("got %d with Retry-After %v, want 429 without", r.status, ok)
			}
		}},
		{"Truncated", apitest.Faults{TruncateRate: 1}, apitest.FaultTruncated, func(t *testing.T, r response) {
			if r.status != http.StatusOK || !errors.Is(r.err, io.ErrUnexpectedEOF) || json.Valid(r.body) {
				t.Fatalf("got %d, err %v, %d bytes; want 200 and io.ErrUnexpectedEOF mid-body", r.status, r.err, len(r.body))
			}
		}},
		{"InvalidBody", apitest.Faults{InvalidBodyRate: 1}, apitest.FaultInvalidBody, func(t *testing.T, r response) {
			if r.err != nil || r.status != http.StatusOK || json.Valid(r.body) {
				t.Fatalf("got %d %q %v, want 200 with a non-JSON body", r.status, r.body, r.err)
			}
		}},
		{"Reset", apitest.Faults{ResetRate: 1}, apitest.FaultReset, func(t *testing.T, r response) {
			if r.err == nil {
				t.Fatalf("got %d, want a transport error", r.status)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mustServer(t, apitest.Options{Calls: calls, Faults: tc.faults, Seed: 3})
			urls := []string{srv.URL + "/calls/" + url.PathEscape(calls[0].ID()),
				srv.URL + "/calls?model_id=" + url.QueryEscape(calls[0].ModelID()), srv.URL + "/assistants"}
			const n = 12
			for i := range n {
				tc.check(t, doGet(t, noReuseClient, urls[i%len(urls)], ""))
			}
			if got := srv.Counters().Faults(tc.fault); got != n {
				t.Fatalf("Faults(%v) = %d, want %d", tc.fault, got, n)
			}
			if got := srv.Counters().CallServed(calls[0].ID()); got != 0 {
				t.Fatalf("CallServed = %d, want 0", got)
			}
		})
	}
}

func TestFaults_TruncatedHasBothModes(t *testing.T) {
	calls := testCalls(3)
	srv := mustServer(t, apitest.Options{Calls: calls, Faults: apitest.Faults{TruncateRate: 1}})
	modes := map[bool]int{} // chunked or not
	for range 20 {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/calls/"+calls[1].ID(), nil)
		resp, err := noReuseClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("read: %v, want io.ErrUnexpectedEOF", err)
		}
		modes[resp.ContentLength < 0]++
	}
	if modes[true] == 0 || modes[false] == 0 {
		t.Fatalf("modes = %v, want both short Content-Length and unfinished chunks", modes)
	}
}

func TestFaults_RatesAndDeterminism(t *testing.T) {
	calls := testCalls(10)
	run := func() []int {
		srv := mustServer(t, apitest.Options{Calls: calls, Seed: 9, Faults: apitest.Faults{ServerErrorRate: 0.2, TooManyRequestsRate: 0.1, InvalidBodyRate: 0.1}})
		var statuses []int
		for i := range 400 {
			r := mustGet(t, srv.URL+"/calls/"+url.PathEscape(calls[i%len(calls)].ID()), "")
			statuses = append(statuses, r.status)
		}
		c := srv.Counters()
		if got := c.Faults(apitest.FaultServerError); got < 50 || got > 110 {
			t.Errorf("server errors = %d of 400 at rate 0.2", got)
		}
		if got, want := c.Status(429), c.Faults(apitest.FaultTooManyRequests); got != want || got < 20 || got > 65 {
			t.Errorf("429s = %d, faults %d, at rate 0.1", got, want)
		}
		if got := c.Status(200); got != 400-c.Faults(apitest.FaultServerError)-c.Faults(apitest.FaultTooManyRequests) {
			t.Errorf("200s = %d, inconsistent with faults", got)
		}
		return statuses
	}
	if a, b := run(), run(); !slices.Equal(a, b) {
		t.Fatal("same seed, same sequential requests: different statuses")
	}
}

func TestFaults_LatencyAndRuntimeChanges(t *testing.T) {
	calls := testCalls(3)
	srv := mustServer(t, apitest.Options{Calls: calls, Faults: apitest.Faults{LatencyMin: 40 * time.Millisecond}})
	u := srv.URL + "/calls/" + url.PathEscape(calls[0].ID())
	start := time.Now()
	mustGet(t, u, "")
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("fixed latency: took %v, want ≥ 40ms", d)
	}
	srv.SetFaults(apitest.Faults{LatencyMin: 5 * time.Millisecond, LatencyMax: 15 * time.Millisecond})
	for range 5 {
		start := time.Now()
		mustGet(t, u, "")
		if d := time.Since(start); d < 5*time.Millisecond || d > 500*time.Millisecond {
			t.Fatalf("random latency: took %v, want in [5ms, 15ms) plus overhead", d)
		}
	}
	srv.SetFaults(apitest.Faults{ServerErrorRate: 1, Endpoints: []apitest.Endpoint{apitest.EndpointGetCall}})
	if got := srv.Faults().ServerErrorRate; got != 1 {
		t.Fatalf("Faults().ServerErrorRate = %v", got)
	}
	if r := mustGet(t, u, ""); r.status < 500 {
		t.Fatalf("get-one with faults on: %d", r.status)
	}
	if r := mustGet(t, srv.URL+"/calls?model_id="+url.QueryEscape(calls[0].ModelID()), ""); r.status != http.StatusOK {
		t.Fatalf("list with faults limited to get-one: %d", r.status)
	}
	srv.SetFaults(apitest.Faults{})
	if r := mustGet(t, u, ""); r.status != http.StatusOK {
		t.Fatalf("faults off: %d", r.status)
	}
}

func TestServer_Script(t *testing.T) {
	calls := testCalls(5)
	srv := mustServer(t, apitest.Options{Calls: calls, Faults: apitest.Faults{RetryAfter: time.Second}})
	id := calls[0].ID()
	srv.Script(id,
		apitest.Step{Status: 503},
		apitest.Step{Status: 429, Header: http.Header{"Retry-After": {"7"}}},
		apitest.Step{Fault: apitest.FaultReset},
		apitest.Step{Status: 200}, // served normally
		apitest.Step{Fault: apitest.FaultTruncated},
		apitest.Step{Status: 418, Body: "teapot", Header: http.Header{"Content-Type": {"text/plain"}}, Delay: 20 * time.Millisecond},
		apitest.Step{Fault: apitest.FaultTooManyRequests},
	)
	u := srv.URL + "/calls/" + url.PathEscape(id)
	steps := []func(r response) bool{
		func(r response) bool { return r.status == 503 },
		func(r response) bool { return r.status == 429 && r.header.Get("Retry-After") == "7" },
		func(r response) bool { return r.err != nil && r.status == 0 },
		func(r response) bool { return r.status == 200 && json.Valid(r.body) },
		func(r response) bool { return r.status == 200 && errors.Is(r.err, io.ErrUnexpectedEOF) },
		func(r response) bool { return r.status == 418 && string(r.body) == "teapot" },
		func(r response) bool { return r.status == 429 && r.header.Get("Retry-After") == "1" },
		func(r response) bool { return r.status == 200 && json.Valid(r.body) }, // script used up
		func(r response) bool { return r.status == 200 && json.Valid(r.body) },
	}
	for i, ok := range steps {
		if other := mustGet(t, srv.URL+"/calls/"+url.PathEscape(calls[1].ID()), ""); other.status != 200 {
			t.Fatalf("unscripted call: status %d", other.status)
		}
		if r := doGet(t, noReuseClient, u, ""); !ok(r) {
			t.Fatalf("step %d: got %d %q %v", i, r.status, r.body, r.err)
		}
	}
	c := srv.Counters()
	if c.Scripted() != 7 || c.CallRequests(id) != 9 || c.CallServed(id) != 3 {
		t.Fatalf("Scripted %d, CallRequests %d, CallServed %d; want 7, 9, 3", c.Scripted(), c.CallRequests(id), c.CallServed(id))
	}

	srv.ScriptList(calls[0].ModelID(), apitest.Step{Status: 502})
	listURL := srv.URL + "/calls?model_id=" + url.QueryEscape(calls[0].ModelID())
	if r := mustGet(t, listURL, ""); r.status != 502 {
		t.Fatalf("scripted list: %d", r.status)
	}
	srv.Script(id, apitest.Step{Status: 500}, apitest.Step{Status: 500})
	srv.ClearScripts()
	if r := mustGet(t, listURL, ""); r.status != 200 {
		t.Fatalf("list after script: %d", r.status)
	}
	if r := mustGet(t, u, ""); r.status != 200 {
		t.Fatalf("after ClearScripts: %d", r.status)
	}
}

func TestServer_RateLimit(t *testing.T) {
	calls := testCalls(3)
	window := 400 * time.Millisecond
	clock := apitest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := mustServer(t, apitest.Options{Calls: calls, RateLimit: apitest.RateLimit{Requests: 5, Window: window}, Now: clock.Now})
	u := srv.URL + "/calls/" + url.PathEscape(calls[0].ID())
	for i := range 5 {
		if r := mustGet(t, u, ""); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	clock.Advance(window - 1)
	r := mustGet(t, u, "")
	if r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("6th request in window: %d Retry-After %q, want 429 with 1", r.status, r.header.Get("Retry-After"))
	}
	clock.Advance(1)
	if r := mustGet(t, u, ""); r.status != 200 {
		t.Fatalf("after the window: %d", r.status)
	}
	srv.SetRateLimit(apitest.RateLimit{})
	for range 10 {
		if r := mustGet(t, u, ""); r.status != 200 {
			t.Fatalf("limit off: %d", r.status)
		}
	}
}

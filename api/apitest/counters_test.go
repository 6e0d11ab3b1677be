package apitest_test

import (
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
)

func TestCounters(t *testing.T) {
	calls := testCalls(10)
	srv := mustServer(t, apitest.Options{Calls: calls, APIKey: testKey})
	get := func(path, key string) { mustGet(t, srv.URL+path, key) }
	get("/calls/"+url.PathEscape(calls[0].ID()), testKey)
	get("/calls/"+url.PathEscape(calls[0].ID()), "")
	get("/calls/"+url.PathEscape(calls[1].ID()), testKey)
	get("/calls/missing", testKey)
	get("/calls?model_id="+url.QueryEscape(calls[0].ModelID()), testKey)
	get("/assistants", testKey)
	get("/elsewhere", testKey)

	c := srv.Counters()
	for _, tc := range []struct {
		name      string
		got, want int
	}{
		{"Total", c.Total(), 7},
		{"GetCall", c.Endpoint(apitest.EndpointGetCall), 4},
		{"ListCalls", c.Endpoint(apitest.EndpointListCalls), 1},
		{"Assistants", c.Endpoint(apitest.EndpointAssistants), 1},
		{"Other", c.Endpoint(apitest.EndpointOther), 1},
		{"200", c.Status(http.StatusOK), 4},
		{"401", c.Status(http.StatusUnauthorized), 1},
		{"404", c.Status(http.StatusNotFound), 2},
		{"CallRequests0", c.CallRequests(calls[0].ID()), 2},
		{"CallServed0", c.CallServed(calls[0].ID()), 1},
		{"CallServed1", c.CallServed(calls[1].ID()), 1},
		{"CallRequestsMissing", c.CallRequests("missing"), 1},
		{"Arrivals", len(c.Arrivals()), 7},
		{"Calls", len(c.Calls()), 3},
		{"Served", len(c.Served()), 2},
		{"Statuses", len(c.Statuses()), 3},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	if a := c.Arrivals(); !slices.IsSortedFunc(a, func(x, y time.Time) int { return x.Compare(y) }) {
		t.Error("Arrivals not in order")
	}
	c.Reset()
	if c.Total() != 0 || len(c.Arrivals()) != 0 || c.CallRequests(calls[0].ID()) != 0 || c.Status(200) != 0 {
		t.Fatal("Reset left counts")
	}
}

func TestCounters_MaxInWindow(t *testing.T) {
	calls := testCalls(5)
	srv := mustServer(t, apitest.Options{Calls: calls})
	u := srv.URL + "/calls/" + url.PathEscape(calls[0].ID())
	burst := func(n int) {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { mustGet(t, u, "") })
		}
		wg.Wait()
	}
	burst(6)
	time.Sleep(300 * time.Millisecond)
	burst(4)
	c := srv.Counters()
	if got := c.MaxInWindow(200 * time.Millisecond); got != 6 {
		t.Fatalf("MaxInWindow(200ms) = %d, want 6", got)
	}
	if got := c.MaxInWindow(10 * time.Second); got != 10 {
		t.Fatalf("MaxInWindow(10s) = %d, want 10", got)
	}
	if got := c.MaxInWindow(0); got != 0 {
		t.Fatalf("MaxInWindow(0) = %d, want 0", got)
	}
	a := c.Arrivals()
	if got := c.MaxInWindow(a[len(a)-1].Sub(a[0])); got != 9 {
		t.Fatalf("window exactly first-to-last: %d, want 9 (half-open)", got)
	}
}

package apitest_test

import (
	"context"
	"errors"
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
	clock := apitest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := mustServer(t, apitest.Options{Calls: calls, Now: clock.Now})
	u := srv.URL + "/calls/" + url.PathEscape(calls[0].ID())
	burst := func(n int) {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { mustGet(t, u, "") })
		}
		wg.Wait()
	}
	burst(6)
	clock.Advance(300 * time.Millisecond)
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
	if d := a[len(a)-1].Sub(a[0]); d != 300*time.Millisecond {
		t.Fatalf("first to last arrival %v on the injected clock, want 300ms", d)
	}
	if got := c.MaxInWindow(300 * time.Millisecond); got != 6 {
		t.Fatalf("window exactly first-to-last: %d, want 6 (half-open: the bursts are not in one window)", got)
	}
	if got := c.MaxInWindow(300*time.Millisecond + 1); got != 10 {
		t.Fatalf("window just over first-to-last: %d, want 10", got)
	}
}

// Wait returns once its condition holds after a request arrives, and with
// ctx's error when ctx ends first.
func TestCounters_Wait(t *testing.T) {
	calls := testCalls(1)
	srv := mustServer(t, apitest.Options{Calls: calls})
	c := srv.Counters()
	got := make(chan error, 1)
	go func() { got <- c.Wait(t.Context(), func(c *apitest.Counters) bool { return c.Total() == 2 }) }()
	mustGet(t, srv.URL+"/calls/"+url.PathEscape(calls[0].ID()), "")
	mustGet(t, srv.URL+"/calls/"+url.PathEscape(calls[0].ID()), "")
	if err := <-got; err != nil {
		t.Fatalf("Wait = %v after two requests", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Wait(ctx, func(c *apitest.Counters) bool { return c.Total() > 2 }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on a cancelled context = %v, want context.Canceled", err)
	}
}

package apitest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
)

func TestServer_CloseEndsSleeps(t *testing.T) {
	calls := testCalls(2)
	srv, err := apitest.NewServer(apitest.Options{Calls: calls, Faults: apitest.Faults{LatencyMin: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		resp, err := testClient.Get(srv.URL + "/calls/" + url.PathEscape(calls[0].ID()))
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	if err := srv.Counters().Wait(t.Context(), func(c *apitest.Counters) bool { return c.Total() > 0 }); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	srv.Close()
	srv.Close() // idempotent
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if err := <-errc; err == nil {
		t.Fatal("request during Close succeeded")
	}
	if got := srv.Counters().Status(0); got != 1 {
		t.Fatalf("Status(0) = %d, want 1 abandoned request", got)
	}
}

// TestServer_Concurrent changes data, faults, scripts and limits while
// clients run; -race checks the locking.
func TestServer_Concurrent(t *testing.T) {
	calls := testCalls(200)
	srv := mustServer(t, apitest.Options{Calls: calls[:100], APIKey: testKey, Faults: apitest.Faults{ServerErrorRate: 0.1, LatencyMax: time.Millisecond}})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 60 {
				c := calls[(w*60+i)%len(calls)]
				u := srv.URL + "/calls/" + url.PathEscape(c.ID())
				if i%3 == 0 {
					u = fmt.Sprintf("%s/calls?model_id=%s&limit=7&offset=%d", srv.URL, url.QueryEscape(c.ModelID()), i)
				}
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
				req.Header.Set("Authorization", "Bearer "+testKey)
				resp, err := testClient.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Go(func() {
		for i, c := range calls[100:] {
			srv.Add(c)
			srv.Remove(calls[i].ID())
			srv.Script(c.ID(), apitest.Step{Status: 503})
			srv.SetFaults(apitest.Faults{TooManyRequestsRate: float64(i%3) / 10})
			srv.SetRateLimit(apitest.RateLimit{Requests: 1000, Window: time.Second})
			_ = srv.Counters().MaxInWindow(time.Second)
			_ = srv.CallIDs()
		}
	})
	wg.Wait()
	if got := srv.Counters().Total(); got != 8*60 {
		t.Fatalf("Total = %d, want %d", got, 8*60)
	}
	if got := len(srv.CallIDs()); got != 100 {
		t.Fatalf("calls = %d, want 100", got)
	}
}

func ExampleNewServer() {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 1, Calls: 10})
	srv, err := apitest.NewServer(apitest.Options{Calls: calls, APIKey: "key"})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	srv.Script(calls[0].ID(), apitest.Step{Status: http.StatusServiceUnavailable})

	for range 2 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/calls/"+url.PathEscape(calls[0].ID()), nil)
		req.Header.Set("Authorization", "Bearer key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	fmt.Println(srv.Counters().CallRequests(calls[0].ID()), srv.Counters().CallServed(calls[0].ID()))
	// Output:
	// 503
	// 200
	// 2 1
}

package apitest_test

import (
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
)

// BenchmarkServer_GetCall drives GET /v2/calls/{id} with 8 concurrent
// clients over loopback, reading every body, and reports requests/s.
func BenchmarkServer_GetCall(b *testing.B) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 1, Calls: 5000})
	srv := mustServer(b, apitest.Options{Calls: calls, APIKey: testKey})
	urls := make([]string, len(calls))
	for i, c := range calls {
		urls[i] = srv.URL + "/calls/" + url.PathEscape(c.ID())
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	const clients = 8
	var next atomic.Int64
	var bytesRead atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				req, _ := http.NewRequest(http.MethodGet, urls[i%int64(len(urls))], nil)
				req.Header.Set("Authorization", "Bearer "+testKey)
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				bytesRead.Add(n)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	b.SetBytes(bytesRead.Load() / int64(max(b.N, 1)))
}

// BenchmarkGenerate measures building a data set of 1000 calls.
func BenchmarkGenerate(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		apitest.Generate(apitest.GenerateOptions{Seed: uint64(i), Calls: 1000})
	}
}

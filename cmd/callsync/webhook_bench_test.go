package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
)

// The benchmarks of this file are the load tests behind the figures in
// deploy/docs/performance.md. They run the real binary, built without the race
// detector so that its memory is what a deployment sees, on loopback only,
// bounded in requests and time:
//
//	go test ./cmd/callsync -run '^$' -bench 'BenchmarkWebhook' -benchtime 1x -v
//
// CALLSYNC_BENCH_BINARY, when set, names another callsync binary to load
// instead (an older build, to compare).

// plainBinary builds callsync without the race detector, once per run.
func plainBinary(b *testing.B) string {
	b.Helper()
	if other := os.Getenv("CALLSYNC_BENCH_BINARY"); other != "" {
		return other
	}
	plainOnce.Do(func() {
		dir, err := filepathTemp()
		if err != nil {
			plainErr = err
			return
		}
		plainPath = filepath.Join(dir, "callsync-plain")
		if out, err := exec.Command("go", "build", "-o", plainPath, ".").CombinedOutput(); err != nil {
			plainErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if plainErr != nil {
		b.Fatal(plainErr)
	}
	return plainPath
}

var (
	plainOnce sync.Once
	plainPath string
	plainErr  error
)

// filepathTemp is a directory beside the race-built binary, removed with it.
func filepathTemp() (string, error) { return filepath.Dir(binary), nil }

// startBenchRun starts the plain binary's run with the webhook on a free port.
func startBenchRun(b *testing.B, dbURL string) (*proc, string) {
	b.Helper()
	srv, err := apitest.NewServer(apitest.Options{APIKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	addr := freeAddr(b)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey,
		"SYNTHFLOW_WEBHOOK_SECRET": hookSecret, "SYNC_SCHEDULE": "@every 1h", "HTTP_ADDR": addr, "LOG_LEVEL": "error"}
	p, err := spawnPath(plainBinary(b), env, "run")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.kill)
	base := "http://" + addr
	waitFor(b, 2*time.Minute, "run to be ready", func() bool {
		resp, err := http.Get(base + readyzPath)
		if err == nil {
			resp.Body.Close()
		}
		if p.exited() {
			b.Fatalf("run exited:\n%s", p.out)
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	return p, base
}

// BenchmarkWebhookFlood: peak RSS of run while 100 clients each POST an
// unsigned 4 MiB webhook at once (a wrong signature header, the worst
// case: the body must be read to find the call id the signature is
// checked against).
func BenchmarkWebhookFlood(b *testing.B) {
	p, base := startBenchRun(b, storetest.NewDatabase(b))
	body := floodBody(4 << 20)
	before := vmKB(b, p.cmd.Process.Pid, "VmRSS")
	start := time.Now()
	var codes map[int]int
	for range b.N {
		codes = flood(b, base+"/webhooks/synthflow", body, 100, http.Header{api.SignatureHeader: {"d3Jvbmc="}})
	}
	took := time.Since(start)
	peak := vmKB(b, p.cmd.Process.Pid, "VmHWM")
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
	b.ReportMetric(float64(before)/1024, "idle-RSS-MiB")
	b.Logf("100 concurrent 4 MiB POSTs × %d: answers %v in %v; RSS %d MiB idle, peak %d MiB",
		b.N, codes, took.Round(time.Millisecond), before/1024, peak/1024)
}

// BenchmarkWebhookUnderScrape: webhook latency (p50, p99 over 400 signed
// webhooks sent one after another, or as many as 90 s allow) with
// 1,000,000 queue rows, alone and while 64 clients scrape /metrics without
// pause.
func BenchmarkWebhookUnderScrape(b *testing.B) {
	dbURL := storetest.NewDatabase(b)
	pool, err := pgxpool.New(b.Context(), dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	// Most rows done, some failed, 1% pending but not due: the pass at start
	// claims nothing, and sync_health has a million rows to count.
	if _, err := pool.Exec(b.Context(), `INSERT INTO sync_queue (call_id, state, attempts, next_attempt_at, updated_at)
		SELECT 'bench-' || i,
		       CASE WHEN i % 100 = 0 THEN 'pending' WHEN i % 50 = 1 THEN 'failed' ELSE 'done' END,
		       CASE WHEN i % 50 = 1 THEN 8 ELSE 0 END,
		       now() + interval '1 day', now() - (i % 1440) * interval '1 minute'
		FROM generate_series(1, 1000000) AS i`); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(b.Context(), `VACUUM ANALYZE sync_queue`); err != nil {
		b.Fatal(err)
	}
	_, base := startBenchRun(b, dbURL)
	hook := func(n int, prefix string) []time.Duration {
		lat := make([]time.Duration, 0, n)
		deadline := time.Now().Add(90 * time.Second)
		for i := 0; i < n && time.Now().Before(deadline); i++ {
			id := fmt.Sprintf("%s-%d", prefix, i)
			req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/synthflow", strings.NewReader(payload(id)))
			req.Header = signed(id)
			req.Header.Set("Content-Type", "application/json")
			t0 := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			lat = append(lat, time.Since(t0))
			if resp.StatusCode != http.StatusAccepted {
				b.Fatalf("webhook: %d", resp.StatusCode)
			}
		}
		slices.Sort(lat)
		return lat
	}
	pct := func(lat []time.Duration, p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)] }
	for i := range b.N {
		quiet := hook(400, fmt.Sprintf("quiet-%d", i))
		ctx, stop := context.WithCancel(b.Context())
		var scrapes atomic.Int64
		var wg sync.WaitGroup
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		for range 64 {
			wg.Go(func() {
				for ctx.Err() == nil {
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+metricsPath, nil)
					if resp, err := client.Do(req); err == nil {
						buf := make([]byte, 32<<10)
						for {
							if _, err := resp.Body.Read(buf); err != nil {
								break
							}
						}
						resp.Body.Close()
						scrapes.Add(1)
					}
				}
			})
		}
		time.Sleep(time.Second) // the scrapers at full speed
		t0 := time.Now()
		busy := hook(400, fmt.Sprintf("busy-%d", i))
		rate := float64(scrapes.Load()) / (time.Since(t0) + time.Second).Seconds()
		stop()
		wg.Wait()
		b.ReportMetric(float64(pct(busy, 0.99).Microseconds())/1000, "p99-ms-scraped")
		b.ReportMetric(float64(pct(busy, 0.50).Microseconds())/1000, "p50-ms-scraped")
		b.ReportMetric(float64(pct(quiet, 0.99).Microseconds())/1000, "p99-ms-quiet")
		b.Logf("1,000,000 queue rows: webhook p50 %v p99 %v alone; p50 %v p99 %v under 64 scrapers (%.0f scrapes/s)",
			pct(quiet, 0.5), pct(quiet, 0.99), pct(busy, 0.5), pct(busy, 0.99), rate)
	}
}

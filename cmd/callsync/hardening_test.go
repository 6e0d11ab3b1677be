package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

// freeAddr returns a loopback address nothing listens on yet.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// vmKB reads a memory figure (VmHWM, VmRSS) of a process, in kB.
func vmKB(t testing.TB, pid int, field string) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// startRunProc starts the binary's run with the webhook on a free port and
// returns the process and its base URL once it serves.
func startRunProc(t testing.TB, env map[string]string) (*proc, string) {
	t.Helper()
	addr := freeAddr(t)
	env["HTTP_ADDR"] = addr
	p := startProc(t, env, "run")
	base := "http://" + addr
	waitFor(t, time.Minute, "run to serve /healthz", func() bool {
		resp, err := http.Get(base + healthzPath)
		if err == nil {
			resp.Body.Close()
		}
		if p.exited() {
			t.Fatalf("run exited:\n%s", p.out)
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	return p, base
}

// floodBody is a 4 MiB webhook body whose transcript is one long string.
func floodBody(size int) []byte {
	head := `{"call":{"call_id":"flood-1","status":"completed","transcript":"`
	tail := `"}}`
	b := make([]byte, 0, size)
	b = append(b, head...)
	for len(b) < size-len(tail) {
		b = append(b, 'x')
	}
	return append(b, tail...)
}

// flood sends n concurrent POSTs of body to url with header h and returns
// the answers by status.
func flood(t testing.TB, url string, body []byte, n int, h http.Header) map[int]int {
	t.Helper()
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxConnsPerHost: n, MaxIdleConnsPerHost: n}}
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
			req.Header = h.Clone()
			req.Header.Set("Content-Type", "application/json")
			code := 0
			if resp, err := client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body) // draining only: the status is what counts
				resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return codes
}

// TestRun_WebhookFloodMemory (observation 1): 60 concurrent unsigned 4 MiB
// webhooks, half with no signature header and half with a wrong one, do
// not grow the process by more than a few bodies' worth, every one is
// refused, and /metrics counts them by reason.
func TestRun_WebhookFloodMemory(t *testing.T) {
	srv := fakeAPI(t)
	env := map[string]string{"DATABASE_URL": storetest.NewDatabase(t), "SYNTHFLOW_API_URL": srv.URL,
		"SYNTHFLOW_API_KEY": testKey, "SYNTHFLOW_WEBHOOK_SECRET": hookSecret, "SYNC_SCHEDULE": "@every 1h"}
	p, base := startRunProc(t, env)
	before := vmKB(t, p.cmd.Process.Pid, "VmRSS")
	body := floodBody(4 << 20)
	var codes [2]map[int]int
	var wg sync.WaitGroup
	wg.Go(func() { codes[0] = flood(t, base+"/webhooks/synthflow", body, 30, http.Header{}) })
	wg.Go(func() {
		codes[1] = flood(t, base+"/webhooks/synthflow", body, 30, http.Header{api.SignatureHeader: {"d3Jvbmc="}})
	})
	wg.Wait()
	peak := vmKB(t, p.cmd.Process.Pid, "VmHWM")
	// Every request is refused, and none is stored. No header: refused
	// from the headers alone, before the body is read, so a client still
	// sending its 4 MiB may see the connection reset before it reads the
	// 401 (code 0 here). A wrong signature: read through, then refused;
	// under the flood some are told to come back later (503), and on a
	// busy machine a body may not arrive within the body timeout (408).
	// The server's own counts below are exact.
	refused := func(codes map[int]int, allowed ...int) bool {
		n := 0
		for _, c := range allowed {
			n += codes[c]
		}
		return n == 30
	}
	if !refused(codes[0], http.StatusUnauthorized, 0) ||
		!refused(codes[1], http.StatusUnauthorized, http.StatusServiceUnavailable, http.StatusRequestTimeout, 0) {
		t.Fatalf("answers %v and %v, want 30 × 401 (or reset while sending), and 30 × 401, 503 or 408", codes[0], codes[1])
	}
	// 60 bodies held at once would be 240 MiB; a few in flight, a few MiB.
	if grew := (peak - before) / 1024; grew > 64 {
		t.Fatalf("the flood took the process from %d MiB to a peak of %d MiB (+%d MiB), want under +64 MiB",
			before/1024, peak/1024, grew)
	}
	_, text := get(t, base+metricsPath)
	m := parseMetrics(t, text)
	if got := m[`callsync_webhook_requests_total{code="401",reason="no_signature"}`]; got != 30 {
		t.Errorf("no_signature refusals counted %v, want 30", got)
	}
	wrong := m[`callsync_webhook_requests_total{code="401",reason="bad_signature"}`] +
		m[`callsync_webhook_requests_total{code="503",reason="busy"}`] +
		m[`callsync_webhook_requests_total{code="408",reason="slow_body"}`]
	if wrong != 30 {
		t.Errorf("wrong-signature requests counted %v (bad_signature + busy + slow_body), want 30", wrong)
	}
	if q := m[`callsync_webhook_requests_total{code="202",reason="queued"}`]; q != 0 {
		t.Errorf("%v flood requests were queued", q)
	}
	t.Logf("RSS %d MiB before, peak %d MiB", before/1024, peak/1024)
}

// TestWebhook_SignatureHeaderCombinations (observation 2): with both
// header spellings, the answer is the same on every try: accepted only
// when every signature present is right.
func TestWebhook_SignatureHeaderCombinations(t *testing.T) {
	srv, db, _ := webhookServer(t, map[string]string{"SYNTHFLOW_WEBHOOK_SECRET": hookSecret, "SYNTHFLOW_WEBHOOK_COOLDOWN": "0s"})
	url := srv.URL + "/webhooks/synthflow"
	const id = "1725527007259x327898249603432960"
	right, wrong := signed(id)[api.SignatureHeader][0], api.SignWebhook([]byte("guess"), id)
	for _, c := range []struct {
		name           string
		modern, legacy string // "" means absent
		want           int
	}{
		{"RightRight", right, right, http.StatusAccepted},
		{"RightWrong", right, wrong, http.StatusUnauthorized},
		{"WrongRight", wrong, right, http.StatusUnauthorized},
		{"WrongWrong", wrong, wrong, http.StatusUnauthorized},
		{"RightAbsent", right, "", http.StatusAccepted},
		{"AbsentRight", "", right, http.StatusAccepted},
		{"WrongAbsent", wrong, "", http.StatusUnauthorized},
		{"AbsentWrong", "", wrong, http.StatusUnauthorized},
		{"AbsentAbsent", "", "", http.StatusUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.modern != "" {
				h[api.SignatureHeader] = []string{c.modern}
			}
			if c.legacy != "" {
				h["HTTP_SYNTHFLOW_SIGNATURE"] = []string{c.legacy}
			}
			for i := range 30 {
				if got := post(t, url, "application/json", payload(id), h); got != c.want {
					t.Fatalf("request %d: status %d, want %d", i+1, got, c.want)
				}
			}
		})
	}
	_ = db
}

// TestWebhook_Replays (observation 3): a replayed signed webhook within
// the cooldown changes nothing; after it, a failed call is queued once
// with its attempts kept.
func TestWebhook_Replays(t *testing.T) {
	srv, db, _ := webhookServer(t, map[string]string{"SYNTHFLOW_WEBHOOK_SECRET": hookSecret})
	url := srv.URL + "/webhooks/synthflow"
	const id = "call-replayed-1"
	ctx := t.Context()
	if got := post(t, url, "application/json", payload(id), signed(id)); got != http.StatusAccepted {
		t.Fatalf("first delivery: %d", got)
	}
	if _, err := storetest.PoolOf(db).Exec(ctx, `UPDATE sync_queue SET state = 'failed', attempts = 8, last_error = 'gave up',
		next_attempt_at = now() + interval '1 day' WHERE call_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if got := post(t, url, "application/json", payload(id), signed(id)); got != http.StatusAccepted {
			t.Fatalf("replay: %d, want 202 (nothing to tell the sender)", got)
		}
	}
	var state string
	var attempts int
	read := func() {
		t.Helper()
		if err := storetest.PoolOf(db).QueryRow(ctx, `SELECT state, attempts FROM sync_queue WHERE call_id = $1`, id).Scan(&state, &attempts); err != nil {
			t.Fatal(err)
		}
	}
	read()
	if state != "failed" || attempts != 8 {
		t.Fatalf("after 20 replays: %s with %d attempts, want failed with 8, untouched", state, attempts)
	}
	// After the cooldown: queued once, attempts kept.
	if _, err := storetest.PoolOf(db).Exec(ctx, `UPDATE sync_queue SET updated_at = now() - interval '11 minutes' WHERE call_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	post(t, url, "application/json", payload(id), signed(id))
	post(t, url, "application/json", payload(id), signed(id))
	read()
	if state != "pending" || attempts != 8 {
		t.Fatalf("after the cooldown: %s with %d attempts, want pending with 8 kept", state, attempts)
	}
}

// TestOnce_EchoedKeyIsRedacted (observation 4): an API that sends the key
// back in error bodies gets it into no log, no last_error, no
// last_bad_body and no sync_runs.error.
func TestOnce_EchoedKeyIsRedacted(t *testing.T) {
	const key = "sk-echo-0123456789abcdef"
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 11, Calls: 3})
	srv, err := apitest.NewServer(apitest.Options{Calls: calls, APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	echo := `{"detail":"invalid request, headers: {'authorization': 'Bearer ` + key + `'}"}`
	srv.Script(calls[0].ID(), apitest.Step{Status: http.StatusInternalServerError, Body: echo})
	srv.Script(calls[1].ID(), apitest.Step{Status: http.StatusOK, Body: "<html>proxy error for Bearer " + key + "</html>"})
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": key,
		"SYNTHFLOW_RATE_LIMIT": "0", "LOG_LEVEL": "debug"}
	execCmd(t, t.Context(), env, append([]string{"enqueue"}, callIDs(calls)...)...)
	out, _ := execCmd(t, t.Context(), env, "once")
	// Then every request answers 401 with the key in the body: the pass
	// fails, and its error is stored.
	srv.Script(calls[0].ID(), apitest.Step{Status: http.StatusUnauthorized, Body: echo})
	execCmd(t, t.Context(), map[string]string{"DATABASE_URL": dbURL}, "retry-failed")
	pool := mustPool(t, dbURL)
	if _, err := pool.Exec(t.Context(), `UPDATE sync_queue SET state = 'pending', next_attempt_at = now() WHERE call_id = $1`, calls[0].ID()); err != nil {
		t.Fatal(err)
	}
	out2, code := execCmd(t, t.Context(), env, "once")
	if code == 0 {
		t.Fatalf("once with a 401 exited 0:\n%s", out2)
	}
	if strings.Contains(out+out2, key) {
		t.Fatalf("the output shows the key:\n%s\n%s", out, out2)
	}
	var leaks int
	if err := pool.QueryRow(t.Context(), `SELECT
		(SELECT count(*) FROM sync_queue WHERE strpos(coalesce(last_error, ''), $1) > 0 OR strpos(encode(coalesce(last_bad_body, ''), 'escape'), $1) > 0) +
		(SELECT count(*) FROM sync_runs WHERE strpos(coalesce(error, ''), $1) > 0)`, key).Scan(&leaks); err != nil {
		t.Fatal(err)
	}
	if leaks != 0 {
		t.Fatalf("%d stored texts hold the key", leaks)
	}
	var redacted int
	if err := pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM sync_queue WHERE last_error LIKE '%[REDACTED]%') +
		(SELECT count(*) FROM sync_runs WHERE error LIKE '%[REDACTED]%')`).Scan(&redacted); err != nil {
		t.Fatal(err)
	}
	if redacted == 0 {
		t.Fatal("no stored error shows where the key was redacted: did the echo reach the store at all?")
	}
}

// TestOnce_RedirectIsAnError (observation 5): a redirect from the API host
// is not followed; once fails naming SYNTHFLOW_API_URL and the location,
// and the other server never sees the key.
func TestOnce_RedirectIsAnError(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		http.NotFound(w, r)
	}))
	defer other.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	defer redirector.Close()
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": redirector.URL + "/v2", "SYNTHFLOW_API_KEY": testKey}
	execCmd(t, t.Context(), env, "enqueue", "call-a", "call-b")
	out, code := execCmd(t, t.Context(), env, "once")
	if code == 0 {
		t.Fatalf("once exited 0 after a redirect:\n%s", out)
	}
	for _, want := range []string{"SYNTHFLOW_API_URL", other.URL + "/v2/calls/"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not mention %s:\n%s", want, out)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 0 {
		t.Fatalf("the redirect target got %d requests (Authorization %q)", len(seen), seen)
	}
	if got := count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE state = 'pending' AND attempts = 0`); got != 2 {
		t.Fatalf("%d rows pending and untouched, want 2", got)
	}
}

// TestOnce_MisconfiguredAPI (observation 9): a URL without /v2 or a host
// that does not answer burns no attempt, and once fails at once naming
// SYNTHFLOW_API_URL; backfill says the same instead of "run it again".
func TestOnce_MisconfiguredAPI(t *testing.T) {
	storetest.Parallel(t) // its subtests' databases do not make it parallel
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 2, Calls: 5})
	srv := fakeAPI(t, calls...)
	for name, c := range map[string]struct{ url, says string }{
		"NoVersion":   {strings.TrimSuffix(srv.URL, "/v2"), "does not lead to the Synthflow API"},
		"Unreachable": {"http://" + freeAddr(t) + "/v2", "cannot be reached"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dbURL := storetest.NewDatabase(t)
			env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": c.url, "SYNTHFLOW_API_KEY": testKey}
			execCmd(t, t.Context(), env, append([]string{"enqueue"}, callIDs(calls)...)...)
			start := time.Now()
			out, code := execCmd(t, t.Context(), env, "once")
			if code == 0 || !strings.Contains(out, "SYNTHFLOW_API_URL (now "+c.url+")") || !strings.Contains(out, c.says) {
				t.Fatalf("once exited %d, want non-zero naming SYNTHFLOW_API_URL and saying %q:\n%s", code, c.says, out)
			}
			if got := count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE state = 'pending' AND attempts = 0`); got != len(calls) {
				t.Fatalf("%d of %d rows pending and untouched", got, len(calls))
			}
			if got := count(t, dbURL, `SELECT count(*) FROM sync_runs WHERE error LIKE '%Synthflow API cannot be used%'`); got != 1 {
				t.Errorf("%d sync_runs rows record the failure, want 1", got)
			}
			t.Logf("once failed after %v", time.Since(start).Round(time.Millisecond))
			if name == "NoVersion" {
				out, code = execCmd(t, t.Context(), env, "backfill", "--model-id", srv.Models()[0], "--from", "2026-05-02", "--to", "2026-05-03")
				if code == 0 || !strings.Contains(out, "SYNTHFLOW_API_URL") || strings.Contains(out, "run the same command again") {
					t.Fatalf("backfill exited %d, want non-zero naming SYNTHFLOW_API_URL without advice to repeat it:\n%s", code, out)
				}
			}
		})
	}
}

// TestOnce_ImpossibleTimings (observation 10): a negative ringing time is
// stored as NULL and adds nothing to talk time.
func TestOnce_ImpossibleTimings(t *testing.T) {
	call := apitest.Generate(apitest.GenerateOptions{Seed: 4, Calls: 1})[0]
	call, err := call.With("telephony_duration", 60000)
	if err != nil {
		t.Fatal(err)
	}
	if call, err = call.With("telephony_ringing_duration", -3600000); err != nil {
		t.Fatal(err)
	}
	srv := fakeAPI(t, call)
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey}
	if r := runCmd(t, env, "", "enqueue", call.ID()); r.err != nil {
		t.Fatal(r.err)
	}
	r := runCmd(t, env, "", "once")
	if r.err != nil {
		t.Fatalf("once: %v\n%s", r.err, r.stderr)
	}
	if got := count(t, dbURL, `SELECT count(*) FROM call_telephony WHERE ringing_duration_ms IS NULL AND duration_ms = 60000`); got != 1 {
		t.Fatalf("%d telephony rows with the ringing time dropped, want 1", got)
	}
	if got := count(t, dbURL, `SELECT round(talk_seconds)::int FROM call_facts`); got != 60 {
		t.Fatalf("talk_seconds = %d, want 60", got)
	}
	if !strings.Contains(r.stderr, "telephony_ringing_duration") {
		t.Errorf("the log does not note the dropped field:\n%s", r.stderr)
	}
}

// TestCLI_SmallLeaks (observation 11): a secret pasted into a *_FILE
// variable is not printed; validation errors name the flag and the
// variable.
func TestCLI_SmallLeaks(t *testing.T) {
	const pasted = "whsec-pasted-instead-of-a-path"
	env := map[string]string{"DATABASE_URL": "postgres://unused", "SYNTHFLOW_API_KEY": "k-123456",
		"HTTP_ADDR": "127.0.0.1:0", "SYNTHFLOW_WEBHOOK_SECRET_FILE": pasted}
	r := runCmd(t, env, "", "run")
	if r.err == nil || strings.Contains(r.err.Error()+r.stderr, pasted) || !strings.Contains(r.err.Error(), "SYNTHFLOW_WEBHOOK_SECRET_FILE") {
		t.Fatalf("err = %v (stderr %q), want an error naming the variable, not its value", r.err, r.stderr)
	}
	for _, c := range []struct {
		args      []string
		flag, env string
	}{
		{[]string{"once", "--lease", "5s"}, "--lease", "SYNC_LEASE"},
		{[]string{"once", "--concurrency", "-3"}, "--concurrency", "SYNC_CONCURRENCY"},
		{[]string{"once", "--retry-base", "2h", "--retry-max", "1h"}, "--retry-base", "SYNC_RETRY_MAX"},
		{[]string{"once", "--api-timeout", "0s"}, "--api-timeout", "SYNTHFLOW_API_TIMEOUT"},
		{[]string{"run", "--webhook-cooldown", "-1m", "--http-addr", "127.0.0.1:0", "--webhook-secret", "s-123456"}, "--webhook-cooldown", "SYNTHFLOW_WEBHOOK_COOLDOWN"},
	} {
		r := runCmd(t, map[string]string{"DATABASE_URL": "postgres://unused", "SYNTHFLOW_API_KEY": "k-123456"}, "", c.args...)
		if exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), c.flag) || !strings.Contains(r.err.Error(), c.env) {
			t.Errorf("%v: err = %v, want a usage error naming %s and %s", c.args, r.err, c.flag, c.env)
		}
	}
}

// TestTelemetry_ScrapesCostNoDatabaseWork (observation 7): /metrics and
// /readyz answer from the snapshot: with the snapshot's connection gone,
// scrapes still get the queue gauges and probes still get "ready" until the
// snapshot is stale. A scrape that read the database would fail here.
func TestTelemetry_ScrapesCostNoDatabaseWork(t *testing.T) {
	dbURL := storetest.NewDatabase(t)
	db, err := store.Open(t.Context(), dbURL, store.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Enqueue(t.Context(), []string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}
	snap := testSnapshot(t, db, io.Discard)
	db.Close() // from now on, any database work fails
	tel := newTelemetry()
	mux := http.NewServeMux()
	mountTelemetry(mux, snap, tel, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for range 50 {
		_, body := get(t, srv.URL+metricsPath)
		if m := parseMetrics(t, body); m[`callsync_queue_depth{state="pending"}`] != 3 {
			t.Fatalf("callsync_queue_depth{state=\"pending\"} = %v, want 3 from the snapshot", m[`callsync_queue_depth{state="pending"}`])
		}
		if code, body := get(t, srv.URL+readyzPath); code != http.StatusOK {
			t.Fatalf("GET /readyz = %d %s, want 200 from the snapshot", code, body)
		}
	}
}

// TestWebhook_SlowBodyLosesItsSlot: a client that sends headers and then
// trickles nothing is cut off after the body timeout, freeing its slot.
func TestWebhook_SlowBodyLosesItsSlot(t *testing.T) {
	srv, _, _ := webhookServer(t, map[string]string{"SYNTHFLOW_WEBHOOK_SECRET": hookSecret, "SYNTHFLOW_WEBHOOK_MAX_INFLIGHT": "1"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST /webhooks/synthflow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Content-Length: 100000\r\n%s: %s\r\n\r\n{\"call\":", api.SignatureHeader, "d3Jvbmc="); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || time.Since(start) > time.Minute {
		t.Fatalf("status %d after %v, want 408 after the body timeout", resp.StatusCode, time.Since(start))
	}
	// The slot is free again: a signed webhook goes through.
	if got := post(t, srv.URL+"/webhooks/synthflow", "application/json", payload("after-slow"), signed("after-slow")); got != http.StatusAccepted {
		t.Fatalf("after the slow client: %d, want 202", got)
	}
}

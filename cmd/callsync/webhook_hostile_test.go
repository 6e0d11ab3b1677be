package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callsync/callsync/api"
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

// TestRun_WebhookFloodMemory: 60 concurrent unsigned 4 MiB
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
		var all []string // every webhook count, to say where the others went
		for k, v := range m {
			if strings.HasPrefix(k, "callsync_webhook_requests_total") && v != 0 {
				all = append(all, fmt.Sprintf("%s %v", k, v))
			}
		}
		t.Errorf("wrong-signature requests counted %v (bad_signature + busy + slow_body), want 30; all: %v", wrong, all)
	}
	if q := m[`callsync_webhook_requests_total{code="202",reason="queued"}`]; q != 0 {
		t.Errorf("%v flood requests were queued", q)
	}
	t.Logf("RSS %d MiB before, peak %d MiB", before/1024, peak/1024)
}

// TestWebhook_SignatureHeaderCombinations: with both
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

// TestWebhook_Replays: a replayed signed webhook within
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

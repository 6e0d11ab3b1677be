package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

const hookSecret = "whsec-cli-test"

// webhookServer serves the webhook endpoint as run mounts it, with the
// settings in env, on a new database.
func webhookServer(t *testing.T, env map[string]string) (*httptest.Server, *store.DB, *bytes.Buffer) {
	t.Helper()
	f := newFlagSet("run", "run", env2(env))
	var c webhookConfig
	c.register(f)
	if err := f.parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := c.load(); err != nil {
		t.Fatal(err)
	}
	db := store.New(storetest.Pool(t))
	var logs bytes.Buffer
	mux := http.NewServeMux()
	c.mount(mux, db, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, db, &logs
}

func env2(m map[string]string) env {
	return env{getenv: func(k string) string { return m[k] }, stdout: io.Discard, stderr: io.Discard}
}

func post(t *testing.T, url, ctype, body string, h http.Header) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func payload(id string) string {
	return `{"status":"completed","lead":{"name":"Jo"},"call":{"call_id":"` + id + `","status":"completed"}}`
}

func signed(id string) http.Header {
	return http.Header{api.SignatureHeader: {api.SignWebhook([]byte(hookSecret), id)}}
}

func queued(t *testing.T, db *store.DB) []string {
	t.Helper()
	rows, err := storetest.PoolOf(db).Query(t.Context(), `SELECT call_id || ':' || state FROM sync_queue ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestWebhook_Signed(t *testing.T) {
	srv, db, logs := webhookServer(t, map[string]string{"SYNTHFLOW_WEBHOOK_SECRET": hookSecret, "SYNTHFLOW_WEBHOOK_MAX_BODY": "4096"})
	url := srv.URL + "/webhooks/synthflow"
	const id = "1725527007259x327898249603432960"

	for _, c := range []struct {
		name   string
		method string
		ctype  string
		body   string
		header http.Header
		want   int
	}{
		{"WrongMethod", http.MethodGet, "", "", nil, http.StatusMethodNotAllowed},
		{"PutMethod", http.MethodPut, "application/json", payload(id), signed(id), http.StatusMethodNotAllowed},
		{"NoContentType", http.MethodPost, "", payload(id), signed(id), http.StatusUnsupportedMediaType},
		{"FormContentType", http.MethodPost, "application/x-www-form-urlencoded", payload(id), signed(id), http.StatusUnsupportedMediaType},
		{"TooLarge", http.MethodPost, "application/json", `{"call":{"call_id":"` + id + `"},"pad":"` + strings.Repeat("x", 5000) + `"}`, signed(id), http.StatusRequestEntityTooLarge},
		{"NotJSON", http.MethodPost, "application/json", `call_id=1`, signed(id), http.StatusBadRequest},
		{"NoCallID", http.MethodPost, "application/json", `{"call":{}}`, signed(id), http.StatusBadRequest},
		{"NoSignature", http.MethodPost, "application/json", payload(id), nil, http.StatusUnauthorized},
		{"WrongSignature", http.MethodPost, "application/json", payload(id), signed("another-call"), http.StatusUnauthorized},
		{"WrongSecret", http.MethodPost, "application/json", payload(id),
			http.Header{api.SignatureHeader: {api.SignWebhook([]byte("guess"), id)}}, http.StatusUnauthorized},
		// An id that carries a number: refused, and not repeated in the log.
		{"NumberInID", http.MethodPost, "application/json", payload("call for +14155550142"), signed("call for +14155550142"), http.StatusUnprocessableEntity},
		{"MalformedID", http.MethodPost, "application/json", payload("bad id"), signed("bad id"), http.StatusUnprocessableEntity},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, url, strings.NewReader(c.body))
			for k, v := range c.header {
				req.Header[k] = v
			}
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.want)
			}
			if q := queued(t, db); len(q) != 0 {
				t.Fatalf("queued %v, want nothing", q)
			}
		})
	}

	if got := post(t, url, "application/json; charset=utf-8", payload(id), signed(id)); got != http.StatusAccepted {
		t.Fatalf("signed webhook: status %d, want 202", got)
	}
	// Redelivered, with the header as the documentation spells it: harmless.
	h := http.Header{"HTTP_SYNTHFLOW_SIGNATURE": signed(id)[api.SignatureHeader]}
	if got := post(t, url, "application/json", payload(id), h); got != http.StatusAccepted {
		t.Fatalf("redelivery: status %d, want 202", got)
	}
	if q := queued(t, db); strings.Join(q, ",") != id+":pending" {
		t.Fatalf("queue = %v, want the call once, pending", q)
	}
	if strings.Contains(logs.String(), hookSecret) || strings.Contains(logs.String(), signed(id)[api.SignatureHeader][0]) {
		t.Fatal("logs show the secret or a signature")
	}
	if strings.Contains(logs.String(), "4155550142") {
		t.Fatal("logs repeat a refused call id")
	}
}

func TestWebhook_SecretSettings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(hookSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, db, _ := webhookServer(t, map[string]string{"SYNTHFLOW_WEBHOOK_SECRET_FILE": file, "SYNTHFLOW_WEBHOOK_PATH": "/hook"})
	if got := post(t, srv.URL+"/hook", "application/json", payload("c1"), signed("c1")); got != http.StatusAccepted {
		t.Fatalf("secret from a file: status %d", got)
	}
	if len(queued(t, db)) != 1 {
		t.Fatal("not queued")
	}

	srv, db, logs := webhookServer(t, map[string]string{"SYNTHFLOW_WEBHOOK_INSECURE": "1"})
	if got := post(t, srv.URL+"/webhooks/synthflow", "application/json", payload("c2"), nil); got != http.StatusAccepted {
		t.Fatalf("insecure, unsigned: status %d", got)
	}
	if len(queued(t, db)) != 1 || !strings.Contains(logs.String(), "not checked") {
		t.Fatalf("insecure mode: queue %v, logs %s", queued(t, db), logs)
	}

	for name, e := range map[string]map[string]string{
		"NoSecret":    {},
		"Both":        {"SYNTHFLOW_WEBHOOK_SECRET": "a", "SYNTHFLOW_WEBHOOK_SECRET_FILE": file},
		"BadPath":     {"SYNTHFLOW_WEBHOOK_SECRET": "a", "SYNTHFLOW_WEBHOOK_PATH": "hook"},
		"MissingFile": {"SYNTHFLOW_WEBHOOK_SECRET_FILE": file + ".missing"},
	} {
		f := newFlagSet("run", "run", env2(e))
		var c webhookConfig
		c.register(f)
		if err := f.parse(nil); err != nil {
			t.Fatal(err)
		}
		if err := c.load(); err == nil || exitCode(err) != 2 {
			t.Errorf("%s: err = %v, want a usage error", name, err)
		}
	}
}

// TestRun_WebhookNeedsSecret: run with --http-addr refuses to start without
// a webhook secret, and says what to set.
func TestRun_WebhookNeedsSecret(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "postgres://unused", "SYNTHFLOW_API_KEY": "k", "HTTP_ADDR": "127.0.0.1:0"}
	r := runCmd(t, env, "", "run")
	if exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), "SYNTHFLOW_WEBHOOK_SECRET") || !strings.Contains(r.err.Error(), "--webhook-insecure") {
		t.Fatalf("err = %v, want a usage error naming the secret settings", r.err)
	}
}

func TestWebhook_ChunkedTooLarge(t *testing.T) {
	srv, db, _ := webhookServer(t, map[string]string{"SYNTHFLOW_WEBHOOK_SECRET": hookSecret, "SYNTHFLOW_WEBHOOK_MAX_BODY": "2048"})
	body := `{"call":{"call_id":"c1"},"pad":"` + strings.Repeat("x", 4096) + `"}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/synthflow", io.MultiReader(strings.NewReader(body)))
	req.Header = signed("c1")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req) // no Content-Length: sent chunked
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || len(queued(t, db)) != 0 {
		t.Fatalf("status %d, queue %v; want 413 and nothing queued", resp.StatusCode, queued(t, db))
	}
}

// TestRun_WebhookAndPolling runs `callsync run` with the webhook endpoint
// and polling: the poll stores the last hour's calls, and a signed webhook
// for an older call gets it fetched.
func TestRun_WebhookAndPolling(t *testing.T) {
	now := time.Now().UTC()
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 54, Calls: 60, Models: 1, From: now.Add(-2 * time.Hour), To: now})
	srv := fakeAPI(t, calls...)
	var old, recent []string
	for _, c := range srv.Calls() {
		if c.Start().Before(now.Add(-time.Hour)) {
			old = append(old, c.ID())
		} else {
			recent = append(recent, c.ID())
		}
	}
	env := intakeEnv(t, srv)
	env["HTTP_ADDR"], env["SYNC_SCHEDULE"], env["LOG_LEVEL"], env["LOG_FORMAT"] = "127.0.0.1:0", "@every 1s", "info", "json"
	env["SYNTHFLOW_WEBHOOK_SECRET"], env["SYNC_POLL_MODELS"] = hookSecret, srv.Models()[0]
	env["SYNC_POLL_LOOKBACK"] = "1h" // the first poll reads the last hour
	addr := startRun(t, env)
	if got := post(t, "http://"+addr+"/webhooks/synthflow", "application/json", payload(old[0]), signed(old[0])); got != http.StatusAccepted {
		t.Fatalf("webhook: status %d", got)
	}
	dbURL := env["DATABASE_URL"]
	waitFor(t, time.Minute, "the polled calls and the webhook's call", func() bool {
		return count(t, dbURL, `SELECT count(*) FROM calls WHERE call_id = '`+old[0]+`'`) == 1 &&
			count(t, dbURL, `SELECT count(*) FROM calls`) == len(recent)+1
	})
	if n := count(t, dbURL, `SELECT count(*) FROM poll_watermarks`); n != 1 {
		t.Fatalf("%d watermarks, want 1", n)
	}
	if srv.Counters().CallServed(old[0]) != 1 {
		t.Fatalf("webhook call served %d times, want 1", srv.Counters().CallServed(old[0]))
	}
}

// TestWebhookPath_Off checks that SYNTHFLOW_WEBHOOK_PATH=off turns the
// endpoint off (an empty variable means the default), and that the error
// for a missing secret advises it.
func TestWebhookPath_Off(t *testing.T) {
	load := func(env map[string]string) (webhookConfig, error) {
		f := newFlagSet("run", "run", env2(env))
		var c webhookConfig
		c.register(f)
		if err := f.parse(nil); err != nil {
			t.Fatal(err)
		}
		return c, c.load()
	}
	if c, err := load(map[string]string{"SYNTHFLOW_WEBHOOK_PATH": "off"}); err != nil || c.path != "" {
		t.Errorf("SYNTHFLOW_WEBHOOK_PATH=off: path %q, err %v", c.path, err)
	}
	if _, err := load(map[string]string{}); err == nil || !strings.Contains(err.Error(), "SYNTHFLOW_WEBHOOK_PATH=off") {
		t.Errorf("no secret: %v, want the advice SYNTHFLOW_WEBHOOK_PATH=off", err)
	}
}

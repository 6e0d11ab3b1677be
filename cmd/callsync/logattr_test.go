package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/storetest"
)

// TestRun_LogsCarryComponent runs `callsync run` with every subsystem on
// (polling, a webhook, retention, HTTP, debug logs in JSON) and checks that
// each log line names its component, and that the subsystems' lines name
// theirs, so that the logs can be filtered by it.
func TestRun_LogsCarryComponent(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 21, Calls: 5})
	srv := fakeAPI(t, calls...)
	dbURL := storetest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": srv.URL, "SYNTHFLOW_API_KEY": testKey,
		"SYNTHFLOW_RATE_LIMIT": "0", "HTTP_ADDR": "127.0.0.1:0", "SYNC_SCHEDULE": "@every 1h", "LOG_FORMAT": "json",
		"LOG_LEVEL": "debug", "SYNTHFLOW_WEBHOOK_SECRET": hookSecret, "SYNC_POLL_MODELS": calls[0].ModelID(),
		"SYNC_RETAIN_TRANSCRIPTS": "90d"}
	ctx, cancel := context.WithCancel(t.Context())
	var stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, &stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var addr string
	waitFor(t, time.Minute, "the HTTP address in the log", func() bool {
		addr = httpAddrFrom(stderr.String())
		return addr != ""
	})
	waitFor(t, time.Minute, "the first pass and agents refresh", func() bool {
		return strings.Contains(stderr.String(), `"msg":"agents refreshed"`)
	})
	id := calls[1].ID()
	h := http.Header{api.SignatureHeader: {api.SignWebhook([]byte(hookSecret), id)}}
	if code := post(t, "http://"+addr+"/webhooks/synthflow", "application/json",
		fmt.Sprintf(`{"call":{"call_id":%q,"status":"completed"}}`, id), h); code != http.StatusAccepted {
		t.Fatalf("webhook answered %d", code)
	}
	waitFor(t, time.Minute, "the pass the webhook wakes", func() bool {
		return strings.Contains(stderr.String(), `"msg":"sync pass done"`)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	done <- nil // for the deferred check

	want := map[string]string{ // a message each component logs → the component
		"callsync running": componentRun, "serving http": componentHTTP, "webhook endpoint ready": componentWebhook,
		"webhook: call queued": componentWebhook, "planner running": componentPoll, "list read": componentPoll,
		"sync pass done": componentPass, "agents refreshed": componentAgents, "retention applied": componentRetention,
		"calls queued; starting a pass": componentSchedule, "callsync stopped": componentRun,
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line not JSON: %v\n%s", err, line)
		}
		c, _ := rec[attrComponent].(string)
		if c == "" {
			t.Errorf("log line without a component: %s", line)
		}
		if strings.Count(line, `"`+attrComponent+`":`) > 1 {
			t.Errorf("log line with two components: %s", line)
		}
		msg, _ := rec["msg"].(string)
		if w, ok := want[msg]; ok {
			seen[msg] = true
			if c != w {
				t.Errorf("%q logged with component %q, want %q", msg, c, w)
			}
		}
	}
	for msg := range want {
		if !seen[msg] {
			t.Errorf("no %q line in the log:\n%s", msg, stderr.String())
		}
	}
}

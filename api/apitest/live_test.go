package apitest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
)

// testClock is an injected clock that moves only when told.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// mustLive starts a live workspace on clk, already started.
func mustLive(t *testing.T, clk *testClock, o apitest.LiveOptions, rl apitest.RateLimit) (*apitest.Server, *apitest.Live) {
	t.Helper()
	srv := mustServer(t, apitest.Options{APIKey: testKey, Clock: clk.Now, Live: &o, RateLimit: rl})
	srv.Live().Start()
	return srv, srv.Live()
}

// callStatus GETs one call and returns its status, or "" on 404.
func callStatus(t *testing.T, srv *apitest.Server, id string) string {
	t.Helper()
	r := mustGet(t, srv.URL+"/calls/"+url.PathEscape(id), testKey)
	if r.status == http.StatusNotFound {
		return ""
	}
	env := mustEnvelope(t, r)
	var c struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(env.Response.Calls[0], &c); err != nil {
		t.Fatal(err)
	}
	return c.Status
}

// listed returns the call IDs of an agent's first list page.
func listed(t *testing.T, srv *apitest.Server, model string) map[string]string {
	t.Helper()
	env := mustEnvelope(t, mustGet(t, srv.URL+"/calls?limit=100&model_id="+model, testKey))
	out := map[string]string{}
	for _, raw := range env.Response.Calls {
		var c struct {
			ID     string `json:"call_id"`
			Status string `json:"call_status"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		out[c.ID] = c.Status
	}
	return out
}

func TestLive_CallLifecycle(t *testing.T) {
	clk := newTestClock()
	srv, live := mustLive(t, clk, apitest.LiveOptions{Agents: 1, Seed: 3, MinLength: 30 * time.Second, MaxLength: 30 * time.Second,
		Phases: []apitest.LivePhase{{PerMinute: 2, Duration: time.Minute}}}, apitest.RateLimit{})
	calls := live.Calls()
	if len(calls) != 2 {
		t.Fatalf("calls = %d, want 2", len(calls))
	}
	first, second := calls[0], calls[1]
	if got, want := second.Start.Sub(first.Start), 30*time.Second; got != want {
		t.Fatalf("second call starts %v after the first, want %v", got, want)
	}
	if got := first.End.Sub(first.Start); got != 30*time.Second || first.Length != 30*time.Second {
		t.Fatalf("call lasts %v (length %v), want 30s", got, first.Length)
	}
	if first.ModelID != "agent-0" {
		t.Fatalf("model = %q, want agent-0", first.ModelID)
	}

	clk.Add(29 * time.Second)
	if got := callStatus(t, srv, first.ID); got != "in-progress" {
		t.Fatalf("status before the end = %q, want in-progress", got)
	}
	if got := callStatus(t, srv, second.ID); got != "" {
		t.Fatalf("call not started yet is served (%q), want 404", got)
	}
	if got := listed(t, srv, "agent-0"); len(got) != 1 || got[first.ID] != "in-progress" {
		t.Fatalf("list = %v, want only the first call, in-progress", got)
	}
	clk.Set(first.End)
	if got := callStatus(t, srv, first.ID); got != first.Status {
		t.Fatalf("status at the end = %q, want %q", got, first.Status)
	}
	if got := listed(t, srv, "agent-0"); len(got) != 2 || got[first.ID] != first.Status || got[second.ID] != "in-progress" {
		t.Fatalf("list = %v, want the first call final and the second in-progress", got)
	}
	c, _ := srv.Call(first.ID)
	if d, _ := c.Field("duration"); string(d) != "30" {
		t.Fatalf("duration = %s, want 30", d)
	}
	if st, _ := c.Field("start_time"); string(st) != `"`+strconv.FormatInt(first.Start.UnixMilli(), 10)+`"` {
		t.Fatalf("start_time = %s, want the start in epoch ms", st)
	}
	if got := srv.Assistants(); len(got) != 1 || got[0] != "agent-0" {
		t.Fatalf("assistants = %v, want [agent-0]", got)
	}
}

func TestLive_TimeScale(t *testing.T) {
	clk := newTestClock()
	_, live := mustLive(t, clk, apitest.LiveOptions{Scale: 60, MinLength: time.Minute, MaxLength: time.Minute,
		Phases: []apitest.LivePhase{{PerMinute: 60, Duration: 2 * time.Minute}}}, apitest.RateLimit{})
	calls := live.Calls()
	if len(calls) != 120 {
		t.Fatalf("calls = %d, want 120", len(calls))
	}
	if got := calls[1].Start.Sub(calls[0].Start); got != time.Second/60 {
		t.Fatalf("calls start %v apart, want 1/60 s", got)
	}
	if got := calls[0].End.Sub(calls[0].Start); got != time.Second {
		t.Fatalf("a workspace minute lasts %v, want 1s", got)
	}
	if _, end := live.Phase(0); end.Sub(calls[0].Start) != 2*time.Second {
		t.Fatalf("phase ends %v after the start, want 2s", end.Sub(calls[0].Start))
	}
	if got := apitest.LiveBudget(30, 60).Window; got != time.Second {
		t.Fatalf("budget window = %v, want 1s", got)
	}
}

func TestLive_BudgetSlidingWindow(t *testing.T) {
	clk := newTestClock()
	srv, _ := mustLive(t, clk, apitest.LiveOptions{}, apitest.LiveBudget(3, 1))
	get := func(path, key string) response { t.Helper(); return mustGet(t, srv.URL+path, key) }
	for _, path := range []string{"/assistants", "/calls/nope", "/calls/nope/recording"} { // every route counts
		if r := get(path, testKey); r.status == http.StatusTooManyRequests {
			t.Fatalf("%s: 429 within the budget", path)
		}
		clk.Add(20 * time.Second)
	}
	// 60 s after the first request: it left the window, the others did not.
	if r := get("/assistants", testKey); r.status != http.StatusOK {
		t.Fatalf("status = %d, want 200 once the first request left the window", r.status)
	}
	clk.Add(19 * time.Second)
	r := get("/assistants", testKey)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want 429 with 3 requests in the last 60s", r.status)
	}
	if ra := r.header.Get("Retry-After"); ra != "" {
		t.Fatalf("Retry-After = %q, want none", ra)
	}
	clk.Add(time.Second) // the second request leaves the window; 429s took no slot
	if r := get("/assistants", testKey); r.status != http.StatusOK {
		t.Fatalf("status = %d, want 200 after the window slid", r.status)
	}
	cnt := srv.Counters()
	if got := cnt.Status(http.StatusTooManyRequests); got != 1 {
		t.Fatalf("429s = %d, want 1", got)
	}
	if got := cnt.Endpoint(apitest.EndpointRecording); got != 1 {
		t.Fatalf("recording requests = %d, want 1", got)
	}
	log := cnt.Requests()
	if len(log) != 6 || log[4].Status != http.StatusTooManyRequests || log[2].Endpoint != apitest.EndpointRecording {
		t.Fatalf("request log = %+v", log)
	}
}

func TestLive_BudgetPerKey(t *testing.T) {
	clk := newTestClock()
	srv := mustServer(t, apitest.Options{Clock: clk.Now, RateLimit: apitest.LiveBudget(1, 1)})
	if r := mustGet(t, srv.URL+"/assistants", "key-a"); r.status != http.StatusOK {
		t.Fatalf("key a: %d", r.status)
	}
	if r := mustGet(t, srv.URL+"/assistants", "key-b"); r.status != http.StatusOK {
		t.Fatalf("key b: %d, want 200: keys have budgets of their own", r.status)
	}
	if r := mustGet(t, srv.URL+"/assistants", "key-a"); r.status != http.StatusTooManyRequests {
		t.Fatalf("key a again: %d, want 429", r.status)
	}
}

func TestLive_ListLag(t *testing.T) {
	clk := newTestClock()
	srv, live := mustLive(t, clk, apitest.LiveOptions{Agents: 1, ListLag: time.Minute, MinLength: 2 * time.Minute, MaxLength: 2 * time.Minute,
		Phases: []apitest.LivePhase{{PerMinute: 1, Duration: time.Minute}}}, apitest.RateLimit{})
	c := live.Calls()[0]
	clk.Add(59 * time.Second)
	if got := listed(t, srv, "agent-0"); len(got) != 0 {
		t.Fatalf("list during the lag = %v, want empty", got)
	}
	if got := callStatus(t, srv, c.ID); got != "in-progress" {
		t.Fatalf("GET during the lag: status %q, want in-progress", got)
	}
	clk.Add(time.Second)
	if got := listed(t, srv, "agent-0"); got[c.ID] != "in-progress" {
		t.Fatalf("list after the lag = %v, want the call", got)
	}
}

// hookReceiver records the webhooks it is sent.
type hookReceiver struct {
	mu   sync.Mutex
	got  []receivedHook
	srv  *httptest.Server
	when func() time.Time
}

type receivedHook struct {
	at        time.Time
	signature string
	callID    string
	modelID   string
}

func newHookReceiver(t *testing.T, when func() time.Time) *hookReceiver {
	h := &hookReceiver{when: when}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var hook struct {
			Call struct {
				CallID  string `json:"call_id"`
				ModelID string `json:"model_id"`
			} `json:"call"`
		}
		_ = json.Unmarshal(body, &hook)
		h.mu.Lock()
		h.got = append(h.got, receivedHook{h.when(), r.Header.Get("Synthflow-Signature"), hook.Call.CallID, hook.Call.ModelID})
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func TestLive_Webhooks(t *testing.T) {
	clk := newTestClock()
	recv := newHookReceiver(t, clk.Now)
	secret := []byte("whsec")
	srv, live := mustLive(t, clk, apitest.LiveOptions{Agents: 3, Seed: 7, WebhookURL: recv.srv.URL, WebhookSecret: secret,
		WebhookLoss: 0.3, ManualWebhooks: true, Phases: []apitest.LivePhase{{PerMinute: 60, Duration: 2 * time.Minute}}}, apitest.RateLimit{})
	calls := live.Calls()
	lost := 0
	for _, c := range calls {
		if c.WebhookLost {
			lost++
		}
		if got := c.Webhook.Sub(c.End); got != 2*time.Second {
			t.Fatalf("webhook due %v after the end, want 2s", got)
		}
	}
	if lost < 20 || lost > 55 {
		t.Fatalf("lost %d of %d webhooks, want about 30%%", lost, len(calls))
	}
	first := calls[0]
	earliest := first.Webhook
	for _, c := range calls {
		if c.Webhook.Before(earliest) {
			earliest = c.Webhook
		}
	}
	clk.Set(earliest.Add(-time.Millisecond))
	if n := live.DeliverWebhooks(t.Context()); n != 0 {
		t.Fatalf("sent %d webhooks before any was due", n)
	}
	clk.Set(live.LastEnd().Add(time.Hour))
	if n := live.DeliverWebhooks(t.Context()); n != len(calls)-lost {
		t.Fatalf("sent %d webhooks, want %d", n, len(calls)-lost)
	}
	if n := live.DeliverWebhooks(t.Context()); n != 0 {
		t.Fatalf("sent %d webhooks again", n)
	}
	byID := map[string]apitest.LiveCall{}
	for _, c := range live.Calls() {
		byID[c.ID] = c
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	for _, h := range recv.got {
		c, ok := byID[h.callID]
		if !ok || c.WebhookLost || c.WebhookStatus != http.StatusOK || c.WebhookSent.IsZero() {
			t.Fatalf("webhook for %q: call known %v, lost %v, status %d", h.callID, ok, c.WebhookLost, c.WebhookStatus)
		}
		if h.modelID != c.ModelID {
			t.Fatalf("webhook model_id = %q, want %q", h.modelID, c.ModelID)
		}
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(c.ID))
		if h.signature != base64.StdEncoding.EncodeToString(m.Sum(nil)) {
			t.Fatalf("webhook signature of %s does not verify", c.ID)
		}
	}
	if got := callStatus(t, srv, first.ID); got != first.Status {
		t.Fatalf("status = %q, want %q", got, first.Status)
	}
}

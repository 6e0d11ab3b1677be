package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

// webhookListen serves the webhook endpoint as run does: mounted by
// webhookConfig with the settings in env, on the server of listenHTTP
// (the binary's timeouts), on a new database. It returns the endpoint's
// URL, the database and the handler.
func webhookListen(t *testing.T, env map[string]string) (string, *store.DB, *webhookHandler) {
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
	mux := http.NewServeMux()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	c.mount(mux, db, nil, logger)
	srv, err := listenHTTP("127.0.0.1:0", mux, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.srv.Close() })
	url := "http://" + srv.ln.Addr().String() + c.path
	h, _ := mux.Handler(&http.Request{Method: http.MethodPost, URL: mustURL(t, url)})
	return url, db, h.(*webhookHandler)
}

// slowAttack keeps n connections to url each sending a webhook's headers
// (a random signature, Content-Length: 100000) and then one byte every
// 100 ms; a connection the server ends is opened again. It stops when t
// ends.
func slowAttack(t *testing.T, url string, n int) {
	t.Helper()
	addr, path, _ := strings.Cut(strings.TrimPrefix(url, "http://"), "/")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); wg.Wait() })
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					continue
				}
				sig := base64.StdEncoding.EncodeToString([]byte(rand.Text()))
				_, err = fmt.Fprintf(conn, "POST /%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
					"Content-Length: 100000\r\n%s: %s\r\n\r\n{", path, api.SignatureHeader, sig)
				tick := time.NewTicker(100 * time.Millisecond) // the attack's pace, not a wait of the test
				for err == nil {
					select {
					case <-stop:
						err = io.EOF
					case <-tick.C:
						_, err = conn.Write([]byte(" "))
					}
				}
				tick.Stop()
				_ = conn.Close()
			}
		})
	}
}

// TestWebhook_SignedLandDuringSlowBodyAttack: 40 clients trickle bodies
// that will never verify, holding every slot they can; signed webhooks
// sent meanwhile all land (2xx). Their latencies are reported, not
// asserted.
func TestWebhook_SignedLandDuringSlowBodyAttack(t *testing.T) {
	url, db, h := webhookListen(t, map[string]string{"SYNTHFLOW_WEBHOOK_SECRET": hookSecret})
	const attackers = 40
	slowAttack(t, url, attackers)
	waitFor(t, time.Minute, "the attackers to hold their slots", func() bool {
		return len(h.slots) >= min(attackers, cap(h.slots))
	})

	const hooks, senders = 40, 8
	ids := make(chan string, hooks)
	for i := range hooks {
		ids <- fmt.Sprintf("during-attack-%02d", i)
	}
	close(ids)
	var mu sync.Mutex
	var took []time.Duration
	var wg sync.WaitGroup
	client := &http.Client{Timeout: time.Minute}
	for range senders {
		wg.Go(func() {
			for id := range ids {
				req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(payload(id)))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header = signed(id)
				req.Header.Set("Content-Type", "application/json")
				begin := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("webhook %s: %v", id, err)
					continue
				}
				_ = resp.Body.Close()
				mu.Lock()
				took = append(took, time.Since(begin))
				mu.Unlock()
				if resp.StatusCode/100 != 2 {
					t.Errorf("webhook %s during the attack: %d, want 2xx", id, resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(took)
	if len(took) > 0 {
		t.Logf("%d signed webhooks beside %d slow bodies: p50 %v, p99 %v, max %v", len(took), attackers,
			took[len(took)/2], took[(len(took)*99+99)/100-1], took[len(took)-1])
	}
	if n := countQueued(t, db, "during-attack-%"); n != hooks {
		t.Errorf("%d calls queued by the signed webhooks, want %d", n, hooks)
	}
}

// TestWebhook_ClientOverItsShareRefused: a client (remote address) with as
// many bodies in flight as --webhook-max-inflight-per-client allows gets
// 429 for one more at once, without waiting for a slot.
func TestWebhook_ClientOverItsShareRefused(t *testing.T) {
	url, _, h := webhookListen(t, map[string]string{"SYNTHFLOW_WEBHOOK_SECRET": hookSecret,
		"SYNTHFLOW_WEBHOOK_MAX_INFLIGHT_PER_CLIENT": "2"})
	slowAttack(t, url, 2)
	waitFor(t, time.Minute, "the two slow bodies to hold their slots", func() bool { return len(h.slots) >= 2 })
	if got := post(t, url, "application/json", payload("third"), signed("third")); got != http.StatusTooManyRequests {
		t.Errorf("a third body from the same client: %d, want 429", got)
	}
}

func countQueued(t *testing.T, db *store.DB, like string) int {
	t.Helper()
	var n int
	if err := storetest.PoolOf(db).QueryRow(t.Context(), `SELECT count(*) FROM sync_queue WHERE call_id LIKE $1`, like).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustURL(t *testing.T, raw string) *neturl.URL {
	t.Helper()
	u, err := neturl.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

package api_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callsync/callsync/api"
)

const testKey = "sk-test-secret-key"

// testServer serves handler at /v2 and returns a client for it.
func testServer(t *testing.T, opts api.Options, handler http.HandlerFunc) *api.Client {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	opts.BaseURL = srv.URL + "/v2"
	if opts.APIKey == "" {
		opts.APIKey = testKey
	}
	c, err := api.NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClient_GetCall(t *testing.T) {
	body, err := os.ReadFile("testdata/get-call.json")
	if err != nil {
		t.Fatal(err)
	}
	var gotPath, gotAuth string
	c := testServer(t, api.Options{}, func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.EscapedPath(), r.Header.Get("Authorization")
		w.Write(body)
	})
	call, err := c.GetCall(t.Context(), "1725527007259x327898249603432960")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "path", gotPath, "/v2/calls/1725527007259x327898249603432960")
	eq(t, "Authorization", gotAuth, "Bearer "+testKey)
	eq(t, "ID", call.ID, "1725527007259x327898249603432960")
	eq(t, "Status", *call.Status, "completed")
}

func TestClient_GetCall_PathEscaping(t *testing.T) {
	var got string
	c := testServer(t, api.Options{}, func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.EscapedPath()
		w.WriteHeader(http.StatusNotFound)
	})
	for id, want := range map[string]string{
		"a/b":   "/v2/calls/a%2Fb",
		"..":    "/v2/calls/%2E%2E",
		"a?b":   "/v2/calls/a%3Fb",
		"a%20b": "/v2/calls/a%2520b",
		"a b":   "/v2/calls/a%20b",
	} {
		_, _ = c.GetCall(t.Context(), id)
		eq(t, "path for "+id, got, want)
	}
}

func TestClient_GetCall_Errors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		header  map[string]string
		body    string
		is      error
		message string
		retry   time.Duration
	}{
		{"NotFound", 404, nil, `{"detail":{"status":"error","description":"Call not found","request_id":"r","category":"important"}}`, api.ErrNotFound, "Call not found", 0},
		{"Unauthorized", 401, nil, `{"detail":"Not authenticated"}`, api.ErrUnauthorized, "Not authenticated", 0},
		{"Forbidden", 403, nil, `{"error":"forbidden","message":"No access to workspace"}`, api.ErrUnauthorized, "No access to workspace", 0},
		{"RateLimitedSeconds", 429, map[string]string{"Retry-After": "7"}, ``, api.ErrRateLimited, "", 7 * time.Second},
		{"RateLimitedNoHeader", 429, nil, `slow down`, api.ErrRateLimited, "slow down", 0},
		{"ServerError", 503, nil, "<html>\n<body>Service\n Unavailable</body></html>", api.ErrServer, "<html> <body>Service Unavailable</body></html>", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testServer(t, api.Options{}, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			})
			_, err := c.GetCall(t.Context(), "abc")
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			var se *api.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("err = %T, want *api.StatusError", err)
			}
			eq(t, "Code", se.Code, tt.status)
			eq(t, "Message", se.Message, tt.message)
			eq(t, "RetryAfter", se.RetryAfter, tt.retry)
			if !strings.Contains(err.Error(), "get call abc: HTTP") {
				t.Errorf("err = %q, want it to name the request and status", err)
			}
		})
	}
}

func TestClient_GetCall_RetryAfterDate(t *testing.T) {
	c := testServer(t, api.Options{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusTooManyRequests)
	})
	_, err := c.GetCall(t.Context(), "abc")
	var se *api.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v", err)
	}
	if se.RetryAfter < 80*time.Second || se.RetryAfter > 91*time.Second {
		t.Errorf("RetryAfter = %v, want about 90s", se.RetryAfter)
	}
}

func TestClient_GetCall_EmptyCallsIsNotFound(t *testing.T) {
	c := testServer(t, api.Options{}, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"ok","response":{"pagination":{"total_records":0},"calls":[]}}`))
	})
	if _, err := c.GetCall(t.Context(), "abc"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestClient_GetCall_BadBodies(t *testing.T) {
	big := `{"response":{"calls":[{"call_id":"abc","transcript":"` + strings.Repeat("x", 2<<20) + `"}]}}`
	for name, body := range map[string]string{
		"NotJSON":      `<html>oops</html>`,
		"NoCalls":      `{"status":"ok","response":{}}`,
		"NullResponse": `{"status":"ok","response":null}`,
		"CallNotObj":   `{"response":{"calls":["abc"]}}`,
		"Truncated":    `{"status":"ok","response":{"calls":[{"call_id":"abc"`,
		"TooLarge":     big,
		"TooDeep":      `{"response":{"calls":[` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			c := testServer(t, api.Options{MaxBodyBytes: 1 << 20}, func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(body))
			})
			_, err := c.GetCall(t.Context(), "abc")
			var de *api.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want *api.DecodeError", err)
			}
			if len(de.Body) == 0 || len(de.Body) > api.MaxKeptBody {
				t.Errorf("kept %d bytes of the body, want 1..%d", len(de.Body), api.MaxKeptBody)
			}
		})
	}
}

func TestClient_GetCall_Transport(t *testing.T) {
	t.Run("Timeout", func(t *testing.T) {
		c := testServer(t, api.Options{Timeout: 50 * time.Millisecond}, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		})
		_, err := c.GetCall(t.Context(), "abc")
		var te *api.TransportError
		if !errors.As(err, &te) {
			t.Fatalf("err = %v, want *api.TransportError", err)
		}
	})
	t.Run("ShortBody", func(t *testing.T) {
		c := testServer(t, api.Options{}, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.Write([]byte(`{"response":`))
		})
		_, err := c.GetCall(t.Context(), "abc")
		var te *api.TransportError
		if !errors.As(err, &te) {
			t.Fatalf("err = %v, want *api.TransportError", err)
		}
	})
	t.Run("ConnectionRefused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		c, err := api.NewClient(api.Options{BaseURL: url + "/v2", APIKey: testKey})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetCall(t.Context(), "abc")
		var te *api.TransportError
		if !errors.As(err, &te) {
			t.Fatalf("err = %v, want *api.TransportError", err)
		}
		if strings.Contains(err.Error(), testKey) {
			t.Errorf("error %q contains the API key", err)
		}
	})
	t.Run("Canceled", func(t *testing.T) {
		c := testServer(t, api.Options{}, func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		})
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		if _, err := c.GetCall(ctx, "abc"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestNewClient_BadURL(t *testing.T) {
	for _, u := range []string{"api.synthflow.ai/v2", "ftp://x/v2", "http://"} {
		if _, err := api.NewClient(api.Options{BaseURL: u}); err == nil {
			t.Errorf("NewClient(%q) = nil error, want one", u)
		}
	}
}

type countLimiter struct {
	n         int
	throttled []time.Duration
}

func (l *countLimiter) Wait(ctx context.Context) error { l.n++; return nil }

func (l *countLimiter) Throttled(ctx context.Context, d time.Duration) {
	l.throttled = append(l.throttled, d)
}

func TestClient_Limiter(t *testing.T) {
	l := &countLimiter{}
	c := testServer(t, api.Options{Limiter: l}, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(404)
	})
	for range 3 {
		_, _ = c.GetCall(t.Context(), "abc")
	}
	eq(t, "limiter waits", l.n, 3)
	if len(l.throttled) != 0 {
		t.Errorf("Throttled called %v after 404s", l.throttled)
	}
}

// slowLimiter holds every request back for a while.
type slowLimiter struct{ countLimiter }

func (l *slowLimiter) Wait(ctx context.Context) error {
	time.Sleep(20 * time.Millisecond)
	return l.countLimiter.Wait(ctx)
}

// ObserveWait gets how long each request waited for the limiter, list
// requests included; a request the limiter never let go is not observed.
func TestClient_ObserveWait(t *testing.T) {
	var waits []time.Duration
	c := testServer(t, api.Options{Limiter: &slowLimiter{}, ObserveWait: func(d time.Duration) { waits = append(waits, d) }},
		func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) })
	_, _ = c.GetCall(t.Context(), "abc")
	_, _ = c.ListCalls(t.Context(), api.ListOptions{ModelID: "m"})
	if len(waits) != 2 || waits[0] < 20*time.Millisecond || waits[1] < 20*time.Millisecond {
		t.Errorf("waits = %v, want two of 20 ms or more", waits)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	c = testServer(t, api.Options{Limiter: cancelledLimiter{}, ObserveWait: func(d time.Duration) { t.Errorf("observed a wait of %v for a request never sent", d) }},
		func(w http.ResponseWriter, r *http.Request) { t.Error("request sent") })
	if _, err := c.GetCall(ctx, "abc"); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want the context's", err)
	}
}

// cancelledLimiter lets nothing go once the context ends.
type cancelledLimiter struct{}

func (cancelledLimiter) Wait(ctx context.Context) error           { return ctx.Err() }
func (cancelledLimiter) Throttled(context.Context, time.Duration) {}

// reserveLimiter records what a Reserver sees: done is called once per
// request, after its answer came.
type reserveLimiter struct {
	countLimiter
	answered *atomic.Int64 // requests the server has answered
	reserved int
	doneSeen []int64 // answered, at each done
	fail     error
}

func (l *reserveLimiter) Reserve(ctx context.Context) (func(), error) {
	if l.fail != nil {
		return nil, l.fail
	}
	l.reserved++
	return func() { l.doneSeen = append(l.doneSeen, l.answered.Load()) }, nil
}

// A Reserver's done is called once the request is over, whatever its
// answer; a request the limiter never let go calls nothing, and Wait is
// not called besides Reserve.
func TestClient_Reserver(t *testing.T) {
	var answered atomic.Int64
	l := &reserveLimiter{answered: &answered}
	code := http.StatusOK
	c := testServer(t, api.Options{Limiter: l}, func(w http.ResponseWriter, r *http.Request) {
		answered.Add(1)
		w.WriteHeader(code)
		w.Write([]byte(`{"status":"ok","response":{"calls":[{"call_id":"abc"}]}}`))
	})
	if _, err := c.GetCall(t.Context(), "abc"); err != nil {
		t.Fatal(err)
	}
	code = http.StatusNotFound
	_, _ = c.GetCall(t.Context(), "abc")
	if l.reserved != 2 || l.n != 0 || !slices.Equal(l.doneSeen, []int64{1, 2}) {
		t.Errorf("reserved %d, waited %d, done after %v answers; want 2 reserved, none waited, done after 1 and 2",
			l.reserved, l.n, l.doneSeen)
	}
	l.fail = errors.New("stopped")
	if _, err := c.GetCall(t.Context(), "abc"); !errors.Is(err, l.fail) {
		t.Errorf("err = %v, want the limiter's", err)
	}
	if answered.Load() != 2 || len(l.doneSeen) != 2 {
		t.Errorf("%d requests answered, done called %d times, after a Reserve that failed; want 2 and 2", answered.Load(), len(l.doneSeen))
	}
}

func TestClient_ThrottledAndObserve(t *testing.T) {
	l := &countLimiter{}
	var observed []int
	c := testServer(t, api.Options{Limiter: l, Observe: func(ep string, code int, d time.Duration) {
		if ep != "get_call" || d <= 0 {
			t.Errorf("Observe(%q, %d, %v)", ep, code, d)
		}
		observed = append(observed, code)
	}}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	_, _ = c.GetCall(t.Context(), "abc")
	if len(l.throttled) != 1 || l.throttled[0] != 3*time.Second {
		t.Errorf("Throttled calls = %v, want [3s]", l.throttled)
	}
	if len(observed) != 1 || observed[0] != 429 {
		t.Errorf("observed = %v, want [429]", observed)
	}
}

func TestClient_GetPayload(t *testing.T) {
	const call = `{ "call_id" : "other",  "status":"completed" , "x": [1, 2.50] }`
	c := testServer(t, api.Options{}, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status": "ok", "response": {"pagination": {"total_records": 1}, "calls": [ ` + call + ` ]}}`))
	})
	p, err := c.GetPayload(t.Context(), "abc")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "ID", p.ID, "abc")
	eq(t, "JSON", string(p.JSON), call) // byte for byte, spacing included
	got, err := p.Decode()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "decoded ID", got.ID, "abc")
	eq(t, "Raw", string(got.Raw), call)
	// Noted without the id sent: problems are logged, and what a payload
	// carries is not fit for a log.
	if len(got.Problems) != 1 || !strings.HasPrefix(got.Problems[0], "call_id:") || strings.Contains(got.Problems[0], "other") {
		t.Errorf("Problems = %q, want the other call_id noted without its value", got.Problems)
	}
}

const echoKey = "sk-live-echoed-0123456789"

// TestClient_RedirectIsNotFollowed: a redirect to another server must not
// carry the key there; it is an error naming where it pointed.
func TestClient_RedirectIsNotFollowed(t *testing.T) {
	var leaked string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("Authorization")
		w.Write([]byte(`{"status":"ok","response":{"calls":[]}}`))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/v2/calls/x?token=abc", http.StatusFound)
	}))
	defer srv.Close()
	c, err := api.NewClient(api.Options{BaseURL: srv.URL + "/v2", APIKey: echoKey})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPayload(t.Context(), "x")
	if leaked != "" {
		t.Fatalf("the redirect target got Authorization %q", leaked)
	}
	var re *api.RedirectError
	if !errors.As(err, &re) || !errors.Is(err, api.ErrWrongURL) || errors.Is(err, api.ErrNotFound) {
		t.Fatalf("err = %v, want a *RedirectError matching ErrWrongURL", err)
	}
	if want := other.URL + "/v2/calls/x"; re.Location != want || strings.Contains(err.Error(), "token") {
		t.Fatalf("Location = %q (err %v), want %q without the query", re.Location, err, want)
	}
}

// TestClient_NotFoundShapes tells an unknown call from a request that
// reached no endpoint of the API (README §6 of the API notes).
func TestClient_NotFoundShapes(t *testing.T) {
	for _, c := range []struct {
		name, body string
		code       int
		missing    bool
	}{
		{"UnknownCall", `{"detail":{"status":"error","description":"Call not found","request_id":"r1","category":"important"}}`, 404, true},
		{"UnmatchedRoute", `{"detail":"Not Found"}`, 404, false},
		{"Gateway", `{"error":"not_found","message":"No route matched"}`, 404, false},
		{"HTML", `<html>404</html>`, 404, false},
		{"Empty", ``, 404, false},
		{"MethodNotAllowed", `{"detail":"Method Not Allowed"}`, 405, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.code)
				w.Write([]byte(c.body))
			}))
			defer srv.Close()
			cl, _ := api.NewClient(api.Options{BaseURL: srv.URL + "/v2", APIKey: echoKey})
			_, err := cl.GetPayload(t.Context(), "x")
			if got := errors.Is(err, api.ErrNotFound); got != c.missing {
				t.Fatalf("ErrNotFound = %v, want %v (err %v)", got, c.missing, err)
			}
			if got := errors.Is(err, api.ErrWrongURL); got == c.missing {
				t.Fatalf("ErrWrongURL = %v, want %v (err %v)", got, !c.missing, err)
			}
		})
	}
}

// TestClient_Unreachable: a refused connection matches ErrUnreachable.
func TestClient_Unreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, _ := api.NewClient(api.Options{BaseURL: "http://" + addr + "/v2", APIKey: echoKey})
	if _, err := c.GetPayload(t.Context(), "x"); !errors.Is(err, api.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
}

// TestClient_RedactsEchoedSecrets: bodies that send the key or another
// secret back never reach an error's text or kept body.
func TestClient_RedactsEchoedSecrets(t *testing.T) {
	const hook = "whsec-echoed-secret"
	for _, c := range []struct {
		name string
		code int
		body string
	}{
		{"Unauthorized", 401, `{"detail":"bad header: Authorization: Bearer ` + echoKey + `"}`},
		{"Server", 500, `{"error":"boom","message":"request headers {'authorization': 'Bearer ` + echoKey + `'} ` + hook + `"}`},
		{"Undecodable", 200, `not json Bearer ` + echoKey + ` ` + hook},
		{"NotACall", 200, `{"status":"ok","response":{"calls":["Bearer ` + echoKey + `"]}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.code)
				w.Write([]byte(c.body))
			}))
			defer srv.Close()
			cl, _ := api.NewClient(api.Options{BaseURL: srv.URL + "/v2", APIKey: echoKey, Secrets: []string{hook}})
			_, err := cl.GetCall(t.Context(), "x")
			if err == nil {
				t.Fatal("no error")
			}
			text := err.Error()
			var de *api.DecodeError
			if errors.As(err, &de) {
				text += string(de.Body)
			}
			if strings.Contains(text, echoKey) || strings.Contains(text, hook) {
				t.Fatalf("secret in %q", text)
			}
			if !strings.Contains(text, api.Redacted) {
				t.Fatalf("%q: want %s where the secret was", text, api.Redacted)
			}
		})
	}
}

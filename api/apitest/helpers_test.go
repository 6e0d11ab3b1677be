package apitest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
)

const testKey = "sk-test"

// mustServer starts a server closed when the test ends.
func mustServer(t testing.TB, opts apitest.Options) *apitest.Server {
	t.Helper()
	srv, err := apitest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// testCalls generates a small deterministic data set.
func testCalls(n int) []apitest.Call {
	return apitest.Generate(apitest.GenerateOptions{Seed: 42, Calls: n, Models: 3})
}

// response is what a client saw.
type response struct {
	status int
	header http.Header
	body   []byte
	err    error // transport or body read error
}

var testClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 16},
}

// noReuseClient opens a connection per request, so Go's transport does not
// silently retry a GET on a reset reused connection.
var noReuseClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// doGet sends GET url with the key (if any) using c.
func doGet(t testing.TB, c *http.Client, url, key string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body, err: err}
}

// mustGet is doGet that fails the test on a transport error.
func mustGet(t testing.TB, url, key string) response {
	t.Helper()
	r := doGet(t, testClient, url, key)
	if r.err != nil {
		t.Fatalf("GET %s: %v", url, r.err)
	}
	return r
}

// envelope is the list envelope, calls kept raw.
type envelope struct {
	Status   string `json:"status"`
	Response struct {
		Pagination struct {
			TotalRecords int `json:"total_records"`
			Limit        int `json:"limit"`
			Offset       int `json:"offset"`
		} `json:"pagination"`
		Calls []json.RawMessage `json:"calls"`
	} `json:"response"`
}

func mustEnvelope(t testing.TB, r response) envelope {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", r.status, r.body)
	}
	var env envelope
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatalf("decode envelope: %v; body %.200s", err, r.body)
	}
	if env.Status != "ok" {
		t.Fatalf("envelope status = %q, want ok", env.Status)
	}
	return env
}

// keys decodes a JSON object's keys and values.
func keys(t testing.TB, raw []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode object: %v; %.200s", err, raw)
	}
	return m
}

// detail decodes a {"detail":{…}} error body.
func detail(t testing.TB, body []byte) map[string]string {
	t.Helper()
	var e struct {
		Detail map[string]string `json:"detail"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("decode error body: %v; %s", err, body)
	}
	return e.Detail
}

package api_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
)

// fakeAPI starts the fake Synthflow API with calls and returns a client for it.
func fakeAPI(t *testing.T, calls []apitest.Call) (*apitest.Server, *api.Client) {
	t.Helper()
	srv, err := apitest.NewServer(apitest.Options{Calls: calls, APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c, err := api.NewClient(api.Options{BaseURL: srv.URL, APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func TestClient_ListCalls(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 7, Calls: 300, Models: 2})
	srv, c := fakeAPI(t, calls)
	model := srv.Models()[0]
	from, to := time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 5, 20, 0, 0, 0, 0, time.UTC)
	var want []string
	for _, call := range srv.Calls() { // newest first, as the list serves them
		if call.ModelID() == model && !call.Start().Before(from) && call.Start().Before(to) {
			want = append(want, call.ID())
		}
	}
	if len(want) < 30 {
		t.Fatalf("only %d calls in the window", len(want))
	}
	var got []string
	for offset := 0; ; offset += 20 {
		page, err := c.ListCalls(t.Context(), api.ListOptions{ModelID: model, From: from, To: to, Limit: 20, Offset: offset})
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "Total", page.Total, len(want))
		eq(t, "Offset", page.Offset, offset)
		for _, call := range page.Calls {
			got = append(got, call.ID)
			if call.Status == nil {
				t.Fatalf("call %s: no status (list sends call_status)", call.ID)
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(call.Raw, &raw); err != nil {
				t.Fatal(err)
			}
			if _, ok := raw["lead_phone_number"]; !ok {
				t.Fatalf("call %s: raw lacks the list-only field lead_phone_number", call.ID)
			}
		}
		if len(page.Calls) < 20 {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged %d calls, want %d in the API's order", len(got), len(want))
	}
}

func TestClient_ListCalls_Query(t *testing.T) {
	var q url.Values
	var path string
	c := testServer(t, api.Options{}, func(w http.ResponseWriter, r *http.Request) {
		q, path = r.URL.Query(), r.URL.Path
		w.Write([]byte(`{"status":"ok","response":{"pagination":{"total_records":"7","limit":100,"offset":40},"calls":[]}}`))
	})
	from := time.Date(2026, 1, 2, 3, 4, 5, 678_900_000, time.UTC)
	page, err := c.ListCalls(t.Context(), api.ListOptions{ModelID: "m 1", From: from, To: from.Add(time.Hour), Offset: 40})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "path", path, "/v2/calls")
	eq(t, "model_id", q.Get("model_id"), "m 1")
	eq(t, "limit", q.Get("limit"), "100")
	eq(t, "offset", q.Get("offset"), "40")
	eq(t, "from_date", q.Get("from_date"), strconv.FormatInt(from.UnixMilli(), 10))
	eq(t, "to_date", q.Get("to_date"), strconv.FormatInt(from.Add(time.Hour).UnixMilli(), 10))
	eq(t, "Total from a string", page.Total, 7)

	_, err = c.ListCalls(t.Context(), api.ListOptions{ModelID: "m"})
	if err != nil || q.Has("from_date") || q.Has("to_date") {
		t.Fatalf("open range: err %v, query %v", err, q)
	}
}

func TestClient_ListCalls_Bodies(t *testing.T) {
	body := ""
	c := testServer(t, api.Options{}, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) })
	list := func() (*api.CallPage, error) {
		return c.ListCalls(t.Context(), api.ListOptions{ModelID: "m"})
	}

	body = `{"status":"ok","response":{"calls":[{"call_id":"a","call_status":"completed"},"junk",{"status":"x"},{"call_id":"b"}]}}`
	page, err := list()
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "Total without pagination", page.Total, -1)
	eq(t, "calls", len(page.Calls), 2)
	eq(t, "problems", len(page.Problems), 2)
	eq(t, "status from call_status", *page.Calls[0].Status, "completed")

	for name, b := range map[string]string{
		"NotJSON":    `<html>busy</html>`,
		"NoResponse": `{"status":"ok"}`,
		"NoCalls":    `{"status":"ok","response":{"pagination":{"total_records":3}}}`,
	} {
		body = b
		var de *api.DecodeError
		if _, err := list(); !errors.As(err, &de) {
			t.Errorf("%s: err = %v, want a *DecodeError", name, err)
		}
	}
}

func TestClient_ListCalls_Errors(t *testing.T) {
	code := http.StatusUnauthorized
	requests := 0
	c := testServer(t, api.Options{}, func(w http.ResponseWriter, r *http.Request) {
		requests++
		w.WriteHeader(code)
		w.Write([]byte(`{"detail":"Not authenticated"}`))
	})
	for _, tc := range []struct {
		code int
		want error
	}{{401, api.ErrUnauthorized}, {429, api.ErrRateLimited}, {502, api.ErrServer}} {
		code = tc.code
		if _, err := c.ListCalls(t.Context(), api.ListOptions{ModelID: "m"}); !errors.Is(err, tc.want) {
			t.Errorf("HTTP %d: err = %v, want %v", tc.code, err, tc.want)
		}
	}
	requests = 0
	for _, o := range []api.ListOptions{{}, {ModelID: "m", Limit: 101}, {ModelID: "m", Limit: -1}, {ModelID: "m", Offset: -1}} {
		if _, err := c.ListCalls(t.Context(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	eq(t, "requests sent for invalid options", requests, 0)
}

func TestClient_ListAssistants(t *testing.T) {
	srv, c := fakeAPI(t, apitest.Generate(apitest.GenerateOptions{Seed: 3, Calls: 60, Models: 3}))
	page, err := c.ListAssistants(t.Context(), 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	models := srv.Models()
	eq(t, "Total", page.Total, 3)
	eq(t, "assistants", len(page.Assistants), 2)
	eq(t, "first", page.Assistants[0].ModelID, models[1])
	if page.Assistants[0].Name == "" {
		t.Error("no name")
	}
	a := page.Assistants[0]
	if a.Type == nil || a.PhoneNumber == nil || a.Language == nil || a.Timezone == nil || a.LLM == nil ||
		a.IsRecording == nil || a.RedactPII == nil || len(a.Raw) == 0 {
		t.Errorf("live shape not read: %+v", a)
	}
	srv.DeleteAssistant(models[0])
	if page, err = c.ListAssistants(t.Context(), 0, 0); err != nil || page.Total != 2 || page.Assistants[0].ModelID != models[1] {
		t.Fatalf("after DeleteAssistant: %+v, %v; want two, without %s", page, err, models[0])
	}

	var path, body string
	c = testServer(t, api.Options{}, func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		w.Write([]byte(body))
	})
	body = `{"status":"ok","response":{"assistants":{"model_id":"one","name":"Solo","is_recording":"TRUE","agent":{"language":"es-ES","redact_pii":false}}}}`
	page, err = c.ListAssistants(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "path", path, "/v2/assistants/")
	eq(t, "object shape", len(page.Assistants), 1)
	eq(t, "model", page.Assistants[0].ModelID, "one")
	if a := page.Assistants[0]; a.IsRecording == nil || !*a.IsRecording || *a.Language != "es-ES" || *a.RedactPII || a.Type != nil {
		t.Errorf("object shape fields: %+v", a)
	}
	eq(t, "Total without pagination", page.Total, -1)

	body = `{"status":"ok","response":{"assistants":[{"name":"no id"},{"model_id":"m2"}],"pagination":{"total_records":2}}}`
	page, err = c.ListAssistants(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Assistants) != 1 || page.Assistants[0].ModelID != "m2" || page.Assistants[0].Name != "" {
		t.Fatalf("assistants = %+v, want only m2", page.Assistants)
	}
	body = `{"status":"ok","response":{"assistants":"nope"}}`
	var de *api.DecodeError
	if _, err := c.ListAssistants(t.Context(), 0, 0); !errors.As(err, &de) {
		t.Fatalf("err = %v, want a *DecodeError", err)
	}
}

package apitest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
)

var listOnlyFields = []string{"lead_name", "lead_phone_number", "agent_phone_number", "judge_results", "labels",
	"agents_used", "deployment_type", "recording_duration", "telephony_sip_headers", "assistant_version"}

func TestServer_GetCall(t *testing.T) {
	calls := testCalls(300)
	srv := mustServer(t, apitest.Options{Calls: calls, APIKey: testKey})
	sawCustom := false
	for _, c := range calls[:100] {
		env := mustEnvelope(t, mustGet(t, srv.URL+"/calls/"+url.PathEscape(c.ID()), testKey))
		p := env.Response.Pagination
		if p.TotalRecords != 1 || p.Limit != 20 || p.Offset != 0 || len(env.Response.Calls) != 1 {
			t.Fatalf("pagination = %+v with %d calls, want 1/20/0 with 1", p, len(env.Response.Calls))
		}
		got := env.Response.Calls[0]
		if !bytes.Equal(got, c.GetJSON()) {
			t.Fatalf("call %s body differs from GetJSON", c.ID())
		}
		m := keys(t, got)
		for _, k := range []string{"call_id", "status", "prompt_variables", "transcript", "collected_variables"} {
			if _, ok := m[k]; !ok {
				t.Errorf("call %s: get-one lacks %s", c.ID(), k)
			}
		}
		for _, k := range append([]string{"call_status"}, listOnlyFields...) {
			if _, ok := m[k]; ok {
				t.Errorf("call %s: get-one has list field %s", c.ID(), k)
			}
		}
		var reason string
		_ = json.Unmarshal(m["end_call_reason"], &reason)
		_, hasCustom := m["custom_end_call_reason"]
		if hasCustom != (reason == "custom_end_call") {
			t.Errorf("call %s: custom_end_call_reason present = %v with end_call_reason %q", c.ID(), hasCustom, reason)
		}
		sawCustom = sawCustom || hasCustom
	}
	if !sawCustom {
		t.Error("no custom_end_call_reason in 100 calls")
	}
}

func TestServer_GetCallNotFound(t *testing.T) {
	srv := mustServer(t, apitest.Options{Calls: testCalls(5)})
	r := mustGet(t, srv.URL+"/calls/nope", "")
	if r.status != http.StatusNotFound {
		t.Fatalf("status = %d, want 404", r.status)
	}
	d := detail(t, r.body)
	if d["status"] != "error" || d["description"] != "Call not found" || d["category"] != "important" || len(d["request_id"]) != 36 {
		t.Fatalf("detail = %v", d)
	}
	if r := mustGet(t, srv.URL+"/nowhere", ""); r.status != http.StatusNotFound || string(r.body) != `{"detail":"Not Found"}` {
		t.Fatalf("unknown route = %d %s", r.status, r.body)
	}
}

func TestServer_Auth(t *testing.T) {
	calls := testCalls(3)
	srv := mustServer(t, apitest.Options{Calls: calls, APIKey: testKey})
	u := srv.URL + "/calls/" + url.PathEscape(calls[0].ID())
	for _, tc := range []struct {
		name, header string
		want         int
	}{
		{"Missing", "", http.StatusUnauthorized},
		{"Wrong", "Bearer other", http.StatusUnauthorized},
		{"NoScheme", testKey, http.StatusUnauthorized},
		{"Right", "Bearer " + testKey, http.StatusOK},
		{"LowercaseScheme", "bearer " + testKey, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := testClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusUnauthorized {
				var b bytes.Buffer
				_, _ = b.ReadFrom(resp.Body)
				if b.String() != `{"detail":"Not authenticated"}` {
					t.Fatalf("body = %s", b.String())
				}
			}
		})
	}
	srv.SetAPIKey("")
	if r := mustGet(t, u, ""); r.status != http.StatusOK {
		t.Fatalf("without key configured: status = %d", r.status)
	}
}

func TestServer_GetCallEscapedIDs(t *testing.T) {
	srv := mustServer(t, apitest.Options{})
	base := testCalls(1)[0]
	for _, id := range []string{"a/b", "what?x=1", "50%", "with space", "ünïcødé-通話", "..", "a#b", "1725527007259x327898249603432960"} {
		c, err := base.With("call_id", id)
		if err != nil {
			t.Fatal(err)
		}
		srv.Add(c)
		env := mustEnvelope(t, mustGet(t, srv.URL+"/calls/"+url.PathEscape(id), ""))
		var got struct {
			CallID string `json:"call_id"`
		}
		if err := json.Unmarshal(env.Response.Calls[0], &got); err != nil || got.CallID != id {
			t.Fatalf("GET %q: call_id = %q (%v)", id, got.CallID, err)
		}
		if n := srv.Counters().CallRequests(id); n != 1 {
			t.Fatalf("CallRequests(%q) = %d, want 1", id, n)
		}
	}
}

func TestServer_ListCalls(t *testing.T) {
	calls := testCalls(500)
	srv := mustServer(t, apitest.Options{Calls: calls})
	byModel := map[string][]apitest.Call{}
	for _, c := range calls {
		byModel[c.ModelID()] = append(byModel[c.ModelID()], c)
	}
	if got, want := len(srv.Models()), len(byModel); got != want {
		t.Fatalf("Models() = %d, want %d", got, want)
	}
	for model, want := range byModel {
		slices.SortFunc(want, func(a, b apitest.Call) int {
			if c := b.Start().Compare(a.Start()); c != 0 {
				return c
			}
			return cmpString(a.ID(), b.ID())
		})
		var got [][]byte
		for offset := 0; ; offset += 37 {
			env := mustEnvelope(t, mustGet(t, fmt.Sprintf("%s/calls?model_id=%s&limit=37&offset=%d", srv.URL, url.QueryEscape(model), offset), ""))
			p := env.Response.Pagination
			if p.TotalRecords != len(want) || p.Limit != 37 || p.Offset != offset {
				t.Fatalf("pagination = %+v, want total %d limit 37 offset %d", p, len(want), offset)
			}
			if len(env.Response.Calls) == 0 {
				break
			}
			for _, c := range env.Response.Calls {
				got = append(got, c)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("model %s: paged %d calls, want %d", model, len(got), len(want))
		}
		for i, c := range want {
			if !bytes.Equal(got[i], c.ListJSON()) {
				t.Fatalf("model %s: call %d is not %s (newest first, then call_id)", model, i, c.ID())
			}
		}
	}
	m := keys(t, calls[0].ListJSON())
	for _, k := range append([]string{"call_status"}, listOnlyFields...) {
		if _, ok := m[k]; !ok {
			t.Errorf("list call lacks %s", k)
		}
	}
	for _, k := range []string{"status", "prompt_variables", "custom_end_call_reason"} {
		if _, ok := m[k]; ok {
			t.Errorf("list call has get-one field %s", k)
		}
	}
	env := mustEnvelope(t, mustGet(t, srv.URL+"/calls?model_id="+url.QueryEscape(calls[0].ModelID()), ""))
	if p := env.Response.Pagination; p.Limit != 20 || len(env.Response.Calls) != 20 {
		t.Fatalf("default page: limit %d with %d calls, want 20", p.Limit, len(env.Response.Calls))
	}
	env = mustEnvelope(t, mustGet(t, srv.URL+"/calls?model_id=unknown", ""))
	if env.Response.Pagination.TotalRecords != 0 || len(env.Response.Calls) != 0 {
		t.Fatalf("unknown model: %+v", env.Response)
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestServer_ListValidation(t *testing.T) {
	srv := mustServer(t, apitest.Options{Calls: testCalls(10)})
	for _, tc := range []struct{ query, want string }{
		{"limit=5", "model_id is required."},
		{"model_id=m&limit=0", "Limit must be between 1 and 100."},
		{"model_id=m&limit=101", "Limit must be between 1 and 100."},
		{"model_id=m&limit=ten", "Limit must be between 1 and 100."},
		{"model_id=m&offset=-1", "Offset must be a non-negative integer."},
		{"model_id=m&from_date=yesterday", `Invalid from_date: "yesterday" is not epoch milliseconds, YYYY-MM-DD or ISO 8601`},
	} {
		r := mustGet(t, srv.URL+"/calls?"+tc.query, "")
		if r.status != http.StatusBadRequest {
			t.Fatalf("%s: status = %d, want 400", tc.query, r.status)
		}
		if d := detail(t, r.body); d["description"] != tc.want || d["status"] != "error" || d["category"] != "important" {
			t.Fatalf("%s: detail = %v, want description %q", tc.query, d, tc.want)
		}
	}
	if r := mustGet(t, srv.URL+"/calls?model_id=m&limit=100", ""); r.status != http.StatusOK {
		t.Fatalf("limit=100: status = %d", r.status)
	}
}

func TestServer_ListDateFilters(t *testing.T) {
	calls := testCalls(400)
	srv := mustServer(t, apitest.Options{Calls: calls})
	model := calls[0].ModelID()
	from, to := calls[0].Start(), calls[0].Start().Add(5*24*time.Hour)
	count := func(from, to time.Time) (n int) {
		for _, c := range calls {
			if c.ModelID() == model && !c.Start().Before(from) && c.Start().Before(to) {
				n++
			}
		}
		return n
	}
	total := func(q string) int {
		env := mustEnvelope(t, mustGet(t, srv.URL+"/calls?model_id="+url.QueryEscape(model)+"&"+q, ""))
		for _, raw := range env.Response.Calls {
			var c struct {
				ID string `json:"call_id"`
			}
			_ = json.Unmarshal(raw, &c)
			got, _ := srv.Call(c.ID)
			if got.Start().Before(from) || !got.Start().Before(to) {
				t.Fatalf("%s: call %s starts %v, outside [%v, %v)", q, c.ID, got.Start(), from, to)
			}
		}
		return env.Response.Pagination.TotalRecords
	}
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	want := count(from, to)
	if want < 2 {
		t.Fatalf("test data has only %d calls in the window", want)
	}
	if got := total("from_date=" + ms(from) + "&to_date=" + ms(to)); got != want {
		t.Fatalf("epoch ms: total = %d, want %d (from inclusive)", got, want)
	}
	if got := total("from_date=" + url.QueryEscape(from.Format(time.RFC3339Nano)) + "&to_date=" + url.QueryEscape(to.Format(time.RFC3339Nano))); got != want {
		t.Fatalf("RFC 3339: total = %d, want %d", got, want)
	}
	if got := total("from_date=" + ms(from) + "&to_date=" + ms(from)); got != 0 {
		t.Fatalf("empty window: total = %d, want 0 (to exclusive)", got)
	}
	day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	from, to = day, day.Add(48*time.Hour)
	if got, want := total("from_date="+day.Format("2006-01-02")+"&to_date="+to.Format("2006-01-02")), count(from, to); got != want {
		t.Fatalf("YYYY-MM-DD: total = %d, want %d", got, want)
	}
}

func TestServer_ListLiveInsert(t *testing.T) {
	calls := testCalls(60)
	srv := mustServer(t, apitest.Options{Calls: calls})
	model := calls[0].ModelID()
	newest, err := calls[0].With("start_time", strconv.FormatInt(time.Now().UnixMilli(), 10))
	if err != nil {
		t.Fatal(err)
	}
	newest, _ = newest.With("call_id", "live-1")
	srv.OnList(func(req apitest.ListRequest) {
		if req.Offset == 5 { // a call lands between page 1 and page 2
			srv.Add(newest)
		}
	})
	page := func(offset int) envelope {
		return mustEnvelope(t, mustGet(t, fmt.Sprintf("%s/calls?model_id=%s&limit=5&offset=%d", srv.URL, url.QueryEscape(model), offset), ""))
	}
	p1, p2 := page(0), page(5)
	if p2.Response.Pagination.TotalRecords != p1.Response.Pagination.TotalRecords+1 {
		t.Fatalf("total %d then %d, want +1", p1.Response.Pagination.TotalRecords, p2.Response.Pagination.TotalRecords)
	}
	if !bytes.Equal(p1.Response.Calls[4], p2.Response.Calls[0]) {
		t.Fatal("page 2 does not start with page 1's last call (offset paging shifts under inserts)")
	}
	srv.OnList(nil)
	if n := srv.Remove("live-1", "absent"); n != 1 {
		t.Fatalf("Remove = %d, want 1", n)
	}
	if r := mustGet(t, srv.URL+"/calls/live-1", ""); r.status != http.StatusNotFound {
		t.Fatalf("removed call: status = %d, want 404", r.status)
	}
}

func TestServer_Assistants(t *testing.T) {
	srv := mustServer(t, apitest.Options{Calls: testCalls(50)})
	var body struct {
		Status   string `json:"status"`
		Response struct {
			Assistants []struct {
				ModelID string `json:"model_id"`
				Name    string `json:"name"`
			} `json:"assistants"`
			Pagination struct {
				TotalRecords int `json:"total_records"`
			} `json:"pagination"`
		} `json:"response"`
	}
	r := mustGet(t, srv.URL+"/assistants?limit=2&offset=1", "")
	if err := json.Unmarshal(r.body, &body); err != nil || body.Status != "ok" {
		t.Fatalf("decode: %v %s", err, r.body)
	}
	models := srv.Models()
	if len(models) != 3 || body.Response.Pagination.TotalRecords != 3 || len(body.Response.Assistants) != 2 {
		t.Fatalf("assistants = %s", r.body)
	}
	for i, a := range body.Response.Assistants {
		if a.ModelID != models[i+1] || a.Name == "" {
			t.Fatalf("assistant %d = %+v, want model %s", i, a, models[i+1])
		}
	}
	if r := mustGet(t, srv.URL+"/assistants?limit=500", ""); r.status != http.StatusBadRequest {
		t.Fatalf("limit=500: status = %d", r.status)
	}
}

func TestParseCall_Example(t *testing.T) {
	raw, err := os.ReadFile("testdata/get-call.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := mustServer(t, apitest.Options{})
	c, err := srv.AddJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID() != "1725527007259x327898249603432960" || c.ModelID() != "1725526325346x892123579587048600" || c.Start().UnixMilli() != 1722260515000 {
		t.Fatalf("identity = %s %s %v", c.ID(), c.ModelID(), c.Start())
	}
	env := mustEnvelope(t, mustGet(t, srv.URL+"/calls/"+c.ID(), ""))
	var want struct {
		Response struct {
			Calls []json.RawMessage `json:"calls"`
		} `json:"response"`
	}
	if err := json.Unmarshal(raw, &want); err != nil || len(want.Response.Calls) != 1 {
		t.Fatalf("example: %d calls, %v; want one", len(want.Response.Calls), err)
	}
	var a, b any
	if err := json.Unmarshal(env.Response.Calls[0], &a); err != nil {
		t.Fatalf("served call: %v", err)
	}
	if err := json.Unmarshal(want.Response.Calls[0], &b); err != nil {
		t.Fatalf("example call: %v", err)
	}
	if ja, jb := marshalSorted(a), marshalSorted(b); ja != jb {
		t.Fatalf("served example differs:\n got %s\nwant %s", ja, jb)
	}
	list := mustEnvelope(t, mustGet(t, srv.URL+"/calls?model_id="+c.ModelID(), ""))
	m := keys(t, list.Response.Calls[0])
	if string(m["call_status"]) != `"completed"` || m["prompt_variables"] != nil || string(m["telephony_start"]) != "{}" {
		t.Fatalf("list rendering of the example = %s", list.Response.Calls[0])
	}
	if _, err := apitest.ParseCall([]byte(`{"model_id":"m"}`)); err == nil {
		t.Fatal("ParseCall without call_id: no error")
	}
}

// marshalSorted re-encodes v with sorted keys for comparison.
func marshalSorted(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

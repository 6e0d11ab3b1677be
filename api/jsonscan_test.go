package api

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"testing"

	"github.com/callsync/callsync/api/apitest"
)

// FuzzJSONScan checks the one-pass helpers against encoding/json on every
// valid input: the same members with the same values, the same strings.
func FuzzJSONScan(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":"x","c":{"d":[1,{"e":"}"}]},"a":2}`,
		`{ "k\u00e9y" : "v\"al\\ue\n" , "n":null,"t":true , "f":-1.5e3 }`,
		`{"s":"\ud83d\ude00 \ud800 x \udc00\ud800"}`,
		`{}`, `[]`, `"str"`, `{"bad":"` + "\xff\xfe" + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		var want map[string]json.RawMessage
		wantErr := json.Unmarshal(b, &want)
		got, err := objectMembers(b)
		if (err != nil) != (wantErr != nil || want == nil) {
			t.Fatalf("objectMembers(%q) error %v, encoding/json %v", b, err, wantErr)
		}
		if err != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("objectMembers(%q) = %d members, want %d", b, len(got), len(want))
		}
		for k, w := range want {
			g, ok := got[k]
			if !ok || !bytes.Equal(bytes.TrimSpace(g), bytes.TrimSpace(w)) {
				t.Fatalf("member %q = %q, want %q", k, g, w)
			}
			if len(g) > 0 && g[0] == '"' {
				var ws string
				if json.Unmarshal(g, &ws) == nil {
					gs, err := unquote(g)
					if err != nil || gs != ws {
						t.Fatalf("unquote(%q) = %q, %v; want %q", g, gs, err, ws)
					}
				}
			}
		}
	})
}

func BenchmarkFirstCall(b *testing.B) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 3, Calls: 100})
	bodies := make([][]byte, len(calls))
	for i, c := range calls {
		bodies[i] = slices.Concat([]byte(`{"status":"ok","response":{"pagination":{"total_records":1,"limit":20,"offset":0},"calls":[`),
			c.GetJSON(), []byte(`]}}`))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := firstCall(bodies[i%len(bodies)]); err != nil {
			b.Fatal(err)
		}
	}
}

// envelopeCases are response envelopes with keys given twice, spelled with
// escapes, missing or of the wrong type.
var envelopeCases = []string{
	`{"status":"ok","response":{"calls":[{"call_id":"a"},{"call_id":"b"}]}}`,
	`{"response":{"calls":[{"call_id":"old"}]},"response":{"calls":[ {"call_id":"new"} ]}}`,
	`{"respons\u0065":{"c\u0061lls":[{"call_id":"esc"}],"calls":[]}}`,
	`{"response":{"calls":[]}}`, `{"response":{"calls":{}}}`, `{"response":[]}`, `{"calls":[{}]}`, `[]`,
	`{"response":{"calls":[1,2]}}`, `{"response":{"calls":["x"]}}`, ` { "response" : { "calls" : [ null ] } } `,
}

// firstCall takes the first element of the last response's last calls
// array, or fails when there is none (or the body is not valid JSON).
func TestFirstCall_AgreesWithEncodingJSON(t *testing.T) {
	for _, c := range envelopeCases {
		checkFirstCall(t, []byte(c))
	}
}

func FuzzFirstCall(f *testing.F) {
	for _, c := range envelopeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(checkFirstCall)
}

func checkFirstCall(t *testing.T, body []byte) {
	got, err := firstCall(body)
	if !json.Valid(body) {
		if err == nil {
			t.Fatalf("firstCall(%q) = %s, but the body is not valid JSON", body, got)
		}
		return
	}
	// Keys match exactly, the last of a key given twice wins: as
	// encoding/json decodes into maps.
	var top, resp map[string]json.RawMessage
	var calls []json.RawMessage
	_ = json.Unmarshal(body, &top)
	_ = json.Unmarshal(top["response"], &resp)
	_ = json.Unmarshal(resp["calls"], &calls)
	switch {
	case len(calls) == 0 && err == nil:
		t.Fatalf("firstCall(%q) = %s, want an error: no calls", body, got)
	case len(calls) > 0 && err != nil:
		t.Fatalf("firstCall(%q) failed (%v), want %s", body, err, calls[0])
	case len(calls) > 0 && !bytes.Equal(got, bytes.TrimSpace(calls[0])):
		t.Fatalf("firstCall(%q) = %s, want %s", body, got, calls[0])
	}
}

// callList takes every element of the last response's last calls array,
// and the last pagination's total_records, or fails when there is no
// calls array (or the body is not valid JSON).
func TestCallList_AgreesWithEncodingJSON(t *testing.T) {
	for _, c := range envelopeCases {
		checkCallList(t, []byte(c))
	}
	for _, c := range []string{
		`{"response":{"pagination":{"total_records":"12"},"calls":[]}}`,
		`{"response":{"pagination":{"total_records":7,"total_records":8},"calls":[{}]}}`,
		`{"response":{"pagination":"none","calls":[{}]}}`,
		`{"response":{"pagination":{"total_records":-1},"calls":null}}`,
		`{"response":{"calls":[{"call_id":"a"}],"pagination":{"total_records":1.5}}}`,
	} {
		checkCallList(t, []byte(c))
	}
}

func FuzzCallList(f *testing.F) {
	for _, c := range envelopeCases {
		f.Add([]byte(c))
	}
	f.Add([]byte(`{"response":{"pagination":{"total_records":"3"},"calls":[{"call_id":"a"},1,[]]}}`))
	f.Fuzz(checkCallList)
}

func checkCallList(t *testing.T, body []byte) {
	got, gotTotal, err := callList(body)
	if !json.Valid(body) {
		if err == nil {
			t.Fatalf("callList(%q) = %d calls, but the body is not valid JSON", body, len(got))
		}
		return
	}
	// Keys match exactly, the last of a key given twice wins: as
	// encoding/json decodes into maps.
	var top, resp, pagination map[string]json.RawMessage
	var calls []json.RawMessage
	_ = json.Unmarshal(body, &top)
	_ = json.Unmarshal(top["response"], &resp)
	callsErr := json.Unmarshal(resp["calls"], &calls)
	wantTotal := -1
	if json.Unmarshal(resp["pagination"], &pagination) == nil {
		raw := bytes.Trim(bytes.TrimSpace(pagination["total_records"]), `"`)
		if n, err := strconv.Atoi(string(raw)); err == nil && n >= 0 {
			wantTotal = n
		}
	}
	switch {
	case (calls == nil || callsErr != nil) && err == nil:
		t.Fatalf("callList(%q) = %d calls, want an error: no calls array", body, len(got))
	case calls != nil && callsErr == nil && err != nil:
		t.Fatalf("callList(%q) failed (%v), want %d calls", body, err, len(calls))
	case err != nil:
		return
	case len(got) != len(calls):
		t.Fatalf("callList(%q) = %d calls, want %d", body, len(got), len(calls))
	case gotTotal != wantTotal:
		t.Fatalf("callList(%q) total %d, want %d", body, gotTotal, wantTotal)
	}
	for i := range calls {
		if !bytes.Equal(got[i], bytes.TrimSpace(calls[i])) {
			t.Fatalf("callList(%q) call %d = %s, want %s", body, i, got[i], calls[i])
		}
	}
}

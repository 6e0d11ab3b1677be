package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/callsync/callsync/api"
)

const (
	hookSecret = "whsec-test"
	hookCallID = "1725527007259x327898249603432960"
	// hookSig is base64(HMAC-SHA256(hookSecret, hookCallID)), computed
	// independently with Python's hmac module, as Synthflow documents it.
	hookSig = "O8rmI8oRmEcwHzG5lMwKlA2aNTTqViQz4a2gZuUH+Vw="
)

func TestSignWebhook(t *testing.T) {
	eq(t, "signature", api.SignWebhook([]byte(hookSecret), hookCallID), hookSig)
}

func TestVerifyWebhook(t *testing.T) {
	raw, _ := base64.StdEncoding.DecodeString(hookSig)
	for _, c := range []struct {
		name, secret, id, sig string
		want                  bool
	}{
		{"Valid", hookSecret, hookCallID, hookSig, true},
		{"Unpadded", hookSecret, hookCallID, base64.RawStdEncoding.EncodeToString(raw), true},
		{"URLSafe", hookSecret, hookCallID, base64.URLEncoding.EncodeToString(raw), true},
		{"OtherCall", hookSecret, hookCallID + "1", hookSig, false},
		{"OtherSecret", hookSecret + "x", hookCallID, hookSig, false},
		{"NoSecret", "", hookCallID, hookSig, false},
		{"NoSignature", hookSecret, hookCallID, "", false},
		{"NotBase64", hookSecret, hookCallID, "not base64!", false},
		{"Truncated", hookSecret, hookCallID, base64.StdEncoding.EncodeToString(raw[:16]), false},
		{"Hex", hookSecret, hookCallID, strings.Repeat("ab", 32), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := api.VerifyWebhook([]byte(c.secret), c.id, c.sig); got != c.want {
				t.Fatalf("VerifyWebhook = %v, want %v", got, c.want)
			}
		})
	}
}

func TestWebhookSignatures(t *testing.T) {
	for _, name := range []string{"Synthflow-Signature", "synthflow-signature", "SYNTHFLOW-SIGNATURE",
		"HTTP_SYNTHFLOW_SIGNATURE", "http_synthflow_signature", "Http_synthflow_signature"} {
		h := http.Header{"Content-Type": {"application/json"}}
		h[name] = []string{"  " + hookSig + " "} // raw key, as a server may store it
		if got := api.WebhookSignatures(h); len(got) != 1 || got[0] != hookSig {
			t.Errorf("%s: signatures = %q, want [%q]", name, got, hookSig)
		}
	}
	if got := api.WebhookSignatures(http.Header{"X-Signature": {hookSig}}); len(got) != 0 {
		t.Fatalf("other header: %q, want none", got)
	}
}

// TestVerifyWebhookHeaders checks the one signature rule for every
// combination of the two headers, each absent, right, wrong or empty: a
// request is signed when it has a signature and every one it has is right.
// Each combination is asked many times: the answer must not depend on the
// order in which Go walks the header map.
func TestVerifyWebhookHeaders(t *testing.T) {
	values := map[string][]string{"Absent": nil, "Right": {hookSig}, "Wrong": {api.SignWebhook([]byte("other"), hookCallID)},
		"Empty": {""}, "RightTwice": {hookSig, hookSig}, "RightAndWrong": {hookSig, "bad"}}
	for an, a := range values {
		for bn, b := range values {
			want := (a != nil || b != nil) && (a == nil || an == "Right" || an == "RightTwice") &&
				(b == nil || bn == "Right" || bn == "RightTwice")
			t.Run("Synthflow-Signature"+an+"/HTTP_SYNTHFLOW_SIGNATURE"+bn, func(t *testing.T) {
				h := http.Header{"Content-Type": {"application/json"}}
				if a != nil {
					h["Synthflow-Signature"] = a
				}
				if b != nil {
					h["HTTP_SYNTHFLOW_SIGNATURE"] = b
					h["Http_synthflow_signature"] = b // both spellings a server may store
				}
				for range 50 {
					if got := api.VerifyWebhookHeaders([]byte(hookSecret), hookCallID, h.Clone()); got != want {
						t.Fatalf("VerifyWebhookHeaders = %v, want %v", got, want)
					}
				}
			})
		}
	}
	if api.VerifyWebhookHeaders(nil, hookCallID, http.Header{"Synthflow-Signature": {hookSig}}) {
		t.Fatal("verified without a secret")
	}
}

// TestReadWebhook_Streams checks that a huge body is read through with a
// small, fixed amount of memory: the transcript is never held.
func TestReadWebhook_Streams(t *testing.T) {
	const size = 64 << 20
	body := io.MultiReader(strings.NewReader(`{"call":{"transcript":"`), &repeatReader{b: 'x', n: size},
		strings.NewReader(`","deep":`+strings.Repeat("[", 100000)+strings.Repeat("]", 100000)+
			`,"call_id":"`+hookCallID+`"},"n":-1.5e3,"ok":true}`))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	hook, err := api.ReadWebhook(body)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "CallID", hook.CallID, hookCallID)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("reading a %d MiB body allocated %d bytes, want under 1 MiB", size>>20, grew)
	}
}

// repeatReader yields n copies of b.
type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.n)
	for i := range n {
		p[i] = r.b
	}
	r.n -= n
	return n, nil
}

func TestParseWebhook(t *testing.T) {
	hook, err := api.ParseWebhook([]byte(`{"status":"completed","lead":{"name":"Jo"},
		"call":{"status":"completed","call_id":"` + hookCallID + `","start_time":"2026-01-02T03:04:05+01:00"}}`))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "CallID", hook.CallID, hookCallID)
	eq(t, "Status", *hook.Status, "completed")

	hook, err = api.ParseWebhook([]byte(`{"call_id":"top-level","status":"failed"}`))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "top-level CallID", hook.CallID, "top-level")
	eq(t, "top-level Status", *hook.Status, "failed")

	for name, body := range map[string]string{
		"NotJSON":     `call_id=1`,
		"Null":        `null`,
		"Array":       `[{"call":{"call_id":"1"}}]`,
		"NoCallID":    `{"call":{"status":"completed"}}`,
		"EmptyCallID": `{"call":{"call_id":"  "}}`,
		"CallIDArray": `{"call":{"call_id":["1"]}}`,
		"BrokenCall":  `{"call":{"call_id":"1",}}`,
		"Trailing":    `{"call":{"call_id":"1"}} {}`,
		"Unfinished":  `{"call":{"call_id":"1"`,
		"BadLiteral":  `{"call":{"call_id":"1"},"x":}`,
	} {
		if _, err := api.ParseWebhook([]byte(body)); !errors.Is(err, api.ErrWebhookPayload) {
			t.Errorf("%s: err = %v, want ErrWebhookPayload", name, err)
		}
	}
}

// FuzzReadWebhook: the streaming reader never panics, and on a valid JSON
// object it finds the call id encoding/json finds.
func FuzzReadWebhook(f *testing.F) {
	for _, s := range []string{`{"call":{"call_id":"a","status":"completed"}}`, `{"call_id":"b"}`,
		`{"call":{"call_id":"a\"b\\c\u00e9"},"x":[[{"y":"]}"}]]}`, `{"call":[1,2],"call_id":"c"}`, `{`, `[]`, `"x"`,
		`{"analysis":{"a":"True","a_feedback":""},"call":{"call_id":"d","analysis":[1,{"b":null}]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		hook, err := api.ReadWebhook(bytes.NewReader(body))
		var v map[string]any // keys matched exactly, as ReadWebhook does
		if !json.Valid(body) || json.Unmarshal(body, &v) != nil || v == nil {
			return // ReadWebhook is lenient on broken JSON; only valid objects are compared
		}
		want, _ := v["call_id"].(string)
		if m, ok := v["call"].(map[string]any); ok {
			if id, ok := m["call_id"].(string); ok {
				want = id
			}
		}
		if len(want) > 1024 || strings.TrimSpace(want) == "" {
			if err == nil && hook.CallID == want {
				t.Fatalf("accepted call id %q", want)
			}
			return
		}
		if err != nil || hook.CallID != want {
			t.Fatalf("ReadWebhook(%q) = %+v, %v; want call id %q", body, hook, err, want)
		}
		if hook.Analysis != nil && !json.Valid(hook.Analysis) {
			t.Fatalf("ReadWebhook(%q) kept analysis %q, not JSON", body, hook.Analysis)
		}
	})
}

func TestReadWebhook_LastCallCounts(t *testing.T) {
	hook, err := api.ReadWebhook(strings.NewReader(`{"call_id":"top","call":{"call_id":"first"},"call":{"status":"x"}}`))
	if err != nil || hook.CallID != "top" {
		t.Fatalf("ReadWebhook = %+v, %v; want the top-level id, the last call having none", hook, err)
	}
}

func TestReadWebhook_Analysis(t *testing.T) {
	const live = `{"persona":"True","persona_feedback":"","goal":"partial","goal_feedback":"no \"booking\"","all_feedback":"x"}`
	id := `"call_id":"` + hookCallID + `"`
	for _, c := range []struct {
		name, body, want, dropped string
	}{
		{"TopLevel", `{"call":{` + id + `},"analysis":` + live + `}`, live, ""},
		{"UnderCall", `{"call":{` + id + `,"analysis":` + live + `},"status":"completed"}`, live, ""},
		{"SpacesKeptInside", `{"analysis" :  { "a" : [1, 2] } ,"call":{` + id + `}}`, `{ "a" : [1, 2] }`, ""},
		{"TopLevelWins", `{"analysis":{"a":"top"},"call":{` + id + `,"analysis":{"a":"call"}}}`, `{"a":"top"}`, ""},
		{"TopLevelNull", `{"analysis":null,"call":{` + id + `,"analysis":{"a":"call"}}}`, `{"a":"call"}`, ""},
		{"Null", `{"analysis":null,"call":{` + id + `}}`, `null`, ""},
		{"Empty", `{"analysis":{},"call":{` + id + `}}`, `{}`, ""},
		{"String", `{"analysis":"{\"a\":\"true\"}","call":{` + id + `}}`, `"{\"a\":\"true\"}"`, ""},
		{"Number", `{"analysis":12,"call":{` + id + `}}`, `12`, ""},
		{"Absent", `{"call":{` + id + `}}`, ``, ""},
		{"LastCounts", `{"analysis":{"a":1},"analysis":{"a":2},"call":{` + id + `}}`, `{"a":2}`, ""},
		{"BadLiteral", `{"analysis":{"a":tru},"call":{` + id + `}}`, ``, api.AnalysisInvalid},
		{"AtTheCap", `{"analysis":"` + strings.Repeat("x", api.MaxWebhookAnalysis-2) + `","call":{` + id + `}}`,
			`"` + strings.Repeat("x", api.MaxWebhookAnalysis-2) + `"`, ""},
		{"OverTheCap", `{"analysis":"` + strings.Repeat("x", api.MaxWebhookAnalysis-1) + `","call":{` + id + `}}`, ``, api.AnalysisTooLarge},
		{"DroppedAtTopNotReplaced", `{"analysis":{"a":tru},"call":{` + id + `,"analysis":{"a":1}}}`, ``, api.AnalysisInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			hook, err := api.ParseWebhook([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "CallID", hook.CallID, hookCallID)
			eq(t, "Analysis", string(hook.Analysis), c.want)
			eq(t, "AnalysisDropped", hook.AnalysisDropped, c.dropped)
		})
	}
}

// TestReadWebhook_HugeAnalysis: an analysis object of 64 MiB is read
// through with the memory of the cap, dropped, and the call id still found
// after it.
func TestReadWebhook_HugeAnalysis(t *testing.T) {
	const size = 64 << 20
	body := io.MultiReader(strings.NewReader(`{"analysis":{"goal":"true","goal_feedback":"`), &repeatReader{b: 'x', n: size},
		strings.NewReader(`","deep":`+strings.Repeat("[", 1000)+strings.Repeat("]", 1000)+`},"call":{"call_id":"`+hookCallID+`"}}`))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	hook, err := api.ReadWebhook(body)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "CallID", hook.CallID, hookCallID)
	eq(t, "AnalysisDropped", hook.AnalysisDropped, api.AnalysisTooLarge)
	if hook.Analysis != nil {
		t.Fatal("kept an analysis over the cap")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("reading a %d MiB analysis allocated %d bytes, want under 1 MiB", size>>20, grew)
	}
}

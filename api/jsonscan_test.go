package api

import (
	"bytes"
	"encoding/json"
	"testing"
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

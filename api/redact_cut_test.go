package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/callsync/callsync/api"
)

// testSecret returns a secret of n characters that shares no character
// with the padding ('.') the tests put around it.
func testSecret(n int, salt string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWabcdefghijklmnopqrstuvw0123456789_-"
	var b strings.Builder
	seed := uint32(n) * 2654435761
	for _, c := range salt {
		seed = seed*31 + uint32(c)
	}
	for b.Len() < n {
		seed = seed*1103515245 + 12345
		b.WriteByte(alphabet[(seed>>16)%uint32(len(alphabet))])
	}
	return b.String()
}

// leakOf returns the first piece of secret, 6 bytes or longer, that text
// holds, or "" when it holds none.
func leakOf(text, secret string) string {
	for i := 0; i+6 <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+6]) {
			return secret[i : i+6]
		}
	}
	return ""
}

// TestClient_SecretStraddlingACutIsMasked (issue 19.2): secrets of several
// lengths, echoed at every offset around every cut the client makes (the
// API's message at 300 bytes, a kept body at MaxKeptBody, a redirect's
// Location), and cut short by the server itself, never leave 6 or more of
// their characters in an error's text or a kept body.
func TestClient_SecretStraddlingACutIsMasked(t *testing.T) {
	var body atomic.Pointer[func(http.ResponseWriter)]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*body.Load())(w)
	}))
	defer srv.Close()
	type shape struct {
		name string
		cut  int
		// answer writes an answer holding text.
		answer func(w http.ResponseWriter, text string)
	}
	shapes := []shape{
		{"Server500", 300, func(w http.ResponseWriter, text string) {
			w.WriteHeader(500)
			_, _ = fmt.Fprintf(w, `{"detail":%q}`, text)
		}},
		{"Gateway404", 300, func(w http.ResponseWriter, text string) {
			w.WriteHeader(404)
			_, _ = fmt.Fprintf(w, `{"error":"not_found","message":%q}`, text)
		}},
		{"PlainText502", 300, func(w http.ResponseWriter, text string) {
			w.WriteHeader(502)
			w.Write([]byte(text))
		}},
		{"BadBody", api.MaxKeptBody, func(w http.ResponseWriter, text string) {
			w.Write([]byte(text))
		}},
		{"Redirect", 2000, func(w http.ResponseWriter, text string) {
			w.Header().Set("Location", "/"+text)
			w.WriteHeader(302)
		}},
	}
	for _, n := range []int{6, 13, 44, 100} {
		key, hook := testSecret(n, "key"), testSecret(n, "hook")
		c, err := api.NewClient(api.Options{BaseURL: srv.URL + "/v2", APIKey: key, Secrets: []string{hook}})
		if err != nil {
			t.Fatal(err)
		}
		for _, sh := range shapes {
			for _, secret := range []string{key, hook} {
				var texts []string
				// Whole, at every offset that puts it across, before or
				// after the cut.
				for pad := sh.cut - n - 2; pad <= sh.cut+2; pad++ {
					texts = append(texts, strings.Repeat(".", pad)+secret+strings.Repeat(".", 40))
				}
				// Cut short by the server: a start of it at the end, an
				// end of it at the start of what it sends.
				for k := 6; k < n && sh.name != "Redirect"; k++ { // a Location's edges are not its text's
					texts = append(texts, strings.Repeat(".", 50)+secret[:k], secret[n-k:]+strings.Repeat(".", 50))
				}
				for _, text := range texts {
					answer := func(w http.ResponseWriter) { sh.answer(w, text) }
					body.Store(&answer)
					_, err := c.GetPayload(t.Context(), "call-1")
					if err == nil {
						t.Fatalf("%s: no error", sh.name)
					}
					kept := ""
					if de := (*api.DecodeError)(nil); errors.As(err, &de) {
						kept = string(de.Body)
						if len(de.Body) > api.MaxKeptBody {
							t.Fatalf("%s: kept %d bytes", sh.name, len(de.Body))
						}
					}
					if leak := leakOf(err.Error()+"\n"+kept, secret); leak != "" {
						t.Fatalf("%s, %d-byte secret in %d bytes: %q of it in the error or kept body:\n%.400s",
							sh.name, n, len(text), leak, err.Error())
					}
				}
			}
		}
	}
}

// TestRedactor_Cut: what is cut is bounded, and ordinary text is left as
// it was.
func TestRedactor_Cut(t *testing.T) {
	rd := api.NewRedactor("sk-0123456789abcdef")
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"no secret here", 100, "no secret here"},
		{"Bearer sk-0123456789abcdef!", 100, "Bearer " + api.Redacted + "!"},
		{"Bearer sk-0123", 100, "Bearer " + api.Redacted},      // a start at the end
		{"89abcdef rejected", 100, api.Redacted + " rejected"}, // an end at the start
		{"ends with sk-", 100, "ends with sk-"},                // too short to tell
		{strings.Repeat("a", 20) + "sk-0123456789abcdef", 10, strings.Repeat("a", 10) + "…"},
		{"aaaaa sk-0123456789abcdef", 10, "aaaaa [RED…"},
		{"aaaaa sk-0123456789abcdef", 10, "aaaaa [RED…"},
		{"0123456789abcdef", 100, api.Redacted}, // both edges at once
	} {
		if got := rd.Cut(c.in, c.max); got != c.want {
			t.Errorf("Cut(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
	if got := (*api.Redactor)(nil).Cut("héllo", 2); got != "h…" {
		t.Errorf("nil Cut at a rune's middle = %q, want %q", got, "h…")
	}
}

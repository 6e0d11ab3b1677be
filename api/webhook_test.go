package api_test

import (
	"encoding/base64"
	"errors"
	"net/http"
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

func TestWebhookSignature(t *testing.T) {
	for _, name := range []string{"Synthflow-Signature", "synthflow-signature", "SYNTHFLOW-SIGNATURE",
		"HTTP_SYNTHFLOW_SIGNATURE", "http_synthflow_signature", "Http_synthflow_signature"} {
		h := http.Header{"Content-Type": {"application/json"}}
		h[name] = []string{"  " + hookSig + " "} // raw key, as a server may store it
		eq(t, name, api.WebhookSignature(h), hookSig)
	}
	if got := api.WebhookSignature(http.Header{"X-Signature": {hookSig}}); got != "" {
		t.Fatalf("other header: %q, want none", got)
	}
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
	} {
		if _, err := api.ParseWebhook([]byte(body)); !errors.Is(err, api.ErrWebhookPayload) {
			t.Errorf("%s: err = %v, want ErrWebhookPayload", name, err)
		}
	}
}

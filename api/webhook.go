package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// SignatureHeader is the header of a post-call webhook that carries its
// signature. Synthflow's documentation spells it HTTP_SYNTHFLOW_SIGNATURE,
// the name a WSGI server gives it; WebhookSignature accepts both.
const SignatureHeader = "Synthflow-Signature"

// signatureHeaders are the names the signature may come under, compared
// without regard to case.
var signatureHeaders = []string{SignatureHeader, "HTTP_SYNTHFLOW_SIGNATURE"}

// ErrWebhookPayload is matched by ParseWebhook's errors: the body is not a
// post-call payload with a call id.
var ErrWebhookPayload = errors.New("api: not a post-call webhook payload")

// WebhookSignature returns the signature header of a webhook request,
// Synthflow-Signature or HTTP_SYNTHFLOW_SIGNATURE in any case, trimmed;
// empty when there is none.
func WebhookSignature(h http.Header) string {
	for name, values := range h {
		for _, want := range signatureHeaders {
			if strings.EqualFold(name, want) && len(values) > 0 {
				return strings.TrimSpace(values[0])
			}
		}
	}
	return ""
}

// SignWebhook returns the signature Synthflow sends for a call: the base64
// of HMAC-SHA256 of the call id, keyed with the workspace's webhook secret.
// The body is not signed.
func SignWebhook(secret []byte, callID string) string {
	return base64.StdEncoding.EncodeToString(mac(secret, callID))
}

// VerifyWebhook reports whether signature is callID's signature under
// secret. The signature may be base64 with or without padding, standard or
// URL-safe; the comparison takes the same time wherever the bytes differ.
// An empty secret or signature never verifies.
func VerifyWebhook(secret []byte, callID, signature string) bool {
	if len(secret) == 0 || signature == "" {
		return false
	}
	got, ok := decodeBase64(signature)
	if !ok {
		return false
	}
	return hmac.Equal(got, mac(secret, callID))
}

func mac(secret []byte, callID string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(callID))
	return m.Sum(nil)
}

func decodeBase64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// Webhook is what callsync reads of a post-call webhook payload. The
// payload is only a hint: the call is fetched from the API.
type Webhook struct {
	// CallID is call.call_id (or a top-level call_id, which older payloads
	// may carry).
	CallID string
	// Status is call.status (or the top-level status); nil when absent.
	Status *string
}

// ParseWebhook reads a post-call webhook body. It returns an error matching
// ErrWebhookPayload when the body is not a JSON object or carries no
// non-empty string call id.
func ParseWebhook(body []byte) (*Webhook, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, fmt.Errorf("%w: body is not a JSON object", ErrWebhookPayload)
	}
	var call map[string]json.RawMessage
	if raw := bytes.TrimSpace(top["call"]); len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &call); err != nil {
			return nil, fmt.Errorf("%w: call: %v", ErrWebhookPayload, err)
		}
	}
	inner, outer := decoder{fields: call}, decoder{fields: top}
	w := &Webhook{}
	id := inner.str("call_id")
	if id == nil {
		id = outer.str("call_id")
	}
	if id == nil || strings.TrimSpace(*id) == "" {
		return nil, fmt.Errorf("%w: no call.call_id", ErrWebhookPayload)
	}
	w.CallID = *id
	if w.Status = inner.str("status"); w.Status == nil {
		w.Status = outer.str("status")
	}
	return w, nil
}

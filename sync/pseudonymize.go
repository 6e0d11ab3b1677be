package sync

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/callsync/callsync/store"
)

// minHashKeyLen is the shortest key NewPhoneHasher accepts, in bytes.
const minHashKeyLen = 16

// PhoneHasher pseudonymizes phone numbers at ingest: it replaces each by
// its HMAC-SHA256 under a key, in hex, so that the warehouse never holds a
// number in clear while the same number still gives the same value. A nil
// *PhoneHasher leaves numbers as they are.
type PhoneHasher struct {
	key []byte
}

// NewPhoneHasher returns a PhoneHasher with key. It returns an error when
// the key is shorter than minHashKeyLen bytes.
func NewPhoneHasher(key []byte) (*PhoneHasher, error) {
	if len(key) < minHashKeyLen {
		return nil, fmt.Errorf("hash key: %d bytes, want at least %d", len(key), minHashKeyLen)
	}
	return &PhoneHasher{key: bytes.Clone(key)}, nil
}

// hash returns the pseudonym of a phone number: HMAC-SHA256 of the number,
// surrounding blanks trimmed, in lowercase hex. An empty number stays
// empty. Erasure by phone number hashes its input with it.
func (h *PhoneHasher) hash(number string) string {
	number = strings.TrimSpace(number)
	if h == nil || number == "" {
		return number
	}
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(number))
	return hex.EncodeToString(m.Sum(nil))
}

// isPhoneKey reports whether a JSON member holds a phone number by its
// name: phone_number_from, agent_phone_number, lead.phone, ...
func isPhoneKey(k string) bool {
	return strings.Contains(strings.ToLower(k), "phone")
}

// apply replaces the phone numbers of row by their pseudonyms: the number
// columns, and in raw every string member whose name mentions a phone, at
// any depth. It returns an error when raw is not valid JSON.
func (h *PhoneHasher) apply(row *store.Call) error {
	if h == nil {
		return nil
	}
	for _, p := range []*string{row.PhoneNumberFrom, row.PhoneNumberTo, row.AgentPhoneNumber} {
		if p != nil {
			*p = h.hash(*p)
		}
	}
	if row.Raw == nil {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(row.Raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return fmt.Errorf("hash phone numbers in raw: %w", err)
	}
	if !h.walk(v) {
		return nil
	}
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return fmt.Errorf("hash phone numbers in raw: %w", err)
	}
	row.Raw = bytes.TrimRight(buf.Bytes(), "\n")
	return nil
}

// walk hashes the phone members of v in place and reports whether it
// changed any.
func (h *PhoneHasher) walk(v any) bool {
	changed := false
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && isPhoneKey(k) {
				if hs := h.hash(s); hs != s {
					v[k], changed = hs, true
				}
				continue
			}
			changed = h.walk(x) || changed
		}
	case []any:
		for _, x := range v {
			changed = h.walk(x) || changed
		}
	}
	return changed
}

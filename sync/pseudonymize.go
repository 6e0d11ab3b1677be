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

// phoneDigits returns the digits of a phone number, the form in which
// erased numbers are compared: +1 415-555-0101 and 14155550101 are one
// number. It returns "" when s has fewer than 5 digits (no number).
func phoneDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	if b.Len() < 5 {
		return ""
	}
	return b.String()
}

// callNumbers returns the digits of a call's numbers, for the store to
// check against erased numbers (store.Call.Numbers).
func callNumbers(numbers ...*string) []string {
	var out []string
	for _, n := range numbers {
		if n == nil {
			continue
		}
		if d := phoneDigits(*n); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// phoneKeyParts are the pieces of a JSON member's name that mark it as
// holding phone numbers: phone_number_from, agent_phone_number, lead.phones,
// lead.Phone.mobile, caller_id, ... telephony_sip_headers carries the
// dialled and calling numbers in its From, To and identity headers.
var phoneKeyParts = []string{"phone", "mobile", "msisdn", "caller_id", "callerid", "sip_headers"}

// isPhoneKey reports whether a JSON member holds phone numbers by its name.
func isPhoneKey(k string) bool {
	k = strings.ToLower(k)
	for _, p := range phoneKeyParts {
		if strings.Contains(k, p) {
			return true
		}
	}
	return false
}

// apply replaces the phone numbers of row by their pseudonyms: the number
// columns, and every value under a member whose name marks a phone (see
// isPhoneKey), at any depth and of any JSON type, in raw, the prompt
// variables, the executed actions (also inside their JSON-encoded
// strings) and the collected variables (a variable named like a phone has
// its whole value hashed). It returns an error when one of them is not
// valid JSON.
func (h *PhoneHasher) apply(row *store.Call) error {
	if h == nil {
		return nil
	}
	for _, p := range []*string{row.PhoneNumberFrom, row.PhoneNumberTo, row.AgentPhoneNumber} {
		if p != nil {
			*p = h.hash(*p)
		}
	}
	docs := []*[]byte{&row.Raw, &row.PromptVariables, &row.ExecutedActions}
	for i := range row.Actions {
		a := &row.Actions[i]
		docs = append(docs, &a.ParametersHardCoded, &a.ParametersFromLLM, &a.ReturnValue, &a.Raw)
	}
	for _, d := range docs {
		if err := h.applyJSON(d, false); err != nil {
			return fmt.Errorf("hash phone numbers: %w", err)
		}
	}
	for i := range row.Variables {
		v := &row.Variables[i]
		if err := h.applyJSON(&v.Value, isPhoneKey(v.Name)); err != nil {
			return fmt.Errorf("hash phone numbers in collected variables: %w", err)
		}
	}
	return nil
}

// applyJSON hashes the phone numbers of the JSON document *doc in place;
// all of its scalars when all is set. nil stays nil.
func (h *PhoneHasher) applyJSON(doc *[]byte, all bool) error {
	if *doc == nil {
		return nil
	}
	if !all && !mayHoldPhoneKey(*doc) {
		return nil
	}
	v, err := decodeJSON(*doc)
	if err != nil {
		return err
	}
	v, changed := h.walk(v, all)
	if !changed {
		return nil
	}
	out, err := encodeJSON(v)
	if err != nil {
		return err
	}
	*doc = out
	return nil
}

// mayHoldPhoneKey is a quick test that skips decoding a document whose
// text names no phone-like key anywhere (nor in an escaped form).
func mayHoldPhoneKey(doc []byte) bool {
	if bytes.IndexByte(doc, '\\') >= 0 {
		return true
	}
	lower := bytes.ToLower(doc)
	for _, p := range phoneKeyParts {
		if bytes.Contains(lower, []byte(p)) {
			return true
		}
	}
	return false
}

func decodeJSON(doc []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// maxEmbeddedDepth bounds how many JSON documents nested in strings walk
// opens inside one another.
const maxEmbeddedDepth = 4

// walk returns v with its phone numbers hashed (every string and number
// when all is set, else those under a phone-like key) and whether it
// changed any. A string that holds a JSON object or array (executed
// actions encode their parameters so) is opened and walked too.
func (h *PhoneHasher) walk(v any, all bool) (any, bool) {
	return h.walkDepth(v, all, 0)
}

func (h *PhoneHasher) walkDepth(v any, all bool, embedded int) (any, bool) {
	changed := false
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			y, c := h.walkDepth(x, all || isPhoneKey(k), embedded)
			if c {
				t[k], changed = y, true
			}
		}
		return t, changed
	case []any:
		for i, x := range t {
			y, c := h.walkDepth(x, all, embedded)
			if c {
				t[i], changed = y, true
			}
		}
		return t, changed
	case json.Number:
		if all {
			return h.hash(t.String()), true
		}
	case string:
		if s := strings.TrimSpace(t); embedded < maxEmbeddedDepth && s != "" && (s[0] == '{' || s[0] == '[') {
			if inner, err := decodeJSON([]byte(s)); err == nil {
				if inner, c := h.walkDepth(inner, all, embedded+1); c {
					if out, err := encodeJSON(inner); err == nil {
						return string(out), true
					}
				}
				return t, false
			}
		}
		if all {
			if hs := h.hash(t); hs != t {
				return hs, true
			}
		}
	}
	return v, false
}

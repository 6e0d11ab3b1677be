package api

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header of a post-call webhook that carries its
// signature. Synthflow's documentation spells it HTTP_SYNTHFLOW_SIGNATURE,
// the name a WSGI server gives it; callsync accepts both.
const SignatureHeader = "Synthflow-Signature"

// signatureHeaders are the names the signature may come under, compared
// without regard to case.
var signatureHeaders = []string{SignatureHeader, "HTTP_SYNTHFLOW_SIGNATURE"}

// ErrWebhookPayload is matched by ParseWebhook's errors: the body is not a
// post-call payload with a call id.
var ErrWebhookPayload = errors.New("api: not a post-call webhook payload")

// WebhookSignatures returns every signature a webhook request carries:
// the values of Synthflow-Signature and HTTP_SYNTHFLOW_SIGNATURE, names in
// any case, each trimmed, in a fixed order (header name, then value), so
// that the answer never depends on the order of the header map. Empty
// values count: a sender that sends the header sends a signature.
func WebhookSignatures(h http.Header) []string {
	var sigs []string
	for _, want := range signatureHeaders {
		names := make([]string, 0, 1)
		for name := range h {
			if strings.EqualFold(name, want) {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		for _, name := range names {
			for _, v := range h[name] {
				sigs = append(sigs, strings.TrimSpace(v))
			}
		}
	}
	return sigs
}

// VerifyWebhookHeaders applies callsync's one signature rule to a request's
// headers: the request is signed when it carries at least one signature
// (see WebhookSignatures) and every signature it carries is callID's under
// secret. One wrong signature beside a right one refuses the request, so
// that no header order, duplicate or proxy-added header can turn a forged
// request into an accepted one. It returns false for an empty secret.
func VerifyWebhookHeaders(secret []byte, callID string, h http.Header) bool {
	sigs := WebhookSignatures(h)
	if len(sigs) == 0 {
		return false
	}
	ok := true
	for _, sig := range sigs {
		ok = VerifyWebhook(secret, callID, sig) && ok // check them all: same time whichever fails
	}
	return ok
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

// MaxWebhookAnalysis caps the analysis object ReadWebhook keeps, in bytes
// as sent: a larger one is read through and dropped (AnalysisTooLarge), and
// the rest of the webhook is read as usual. Live objects hold about 35 short
// strings, a few KB.
const MaxWebhookAnalysis = 64 << 10

// Why ReadWebhook dropped an analysis object (Webhook.AnalysisDropped).
const (
	AnalysisTooLarge = "too_large" // larger than MaxWebhookAnalysis
	AnalysisInvalid  = "invalid"   // not valid JSON
)

// Webhook is what callsync reads of a post-call webhook payload. The
// payload is only a hint: the call is fetched from the API.
type Webhook struct {
	// CallID is call.call_id (or a top-level call_id, which older payloads
	// may carry).
	CallID string
	// Status is call.status (or the top-level status); nil when absent.
	Status *string
	// ModelID is call.model_id (or a top-level model_id); empty when absent.
	// Only the call id is signed: it is a hint.
	ModelID string
	// StartTime is call.start_time (ISO 8601, or epoch milliseconds as a
	// string); nil when absent or not a time. A hint, like ModelID.
	StartTime *time.Time
	// Analysis is the analysis object (the call-quality judgements) as
	// sent: at the top level, or under call when the top level has none or
	// a null one (where Synthflow puts it is not documented). Nil when not
	// sent or dropped. Decode it with DecodeJudgements.
	Analysis json.RawMessage
	// AnalysisDropped says why the analysis object that counts was not
	// kept: AnalysisTooLarge or AnalysisInvalid; "" when it was kept or
	// not sent.
	AnalysisDropped string
}

// ParseWebhook reads a post-call webhook body: ReadWebhook on body.
func ParseWebhook(body []byte) (*Webhook, error) {
	return ReadWebhook(bytes.NewReader(body))
}

// ReadWebhook reads a post-call webhook body from r as it streams, keeping
// only the call id, the status and the analysis object (at most
// MaxWebhookAnalysis bytes of it): memory stays bounded whatever the size
// of the transcript or executed actions, and values nested however deep are
// skipped without recursion. An analysis object that is too large or not
// valid JSON is dropped (see Webhook.AnalysisDropped), never an error. It returns an error matching ErrWebhookPayload
// when the body is not a JSON object or carries no non-empty string call
// id (call.call_id, or a top-level call_id). The body is checked for JSON
// structure only as far as finding those fields needs: it is a hint, and
// the call is fetched from the API.
func ReadWebhook(r io.Reader) (*Webhook, error) {
	s := &hookScanner{r: bufio.NewReaderSize(r, 4096)}
	var inner, outer hookFields
	err := s.object(func(key string) error {
		switch key {
		case "call":
			inner = hookFields{} // the last "call" counts, as with encoding/json
			if b, err := s.peek(); err != nil || b != '{' {
				return s.skip()
			}
			return s.object(func(key string) error { return inner.read(s, key) })
		default:
			return outer.read(s, key)
		}
	})
	if err == nil {
		err = s.end()
	}
	if err != nil {
		if s.rerr != nil {
			return nil, fmt.Errorf("%w: read body: %w", ErrWebhookPayload, s.rerr)
		}
		return nil, fmt.Errorf("%w: body is not a JSON object: %v", ErrWebhookPayload, err)
	}
	w := &Webhook{CallID: inner.callID, Status: inner.status, ModelID: inner.modelID, StartTime: inner.start}
	if w.CallID == "" {
		w.CallID = outer.callID
	}
	if w.ModelID == "" {
		w.ModelID = outer.modelID
	}
	if w.StartTime == nil {
		w.StartTime = outer.start
	}
	if w.Status == nil {
		w.Status = outer.status
	}
	w.Analysis, w.AnalysisDropped = outer.analysis, outer.dropped
	inCall := inner.analysis != nil || inner.dropped != ""
	if inCall && w.AnalysisDropped == "" && (w.Analysis == nil || string(w.Analysis) == "null") {
		w.Analysis, w.AnalysisDropped = inner.analysis, inner.dropped
	}
	if strings.TrimSpace(w.CallID) == "" {
		return nil, fmt.Errorf("%w: no call.call_id", ErrWebhookPayload)
	}
	return w, nil
}

// maxHookString caps a kept string value: longer call ids are not call ids.
const maxHookString = 1024

// hookFields are the fields ReadWebhook keeps of one object.
type hookFields struct {
	callID   string
	modelID  string
	start    *time.Time
	status   *string
	analysis json.RawMessage
	dropped  string
}

// read reads the value of key, keeping it when it is a wanted string or
// the analysis object.
func (f *hookFields) read(s *hookScanner, key string) error {
	if key == "analysis" {
		raw, over, err := s.capture(MaxWebhookAnalysis)
		if err != nil {
			return err
		}
		f.analysis, f.dropped = nil, "" // the last one counts, as with encoding/json
		switch {
		case over:
			f.dropped = AnalysisTooLarge
		case !json.Valid(raw):
			f.dropped = AnalysisInvalid
		default:
			f.analysis = raw
		}
		return nil
	}
	if key != "call_id" && key != "status" && key != "model_id" && key != "start_time" {
		return s.skip()
	}
	v, ok, err := s.maybeString()
	if err != nil || !ok {
		return err
	}
	switch key {
	case "call_id":
		f.callID = v
	case "model_id":
		f.modelID = v
	case "start_time":
		f.start = hookTime(v)
	default:
		f.status = &v
	}
	return nil
}

// hookTime reads a webhook's start_time: ISO 8601 (the documented form),
// or epoch milliseconds as the API sends them; nil when it is neither.
func hookTime(v string) *time.Time {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		t = t.UTC()
		return &t
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
		t := time.UnixMilli(ms).UTC()
		return &t
	}
	return nil
}

// hookScanner is a small streaming JSON reader: it walks objects key by
// key and skips values it is not asked to keep.
type hookScanner struct {
	r    *bufio.Reader
	rerr error // a read error other than EOF: the body, not its syntax

	// While recording (see capture), every byte taken is counted in recN,
	// and the first recMax of them are kept in rec.
	recording bool
	rec       []byte
	recN      int
	recMax    int
}

var errSyntax = errors.New("malformed JSON")

// keep records bytes just taken from the reader, while recording.
func (s *hookScanner) keep(b []byte) {
	if !s.recording {
		return
	}
	s.recN += len(b)
	if room := s.recMax - len(s.rec); room > 0 {
		s.rec = append(s.rec, b[:min(room, len(b))]...)
	}
}

// unread gives the last byte taken back to the reader.
func (s *hookScanner) unread() error {
	if s.recording {
		s.recN--
		s.rec = s.rec[:min(len(s.rec), s.recN)]
	}
	return s.r.UnreadByte()
}

func (s *hookScanner) byte() (byte, error) {
	b, err := s.r.ReadByte()
	if err != nil {
		if !errors.Is(err, io.EOF) {
			s.rerr = err
		}
		return 0, errSyntax
	}
	if s.recording {
		s.keep([]byte{b})
	}
	return b, nil
}

// discard takes chunk, the next bytes of the buffer, from the reader.
func (s *hookScanner) discard(chunk []byte) {
	s.keep(chunk)
	_, _ = s.r.Discard(len(chunk))
}

// peek returns the next byte that is not white space, without taking it.
func (s *hookScanner) peek() (byte, error) {
	for {
		b, err := s.byte()
		if err != nil {
			return 0, err
		}
		if b != ' ' && b != '\t' && b != '\n' && b != '\r' {
			return b, s.unread()
		}
	}
}

// capture reads one value, as skip does, and returns it as sent (without
// the white space around it) when it is at most limit bytes long; over
// reports a longer one, read through and dropped. It holds at most limit
// bytes whatever the size of the value.
func (s *hookScanner) capture(limit int) (raw []byte, over bool, err error) {
	if _, err := s.peek(); err != nil {
		return nil, false, err
	}
	s.recording, s.rec, s.recN, s.recMax = true, nil, 0, limit
	err = s.skip()
	raw, n := s.rec, s.recN
	s.recording, s.rec = false, nil
	if err != nil {
		return nil, false, err
	}
	if n > limit {
		return nil, true, nil
	}
	return raw, false, nil
}

// next takes the next byte that is not white space.
func (s *hookScanner) next() (byte, error) {
	if _, err := s.peek(); err != nil {
		return 0, err
	}
	return s.byte()
}

// object reads an object, calling field for each key with the scanner
// before the value; field must consume the value.
func (s *hookScanner) object(field func(key string) error) error {
	if b, err := s.next(); err != nil || b != '{' {
		return errSyntax
	}
	if b, err := s.peek(); err != nil {
		return err
	} else if b == '}' {
		_, err = s.byte()
		return err
	}
	for {
		if b, err := s.next(); err != nil || b != '"' {
			return errSyntax
		}
		raw, err := s.str(64)
		if err != nil {
			return err
		}
		var key string
		if raw != nil {
			_ = json.Unmarshal(raw, &key) // a key that does not decode matches no wanted key
		}
		if b, err := s.next(); err != nil || b != ':' {
			return errSyntax
		}
		if err := field(key); err != nil {
			return err
		}
		switch b, err := s.next(); {
		case err != nil:
			return err
		case b == '}':
			return nil
		case b != ',':
			return errSyntax
		}
	}
}

// str reads the rest of a string whose opening quote was taken, and
// returns it quoted, as JSON, when it is at most limit bytes long (nil
// when longer: read and dropped). Long runs without quotes or escapes are
// skipped in bulk, straight from the read buffer.
func (s *hookScanner) str(limit int) ([]byte, error) {
	buf := []byte{'"'}
	for {
		chunk, _ := s.r.Peek(max(1, s.r.Buffered()))
		if len(chunk) == 0 {
			_, err := s.byte() // sets rerr on a read error
			return nil, err
		}
		i := bytes.IndexAny(chunk, "\"\\")
		if i < 0 {
			i = len(chunk)
		}
		if buf != nil {
			if buf = append(buf, chunk[:i]...); len(buf) > limit+2 {
				buf = nil
			}
		}
		s.discard(chunk[:i])
		if i == len(chunk) {
			continue
		}
		b, _ := s.byte() // a quote or a backslash, buffered
		if b == '"' {
			if buf != nil {
				buf = append(buf, '"')
				if bytes.ContainsFunc(buf, func(r rune) bool { return r < 0x20 }) {
					return nil, errSyntax
				}
			}
			return buf, nil
		}
		esc, err := s.byte() // the escaped byte: never a closing quote
		if err != nil {
			return nil, err
		}
		if buf != nil {
			buf = append(buf, b, esc)
		}
	}
}

// maybeString reads a value and returns it when it is a string of at most
// maxHookString bytes.
func (s *hookScanner) maybeString() (string, bool, error) {
	if b, err := s.peek(); err != nil {
		return "", false, err
	} else if b != '"' {
		return "", false, s.skip()
	}
	_, _ = s.byte()
	raw, err := s.str(maxHookString)
	if err != nil || raw == nil {
		return "", false, err
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return "", false, errSyntax
	}
	return v, true, nil
}

// skip reads one value of any kind and drops it. Objects and arrays are
// skipped by counting brackets, however deep they nest.
func (s *hookScanner) skip() error {
	b, err := s.next()
	if err != nil {
		return err
	}
	switch b {
	case '"':
		_, err := s.str(0)
		return err
	case '{', '[':
		for depth := 1; depth > 0; {
			chunk, _ := s.r.Peek(max(1, s.r.Buffered()))
			if i := bytes.IndexAny(chunk, "\"{}[]"); i != 0 {
				if i < 0 {
					i = len(chunk)
				}
				s.discard(chunk[:i]) // nothing that opens, closes or quotes: skipped in bulk
			}
			b, err := s.byte()
			if err != nil {
				return err
			}
			switch b {
			case '"':
				if _, err := s.str(0); err != nil {
					return err
				}
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
		}
		return nil
	}
	// A number, true, false or null.
	if !isLiteral(b) {
		return errSyntax
	}
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			return nil // the end of the body ends the literal; end() has the last word
		}
		s.keep([]byte{b})
		if !isLiteral(b) {
			return s.unread()
		}
	}
}

func isLiteral(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b == '-' || b == '+' || b == '.' || b == 'E'
}

// end checks that nothing but white space follows the object.
func (s *hookScanner) end() error {
	if _, err := s.peek(); err == nil {
		return errSyntax
	}
	if s.rerr != nil {
		return s.rerr
	}
	return nil
}

package sync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of JSON stored in jsonb columns. Postgres
// parses jsonb recursively and rejects deep documents with "stack depth limit
// exceeded", which would fail the whole write; deeper parts are replaced.
const maxJSONDepth = 200

// cleanText removes NUL characters, which Postgres rejects in text.
func cleanText(s string) (string, bool) {
	if strings.IndexByte(s, 0) < 0 {
		return s, false
	}
	return strings.ReplaceAll(s, "\x00", ""), true
}

// cleanJSON returns raw in a form Postgres accepts as jsonb: valid UTF-8, no
// \u0000 and no lone surrogate escapes, nesting at most maxJSONDepth. The
// common case, a document with none of these, is returned as is after one
// scan. Otherwise the document is decoded and encoded again (jsonb keeps
// neither key order nor white space, so nothing of meaning changes), and
// the second result says what was fixed.
func cleanJSON(raw []byte) ([]byte, string, error) {
	if jsonClean(raw) {
		return raw, "", nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, "", fmt.Errorf("decode json: %w", err)
	}
	fixes := fixCount{badUTF8: !utf8.Valid(raw)}
	v = fixes.clean(v, 0)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, "", fmt.Errorf("encode json: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), fixes.String(), nil
}

// jsonClean reports whether raw is valid UTF-8, shallower than maxJSONDepth,
// and free of \u0000 and surrogate escapes (paired surrogates are fine for
// Postgres, but rare enough to take the slow path). It runs on every call,
// so it uses the fast byte searches and answers false when unsure: the slow
// path is exact.
func jsonClean(raw []byte) bool {
	if bytes.Contains(raw, []byte(`\u0000`)) || hasSurrogateEscape(raw) || !utf8.Valid(raw) {
		return false
	}
	// The count of opening brackets bounds the depth; count exactly only
	// when the bound is too high.
	if bytes.Count(raw, []byte("{"))+bytes.Count(raw, []byte("[")) <= maxJSONDepth {
		return true
	}
	return jsonDepth(raw) <= maxJSONDepth
}

// hasSurrogateEscape reports whether raw holds a \uD800–\uDFFF escape.
func hasSurrogateEscape(raw []byte) bool {
	for i := 0; ; {
		k := bytes.Index(raw[i:], []byte(`\u`))
		if k < 0 || i+k+3 >= len(raw) {
			return false
		}
		i += k + 2
		if (raw[i] == 'd' || raw[i] == 'D') && strings.IndexByte("89abcdefABCDEF", raw[i+1]) >= 0 {
			return true
		}
	}
}

// jsonDepth returns the deepest nesting of objects and arrays in raw.
func jsonDepth(raw []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			deepest = max(deepest, depth)
		case '}', ']':
			depth--
		}
	}
	return deepest
}

// fixCount counts what cleaning changed.
type fixCount struct {
	nul, deep int
	badUTF8   bool
}

func (f *fixCount) clean(v any, depth int) any {
	switch t := v.(type) {
	case string:
		s, fixed := cleanText(t)
		if fixed {
			f.nul++
		}
		return s
	case map[string]any:
		if depth >= maxJSONDepth {
			f.deep++
			return fmt.Sprintf("[removed: nested more than %d levels]", maxJSONDepth)
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			k2, fixed := cleanText(k)
			if fixed {
				f.nul++
			}
			out[k2] = f.clean(e, depth+1)
		}
		return out
	case []any:
		if depth >= maxJSONDepth {
			f.deep++
			return fmt.Sprintf("[removed: nested more than %d levels]", maxJSONDepth)
		}
		for i, e := range t {
			t[i] = f.clean(e, depth+1)
		}
		return t
	}
	return v
}

func (f fixCount) String() string {
	var parts []string
	if f.badUTF8 {
		parts = append(parts, "replaced invalid UTF-8")
	}
	if f.nul > 0 {
		parts = append(parts, fmt.Sprintf("removed NUL characters from %d strings", f.nul))
	}
	if f.deep > 0 {
		parts = append(parts, fmt.Sprintf("cut %d values nested deeper than %d levels", f.deep, maxJSONDepth))
	}
	return strings.Join(parts, ", ")
}

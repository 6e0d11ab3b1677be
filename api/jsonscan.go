package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The decoder reads a call object in one pass: encoding/json would scan it
// twice to validate and decode it into a map, and twice more for each
// string field. These helpers work on JSON that is already known to be
// valid (the response body was validated when its envelope was decoded).

var (
	errNotObject = errors.New("not a JSON object")
	errNoCalls   = errors.New("empty calls array")
)

// responseCalls opens the envelope body of a calls endpoint, validating
// the whole body first (validJSON; a body that is not valid gets
// encoding/json's error, with its offset), and returns its response
// object and the response.calls array in it. It fails when there is no
// such array.
func responseCalls(body []byte) (resp, calls json.RawMessage, err error) {
	if !validJSON(body) {
		var v any
		return nil, nil, json.Unmarshal(body, &v) // the syntax error, with its offset
	}
	resp, err = lastMember(body, "response")
	if err != nil {
		return nil, nil, err
	}
	calls, err = lastMember(resp, "calls")
	if err != nil || len(calls) == 0 || calls[0] != '[' {
		return nil, nil, errors.New("no response.calls array")
	}
	return resp, calls, nil
}

// firstCall returns the first element of response.calls in the envelope
// body (responseCalls). It returns errNoCalls when the array is empty.
func firstCall(body []byte) (json.RawMessage, error) {
	_, calls, err := responseCalls(body)
	if err != nil {
		return nil, err
	}
	i := skipSpace(calls, 1)
	if calls[i] == ']' {
		return nil, errNoCalls
	}
	return calls[i:skipValue(calls, i)], nil
}

// callList returns the elements of response.calls in the list page body
// (responseCalls) and its response.pagination.total_records (-1 when not
// sent).
func callList(body []byte) (calls []json.RawMessage, totalRecords int, err error) {
	resp, list, err := responseCalls(body)
	if err != nil {
		return nil, 0, err
	}
	calls, err = arrayElements(list)
	if err != nil {
		return nil, 0, err
	}
	pagination, _ := lastMember(resp, "pagination")
	return calls, total(pagination), nil
}

// eachMember calls fn with each member of the valid JSON object b, in the
// order sent: the key as sent (a JSON string, quotes and escapes
// included) and its value, sub-slices of b. It returns errNotObject when b
// is not an object, or the first error of fn.
func eachMember(b []byte, fn func(key []byte, value json.RawMessage) error) error {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' {
		return errNotObject
	}
	i := skipSpace(b, 1)
	if b[i] == '}' {
		return nil
	}
	for {
		end := skipValue(b, i) // the key, a string
		key := b[i:end]
		i = skipSpace(b, skipSpace(b, end)+1) // past the colon
		end = skipValue(b, i)
		if err := fn(key, b[i:end:end]); err != nil {
			return err
		}
		i = skipSpace(b, end)
		if b[i] == '}' {
			return nil
		}
		i = skipSpace(b, i+1) // past the comma
	}
}

// objectMembers returns the members of the valid JSON object b: each key,
// unescaped, with its value as a sub-slice of b. A key given twice keeps
// its last value, as encoding/json does.
func objectMembers(b []byte) (map[string]json.RawMessage, error) {
	// Sized for a call object's forty members, or for as many as a small
	// object can hold (a member takes a dozen bytes or more, most of them
	// many more): the small objects inside a call (actions, variables)
	// once each took a map of forty.
	m := make(map[string]json.RawMessage, min(40, len(b)/12))
	err := eachMember(b, func(k []byte, v json.RawMessage) error {
		key, err := unquote(k)
		m[key] = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// lastMember returns the value of key in the valid JSON object b, the last
// one when the key is given twice (as objectMembers and encoding/json
// do), or nil when b has no such key. Unlike objectMembers, it builds no
// map: it is how a response envelope is opened, once a call.
func lastMember(b []byte, key string) (json.RawMessage, error) {
	var value json.RawMessage
	err := eachMember(b, func(k []byte, v json.RawMessage) error {
		match := string(k[1:len(k)-1]) == key
		if !match && bytes.IndexByte(k, '\\') >= 0 { // an escaped key may still spell key
			u, err := unquote(k)
			if err != nil {
				return err
			}
			match = u == key
		}
		if match {
			value = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return value, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipValue returns the index just past the valid JSON value at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		for j := i + 1; ; {
			q := j + bytes.IndexByte(b[j:], '"')
			n := 0 // backslashes right before the quote: an odd number escapes it
			for p := q - 1; p > i && b[p] == '\\'; p-- {
				n++
			}
			if n%2 == 0 {
				return q + 1
			}
			j = q + 1
		}
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = skipValue(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
	default: // number, true, false, null
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\n', '\r', '\t':
				return i
			}
		}
		return i
	}
}

// unquote decodes the valid JSON string literal q as encoding/json does:
// invalid UTF-8 and unpaired surrogates become U+FFFD.
func unquote(q []byte) (string, error) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return "", errors.New("not a JSON string")
	}
	s := q[1 : len(q)-1]
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return string(s), nil
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		// Copy the run up to the next escape at once.
		run := s[i:]
		if k := bytes.IndexByte(run, '\\'); k >= 0 {
			run = run[:k]
		}
		if utf8.Valid(run) {
			out = append(out, run...)
		} else {
			for j := 0; j < len(run); {
				r, size := utf8.DecodeRune(run[j:])
				out = utf8.AppendRune(out, r) // RuneError for invalid bytes
				j += size
			}
		}
		i += len(run)
		if i >= len(s) {
			break
		}
		if i+1 >= len(s) {
			return "", errors.New("bad escape in JSON string")
		}
		switch s[i+1] {
		case '"', '\\', '/':
			out = append(out, s[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return "", errors.New("bad \\u escape in JSON string")
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2, ok := hex4(s, i+2)
					if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", errors.New("bad escape in JSON string")
		}
		i += 2
	}
	return string(out), nil
}

// hex4 reads the four hex digits at s[i:i+4].
func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s[i:i+4]), 16, 32)
	return rune(n), err == nil
}

// entry is one member of a JSON object, in the order sent.
type entry struct {
	key   string
	value json.RawMessage
}

// objectEntries returns the members of the valid JSON object b in the
// order they were sent, duplicates included.
func objectEntries(b []byte) ([]entry, error) {
	var out []entry
	err := eachMember(b, func(k []byte, v json.RawMessage) error {
		key, err := unquote(k)
		out = append(out, entry{key: key, value: v})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// arrayElements returns the elements of the valid JSON array b.
func arrayElements(b []byte) ([]json.RawMessage, error) {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '[' {
		return nil, errors.New("not a JSON array")
	}
	var out []json.RawMessage
	i := skipSpace(b, 1)
	if b[i] == ']' {
		return out, nil
	}
	for {
		end := skipValue(b, i)
		out = append(out, b[i:end:end])
		i = skipSpace(b, end)
		if b[i] == ']' {
			return out, nil
		}
		i = skipSpace(b, i+1)
	}
}

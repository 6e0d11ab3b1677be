package api

import (
	"bytes"
	"errors"
	"strings"
	"unicode/utf8"
)

// Redacted replaces a secret in text that Redactor cleans.
const Redacted = "[REDACTED]"

// minSecret is the shortest secret Redactor replaces: a shorter one would
// blank out ordinary words, and no real key or secret is that short.
const minSecret = 6

// minPartial is the shortest piece of a secret that Cut masks at an edge
// of the text: shorter pieces match ordinary text too often, and tell an
// attacker too little to matter.
const minPartial = 4

// Redactor removes secrets from text that is about to be logged or stored:
// an API that echoes a request's Authorization header back in an error
// must not put the key into a log or a table. The zero value and nil
// remove nothing. It is safe for concurrent use.
type Redactor struct {
	secrets []string
	r       *strings.Replacer
}

// NewRedactor returns a Redactor of the given secrets, ignoring those
// shorter than 6 bytes after trimming white space.
func NewRedactor(secrets ...string) *Redactor {
	rd := &Redactor{}
	var pairs []string
	for _, s := range secrets {
		if s = strings.TrimSpace(s); len(s) >= minSecret {
			rd.secrets = append(rd.secrets, s)
			pairs = append(pairs, s, Redacted)
		}
	}
	if len(pairs) > 0 {
		rd.r = strings.NewReplacer(pairs...)
	}
	return rd
}

// String returns s with every secret replaced by Redacted.
func (rd *Redactor) String(s string) string {
	if rd == nil || rd.r == nil {
		return s
	}
	return rd.r.Replace(s)
}

// Bytes is String for a byte slice; it returns b itself when it holds no
// secret.
func (rd *Redactor) Bytes(b []byte) []byte {
	if rd == nil || rd.r == nil {
		return b
	}
	for _, s := range rd.secrets {
		if bytes.Contains(b, []byte(s)) {
			return []byte(rd.r.Replace(string(b)))
		}
	}
	return b
}

// Error returns err, or an error with the same text redacted when its text
// holds a secret. The redacted error no longer wraps err: what err holds
// must not reach a log through another route.
func (rd *Redactor) Error(err error) error {
	if err == nil || rd == nil || rd.r == nil {
		return err
	}
	if msg := err.Error(); rd.String(msg) != msg {
		return errors.New(rd.String(msg))
	}
	return err
}

// Cut returns s with every secret replaced by Redacted, then cut to at
// most max bytes at a rune boundary, with "…" appended when it was cut.
// A piece of a secret left at either edge is masked too: the start of a
// secret at the end (the cut went through it, or s was cut short before
// it came here) and the end of one at the start. Every place that shortens
// text which may carry a secret goes through Cut or CutBytes: redacting
// after a cut misses a secret the cut split, and redacting before it alone
// misses one split by an earlier cut. A nil Redactor only cuts.
func (rd *Redactor) Cut(s string, max int) string {
	s = rd.String(s)
	cut := len(s) > max
	if cut {
		i := max
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	s = rd.maskEdges(s)
	if cut {
		s += "…"
	}
	return s
}

// CutBytes is Cut for a body kept for inspection: nothing is appended
// at the cut, the result is at most max bytes even when a mask replaced a
// shorter piece, and it is a copy (b itself is left alone).
func (rd *Redactor) CutBytes(b []byte, max int) []byte {
	b = bytes.Clone(rd.Bytes(b))
	if len(b) > max {
		b = b[:max]
	}
	if rd == nil || rd.r == nil {
		return b
	}
	head, tail := rd.edges(string(b))
	if head == 0 && tail == 0 {
		return b
	}
	out := rd.maskEdges(string(b))
	if len(out) > max && max > len(Redacted) && strings.HasSuffix(out, Redacted) {
		out = out[:max-len(Redacted)] + Redacted
	}
	return []byte(out)
}

// maskEdges replaces the longest piece of a secret at each edge of s.
func (rd *Redactor) maskEdges(s string) string {
	head, tail := rd.edges(s)
	if head+tail > len(s) { // one piece of a secret is all of s
		return Redacted
	}
	if tail > 0 {
		s = s[:len(s)-tail] + Redacted
	}
	if head > 0 {
		s = Redacted + s[head:]
	}
	return s
}

// edges returns the length of the longest end of a secret that s starts
// with, and of the longest start of a secret that s ends with; 0 when
// shorter than minPartial.
func (rd *Redactor) edges(s string) (head, tail int) {
	if rd == nil {
		return 0, 0
	}
	for _, sec := range rd.secrets {
		for k := min(len(sec)-1, len(s)); k >= minPartial && k > tail; k-- {
			if strings.HasSuffix(s, sec[:k]) {
				tail = k
			}
		}
		for k := min(len(sec)-1, len(s)); k >= minPartial && k > head; k-- {
			if strings.HasPrefix(s, sec[len(sec)-k:]) {
				head = k
			}
		}
	}
	return head, tail
}

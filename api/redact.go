package api

import (
	"bytes"
	"errors"
	"strings"
)

// Redacted replaces a secret in text that Redactor cleans.
const Redacted = "[REDACTED]"

// minSecret is the shortest secret Redactor replaces: a shorter one would
// blank out ordinary words, and no real key or secret is that short.
const minSecret = 6

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

package main

import (
	"io"
	"net/url"
	"sync"

	"github.com/callsync/callsync/api"
)

// secretSet holds the secrets of one command (the API key, the webhook
// secret, the database password) as they become known, and redacts them
// from everything the command writes: logs, output and its final error.
// So a secret that comes back from elsewhere (an API that echoes the
// Authorization header, a secret pasted where a path was expected) never
// reaches a terminal or a log collector. Safe for concurrent use; a nil
// set redacts nothing.
type secretSet struct {
	mu      sync.RWMutex
	secrets []string
	rd      *api.Redactor
}

// add adds secrets; empty and very short ones are ignored (see api.NewRedactor).
func (s *secretSet) add(secrets ...string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets = append(s.secrets, secrets...)
	s.rd = api.NewRedactor(s.secrets...)
}

// addDatabaseURL adds the password of a database URL, when it has one.
func (s *secretSet) addDatabaseURL(raw string) {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			s.add(p)
		}
	}
}

// list returns the secrets known so far.
func (s *secretSet) list() []string {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]string(nil), s.secrets...)
}

func (s *secretSet) redactor() *api.Redactor {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rd
}

// writer returns w with the secrets redacted from each write. Loggers
// write one record per call, so a secret is never split across writes.
func (s *secretSet) writer(w io.Writer) io.Writer { return &redactWriter{w: w, s: s} }

type redactWriter struct {
	w io.Writer
	s *secretSet
}

func (r *redactWriter) Write(p []byte) (int, error) {
	clean := r.s.redactor().Bytes(p)
	if _, err := r.w.Write(clean); err != nil {
		return 0, err
	}
	return len(p), nil
}

// error returns err with the secrets redacted from its text; errors.Is and
// errors.As still see what it wraps (exit codes depend on them).
func (s *secretSet) error(err error) error {
	if err == nil {
		return nil
	}
	if msg := err.Error(); s.redactor().String(msg) != msg {
		return &redactedError{msg: s.redactor().String(msg), err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

// hashConfig holds the settings of phone number pseudonymization at ingest.
type hashConfig struct {
	enabled bool
	key     string
	keyFile string
}

func (c *hashConfig) register(f *flagSet) {
	envBoolVar(f, &c.enabled, "hash-phone-numbers", "SYNC_HASH_PHONE_NUMBERS",
		"store phone numbers only as their HMAC-SHA256 under the hash key, in columns and raw")
	f.secretVar(&c.key, "hash-key", "SYNC_HASH_KEY", "key of the phone number hashes, at least 16 bytes; prefer the environment or a file")
	f.stringVar(&c.keyFile, "hash-key-file", "SYNC_HASH_KEY_FILE", "", "file holding the hash key, e.g. a mounted secret")
}

// hasher returns the configured hasher, nil when hashing is off. Errors
// name the setting, never the key.
func (c *hashConfig) hasher() (*callsync.PhoneHasher, error) {
	if !c.enabled {
		if c.key != "" || c.keyFile != "" {
			return nil, usagef("a hash key is set but SYNC_HASH_PHONE_NUMBERS is off: set it to 1, or unset the key")
		}
		return nil, nil
	}
	key := c.key
	if c.keyFile != "" {
		if key != "" {
			return nil, usagef("set SYNC_HASH_KEY or SYNC_HASH_KEY_FILE, not both")
		}
		b, err := os.ReadFile(c.keyFile)
		if err != nil {
			return nil, usagef("read SYNC_HASH_KEY_FILE: %v", err)
		}
		key = strings.TrimRight(string(b), "\r\n")
	}
	if key == "" {
		return nil, usagef("SYNC_HASH_PHONE_NUMBERS is on without a key: set SYNC_HASH_KEY or SYNC_HASH_KEY_FILE")
	}
	h, err := callsync.NewPhoneHasher([]byte(key))
	if err != nil {
		return nil, usagef("SYNC_HASH_KEY: %v", err)
	}
	return h, nil
}

// retentionConfig holds how long each class of personal data is kept.
type retentionConfig struct {
	transcripts, recordings, variables, calls string
}

func (c *retentionConfig) register(f *flagSet) {
	f.stringVar(&c.transcripts, "retain-transcripts", "SYNC_RETAIN_TRANSCRIPTS", "",
		"empty the transcript text of calls older than this, e.g. 90d (empty: keep)")
	f.stringVar(&c.recordings, "retain-recordings", "SYNC_RETAIN_RECORDINGS", "",
		"remove the recording URL of calls older than this, e.g. 30d (empty: keep)")
	f.stringVar(&c.variables, "retain-variables", "SYNC_RETAIN_VARIABLES", "",
		"remove the variable values of calls older than this, e.g. 180d (empty: keep)")
	f.stringVar(&c.calls, "retain-calls", "SYNC_RETAIN_CALLS", "",
		"remove everything personal of calls older than this (numbers, names, raw, ...), keeping their facts, e.g. 365d (empty: keep)")
}

// retention parses the settings.
func (c *retentionConfig) retention() (store.Retention, error) {
	var r store.Retention
	for _, s := range []struct {
		name, v string
		d       *time.Duration
	}{
		{"SYNC_RETAIN_TRANSCRIPTS", c.transcripts, &r.Transcripts},
		{"SYNC_RETAIN_RECORDINGS", c.recordings, &r.Recordings},
		{"SYNC_RETAIN_VARIABLES", c.variables, &r.Variables},
		{"SYNC_RETAIN_CALLS", c.calls, &r.Calls},
	} {
		d, err := parseRetention(s.v)
		if err != nil {
			return r, usagef("%s=%q: %v", s.name, s.v, err)
		}
		*s.d = d
	}
	return r, nil
}

// parseRetention reads a retention: a number of days (90d), or a Go
// duration (2160h); empty, "off" and "0" mean keep for ever.
func parseRetention(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	switch v {
	case "", "off", "0":
		return 0, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n > 100*366 {
			return 0, fmt.Errorf("want a number of days such as 90d, or a duration such as 2160h")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("want a number of days such as 90d, or a duration such as 2160h")
		}
	}
	if d < time.Hour {
		return 0, fmt.Errorf("want at least an hour (or off)")
	}
	return d, nil
}

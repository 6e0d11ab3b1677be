package main

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/callsync/callsync/store/objects"
)

// recordingsConfig holds where recordings are archived and how.
type recordingsConfig struct {
	url          string
	allowPrivate string
	upstream     string
	keyIDFile    string
	secretFile   string
	getenv       func(string) string
	secrets      *secretSet

	// Parsed by validate.
	allow     bool
	retention time.Duration
}

func (c *recordingsConfig) register(f *flagSet) {
	c.getenv, c.secrets = f.getenv, f.secrets
	f.stringVar(&c.url, "recordings-url", "SYNC_RECORDINGS_URL", "",
		"archive call recordings there: file:///path or s3://bucket/prefix?endpoint=host:port&region=…&force_path_style=true (empty: off)")
	f.stringVar(&c.allowPrivate, "recordings-allow-private-hosts", "SYNC_RECORDINGS_ALLOW_PRIVATE_HOSTS", "",
		"let recording downloads reach loopback and private addresses, and plain http (tests, a private object store): true or false")
	f.stringVar(&c.upstream, "recordings-upstream-retention", "SYNC_RECORDINGS_UPSTREAM_RETENTION", "",
		"how long Synthflow keeps recordings (the agents' data retention), e.g. 30d: the backlog alert fires before it (empty: unknown)")
	f.stringVar(&c.keyIDFile, "recordings-access-key-id-file", "SYNC_RECORDINGS_ACCESS_KEY_ID_FILE", "",
		"file holding the S3 access key id (else AWS_ACCESS_KEY_ID, else the instance's role)")
	f.stringVar(&c.secretFile, "recordings-secret-access-key-file", "SYNC_RECORDINGS_SECRET_ACCESS_KEY_FILE", "",
		"file holding the S3 secret access key (else AWS_SECRET_ACCESS_KEY)")
}

// enabled reports whether recordings are archived.
func (c *recordingsConfig) enabled() bool { return strings.TrimSpace(c.url) != "" }

// validate parses the settings, before anything connects.
func (c *recordingsConfig) validate() error {
	c.url = strings.TrimSpace(c.url)
	if v := strings.TrimSpace(c.allowPrivate); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return usagef("SYNC_RECORDINGS_ALLOW_PRIVATE_HOSTS=%q: want true or false", v)
		}
		c.allow = b
	}
	d, err := parseRetention(c.upstream)
	if err != nil {
		return usagef("SYNC_RECORDINGS_UPSTREAM_RETENTION=%q: %v", c.upstream, err)
	}
	c.retention = d
	if c.url != "" && !strings.HasPrefix(c.url, "file://") && !strings.HasPrefix(c.url, "s3://") {
		return usagef("SYNC_RECORDINGS_URL: want file:///path or s3://bucket/prefix?endpoint=…")
	}
	return nil
}

// credentials reads the S3 credentials: files first, then the provider's
// usual environment. None leaves the instance's role to the client.
func (c *recordingsConfig) credentials() (objects.Credentials, error) {
	var cr objects.Credentials
	for _, f := range []struct {
		name, path string
		dst        *string
	}{
		{"SYNC_RECORDINGS_ACCESS_KEY_ID_FILE", c.keyIDFile, &cr.AccessKeyID},
		{"SYNC_RECORDINGS_SECRET_ACCESS_KEY_FILE", c.secretFile, &cr.SecretAccessKey},
	} {
		if f.path == "" {
			continue
		}
		b, err := os.ReadFile(f.path)
		if pe := (*os.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err // not the path: a secret set there by mistake must not be shown
		}
		if err != nil {
			return cr, usagef("read %s: %v", f.name, err)
		}
		*f.dst = strings.TrimSpace(string(b))
	}
	if cr.AccessKeyID == "" && cr.SecretAccessKey == "" {
		cr = objects.Credentials{AccessKeyID: c.getenv("AWS_ACCESS_KEY_ID"),
			SecretAccessKey: c.getenv("AWS_SECRET_ACCESS_KEY"), SessionToken: c.getenv("AWS_SESSION_TOKEN")}
	}
	if (cr.AccessKeyID == "") != (cr.SecretAccessKey == "") {
		return cr, usagef("recordings storage: an access key id without a secret access key, or the other way round")
	}
	c.secrets.add(cr.SecretAccessKey, cr.SessionToken)
	return cr, nil
}

// open opens the storage. Call validate first.
func (c *recordingsConfig) open(ctx context.Context) (objects.Store, error) {
	var cr objects.Credentials
	if strings.HasPrefix(c.url, "s3://") {
		var err error
		if cr, err = c.credentials(); err != nil {
			return nil, err
		}
	}
	st, err := objects.Open(ctx, c.url, cr)
	if err != nil {
		return nil, usagef("SYNC_RECORDINGS_URL: %v", err)
	}
	return st, nil
}

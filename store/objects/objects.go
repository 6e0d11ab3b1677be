// Package objects keeps files in object storage: a local directory
// (file:///path) or an S3-compatible bucket (s3://bucket/prefix?endpoint=…).
// callsync archives call recordings there. A Put is atomic: the object
// appears under its key only once every byte of it was read and stored,
// so that an upload cut short leaves nothing a reader could take for the
// whole object.
package objects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// ErrNotExist is returned by Stat when no object has the key.
var ErrNotExist = errors.New("objects: no such object")

// Store is object storage. *Dir and *S3 implement it.
type Store interface {
	// Put stores what body yields up to io.EOF under key, atomically: when
	// body or the storage fails, no object is left under key (an earlier
	// one stays), and the error is returned.
	Put(ctx context.Context, key string, body io.Reader, contentType string) error
	// Delete deletes the object under key; a missing object is no error.
	Delete(ctx context.Context, key string) error
	// Stat returns the size of the object under key, or ErrNotExist.
	Stat(ctx context.Context, key string) (int64, error)
	// Link returns where a person allowed to listen can fetch the object
	// for ttl: a presigned URL, or a file path.
	Link(ctx context.Context, key string, ttl time.Duration) (string, error)
	// String names the storage without credentials, for logs.
	String() string
}

// Credentials authenticate to S3-compatible storage. With no key, the
// instance's role is used (EC2, ECS or EKS metadata, web identity).
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Open opens the storage that rawURL names: file:///path/to/dir, or
// s3://bucket/prefix?endpoint=host:port&region=…&force_path_style=true
// (endpoint may carry http:// or https://; the default is AWS). It
// returns an error naming the problem when the URL is not one of these,
// without the URL's credentials.
func Open(ctx context.Context, rawURL string, creds Credentials) (Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("objects: unreadable URL: want file:///path or s3://bucket/prefix")
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("objects: file URL with host %q: want file:///absolute/path", u.Host)
		}
		if u.Path == "" || !strings.HasPrefix(u.Path, "/") {
			return nil, errors.New("objects: file URL without an absolute path: want file:///absolute/path")
		}
		return OpenDir(u.Path)
	case "s3":
		return openS3(ctx, u, creds)
	}
	return nil, fmt.Errorf("objects: unknown scheme %q: want file:///path or s3://bucket/prefix", u.Scheme)
}

// checkKey refuses keys that could leave the prefix or the directory.
func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
		return fmt.Errorf("objects: bad key %q", key)
	}
	for part := range strings.SplitSeq(key, "/") {
		if part == "" || part == "." || part == ".." || strings.HasPrefix(part, ".") {
			return fmt.Errorf("objects: bad key %q", key)
		}
	}
	return nil
}

package objects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// PartSize is the size of the parts of an upload, and so what one upload
// holds in memory: uploads stream, their length unknown in advance.
const PartSize = 8 << 20

// S3 is a Store in an S3-compatible bucket (AWS S3, MinIO, SeaweedFS,
// Cloudflare R2, GCS in interoperability mode), under a prefix. A Put is a
// multipart upload completed only once the body has ended without error,
// and aborted otherwise: until then no object exists under the key.
type S3 struct {
	client *minio.Client
	bucket string
	prefix string // "" or ending in "/"
	name   string
}

// openS3 opens s3://bucket/prefix?endpoint=…&region=…&force_path_style=….
func openS3(_ context.Context, u *url.URL, creds Credentials) (*S3, error) {
	if u.User != nil {
		return nil, errors.New("objects: s3 URL with credentials in it: give them in files or the environment")
	}
	bucket := u.Host
	if bucket == "" {
		return nil, errors.New("objects: s3 URL without a bucket: want s3://bucket/prefix")
	}
	q := u.Query()
	endpoint, secure := "s3.amazonaws.com", true
	if e := q.Get("endpoint"); e != "" {
		endpoint = e
		if eu, err := url.Parse(e); err == nil && (eu.Scheme == "http" || eu.Scheme == "https") {
			endpoint, secure = eu.Host, eu.Scheme == "https"
		}
	}
	lookup := minio.BucketLookupAuto
	if v := q.Get("force_path_style"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("objects: s3 URL: force_path_style=%q: want true or false", v)
		}
		if on {
			lookup = minio.BucketLookupPath
		} else {
			lookup = minio.BucketLookupDNS
		}
	}
	for k := range q {
		if k != "endpoint" && k != "region" && k != "force_path_style" {
			return nil, fmt.Errorf("objects: s3 URL: unknown parameter %q (endpoint, region, force_path_style)", k)
		}
	}
	var cr *credentials.Credentials
	if creds.AccessKeyID != "" {
		cr = credentials.NewStaticV4(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	} else {
		cr = credentials.NewIAM("")
	}
	client, err := minio.New(endpoint, &minio.Options{Creds: cr, Secure: secure, Region: q.Get("region"), BucketLookup: lookup})
	if err != nil {
		return nil, fmt.Errorf("objects: s3 endpoint %q: %w", endpoint, err)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	scheme := "https"
	if !secure {
		scheme = "http"
	}
	return &S3{client: client, bucket: bucket, prefix: prefix,
		name: fmt.Sprintf("s3://%s/%s (%s://%s)", bucket, prefix, scheme, endpoint)}, nil
}

// Put streams body as a multipart upload of PartSize parts. The parts of an
// upload that a process killed left behind are removed first.
func (s *S3) Put(ctx context.Context, key string, body io.Reader, contentType string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	name := s.prefix + key
	// Best effort: a bucket lifecycle rule (AbortIncompleteMultipartUpload)
	// catches what this misses.
	_ = s.client.RemoveIncompleteUpload(ctx, s.bucket, name)
	_, err := s.client.PutObject(ctx, s.bucket, name, body, -1,
		minio.PutObjectOptions{ContentType: contentType, PartSize: PartSize, DisableContentSha256: false})
	if err != nil {
		return fmt.Errorf("objects: put %s: %w", key, err)
	}
	return nil
}

// Delete removes the object of key.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{}); err != nil {
		var er minio.ErrorResponse
		if errors.As(err, &er) && er.Code == "NoSuchKey" {
			return nil
		}
		return fmt.Errorf("objects: delete %s: %w", key, err)
	}
	return nil
}

// Stat returns the size of the object of key.
func (s *S3) Stat(ctx context.Context, key string) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	info, err := s.client.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		if er := minio.ToErrorResponse(err); er.Code == "NoSuchKey" || er.StatusCode == 404 {
			return 0, fmt.Errorf("objects: stat %s: %w", key, ErrNotExist)
		}
		return 0, fmt.Errorf("objects: stat %s: %w", key, err)
	}
	return info.Size, nil
}

// Link returns a presigned GET URL of the object, valid for ttl.
func (s *S3) Link(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if _, err := s.Stat(ctx, key); err != nil {
		return "", err
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, s.prefix+key, ttl, nil)
	if err != nil {
		return "", fmt.Errorf("objects: presign %s: %w", key, err)
	}
	return u.String(), nil
}

func (s *S3) String() string { return s.name }

// MakeBucket creates the bucket when it does not exist: for tests and the
// first run against a fresh server.
func (s *S3) MakeBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("objects: bucket %s: %w", s.bucket, err)
	}
	if ok {
		return nil
	}
	if err := s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("objects: make bucket %s: %w", s.bucket, err)
	}
	return nil
}

package objects_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/store/objects"
	"github.com/callsync/callsync/store/objects/objectstest"
)

// backends runs test against each Store: a local directory, and the real
// S3 gateway when CALLSYNC_TEST_WEED names one (skipped otherwise).
func backends(t *testing.T, test func(t *testing.T, st objects.Store)) {
	t.Run("Dir", func(t *testing.T) {
		d, err := objects.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		test(t, d)
	})
	t.Run("S3", func(t *testing.T) {
		s := objectstest.Start(t)
		test(t, s.Open(t, "recordings", "calls/archive"))
	})
}

// failingReader yields n random bytes, then err.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k := min(len(p), f.n)
	_, _ = rand.Read(p[:k])
	f.n -= k
	return k, nil
}

func TestStore(t *testing.T) {
	backends(t, func(t *testing.T, st objects.Store) {
		ctx := t.Context()
		key := "2026/12/07/call-1.wav"
		if _, err := st.Stat(ctx, key); !errors.Is(err, objects.ErrNotExist) {
			t.Fatalf("Stat before Put = %v, want ErrNotExist", err)
		}
		small := bytes.Repeat([]byte("RIFF"), 1000)
		if err := st.Put(ctx, key, bytes.NewReader(small), "audio/wav"); err != nil {
			t.Fatal(err)
		}
		if n, err := st.Stat(ctx, key); err != nil || n != int64(len(small)) {
			t.Fatalf("Stat = %d, %v; want %d", n, err, len(small))
		}

		// A body that fails half-way (more than one part) stores nothing,
		// and leaves the earlier object as it was.
		broken := errors.New("connection reset")
		err := st.Put(ctx, key, &failingReader{n: objects.PartSize + 1<<20, err: broken}, "audio/wav")
		if !errors.Is(err, broken) && (err == nil || !strings.Contains(err.Error(), broken.Error())) {
			t.Fatalf("Put of a failing body = %v, want its error", err)
		}
		if n, err := st.Stat(ctx, key); err != nil || n != int64(len(small)) {
			t.Fatalf("after a failed Put, Stat = %d, %v; want the earlier %d bytes", n, err, len(small))
		}
		other := "2026/12/07/call-2.wav"
		if err := st.Put(ctx, other, &failingReader{n: 1000, err: broken}, "audio/wav"); err == nil {
			t.Fatal("Put of a failing body succeeded")
		}
		if _, err := st.Stat(ctx, other); !errors.Is(err, objects.ErrNotExist) {
			t.Fatalf("after a failed first Put, Stat = %v, want ErrNotExist", err)
		}

		// A large body streams through in parts.
		big := &failingReader{n: 2*objects.PartSize + 12345, err: io.EOF}
		if err := st.Put(ctx, other, big, "audio/wav"); err != nil {
			t.Fatal(err)
		}
		if n, err := st.Stat(ctx, other); err != nil || n != 2*objects.PartSize+12345 {
			t.Fatalf("Stat of the large object = %d, %v", n, err)
		}

		link, err := st.Link(ctx, key, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		got := readLink(t, link)
		if !bytes.Equal(got, small) {
			t.Fatalf("the link serves %d bytes, want the %d stored", len(got), len(small))
		}

		for _, k := range []string{key, other, key} { // deleting twice is no error
			if err := st.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.Stat(ctx, key); !errors.Is(err, objects.ErrNotExist) {
			t.Fatalf("Stat after Delete = %v, want ErrNotExist", err)
		}
		for _, bad := range []string{"", "/abs", "../x", "a/../b", ".partial/x", "a//b"} {
			if err := st.Put(ctx, bad, strings.NewReader("x"), ""); err == nil {
				t.Errorf("Put(%q) succeeded, want a bad key", bad)
			}
		}
	})
}

// readLink reads what a link serves: a presigned URL or a file path.
func readLink(t *testing.T, link string) []byte {
	t.Helper()
	if strings.HasPrefix(link, "/") {
		b, err := os.ReadFile(link)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET presigned link: %s", resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	if st, err := objects.Open(t.Context(), "file://"+dir, objects.Credentials{}); err != nil || st.String() != "file://"+dir {
		t.Fatalf("Open(file://) = %v, %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".partial")); err != nil {
		t.Fatal(err)
	}
	st, err := objects.Open(t.Context(), "s3://bucket/some/prefix?endpoint=http://127.0.0.1:9&region=eu-west-1&force_path_style=true", objects.Credentials{AccessKeyID: "a", SecretAccessKey: "b"})
	if err != nil || !strings.Contains(st.String(), "s3://bucket/some/prefix/") {
		t.Fatalf("Open(s3://) = %v, %v", st, err)
	}
	for _, bad := range []string{"", "ftp://x/y", "file://host/x", "file:relative", "s3:///prefix",
		"s3://user:secret@bucket/p", "s3://bucket/p?force_path_style=maybe", "s3://bucket/p?acl=public"} {
		_, err := objects.Open(t.Context(), bad, objects.Credentials{})
		if err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) = %v: the error repeats the credentials", bad, err)
		}
	}
}

// Package objectstest starts a real S3-compatible server for tests:
// SeaweedFS, from the binary that CALLSYNC_TEST_WEED names. Tests that need
// it skip, saying how to run them, when the variable is not set; so
// `go test ./...` needs only Go and PostgreSQL. .ci/run builds the binary.
package objectstest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/callsync/callsync/store/objects"
)

// EnvWeed names the SeaweedFS binary (weed) the S3 tests run.
const EnvWeed = "CALLSYNC_TEST_WEED"

// Access keys of the test server's one identity.
const (
	AccessKey = "callsync-test"
	SecretKey = "callsync-test-secret-key"
)

// S3 is a SeaweedFS server with an S3 gateway, started for one test.
type S3 struct {
	// Endpoint is http://127.0.0.1:PORT.
	Endpoint string
	Creds    objects.Credentials
}

// URL returns the s3:// URL of bucket/prefix on the server.
func (s *S3) URL(bucket, prefix string) string {
	return fmt.Sprintf("s3://%s/%s?endpoint=%s&region=us-east-1&force_path_style=true", bucket, prefix, s.Endpoint)
}

// Open opens bucket/prefix on the server, creating the bucket.
func (s *S3) Open(t testing.TB, bucket, prefix string) *objects.S3 {
	t.Helper()
	st, err := objects.Open(t.Context(), s.URL(bucket, prefix), s.Creds)
	if err != nil {
		t.Fatal(err)
	}
	s3 := st.(*objects.S3)
	if err := s3.MakeBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s3
}

// Start starts `weed server -s3` on free loopback ports in a temporary
// directory, waits until its S3 gateway answers, and stops it when the test
// ends. It skips the test when CALLSYNC_TEST_WEED is not set.
func Start(t testing.TB) *S3 {
	t.Helper()
	bin := os.Getenv(EnvWeed)
	if bin == "" {
		t.Skipf("no S3 server: set %s to a SeaweedFS binary (weed) to run this test against a real S3 gateway; .ci/run builds one", EnvWeed)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `{"identities":[{"name":"test","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","Write","List","Tagging"]}]}`,
		AccessKey, SecretKey), 0o600); err != nil {
		t.Fatal(err)
	}
	p := freePorts(t, 8)
	args := []string{"server", "-dir=" + filepath.Join(dir, "data"), "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port=" + p[0], "-master.port.grpc=" + p[1], "-volume.port=" + p[2], "-volume.port.grpc=" + p[3],
		"-filer", "-filer.port=" + p[4], "-filer.port.grpc=" + p[5], "-s3", "-s3.port=" + p[6], "-s3.port.grpc=" + p[7],
		"-s3.config=" + conf, "-master.volumeSizeLimitMB=64", "-volume.max=16"}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o750); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		if err := <-exited; err != nil {
			t.Logf("weed server stopped: %v", err) // interrupted on purpose
		}
	})
	endpoint := "http://127.0.0.1:" + p[6]
	s := &S3{Endpoint: endpoint, Creds: objects.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey}}
	// Ready when a bucket can be made: the gateway answers before the
	// filer and a volume are up.
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := objects.Open(t.Context(), s.URL("ready", ""), s.Creds)
		if err == nil {
			rctx, rcancel := context.WithTimeout(t.Context(), 5*time.Second)
			err = st.(*objects.S3).MakeBucket(rctx)
			rcancel()
		}
		if err == nil {
			return s
		}
		select {
		case e := <-exited:
			t.Fatalf("weed server exited: %v\n%s", e, out.String())
		case <-time.After(200 * time.Millisecond): // polls a process that signals nothing
		}
		if time.Now().After(deadline) {
			t.Fatalf("weed server's S3 gateway not ready after 60 s: %v\n%s", err, tail(out.String()))
		}
	}
}

// freePorts returns n free loopback ports, all different.
func freePorts(t testing.TB, n int) []string {
	t.Helper()
	var ports []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/store/storetest"
)

// binary is the callsync binary the bench's worker processes run.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "callsync-bench-test-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "callsync")
	if out, err := exec.Command("go", "build", "-o", binary, workerModule).CombinedOutput(); err != nil {
		panic("build callsync: " + err.Error() + "\n" + string(out))
	}
	code := storetest.Run(m)
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "remove the test binary:", err)
	}
	os.Exit(code)
}

// result is what one bench run printed and returned.
type result struct {
	stdout, stderr string
	err            error
}

// runBenchCmd runs the bench in-process with args.
func runBenchCmd(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), args, &stdout, &stderr)
	return result{stdout.String(), stderr.String(), err}
}

// TestBench runs the benchmark harness end to end on tiny inputs, through
// the real worker binary: every phase runs and prints well-formed figures,
// every call is drained and re-synced unchanged, the naive sample and the
// backfill run. It measures nothing.
func TestBench(t *testing.T) {
	admin := storetest.NewDatabase(t) // its server hosts the bench's own database
	r := runBenchCmd(t, "--create-databases-on", admin, "--calls", "100", "--naive-sample", "10",
		"--prefill", "50", "--processes", "2", "--runs", "1", "--backfill", "--worker-binary", binary)
	if r.err != nil {
		t.Fatalf("bench: %v\n%s\n%s", r.err, r.stdout, r.stderr)
	}
	for _, want := range []string{"prefilled 50 calls", "unchanged re-sync is", "fresh sync is",
		"2 process(es), limiter 1000000/min:", "2 process(es), no limiter:", "of the rates without a limiter",
		"backfill is"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, phase := range []string{"fresh sync", "unchanged re-sync"} {
		m := regexp.MustCompile(phase + `\s+(\d+) calls .* (\d+\.\d+) requests/call`).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("no %s line:\n%s", phase, r.stdout)
		}
		if n, _ := strconv.Atoi(m[1]); n != 100 {
			t.Errorf("%s synced %d calls, want 100", phase, n)
		}
		if m[2] != "1.00" {
			t.Errorf("%s used %s requests per call, want 1.00", phase, m[2])
		}
	}
	// The limiter leases tokens: far fewer bucket writes than requests.
	m := regexp.MustCompile(`limiter writes (\d+\.\d+) per request`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no limiter writes:\n%s", r.stdout)
	}
	if w, _ := strconv.ParseFloat(m[1], 64); w <= 0 || w > 0.5 {
		t.Errorf("limiter writes %s per request, want some but well under one", m[1])
	}
	// The time requests waited for the limiter, from the workers' pass
	// summaries: some (the first request of each process waits for the
	// bucket), and a share of the workers' time.
	for _, m := range regexp.MustCompile(`limiter: requests waited (\S+) in all, (\d+\.\d) % of the fetch workers' time`).FindAllStringSubmatch(r.stdout, -1) {
		d, err := time.ParseDuration(m[1])
		if share, _ := strconv.ParseFloat(m[2], 64); err != nil || d <= 0 || share > 100 {
			t.Errorf("limiter waits %s, %s %% of the workers' time: want some, and a share", m[1], m[2])
		}
	}
	if n := strings.Count(r.stdout, "limiter: requests waited"); n < 2 {
		t.Errorf("%d limiter cost lines, want one per limited phase:\n%s", n, r.stdout)
	}
	// Backfill: every call stored from list pages, and a run over the
	// finished range lists nothing again.
	m = regexp.MustCompile(`fresh\s+(\d+) calls .* (\d+) windows, (\d+) list requests`).FindStringSubmatch(r.stdout)
	if m == nil || m[1] != "100" {
		t.Fatalf("backfill fresh run: %v\n%s", m, r.stdout)
	}
	if !regexp.MustCompile(`re-run\s+0 calls .* windows \((\d+) done before\), 0 list requests`).MatchString(r.stdout) {
		t.Errorf("the re-run of a finished range sent list requests:\n%s", r.stdout)
	}
}

// TestBench_RateLimited runs two workers sharing 600 requests a minute for
// 2 s: without the shared limiter they would fetch all 200 calls at once,
// twice the 100 the limit allows in any 10 s.
func TestBench_RateLimited(t *testing.T) {
	admin := storetest.NewDatabase(t)
	r := runBenchCmd(t, "--create-databases-on", admin, "--calls", "200", "--rate-limit", "600",
		"--duration", "2s", "--processes", "2", "--runs", "1", "--worker-binary", binary)
	if r.err != nil {
		t.Fatalf("bench: %v\n%s\n%s", r.err, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "under the limit") {
		t.Errorf("two workers sharing 600/min went over it:\n%s", r.stdout)
	}
}

// TestBench_Usage: bad flags are usage errors, and the bench creates
// databases only on a server named by --create-databases-on.
func TestBench_Usage(t *testing.T) {
	for _, args := range [][]string{
		{"--calls", "0"},
		{"--processes", "0"},
		{"--create-databases-on", "mysql://db/x"},
		{"--keep"},
		{"extra"},
	} {
		r := runBenchCmd(t, args...)
		if !errors.As(r.err, new(usageError)) {
			t.Errorf("%v: err = %v, want a usage error", args, r.err)
		}
	}
	if r := runBenchCmd(t, "--help"); !errors.Is(r.err, flag.ErrHelp) || !strings.Contains(r.stderr, "-create-databases-on") {
		t.Errorf("--help: %v\n%s", r.err, r.stderr)
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callsync/callsync/store/storetest"
)

// binary is the callsync binary built for tests that need a real process
// (exit codes, signals).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "callsync-test-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "callsync")
	// With the race detector only when the tests have it (as CI runs them):
	// an instrumented binary runs several times slower, and the tests start
	// it hundreds of times.
	args := []string{"build", "-o", binary, "."}
	if raceEnabled {
		args = []string{"build", "-race", "-o", binary, "."}
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		panic("build callsync: " + err.Error() + "\n" + string(out))
	}
	code := storetest.Run(m)
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "remove the test binary:", err)
	}
	os.Exit(code)
}

// result is what one command run printed and returned.
type result struct {
	stdout, stderr string
	err            error
}

// runCmd calls run in-process with env as the whole environment.
func runCmd(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string { return env[k] }
	err := run(t.Context(), args, getenv, strings.NewReader(stdin), &stdout, &stderr)
	return result{stdout.String(), stderr.String(), err}
}

// execCmd runs the callsync binary with env added to a minimal environment
// and returns its output and exit code.
func execCmd(t *testing.T, ctx context.Context, env map[string]string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return string(out), code
}

// execWithProcess is execCmd that hands the started process to procs.
func execWithProcess(t *testing.T, ctx context.Context, env map[string]string, procs chan<- *os.Process, args ...string) (string, int) {
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Error(err)
		close(procs)
		return "", -1
	}
	procs <- cmd.Process
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return buf.String(), ee.ExitCode()
	} else if err != nil {
		t.Error(err) // Error, not Fatal: callers run this on a goroutine of their own
		return buf.String(), -1
	}
	return buf.String(), 0
}

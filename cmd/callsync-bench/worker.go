package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// workerModule is the package of the worker binary the bench starts.
const workerModule = "github.com/callsync/callsync/cmd/callsync"

// workerBinary returns the callsync binary the worker processes run: path
// when set; else a callsync beside this binary (both installed); else one
// built with `go build` into a temporary directory, which cleanup removes.
// The bench measures callsync as it ships, so the build has no race
// detector.
func workerBinary(ctx context.Context, path string, out io.Writer) (string, func(), error) {
	if path != "" {
		return path, func() {}, nil
	}
	if exe, err := os.Executable(); err == nil {
		beside := filepath.Join(filepath.Dir(exe), "callsync")
		if fi, err := os.Stat(beside); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return beside, func() {}, nil
		}
	}
	dir, err := os.MkdirTemp("", "callsync-bench-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	bin := filepath.Join(dir, "callsync")
	fmt.Fprintf(out, "building the worker binary: go build -o %s %s\n", bin, workerModule)
	if b, err := exec.CommandContext(ctx, "go", "build", "-o", bin, workerModule).CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build the worker binary: %w\n%s(or give one with --worker-binary)", err, b)
	}
	return bin, cleanup, nil
}

// Command callsync-bench measures callsync's whole sync path on one machine:
// it serves generated calls from the fake Synthflow API on loopback, drains
// them into fresh databases with real `callsync once` worker processes,
// syncs them again unchanged, and compares the batched writer with the
// naive one. It is a developer's tool, kept out of the production binary:
//
//	go run ./cmd/callsync-bench --help
//
// It never touches a database it did not create. Without
// --create-databases-on it runs its own throwaway PostgreSQL from the
// installed server binaries; with it, it creates (and drops) databases of
// its own on the server that flag names. DATABASE_URL is not read.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "callsync-bench:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "callsync-bench:", err)
		os.Exit(1)
	}
}

// env is where a run writes.
type env struct {
	stdout, stderr io.Writer
}

// run runs the command line args; tests call it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runBench(ctx, args, env{stdout: stdout, stderr: stderr})
}

// usageError is a bad command line: main exits 2 for it.
type usageError string

func (e usageError) Error() string { return string(e) }

func usagef(format string, args ...any) error { return usageError(fmt.Sprintf(format, args...)) }

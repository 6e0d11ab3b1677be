// Command callsync keeps a PostgreSQL warehouse in sync with the calls of a
// Synthflow workspace. See the README for the commands and their settings.
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

	"github.com/jackc/pgx/v5/pgconn"
)

func main() {
	exitOnSecondSignal()
	err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	code := exitCode(err)
	if code != 0 {
		fmt.Fprintln(os.Stderr, "callsync:", err)
	}
	os.Exit(code)
}

// exitOnSecondSignal makes a second SIGINT or SIGTERM end the process at
// once: the first one asks for a clean stop, which may take the shutdown
// grace; an impatient operator loses nothing, since rows still claimed come
// back when their lease expires.
func exitOnSecondSignal() {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ch
		<-ch
		fmt.Fprintln(os.Stderr, "callsync: second signal: exiting now; claimed calls return to the queue when their lease expires")
		os.Exit(130)
	}()
}

// exitCode maps run's error to the process's exit status: 0 for success
// and --help, 2 for usage errors, 1 for everything else.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(*usageError)):
		return 2
	default:
		return 1
	}
}

// usageError is a mistake in the command line or environment.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// env carries what a command reads from its process.
type env struct {
	getenv  func(string) string
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	secrets *secretSet // redacted from stdout, stderr and the error run returns
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, e env) error
}

var commands = []command{
	{"migrate", "apply, roll back or list database migrations", runMigrate},
	{"enqueue", "queue call ids for syncing", runEnqueue},
	{"once", "run one sync pass: drain what is due, then exit", runOnce},
	{"run", "run sync passes on a schedule until stopped", runRun},
	{"status", "show the queue: counts, oldest due call, failures", runStatus},
	{"retry-failed", "queue failed calls again", runRetryFailed},
	{"limits", "show or clear the pause of API requests after a 429", runLimits},
	{"backfill", "store past calls from list pages, window by window, resumably", runBackfill},
	{"poll", "list recent calls of some agents once and store them", runPoll},
	{"verify", "compare the API's call counts with the warehouse's per agent and day", runVerify},
	{"agents", "list the agents (GET /v2/assistants/) into the agents table", runAgents},
	{"search-index", "switch the full-text index of transcripts on or off", runSearchIndex},
	{"rollups", "fold or rebuild the daily rollups behind the daily views, or show their state", runRollups},
	{"forget", "erase calls for good, by id or phone number, so that no sync brings them back", runForget},
	{"prune", "apply retention: remove transcripts, recordings, variables or details of old calls", runPrune},
	{"recording-link", "print a short-lived link to the archived recording of one call", runRecordingLink},
	{"variables", "list, share or unshare the collected variables whose values BI readers see", runVariables},
	{"demo", "run the whole job against a throwaway database and a fake API", runDemo},
	{"version", "print callsync's version", runVersion},
}

// run runs the command line args. It is main without the process: tests
// call it with their own environment and streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM) // SIGTERM = container stop
	defer stop()
	secrets := &secretSet{}
	e := env{getenv: getenv, stdin: stdin, stdout: secrets.writer(stdout), stderr: secrets.writer(stderr), secrets: secrets}
	switch {
	case len(args) == 0:
		printUsage(stdout)
		return usagef("no command given")
	case args[0] == "-version" || args[0] == "--version":
		return runVersion(ctx, args[1:], e)
	case args[0] == "help" && len(args) > 1:
		if c, ok := findCommand(args[1]); ok { // help CMD is CMD --help
			e.stderr = e.stdout
			return c.run(ctx, []string{"--help"}, e)
		}
		printUsage(stderr)
		return usagef("help: unknown command %q", args[1])
	case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
		printUsage(stdout)
		return nil
	}
	if c, ok := findCommand(args[0]); ok {
		return secrets.error(hintUnmigrated(c.run(ctx, args[1:], e)))
	}
	printUsage(stderr)
	return usagef("unknown command %q", args[0])
}

func findCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "callsync keeps a PostgreSQL warehouse in sync with your Synthflow calls.")
	fmt.Fprintln(w, "\nUsage: callsync <command> [flags]\n\nCommands:")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'callsync help <command>' (or 'callsync <command> --help') for a command's flags; a flag's\n"+
		"environment variable, when it has one, is named in brackets after it. 'callsync --version' prints the version.")
}

// hintUnmigrated adds what to do to an error that comes from a database
// without callsync's tables.
func hintUnmigrated(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return fmt.Errorf("%w\nThe database has no callsync tables yet: run 'callsync migrate up' first (run and once apply migrations at start)", err)
	}
	return err
}

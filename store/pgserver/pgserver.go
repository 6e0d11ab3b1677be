// Package pgserver runs a throwaway PostgreSQL server from the installed
// server binaries, for `callsync demo` and for tests on a machine without a
// running server.
//
// Start creates a temporary directory, runs initdb in it and starts postgres
// on a free loopback port; Close stops the server and removes the directory.
// The server listens on 127.0.0.1 only, trusts every local connection and
// has a single superuser, postgres: it is for one program's use, never for
// data that must survive.
//
// initdb and postgres refuse to run as root, so as root both run as the
// postgres OS user (the one the distribution's package creates). The server
// runs in a process group of its own, so a Ctrl-C in the terminal leaves it
// to the program's cleanup, and on Linux it gets SIGQUIT if the program dies
// without stopping it.
package pgserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrClosed is returned by Restart on a server that was closed.
var ErrClosed = errors.New("pgserver: server closed")

// Timeouts used when the caller's context sets none.
const (
	defaultStartTimeout = 60 * time.Second
	closeTimeout        = 30 * time.Second
	pollInterval        = 20 * time.Millisecond
	portAttempts        = 3
)

// Options configures Start. The zero value starts a production-like server
// on a free port from the binaries FindBinDir finds.
type Options struct {
	// BinDir is the directory holding initdb and postgres; empty means
	// FindBinDir.
	BinDir string
	// Port is the TCP port to listen on, on 127.0.0.1; zero picks a free one.
	Port int
	// Fast turns off fsync, synchronous_commit and full_page_writes: commits
	// get much faster, and an OS crash can corrupt the data. Meant for
	// tests, whose data dies with the server anyway.
	Fast bool
	// TempDir is where the server's directory is created; empty means
	// os.TempDir(). As root, the postgres OS user must be able to reach it.
	TempDir string
}

// Server is a running throwaway PostgreSQL server. Its methods are safe for
// concurrent use.
type Server struct {
	binDir  string
	dir     string // the temporary directory; holds data/ and the unix socket
	dataDir string
	logPath string
	port    int
	fast    bool
	owner   *owner

	mu     sync.Mutex
	proc   *process // nil while stopped
	closed bool
}

// process is one run of the postmaster.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the postmaster has exited
	err  error         // the result of cmd.Wait, set before done is closed
}

// starting holds a slot for each start under way in this process.
var starting = make(chan struct{}, 2)

// Start creates a data directory with initdb and starts postgres on it,
// returning once the server accepts connections. ctx bounds only the start:
// the server runs until Close. The error wraps ErrNotInstalled when no
// binaries are found; as root it is an error, before anything is created,
// when there is no postgres OS user. Errors from initdb and postgres include
// the end of their output.
func Start(ctx context.Context, opts Options) (*Server, error) {
	binDir, err := binDirOf(opts)
	if err != nil {
		return nil, err
	}
	own, err := serverOwner()
	if err != nil {
		return nil, err
	}
	// initdb takes a CPU and much I/O for seconds: starts beyond two at a
	// time (tests running in parallel) would only slow each other down past
	// their timeouts. The default timeout runs from the turn.
	select {
	case starting <- struct{}{}:
		defer func() { <-starting }()
	case <-ctx.Done():
		return nil, fmt.Errorf("start PostgreSQL: %w", ctx.Err())
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	dir, err := makeServerDir(opts)
	if err != nil {
		return nil, err
	}
	s := &Server{
		binDir:  binDir,
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		port:    opts.Port,
		fast:    opts.Fast,
		owner:   own,
	}
	s.logPath = filepath.Join(s.dataDir, "postgres.log")
	if err := s.create(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := s.startOnPort(ctx, opts.Port); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// binDirOf returns the directory of the PostgreSQL binaries: opts.BinDir,
// checked, or the one FindBinDir finds. The error wraps ErrNotInstalled.
func binDirOf(opts Options) (string, error) {
	if opts.BinDir == "" {
		return FindBinDir()
	}
	if !hasBinaries(opts.BinDir) {
		return "", fmt.Errorf("%w in %s", ErrNotInstalled, opts.BinDir)
	}
	return opts.BinDir, nil
}

// makeServerDir creates the server's temporary directory, an absolute path
// under opts.TempDir (or the system's): postgres runs in its directory, so
// its paths must not be relative.
func makeServerDir(opts Options) (string, error) {
	parent := opts.TempDir
	if parent == "" {
		parent = os.TempDir()
	}
	parent, err := filepath.Abs(parent)
	if err != nil {
		return "", fmt.Errorf("create server directory: %w", err)
	}
	dir, err := os.MkdirTemp(parent, "pgserver-")
	if err != nil {
		return "", fmt.Errorf("create server directory: %w", err)
	}
	return dir, nil
}

// startOnPort starts the postmaster on port, or, when port is 0, on a free
// port: another process may take that port between freePort and postgres
// binding it, so it tries up to portAttempts ports.
func (s *Server) startOnPort(ctx context.Context, port int) error {
	for attempt := 1; ; attempt++ {
		if port == 0 {
			var err error
			if s.port, err = freePort(); err != nil {
				return err
			}
		}
		err := s.start(ctx)
		if err == nil {
			return nil
		}
		if port != 0 || attempt == portAttempts || !errors.Is(err, errPortInUse) {
			return err
		}
	}
}

// create runs initdb and creates the log file.
func (s *Server) create(ctx context.Context) error {
	if err := s.owner.chown(s.dir); err != nil {
		return fmt.Errorf("give server directory to %s: %w", s.owner, err)
	}
	// --no-sync: the directory is thrown away with the server, so waiting for
	// it to reach the disk buys nothing and costs about a second.
	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, "initdb"),
		"--pgdata", s.dataDir, "--username", "postgres", "--auth", "trust",
		"--encoding", "UTF8", "--locale", "C", "--no-sync")
	cmd.Dir = s.dir // the caller's directory may be closed to the postgres user
	cmd.SysProcAttr = procAttr(s.owner)
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) } // initdb runs postgres children
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("run initdb as %s: %w\n%s", s.owner, err, tail(out))
	}
	f, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("create server log: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create server log: %w", err)
	}
	if err := s.owner.chown(s.logPath); err != nil {
		return fmt.Errorf("give server log to %s: %w", s.owner, err)
	}
	return nil
}

// URL returns a connection URL for database dbname on the server, as user
// postgres over TCP, e.g. postgres://postgres@127.0.0.1:PORT/dbname?sslmode=disable.
func (s *Server) URL(dbname string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, url.PathEscape(dbname))
}

// Port returns the TCP port the server listens on, on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// Dir returns the server's temporary directory, which holds the data
// directory (Dir()/data), the server log and the unix socket. Close removes
// it.
func (s *Server) Dir() string { return s.dir }

// LogPath returns the file that collects the server's output, in the data
// directory.
func (s *Server) LogPath() string { return s.logPath }

// PID returns the postmaster's process ID, or 0 while the server is stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Stop shuts the server down and keeps its data, so that Restart can start
// it again. It asks for a fast shutdown (open transactions are rolled back
// and clients disconnected) and, if ctx ends first, for an immediate one,
// then kills the process group; it returns an error only in that case.
// Stopping a stopped server does nothing.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(ctx)
}

// Restart stops the server if it runs and starts it again on the same port
// and data directory, as a chaos test needs: clients lose their connections
// and can reconnect to the same URL. It returns ErrClosed after Close, and
// the errors of Stop and Start otherwise.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.stopLocked(ctx); err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	return s.startLocked(ctx)
}

// Close stops the server, as Stop does with a 30 s limit on the fast
// shutdown, and removes its directory. It is safe to call more than once;
// later calls do nothing. It returns the errors of stopping and removing.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	stopErr := s.stopLocked(ctx)
	if err := os.RemoveAll(s.dir); err != nil {
		return errors.Join(stopErr, fmt.Errorf("remove server directory: %w", err))
	}
	return stopErr
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ready reports whether the server on s.port is this one: a connection
// proves it accepts them, and its data directory proves it is not another
// server that took the port first.
func (s *Server) ready(ctx context.Context, cfg *pgx.ConnConfig) (bool, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var dataDir string
	if err := conn.QueryRow(ctx, "SHOW data_directory").Scan(&dataDir); err != nil {
		return false, err
	}
	return dataDir == s.dataDir, nil
}

// args returns the postgres command line.
func (s *Server) args() []string {
	args := []string{
		"-D", s.dataDir,
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + s.dir,
		"-c", "logging_collector=off",
	}
	if s.fast {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	return args
}

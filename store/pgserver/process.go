package pgserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
)

// errPortInUse marks a start that failed because the port was taken.
var errPortInUse = errors.New("port in use")

// Shutdown escalation: fast shutdown, then immediate, then SIGKILL.
const (
	quitWait = 5 * time.Second
	tailSize = 4 << 10
)

// start starts the postmaster on s.port.
func (s *Server) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startLocked(ctx)
}

// startLocked starts the postmaster and waits until it serves queries. On
// failure the postmaster is stopped again and the error carries the new part
// of the server log.
func (s *Server) startLocked(ctx context.Context) error {
	logf, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("open server log: %w", err)
	}
	defer func() { _ = logf.Close() }() // never written here: postgres has its own copy once started
	logStart, err := logf.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("open server log: %w", err)
	}

	cmd := exec.Command(filepath.Join(s.binDir, "postgres"), s.args()...)
	cmd.Dir = s.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = procAttr(s.owner)
	p := &process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// On Linux the parent-death signal follows the thread that forked,
		// so that thread must live as long as the server does.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.proc = p

	if err := s.waitReady(ctx, p); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		_ = s.stopLocked(stopCtx)
		newLog := s.readLog(logStart)
		if bytes.Contains(newLog, []byte("could not bind")) || bytes.Contains(newLog, []byte("already in use")) {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return fmt.Errorf("start postgres on port %d: %w\n%s", s.port, err, tail(newLog))
	}
	return nil
}

// waitReady polls until the server accepts connections, the postmaster
// exits or ctx ends.
func (s *Server) waitReady(ctx context.Context, p *process) error {
	cfg, err := pgx.ParseConfig(s.URL("postgres"))
	if err != nil {
		return fmt.Errorf("parse server URL: %w", err)
	}
	cfg.ConnectTimeout = time.Second
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		ok, err := s.ready(ctx, cfg)
		if ok {
			return nil
		}
		if err == nil {
			err = errors.New("another server answers on the port")
		}
		select {
		case <-p.done:
			return fmt.Errorf("postgres exited during startup: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("wait for postgres: %w (last attempt: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// stopLocked stops the running postmaster, if any: fast shutdown until ctx
// ends, then immediate shutdown, then SIGKILL to the process group.
func (s *Server) stopLocked(ctx context.Context) error {
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	proc := p.cmd.Process
	interrupt(proc)
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
	}
	quit(proc)
	select {
	case <-p.done:
		return fmt.Errorf("stop postgres: fast shutdown: %w; did an immediate shutdown", ctx.Err())
	case <-time.After(quitWait):
	}
	_ = killGroup(proc.Pid)
	<-p.done
	return fmt.Errorf("stop postgres: fast and immediate shutdown timed out; killed it\n%s", tail(s.readLog(0)))
}

// readLog returns the server log from byte off on, at most its last
// tailSize bytes.
func (s *Server) readLog(off int64) []byte {
	f, err := os.Open(s.logPath)
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }() // only read
	if fi, err := f.Stat(); err == nil && fi.Size()-off > tailSize {
		off = fi.Size() - tailSize
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil
	}
	b, _ := io.ReadAll(f)
	return b
}

// tail formats the last lines of a program's output for an error message.
func tail(out []byte) string {
	out = bytes.TrimSpace(out)
	if len(out) > tailSize {
		out = out[len(out)-tailSize:]
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			out = out[i+1:]
		}
	}
	if len(out) == 0 {
		return "(no output)"
	}
	return "--- output ---\n" + string(out)
}

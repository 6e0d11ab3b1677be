//go:build !unix

package pgserver

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// owner is unused off Unix.
type owner struct{}

// serverOwner reports that Start is not supported here: stopping postgres
// cleanly needs Unix signals.
func serverOwner() (*owner, error) {
	return nil, fmt.Errorf("throwaway server on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func (o *owner) chown(string) error        { return nil }
func (o *owner) String() string            { return "the current user" }
func procAttr(*owner) *syscall.SysProcAttr { return nil }
func interrupt(p *os.Process)              { _ = p.Kill() }
func quit(p *os.Process)                   { _ = p.Kill() }
func killGroup(int) error                  { return nil }

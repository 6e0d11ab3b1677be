//go:build unix

package pgserver

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// owner is the OS user that runs initdb and postgres when it is not the
// current user.
type owner struct {
	uid, gid int
}

// serverOwner returns nil when initdb and postgres can run as the current
// user. Both refuse to run as root, so as root it returns the postgres OS
// user, and an error when there is none.
func serverOwner() (*owner, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, which initdb and postgres refuse, and there is no "+
			"\"postgres\" OS user to run them as (%v): create one (useradd --system --user-group postgres; "+
			"Debian's postgresql package does) or run as a non-root user", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("parse uid %q of OS user postgres: %w", u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("parse gid %q of OS user postgres: %w", u.Gid, err)
	}
	return &owner{uid: uid, gid: gid}, nil
}

// chown gives path to o; a nil o keeps the current owner.
func (o *owner) chown(path string) error {
	if o == nil {
		return nil
	}
	return os.Lchown(path, o.uid, o.gid)
}

// String names o for error messages.
func (o *owner) String() string {
	if o == nil {
		return "the current user"
	}
	return fmt.Sprintf("uid %d", o.uid)
}

// procAttr runs a child as o, in a process group of its own: a Ctrl-C in
// the terminal reaches the foreground group only, so the server outlives the
// interrupt long enough for the caller's cleanup to stop it properly.
func procAttr(o *owner) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if o != nil {
		a.Credential = &syscall.Credential{Uid: uint32(o.uid), Gid: uint32(o.gid)}
	}
	setDeathSignal(a)
	return a
}

// interrupt asks the postmaster for a fast shutdown: roll back open
// transactions, disconnect clients, checkpoint, exit.
func interrupt(p *os.Process) { _ = p.Signal(syscall.SIGINT) }

// quit asks the postmaster for an immediate shutdown, without a checkpoint.
func quit(p *os.Process) { _ = p.Signal(syscall.SIGQUIT) }

// killGroup kills the process group led by pid: initdb and the postgres it
// runs, or a postmaster. (Backends call setsid, so they are not in the group;
// they exit by themselves when they notice the postmaster is gone.)
func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }

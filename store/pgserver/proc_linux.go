package pgserver

import "syscall"

// setDeathSignal has the kernel send the postmaster SIGQUIT (immediate
// shutdown) when its parent dies without stopping it, e.g. on SIGKILL or a
// test timeout, so no server outlives the program that started it. The
// signal fires when the forking *thread* exits, which is why Server forks
// postgres from a goroutine locked to its thread for the server's lifetime.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGQUIT }

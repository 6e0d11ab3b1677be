package storetest

import (
	"flag"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// minParallel is the -test.parallel that Run sets when the command line
// does not: the default, GOMAXPROCS, suits tests that keep a CPU busy, but
// database tests mostly wait (on PostgreSQL, on child processes, on timers),
// and on a two-core machine two at a time would leave both cores idle.
const minParallel = 8

// Parallel runs t in parallel with the other top-level tests of its package
// that do the same, as t.Parallel does. NewDatabase, NewEmptyDatabase and
// Pool call it, so every test with a database of its own runs in parallel
// without saying so; a test that needs no database but is slow for want of
// a CPU (a server of its own, child processes) calls it too. It does nothing
// for a subtest (its parent decides: subtests often run in order on shared
// state), a benchmark, a test that is already parallel, or one that may not
// be (it used t.Setenv or t.Chdir).
func Parallel(t testing.TB) {
	tt, ok := t.(*testing.T)
	if !ok || strings.Contains(tt.Name(), "/") {
		return
	}
	// t.Parallel panics, before changing anything, when the test is already
	// parallel or may not be; either way the test stays as it is.
	defer func() { _ = recover() }()
	tt.Parallel()
}

// raiseParallel sets -test.parallel to at least minParallel when the
// command line did not set it.
func raiseParallel() {
	f := flag.Lookup("test.parallel")
	if f == nil {
		return
	}
	if !flag.Parsed() {
		flag.Parse()
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = f.Value.Set(strconv.Itoa(max(minParallel, runtime.GOMAXPROCS(0))))
	}
}

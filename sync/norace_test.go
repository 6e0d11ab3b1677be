//go:build !race

package sync_test

// raceEnabled reports whether the tests run with the race detector, whose
// shadow memory grows a process's resident memory several times over.
const raceEnabled = false

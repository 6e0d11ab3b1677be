package main

import "testing"

// A wake-up that comes while a scheduled pass runs has its own pass run
// after it, not the scheduled one again: a scheduled pass records itself
// whatever it finds, so a NOTIFY from anyone who can connect would
// otherwise buy a recorded pass.
func TestPassGate_WakeRunsItsOwnPassAfter(t *testing.T) {
	var g passGate
	var ran []string
	inside := make(chan struct{})
	release := make(chan struct{})
	done := make(chan bool)
	go func() {
		done <- g.run(func() {
			ran = append(ran, "scheduled")
			close(inside)
			<-release
		}, false)
	}()
	<-inside
	if g.run(func() { ran = append(ran, "woken") }, true) {
		t.Fatal("a second pass ran while one was running")
	}
	if g.run(func() { ran = append(ran, "tick") }, false) {
		t.Fatal("a tick ran while a pass was running")
	}
	if !g.wanted() {
		t.Fatal("wanted() = false with a wake-up waiting")
	}
	close(release)
	if !<-done {
		t.Fatal("the first run reported that it ran nothing")
	}
	if want := []string{"scheduled", "woken"}; len(ran) != 2 || ran[0] != want[0] || ran[1] != want[1] {
		t.Fatalf("passes ran %v, want %v", ran, want)
	}
	if g.wanted() {
		t.Fatal("wanted() = true after the queued pass ran")
	}
	if !g.run(func() { ran = append(ran, "next") }, false) || ran[2] != "next" {
		t.Fatalf("the gate stayed shut after its passes: %v", ran)
	}
}

package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	callsync "github.com/callsync/callsync/sync"
)

// TestLogPass_IdleAtDebug checks that a pass with nothing to do logs at
// debug, so that an idle worker's log stays quiet at info.
func TestLogPass_IdleAtDebug(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	logPass(logger, callsync.Stats{}, time.Millisecond, 0, 0, nil, "")
	if buf.Len() != 0 {
		t.Errorf("an idle pass logs at info: %s", buf.String())
	}
	logPass(logger, callsync.Stats{Claimed: 1, Done: 1}, time.Millisecond, 0, 0, nil, "")
	if !strings.Contains(buf.String(), "sync pass done") {
		t.Errorf("a pass that did something is not logged at info: %q", buf.String())
	}
}

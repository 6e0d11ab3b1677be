package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// TestLogJSON_Durations checks that JSON logs write durations as strings.
func TestLogJSON_Durations(t *testing.T) {
	var buf bytes.Buffer
	lc := logConfig{level: "info", format: "json", color: "0"}
	logger, err := lc.logger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	logger.Info("x", "took", 1500*time.Millisecond)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["took"] != "1.5s" {
		t.Errorf("took = %#v (%v), want \"1.5s\"", rec["took"], err)
	}
}

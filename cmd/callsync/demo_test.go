package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/callsync/callsync/store/storetest"
)

// demoRows reads the row counts the demo printed.
func demoRows(t *testing.T, out string) map[string]int {
	t.Helper()
	rows := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^  (calls|transcript_lines|collected_variables|call_telephony|call_actions|call_judgements|agents)\s+(\d+)$`).FindAllStringSubmatch(out, -1) {
		rows[m[1]], _ = strconv.Atoi(m[2])
	}
	return rows
}

func TestDemo_Throwaway(t *testing.T) {
	r := runCmd(t, map[string]string{}, "", "demo", "--calls", "50")
	if r.err != nil {
		t.Fatalf("demo: %v\n%s\n%s", r.err, r.stdout, r.stderr)
	}
	rows := demoRows(t, r.stdout)
	for _, table := range storetest.DataTables {
		if rows[table] == 0 {
			t.Errorf("demo landed no rows in %s:\n%s", table, r.stdout)
		}
	}
	if rows["calls"] != 50 {
		t.Errorf("calls = %d, want 50", rows["calls"])
	}
	m := regexp.MustCompile(`in (/\S+) \(removed on exit\)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("demo did not say where the server lived:\n%s", r.stdout)
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("server directory %s left behind", m[1])
	}
	if rows["agents"] == 0 {
		t.Errorf("demo listed no agents:\n%s", r.stdout)
	}
	for _, want := range []string{"Calls per day and agent", "Top end-call reasons", "FROM   daily_call_stats",
		"FROM   daily_action_outcomes", "FROM   daily_judgement_results", "transfer-failed-timeout", "answered_by_human"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}

func TestDemo_DatabaseURL(t *testing.T) {
	r := runCmd(t, map[string]string{"DATABASE_URL": storetest.NewDatabase(t)}, "", "demo", "--calls", "20")
	if r.err != nil {
		t.Fatalf("demo: %v\n%s", r.err, r.stderr)
	}
	if rows := demoRows(t, r.stdout); rows["calls"] != 20 || rows["transcript_lines"] == 0 {
		t.Errorf("rows = %v", rows)
	}
}

package sync_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/api/apitest"
	callsync "github.com/callsync/callsync/sync"
)

// TestBackfill_HostileListPage (issue 19.9): a list page with an absurd
// total_records, a call from year 9999, ids that no intake accepts (a NUL
// that would make it collide with another id once removed, a path, 129
// bytes) and one id listed twice fails nothing but its own entries: every
// window is read, the bad ids are not stored, the future start time is
// not kept, the more complete of the two entries of one id wins, and the
// log names no content.
func TestBackfill_HostileListPage(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 99, Calls: 20, Models: 1})
	in := newIntake(t, calls)
	model := in.srv.Models()[0]
	start := `"1778000000000"` // 2026-05-05
	page := `{"status":"ok","response":{"pagination":{"total_records":1000000000000,"limit":100,"offset":0},"calls":[` +
		strings.Join([]string{
			hostileCall("dup-1", "model_id", jsonString(model), "status", `"in-progress"`, "start_time", start,
				"name", `"Partial Entry"`),
			hostileCall("dup-1", "model_id", jsonString(model), "status", `"completed"`, "start_time", start,
				"telephony_end", `"2026-05-05T10:05:00"`, "name", `"Complete Entry"`),
			hostileCall("future-1", "model_id", jsonString(model), "start_time", `"253402214400000"`),
			hostileCall("nul\x00a", "model_id", jsonString(model), "start_time", start, "name", `"Impostor"`),
			hostileCall("nula", "model_id", jsonString(model), "start_time", start, "name", `"Genuine"`),
			hostileCall("a/../b", "model_id", jsonString(model), "start_time", start),
			hostileCall(strings.Repeat("x", 129), "model_id", jsonString(model), "start_time", start),
		}, ",") + `]}}`
	in.srv.ScriptList(model, apitest.Step{Status: http.StatusOK, Body: page})
	now := genTo.Add(time.Hour)
	rep, err := in.backfiller(now).Run(t.Context(), in.windows(genFrom, genTo, 24*time.Hour), callsync.BackfillOptions{})
	if err != nil {
		t.Fatalf("Run: %v (report %+v)", err, rep)
	}
	if rep.Done != rep.Windows {
		t.Fatalf("%d of %d windows done", rep.Done, rep.Windows)
	}
	var others []string
	for _, c := range calls {
		if c.Start().After(genFrom.Add(24 * time.Hour)) {
			others = append(others, c.ID())
		}
	}
	if got := in.count(`SELECT count(*) FROM calls WHERE call_id = ANY($1)`, others); got != len(others) || got == 0 {
		t.Errorf("%d calls of the other windows stored, want %d", got, len(others))
	}
	if got := in.ids(`SELECT call_id FROM calls WHERE call_id IN ('dup-1', 'future-1', 'nula')`); strings.Join(got, ",") != "dup-1,future-1,nula" {
		t.Errorf("hostile calls stored: %v", got)
	}
	if n := in.count(`SELECT count(*) FROM calls WHERE call_id LIKE 'a/%' OR length(call_id) > 128 OR name = 'Impostor'`); n != 0 {
		t.Errorf("%d calls with ids no intake accepts were stored", n)
	}
	if n := in.count(`SELECT count(*) FROM calls WHERE call_id = 'dup-1' AND status = 'completed' AND name = 'Complete Entry'`); n != 1 {
		t.Errorf("dup-1: the complete entry did not win")
	}
	if n := in.count(`SELECT count(*) FROM calls WHERE started_at > now() + interval '1 day'`); n != 0 {
		t.Errorf("%d calls stored with a start in the future", n)
	}
	if n := in.count(`SELECT count(*) FROM backfill_checkpoints WHERE total_records > 1000000000`); n != 0 {
		t.Errorf("%d checkpoints keep an absurd total_records", n)
	}
	if rep.Rejected != 3 || rep.Duplicates < 1 {
		t.Errorf("report: %d rejected, %d duplicates; want 3 and at least 1", rep.Rejected, rep.Duplicates)
	}
	// The page stood for the first page of the first window, whose own
	// calls it hid (no client can tell), and put its calls in another
	// window, which is reported as not matching the API's count.
	if len(rep.Mismatched) != 1 {
		t.Errorf("mismatched windows: %v, want one", rep.Mismatched)
	}
	logs := in.logs.String()
	for _, word := range []string{"Impostor", "Partial", "Complete Entry", "a/../b", "xxxxxxxx"} {
		if strings.Contains(logs, word) {
			t.Errorf("the log quotes %q", word)
		}
	}
}

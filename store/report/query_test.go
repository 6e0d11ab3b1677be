package report_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/report"
	"github.com/callsync/callsync/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestQuery_RendersText(t *testing.T) {
	db := store.New(storetest.Pool(t))
	tab, err := report.Query(t.Context(), db,
		`SELECT NULL::text AS n, 0.0000::numeric AS z, date '2026-01-02' AS d, $1::int AS i`, 7)
	if err != nil {
		t.Fatal(err)
	}
	want := report.Table{Columns: []string{"n", "z", "d", "i"}, Rows: [][]string{{"NULL", "0.0000", "2026-01-02", "7"}}}
	if diff := cmp.Diff(want, tab); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestQuery_ReadOnly(t *testing.T) {
	db := store.New(storetest.Pool(t))
	if _, err := report.Query(t.Context(), db, `INSERT INTO sync_queue (call_id) VALUES ('x')`); err == nil {
		t.Fatal("Query ran an INSERT, want it refused")
	}
	counts, err := report.TableCounts(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if counts["sync_queue"] != 0 || len(counts) != 8 {
		t.Errorf("counts = %v, want 8 tables and an empty sync_queue", counts)
	}
}

// TestReports_CallBackAsksArePeoples: the example that lists the calls in
// which the person asked to be called back shows what the person said,
// not the agent's lines with the same words.
func TestReports_CallBackAsksArePeoples(t *testing.T) {
	pool := storetest.Pool(t)
	db := store.New(pool)
	ctx := t.Context()
	if _, err := pool.Exec(ctx, `INSERT INTO calls (call_id, model_id, started_at, raw) VALUES ('c1', 'm1', now(), '{}')`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO transcript_lines (call_id, line_no, speaker, text) VALUES
		('c1', 1, 'bot', 'I will call you back tomorrow.'), ('c1', 2, 'human', 'Can you call me back later?'),
		('c1', 3, 'assistant', 'Shall I call back at noon?')`); err != nil {
		t.Fatal(err)
	}
	var sql string
	for _, r := range report.Reports {
		if strings.Contains(r.Title, "asked to be called back") {
			sql = r.SQL
		}
	}
	if sql == "" {
		t.Fatal("no report of calls in which the person asked to be called back")
	}
	tab, err := report.Query(ctx, db, sql)
	if err != nil {
		t.Fatal(err)
	}
	speaker := slices.Index(tab.Columns, "speaker")
	if len(tab.Rows) == 0 || speaker < 0 {
		t.Fatalf("report: %+v, want the person's line", tab)
	}
	for _, row := range tab.Rows {
		if row[speaker] != "human" {
			t.Errorf("report shows a line of %s: %v", row[speaker], row)
		}
	}
}

package report_test

import (
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

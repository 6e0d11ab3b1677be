package sync_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

// rowVersions returns the physical version (ctid, xmin) of every row of the
// data tables but calls: any write of a row changes it.
func (h *harness) rowVersions() []string {
	h.t.Helper()
	rows, err := storetest.PoolOf(h.db).Query(h.t.Context(), `
		SELECT 'transcript_lines ' || ctid::text || ' ' || xmin::text FROM transcript_lines
		UNION ALL SELECT 'collected_variables ' || ctid::text || ' ' || xmin::text FROM collected_variables
		UNION ALL SELECT 'call_telephony ' || ctid::text || ' ' || xmin::text FROM call_telephony
		ORDER BY 1`)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// storedHash returns the payload_hash of call id.
func (h *harness) storedHash(id string) []byte {
	h.t.Helper()
	var hash []byte
	if err := storetest.PoolOf(h.db).QueryRow(h.t.Context(), `SELECT payload_hash FROM calls WHERE call_id = $1`, id).Scan(&hash); err != nil {
		h.t.Fatal(err)
	}
	return hash
}

func TestSyncer_Resync_UnchangedCallsAreNotWritten(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 11, Calls: 120})
	h := newHarness(t, calls)
	h.enqueue(ids(calls)...)
	first := h.runOnce(callsync.Config{BatchSize: 50})
	for _, c := range calls {
		if got, want := h.storedHash(c.ID()), callsync.PayloadHash(c.GetJSON()); !bytes.Equal(got, want) {
			t.Fatalf("%s: payload_hash %x, want the hash of the payload as sent %x", c.ID(), got, want)
		}
	}
	versions := h.rowVersions()
	if len(versions) < len(calls) {
		t.Fatalf("%d child rows, want many more", len(versions))
	}
	h.enqueue(ids(calls)...)
	h.makeDue() // calls with a status that is not final are fetched again too
	second := h.runOnce(callsync.Config{BatchSize: 50})
	if second.Unchanged != len(calls) || second.Done+second.Polling != len(calls) || second.Done != first.Done {
		t.Fatalf("second pass %+v, want all %d unchanged (first pass %+v)", second, len(calls), first)
	}
	if diff := cmp.Diff(versions, h.rowVersions()); diff != "" {
		t.Fatalf("an unchanged re-sync wrote child rows (-before +after):\n%.2000s", diff)
	}
	// Recognized before decoding, by the hash of the bytes received.
	if n := strings.Count(h.logs.String(), "call unchanged"); n != len(calls) {
		t.Errorf("%d calls logged as unchanged before decoding, want %d", n, len(calls))
	}
	if got := h.count(`SELECT count(*) FROM calls WHERE synced_at < now() - interval '1 minute'`); got != 0 {
		t.Errorf("%d calls kept an old synced_at", got)
	}
}

func TestSyncer_Resync_UnchangedCallWithStatusNotFinalIsPolled(t *testing.T) {
	c, err := apitest.Generate(apitest.GenerateOptions{Seed: 1, Calls: 1, From: time.Now().Add(-time.Hour), To: time.Now()})[0].
		With("status", "in-progress")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, []apitest.Call{c})
	h.enqueue(c.ID())
	if st := h.runOnce(callsync.Config{}); st.Polling != 1 {
		t.Fatalf("first pass %+v, want polling", st)
	}
	h.makeDue()
	st := h.runOnce(callsync.Config{})
	if st.Polling != 1 || st.Unchanged != 1 {
		t.Fatalf("second pass %+v, want 1 unchanged, polling", st)
	}
	if r := h.queue()[c.ID()]; r.State != store.StatePending || r.Polls != 2 {
		t.Fatalf("queue row %+v, want pending with 2 polls", r)
	}
}

func TestSyncer_Resync_HashOfAnotherVersionIsWrittenInFull(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 12, Calls: 5})
	h := newHarness(t, calls)
	h.enqueue(ids(calls)...)
	h.runOnce(callsync.Config{})
	// As a release that normalizes differently finds calls stored by the last.
	if _, err := storetest.PoolOf(h.db).Exec(t.Context(), `UPDATE calls SET payload_hash = sha256(convert_to(raw::text, 'UTF8'))`); err != nil {
		t.Fatal(err)
	}
	h.enqueue(ids(calls)...)
	h.makeDue()
	if st := h.runOnce(callsync.Config{}); st.Unchanged != 0 {
		t.Fatalf("pass %+v, want every call written again", st)
	}
	for _, c := range calls {
		if got, want := h.storedHash(c.ID()), callsync.PayloadHash(c.GetJSON()); !bytes.Equal(got, want) {
			t.Fatalf("%s: payload_hash %x, want %x", c.ID(), got, want)
		}
	}
}

// changingQueue changes the stored calls, as a concurrent backfill would,
// between their claim and the write of their unchanged payloads. Complete
// runs on the pass's writer goroutine, so a failure to change them is
// returned, to fail RunOnce, rather than reported through the test.
type changingQueue struct {
	*store.DB
}

func (q changingQueue) Complete(ctx context.Context, token int64, outcomes []store.Outcome) (store.CompleteResult, error) {
	if _, err := storetest.PoolOf(q.DB).Exec(ctx, `UPDATE calls SET payload_hash = 'written meanwhile'`); err != nil {
		return store.CompleteResult{}, fmt.Errorf("change the stored calls: %w", err)
	}
	return q.DB.Complete(ctx, token, outcomes)
}

func TestSyncer_Resync_StoredCallChangedMeanwhileIsFetchedAgain(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 13, Calls: 3})
	h := newHarness(t, calls)
	h.enqueue(ids(calls)...)
	h.runOnce(callsync.Config{})
	h.enqueue(ids(calls)...)
	h.makeDue()
	s := h.syncer(callsync.Config{})
	s.Queue = changingQueue{h.db}
	st, err := s.RunOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Unchanged != 0 || st.Released != len(calls) || st.Done != 0 {
		t.Fatalf("pass %+v, want every call given back", st)
	}
	for id, r := range h.queue() {
		if r.State != store.StatePending || r.Attempts != 0 {
			t.Errorf("%s: %+v, want pending without an attempt", id, r)
		}
	}
	st = h.runOnce(callsync.Config{})
	if st.Unchanged != 0 || st.Claimed != len(calls) {
		t.Fatalf("next pass %+v, want every call written in full", st)
	}
	for _, c := range calls {
		if got, want := h.storedHash(c.ID()), callsync.PayloadHash(c.GetJSON()); !bytes.Equal(got, want) {
			t.Fatalf("%s: payload_hash %x, want %x", c.ID(), got, want)
		}
	}
}

package store_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storetest"
)

// poisons are calls whose data PostgreSQL refuses, with the SQLSTATE.
var poisons = []struct {
	name  string
	state string
	call  func(id string) store.Call
}{
	{"NumberTooLargeForJSONB", "22003", func(id string) store.Call {
		c := hashed(id, "p")
		c.Raw = []byte(`{"call_id":"` + id + `","score":1e999999}`)
		return c
	}},
	{"InvalidJSONVariable", "22P02", func(id string) store.Call {
		c := hashed(id, "p")
		c.Variables = []store.Variable{{Name: "v", Value: []byte(`{"unterminated":`)}}
		return c
	}},
	{"DuplicateTranscriptLine", "23505", func(id string) store.Call {
		c := hashed(id, "p")
		c.Transcript = append(c.Transcript, c.Transcript[0])
		return c
	}},
	{"NULInText", "22021", func(id string) store.Call {
		c := hashed(id, "p")
		c.Name = new("a\x00b")
		return c
	}},
}

func TestDB_Complete_RejectsPoisonCalls(t *testing.T) {
	for _, p := range poisons {
		t.Run(p.name, func(t *testing.T) {
			db := testDB(t)
			ctx := t.Context()
			var ids []string
			for i := range 9 {
				ids = append(ids, string(rune('a'+i)))
			}
			mustEnqueue(t, db, ids...)
			l := claimAll(t, db)
			var outcomes []store.Outcome
			for _, id := range ids {
				c := hashed(id, "h")
				if id == "c" || id == "g" {
					c = p.call(id)
				}
				outcomes = append(outcomes, store.Outcome{CallID: id, Call: &c, State: store.StateDone})
			}
			res, err := db.Complete(ctx, l.Token, outcomes)
			if err != nil {
				t.Fatal(err)
			}
			var rejected []string
			for id, err := range res.Rejected {
				rejected = append(rejected, id)
				var pe *pgconn.PgError
				if !errors.As(err, &pe) || pe.Code != p.state {
					t.Errorf("rejected %s: %v, want SQLSTATE %s", id, err, p.state)
				}
				if !strings.Contains(err.Error(), "call "+id) {
					t.Errorf("error %q does not name the call", err)
				}
			}
			slices.Sort(rejected)
			if !slices.Equal(rejected, []string{"c", "g"}) || len(res.Lost) != 0 {
				t.Fatalf("rejected %v, lost %v; want [c g], none", rejected, res.Lost)
			}
			rows, err := storetest.PoolOf(db).Query(ctx, `SELECT call_id FROM calls ORDER BY 1`)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"a", "b", "d", "e", "f", "h", "i"}; !slices.Equal(stored, want) {
				t.Fatalf("stored %v, want %v", stored, want)
			}
			for _, id := range ids {
				want := store.StateDone
				if id == "c" || id == "g" {
					want = store.StateRunning
				}
				if got := readRow(t, db, id); got.State != want {
					t.Errorf("%s is %s, want %s", id, got.State, want)
				}
			}
			// The caller records the rejection with a follow-up outcome.
			res, err = db.Complete(ctx, l.Token, []store.Outcome{
				{CallID: "c", State: store.StateFailed, Attempt: true, Error: res.Rejected["c"].Error()},
				{CallID: "g", State: store.StatePending, Attempt: true, Delay: time.Hour, Error: "retry"},
			})
			if err != nil || len(res.Lost) != 0 || res.Rejected != nil {
				t.Fatalf("follow-up Complete = %+v, %v", res, err)
			}
			if got := readRow(t, db, "c"); got.State != "failed" || got.Attempts != 1 || !strings.Contains(*got.Error, p.state) {
				t.Errorf("c = %+v, want failed with the database error", got)
			}
		})
	}
}

func TestDB_Complete_RejectsAndLosesTogether(t *testing.T) {
	db := testDB(t)
	ctx := t.Context()
	mustEnqueue(t, db, "good", "bad", "gone")
	old := claimAll(t, db)
	// "gone" is taken over by another worker before the first completes.
	if _, err := storetest.PoolOf(db).Exec(ctx, `UPDATE sync_queue SET lease_token = lease_token + 1 WHERE call_id = 'gone'`); err != nil {
		t.Fatal(err)
	}
	good, bad, gone := hashed("good", "h"), poisons[0].call("bad"), poisons[0].call("gone")
	res, err := db.Complete(ctx, old.Token, []store.Outcome{
		{CallID: "good", Call: &good, State: store.StateDone},
		{CallID: "bad", Call: &bad, State: store.StateDone},
		{CallID: "gone", Call: &gone, State: store.StateDone},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Rejected["bad"]; !ok || len(res.Rejected) != 1 || !slices.Equal(res.Lost, []string{"gone"}) {
		t.Fatalf("Complete = %+v; want bad rejected, gone lost", res)
	}
	if got := readRow(t, db, "good"); got.State != "done" {
		t.Fatalf("good = %+v, want done", got)
	}
}

func TestDB_SaveCalls_PoisonFailsTheBatch(t *testing.T) {
	// On one connection, whose first transaction creates the staging table
	// and rolls it back, after the merge (the bad transcript fails after it)
	// or before: the next batches on the connection must not mind.
	for _, p := range []int{0, 2} {
		t.Run(poisons[p].name, func(t *testing.T) {
			cfg, err := pgxpool.ParseConfig(storetest.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			cfg.MaxConns = 1
			pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			db := store.New(pool)
			ctx := t.Context()
			_, err = db.SaveCalls(ctx, []store.Call{hashed("a", "h"), poisons[p].call("b")})
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != poisons[p].state {
				t.Fatalf("SaveCalls with a bad call = %v, want SQLSTATE %s", err, poisons[p].state)
			}
			var n int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM calls`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("%d calls stored from a failed batch", n)
			}
			for i := range 3 {
				a, b := hashed("a", "h"), hashed("b", strconv.Itoa(i))
				b.Transcript = b.Transcript[:i%2+1] // 1, 2, then 1 line
				if _, err := db.SaveCalls(ctx, []store.Call{a, b}); err != nil {
					t.Fatal(err)
				}
			}
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM transcript_lines`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 3 {
				t.Fatalf("%d transcript lines stored, want 3", n)
			}
		})
	}
}

package storebench_test

import (
	"testing"
	"time"

	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/storebench"
	"github.com/callsync/callsync/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestEmptyWarehouse(t *testing.T) {
	db := store.New(storetest.Pool(t))
	ctx := t.Context()
	if _, err := db.SaveCalls(ctx, []store.Call{{ID: "c1", Raw: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Enqueue(ctx, []string{"c2"}); err != nil {
		t.Fatal(err)
	}
	if err := storebench.EmptyWarehouse(ctx, db); err != nil {
		t.Fatal(err)
	}
	var calls, queued int
	if err := db.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM sync_queue)`).Scan(&calls, &queued); err != nil {
		t.Fatal(err)
	}
	if calls != 0 || queued != 0 {
		t.Errorf("after EmptyWarehouse: %d calls, %d queue rows, want none", calls, queued)
	}
}

func TestLimiterWrites(t *testing.T) {
	db := store.New(storetest.Pool(t))
	ctx := t.Context()
	before, err := storebench.LimiterWrites(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.TakeTokens(ctx, "bench-test", 1, 1, 10, 10); err != nil {
		t.Fatal(err)
	}
	// A server process reports its statistics at most once a second, and
	// when idle after a while: poll.
	deadline := time.Now().Add(30 * time.Second)
	for {
		after, err := storebench.LimiterWrites(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if after > before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("LimiterWrites = %d after a bucket write, want more than %d", after, before)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestCallStatusesAndQueueDepth(t *testing.T) {
	db := store.New(storetest.Pool(t))
	ctx := t.Context()
	if err := storebench.EmptyWarehouse(ctx, db); err != nil {
		t.Fatal(err)
	}
	completed := "completed"
	if _, err := db.SaveCalls(ctx, []store.Call{{ID: "s1", Status: &completed, Raw: []byte(`{}`)}, {ID: "s2", Raw: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	got, err := storebench.CallStatuses(ctx, db, []string{"s1", "s2", "s3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["s1"] != "completed" || got["s2"] != "" {
		t.Fatalf("CallStatuses = %v, want s1 completed and s2 without a status", got)
	}
	if _, err := db.Enqueue(ctx, []string{"q1", "q2"}); err != nil {
		t.Fatal(err)
	}
	if n, err := storebench.QueueDepth(ctx, db); err != nil || n != 2 {
		t.Fatalf("QueueDepth = %d, %v; want 2", n, err)
	}
}

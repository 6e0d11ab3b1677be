package sync_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/objects"
	"github.com/callsync/callsync/store/objects/objectstest"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

var (
	_ callsync.RecordingQueue      = (*store.DB)(nil)
	_ callsync.RecordingDeletions  = (*store.DB)(nil)
	_ callsync.RecordingLinker     = (*api.Client)(nil)
	_ callsync.RecordingDownloader = (*api.Downloader)(nil)
	_ callsync.ObjectStore         = (objects.Store)(nil)
	_ callsync.Budget              = (*callsync.Limiter)(nil)
)

// tokens is a Budget of n requests.
type tokens struct{ n int }

func (b *tokens) TryTake(context.Context) bool {
	if b.n == 0 {
		return false
	}
	b.n--
	return true
}

func (b *tokens) Throttled(context.Context, time.Duration) {}

// archiveHarness is a harness with calls synced (their payloads without
// recording_url, as after 2027-01-10) and an archiver into st.
type archiveHarness struct {
	*harness
	st     objects.Store
	budget *tokens
	a      *callsync.Archiver
}

// newArchiveHarness syncs n calls, all completed, each with the recording
// kind recs gives it (audio for the rest).
func newArchiveHarness(t *testing.T, st objects.Store, n int, recs map[int]apitest.Recording) (*archiveHarness, []string) {
	t.Helper()
	gen := apitest.Generate(apitest.GenerateOptions{Seed: 21, Calls: n})
	calls := make([]apitest.Call, 0, n)
	for _, c := range gen {
		c, err := c.With("status", "completed")
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, c.Without("recording_url", "call_status"))
	}
	h := newHarness(t, calls)
	idList := ids(calls)
	for i, id := range idList {
		rec, ok := recs[i]
		if !ok {
			rec = apitest.Recording{Kind: apitest.RecordingAudio}
		}
		h.api.SetRecording(id, rec)
	}
	h.enqueue(idList...)
	h.runOnce(callsync.Config{})
	ah := &archiveHarness{harness: h, st: st, budget: &tokens{n: 1000}}
	ah.a = &callsync.Archiver{Queue: h.db, Deletions: h.db, API: h.client, Objects: st, Budget: ah.budget,
		Download: api.NewDownloader(api.DownloadOptions{AllowPrivate: true}),
		Logger:   slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	return ah, idList
}

type recRow struct {
	State, Key, Error string
	Size              int64
	SHA               []byte
	Attempts          int
	Duration          *float64
}

func (h *archiveHarness) rows() map[string]recRow {
	h.t.Helper()
	rows, err := storetest.PoolOf(h.db).Query(h.t.Context(), `SELECT call_id, state, coalesce(object_key, ''), coalesce(last_error, ''),
		coalesce(size_bytes, 0), sha256, attempts, duration_seconds FROM recordings`)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]recRow{}
	for rows.Next() {
		var id string
		var r recRow
		if err := rows.Scan(&id, &r.State, &r.Key, &r.Error, &r.Size, &r.SHA, &r.Attempts, &r.Duration); err != nil {
			h.t.Fatal(err)
		}
		out[id] = r
	}
	return out
}

func (h *archiveHarness) run() callsync.ArchiveStats {
	h.t.Helper()
	st, err := h.a.RunOnce(h.t.Context())
	if err != nil {
		h.t.Fatalf("Archiver.RunOnce: %v", err)
	}
	return st
}

// storeBackends runs test against a local directory and, when
// CALLSYNC_TEST_WEED names a SeaweedFS binary, a real S3 gateway.
func storeBackends(t *testing.T, test func(t *testing.T, st objects.Store)) {
	t.Run("Dir", func(t *testing.T) {
		d, err := objects.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		test(t, d)
	})
	t.Run("S3", func(t *testing.T) {
		s := objectstest.Start(t)
		test(t, s.Open(t, "callsync", "recordings"))
	})
}

func TestArchiver(t *testing.T) {
	storeBackends(t, func(t *testing.T, st objects.Store) {
		recs := map[int]apitest.Recording{
			1: {Kind: apitest.RecordingNone},
			2: {Kind: apitest.RecordingProcessing},
			3: {Kind: apitest.RecordingGone},
			4: {Kind: apitest.RecordingExpiring},
			5: {Kind: apitest.RecordingCorrupt},
		}
		h, id := newArchiveHarness(t, st, 8, recs)

		t.Run("Archive", func(t *testing.T) {
			s := h.run()
			// Audio for 0, 4 (after a fresh link), 6 and 7.
			if s.Archived != 4 || s.None != 1 || s.Processing != 1 || s.Gone != 1 || s.Failed != 1 {
				t.Fatalf("stats = %+v", s)
			}
			if s.Requests != 9 { // one per call, and a second link for the expired one
				t.Fatalf("requests = %d, want 9", s.Requests)
			}
			rows := h.rows()
			for _, i := range []int{0, 4, 6, 7} {
				r := rows[id[i]]
				if r.State != "archived" || !strings.HasSuffix(r.Key, "/"+id[i]+".wav") || r.Size == 0 || len(r.SHA) != 32 {
					t.Fatalf("call %d: %+v", i, r)
				}
				if r.Duration == nil || *r.Duration < 2 || *r.Duration > 5 {
					t.Errorf("call %d: duration %v, want the WAV's 2-5 s", i, r.Duration)
				}
				n, err := st.Stat(t.Context(), r.Key)
				if err != nil || n != r.Size {
					t.Fatalf("call %d: object %s: %d bytes, %v; want %d", i, r.Key, n, err, r.Size)
				}
				if got := readObject(t, st, r.Key); sha256.Sum256(got) != [32]byte(r.SHA) {
					t.Errorf("call %d: stored bytes do not have the recorded SHA-256", i)
				}
			}
			// The payloads carry no recording_url, as from 2027-01-10 on: call_facts
			// counts the archived recordings all the same.
			var recorded int
			if err := storetest.PoolOf(h.db).QueryRow(t.Context(), `SELECT count(*) FROM call_facts WHERE has_recording`).Scan(&recorded); err != nil {
				t.Fatal(err)
			}
			if recorded != 4 {
				t.Errorf("call_facts: %d calls with a recording, want the 4 archived", recorded)
			}
			if got := h.api.RecordingLinksAsked(id[4]); got != 2 {
				t.Errorf("expired link: asked %d times, want 2", got)
			}
			for i, want := range map[int]string{1: "none", 2: "processing", 3: "gone", 5: "error"} {
				if r := rows[id[i]]; r.State != want || r.Key != "" {
					t.Errorf("call %d: %+v, want state %s without object", i, r, want)
				}
			}
			if r := rows[id[5]]; !strings.Contains(r.Error, "checksum mismatch") || r.Attempts != 1 {
				t.Errorf("corrupt recording: %+v, want a checksum error, 1 attempt", r)
			}
			if n := h.api.RecordingKeyLeaks(); n != 0 {
				t.Errorf("%d requests to signed links carried the API key", n)
			}
			if strings.Contains(h.logs.String(), "X-Signature") {
				t.Error("a signed link reached the log")
			}
		})

		t.Run("RerunUploadsNothing", func(t *testing.T) {
			before := h.api.Counters().Endpoint(apitest.EndpointRecording)
			s := h.run()
			if s.Requests != 0 || s.Archived != 0 {
				t.Fatalf("second run: %+v, want nothing done", s)
			}
			if got := h.api.Counters().Endpoint(apitest.EndpointRecording); got != before {
				t.Fatalf("second run asked %d links", got-before)
			}
			// Due again (time passed): the processed one is archived, the
			// corrupt one fails again; "none" for a call this old is final.
			if _, err := storetest.PoolOf(h.db).Exec(t.Context(), `UPDATE recordings SET next_try_at = now() WHERE next_try_at < 'infinity'`); err != nil {
				t.Fatal(err)
			}
			s = h.run()
			if s.Archived != 1 || s.Failed != 1 || s.None != 0 || s.Requests != 2 {
				t.Fatalf("run when due: %+v, want the processed one archived, the corrupt one failed", s)
			}
		})

		t.Run("Forget", func(t *testing.T) {
			key := h.rows()[id[0]].Key
			if _, err := callsync.Forget(t.Context(), h.db, callsync.ForgetRequest{CallIDs: []string{id[0]}}); err != nil {
				t.Fatal(err)
			}
			if r := h.rows()[id[0]]; r.State != "delete" {
				t.Fatalf("after forget: %+v, want delete", r)
			}
			n, err := callsync.DeleteMarkedRecordings(t.Context(), h.db, st)
			if err != nil || n != 1 {
				t.Fatalf("DeleteMarkedRecordings = %d, %v", n, err)
			}
			if _, err := st.Stat(t.Context(), key); !errors.Is(err, objects.ErrNotExist) {
				t.Fatalf("object of a forgotten call: %v, want gone", err)
			}
			// No intake path brings it back.
			h.enqueue(id[0])
			h.makeDue()
			h.runOnce(callsync.Config{})
			if s := h.run(); s.Requests != 0 {
				t.Fatalf("after forget: %+v", s)
			}
			if r := h.rows()[id[0]]; r.State != "deleted" || r.Key != "" {
				t.Fatalf("forgotten call: %+v", r)
			}
		})

		t.Run("Retention", func(t *testing.T) {
			key := h.rows()[id[6]].Key
			if _, err := h.db.Prune(t.Context(), store.Retention{Recordings: time.Millisecond}); err != nil {
				t.Fatal(err)
			}
			s := h.run()
			if s.Deleted < 1 {
				t.Fatalf("run after prune: %+v, want objects deleted", s)
			}
			if _, err := st.Stat(t.Context(), key); !errors.Is(err, objects.ErrNotExist) {
				t.Fatalf("object of a pruned recording: %v, want gone", err)
			}
			if got := h.count(`SELECT count(*) FROM recordings WHERE object_key IS NOT NULL`); got != 0 {
				t.Fatalf("%d objects left after retention", got)
			}
			if s := h.run(); s.Requests != 0 {
				t.Fatalf("after retention, a run asked for %d links", s.Requests)
			}
		})
	})
}

func readObject(t *testing.T, st objects.Store, key string) []byte {
	t.Helper()
	link, err := st.Link(t.Context(), key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(link, "/") {
		b, err := os.ReadFile(link)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET presigned link: %s, %v", resp.Status, err)
	}
	return b
}

// TestArchiver_KilledMidUpload stops a run while a recording streams: no
// object is left under its key, the row goes back untouched, and the next
// run archives it.
func TestArchiver_KilledMidUpload(t *testing.T) {
	storeBackends(t, func(t *testing.T, st objects.Store) {
		// Three parts: S3 has one uploaded when it stops half-way.
		h, id := newArchiveHarness(t, st, 1, map[int]apitest.Recording{0: {Kind: apitest.RecordingStall, Size: 3 * objects.PartSize}})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, err := h.a.RunOnce(ctx)
			done <- err
		}()
		select {
		case got := <-h.api.RecordingStalls():
			if got != id[0] {
				t.Fatalf("stalled %s", got)
			}
		case err := <-done:
			t.Fatalf("run ended before the stall: %v", err)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("RunOnce = %v, want context.Canceled", err)
		}
		r := h.rows()[id[0]]
		if r.State != "pending" || r.Key != "" || r.Attempts != 0 {
			t.Fatalf("after the kill: %+v, want pending, no key, no attempt", r)
		}
		key := callsync.ObjectKey(time.Time{}, id[0], "audio/wav")
		key = strings.Replace(key, "0001/01/01", h.dateOf(id[0]), 1)
		if _, err := st.Stat(t.Context(), key); !errors.Is(err, objects.ErrNotExist) {
			t.Fatalf("object after the kill: %v, want none", err)
		}
		h.api.SetRecording(id[0], apitest.Recording{Kind: apitest.RecordingAudio, Size: 3 * objects.PartSize})
		if s := h.run(); s.Archived != 1 {
			t.Fatalf("retry: %+v", s)
		}
		if n, err := st.Stat(t.Context(), key); err != nil || n != 3*objects.PartSize {
			t.Fatalf("object after the retry: %d, %v", n, err)
		}
	})
}

func (h *archiveHarness) dateOf(id string) string {
	h.t.Helper()
	var d string
	if err := storetest.PoolOf(h.db).QueryRow(h.t.Context(), `SELECT to_char(call_started_at AT TIME ZONE 'UTC', 'YYYY/MM/DD') FROM recordings WHERE call_id = $1`, id).Scan(&d); err != nil {
		h.t.Fatal(err)
	}
	return d
}

// failingStore is storage that is down.
type failingStore struct{ objects.Store }

func (failingStore) Put(_ context.Context, _ string, body io.Reader, _ string) error {
	_, _ = io.CopyN(io.Discard, body, 10)
	return errors.New("connection refused")
}

// TestArchiver_StorageDown pauses archiving: the row goes back, the run
// says so, and later runs wait for the pause.
func TestArchiver_StorageDown(t *testing.T) {
	d, err := objects.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h, id := newArchiveHarness(t, failingStore{d}, 2, nil)
	var up []bool
	h.a.StorageUp = func(ok bool) { up = append(up, ok) }
	if _, err := h.a.RunOnce(t.Context()); !errors.Is(err, callsync.ErrStorageDown) {
		t.Fatalf("RunOnce = %v, want ErrStorageDown", err)
	}
	if len(up) != 1 || up[0] {
		t.Fatalf("StorageUp calls = %v, want [false]", up)
	}
	for _, i := range []int{0, 1} {
		if r := h.rows()[id[i]]; r.State != "pending" || r.Attempts != 0 {
			t.Fatalf("call %d after the storage failed: %+v, want pending", i, r)
		}
	}
	asked := h.api.Counters().Endpoint(apitest.EndpointRecording)
	if _, err := h.a.RunOnce(t.Context()); !errors.Is(err, callsync.ErrStorageDown) {
		t.Fatalf("RunOnce while paused = %v, want ErrStorageDown", err)
	}
	if got := h.api.Counters().Endpoint(apitest.EndpointRecording); got != asked {
		t.Fatalf("a paused run asked %d links", got-asked)
	}
	if !strings.Contains(h.logs.String(), "archiving paused") {
		t.Fatalf("no log line says archiving paused:\n%s", h.logs.String())
	}
}

// TestArchiver_Budget archives only what the budget gives; the rest waits.
func TestArchiver_Budget(t *testing.T) {
	d, err := objects.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h, _ := newArchiveHarness(t, d, 5, nil)
	h.budget.n = 2
	s := h.run()
	if s.Archived != 2 || s.Requests != 2 || s.Waiting != 3 {
		t.Fatalf("stats = %+v, want 2 archived, 3 waiting", s)
	}
	if got := h.count(`SELECT count(*) FROM recordings WHERE state = 'pending' AND next_try_at <= now()`); got != 3 {
		t.Fatalf("%d rows due, want the 3 left", got)
	}
}

// TestArchiver_PrivateAddressRefused: without AllowPrivate, a link to a
// loopback address is not fetched.
func TestArchiver_PrivateAddressRefused(t *testing.T) {
	d, err := objects.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h, id := newArchiveHarness(t, d, 1, nil)
	h.a.Download = api.NewDownloader(api.DownloadOptions{})
	s := h.run()
	if s.Archived != 0 || s.Failed != 1 {
		t.Fatalf("stats = %+v", s)
	}
	if r := h.rows()[id[0]]; r.State != "error" || !strings.Contains(r.Error, "private address") {
		t.Fatalf("row = %+v, want a private-address error", r)
	}
}

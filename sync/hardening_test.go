package sync_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	callsync "github.com/callsync/callsync/sync"
)

// panicky is a Fetcher that panics for one call and asks the real client
// for the others: a stand-in for a payload that crashes the decoder.
type panicky struct {
	poison string
	inner  callsync.Fetcher
}

func (p *panicky) GetPayload(ctx context.Context, id string) (*api.Payload, error) {
	if id == p.poison {
		var calls []*api.Call
		_ = calls[len(id)] // an index out of range: a runtime panic, as a decoder bug would raise
	}
	return p.inner.GetPayload(ctx, id)
}

// TestSyncer_PanicIsAFailedAttempt: a panic while handling one call fails
// that call's attempt (stack in the log, a short last_error) and the others
// of its batch are stored.
func TestSyncer_PanicIsAFailedAttempt(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 9, Calls: 5})
	h := newHarness(t, calls)
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.ID()
	}
	h.enqueue(ids...)
	s := h.syncer(callsync.Config{MaxAttempts: 2, Retry: callsync.Backoff{Base: time.Millisecond, Max: time.Millisecond}})
	s.API = &panicky{poison: ids[2], inner: h.client}
	for range 2 {
		if _, err := s.RunOnce(t.Context()); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		h.makeDue()
	}
	q := h.queue()
	if r := q[ids[2]]; r.State != "failed" || r.Attempts != 2 || !strings.Contains(r.Error, "panic") || len(r.Error) > 300 {
		t.Fatalf("poison row = %+v, want failed after 2 attempts with a short panic message", r)
	}
	for i, id := range ids {
		if i != 2 && q[id].State != "done" {
			t.Errorf("row %s = %+v, want done", id, q[id])
		}
	}
	if logs := h.logs.String(); !strings.Contains(logs, "goroutine") || !strings.Contains(logs, "hardening_test.go") {
		t.Errorf("the log has no stack of the panic:\n%s", logs)
	}
}

// TestSyncer_RejectsConfigItCannotRun: a config Validate refuses is an
// error at once, not a pass that hangs.
func TestSyncer_RejectsConfigItCannotRun(t *testing.T) {
	h := newHarness(t, nil)
	h.enqueue("a")
	for name, cfg := range map[string]callsync.Config{
		"NegativeConcurrency": {Concurrency: -1},
		"NegativeBatch":       {BatchSize: -5},
		"ShortLease":          {Lease: time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, err := h.syncer(cfg).RunOnce(ctx)
			if err == nil || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("RunOnce = %v, want a config error at once", err)
			}
		})
	}
	if r := h.queue()["a"]; r.State != "pending" || r.Attempts != 0 {
		t.Fatalf("row = %+v, want untouched", r)
	}
}

// TestSyncer_WrongURLStopsThePass: a base URL without /v2 reaches no
// endpoint; the pass stops with ErrAPIUnavailable and no attempt counts.
func TestSyncer_WrongURLStopsThePass(t *testing.T) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 3, Calls: 4})
	h := newHarness(t, calls)
	for _, c := range calls {
		h.enqueue(c.ID())
	}
	for name, base := range map[string]string{
		"NoVersion":   strings.TrimSuffix(h.api.URL, "/v2"),
		"Unreachable": "http://127.0.0.1:1/v2",
	} {
		t.Run(name, func(t *testing.T) {
			client, err := api.NewClient(api.Options{BaseURL: base, APIKey: testKey, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			s := h.syncer(callsync.Config{})
			s.API = client
			_, err = s.RunOnce(t.Context())
			if !errors.Is(err, callsync.ErrAPIUnavailable) {
				t.Fatalf("RunOnce = %v, want ErrAPIUnavailable", err)
			}
			for id, r := range h.queue() {
				if r.State != "pending" || r.Attempts != 0 {
					t.Fatalf("row %s = %+v, want pending with no attempt", id, r)
				}
			}
		})
	}
}

// TestNormalize_ImpossibleTimings: negative or week-long durations are
// stored as NULL with a note.
func TestNormalize_ImpossibleTimings(t *testing.T) {
	row, notes, err := callsync.Normalize(mustDecode(t, `{"call_id":"a","duration":700000,
		"telephony_duration":-5,"telephony_ringing_duration":-3600000}`))
	if err != nil {
		t.Fatal(err)
	}
	if row.DurationSeconds != nil || row.Telephony != nil && (row.Telephony.DurationMS != nil || row.Telephony.RingingDurationMS != nil) {
		t.Fatalf("stored duration %v, telephony %+v; want none", row.DurationSeconds, row.Telephony)
	}
	if len(notes) != 3 {
		t.Fatalf("notes = %q, want one per field", notes)
	}
	row, notes, _ = callsync.Normalize(mustDecode(t, `{"call_id":"a","duration":60,"telephony_duration":60000,"telephony_ringing_duration":0}`))
	if *row.DurationSeconds != 60 || *row.Telephony.DurationMS != 60000 || *row.Telephony.RingingDurationMS != 0 || len(notes) != 0 {
		t.Fatalf("plausible timings changed: %+v %+v %q", row.DurationSeconds, row.Telephony, notes)
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

func runRecordingLink(ctx context.Context, args []string, e env) error {
	f := newFlagSet("recording-link", "recording-link --call-id ID [--ttl 15m] [flags]\n\n"+
		"Prints a short-lived link to the archived recording of one call, for a person allowed to listen: a presigned\n"+
		"URL for S3-compatible storage (valid for --ttl), the file's path for a local directory. It reads the object\n"+
		"key from the recordings table and the storage from SYNC_RECORDINGS_URL.", e)
	var lc logConfig
	var dc dbConfig
	var recs recordingsConfig
	var id string
	var ttl time.Duration
	lc.register(f, "warn")
	dc.register(f)
	recs.register(f)
	f.StringVar(&id, "call-id", "", "the call")
	f.DurationVar(&ttl, "ttl", 15*time.Minute, "how long a presigned link works (at most 168h)")
	if err := f.parse(args); err != nil {
		return err
	}
	switch {
	case f.NArg() > 0:
		return usagef("recording-link: unexpected argument %q", f.Arg(0))
	case id == "":
		return usagef("recording-link: give --call-id")
	case ttl <= 0 || ttl > 7*24*time.Hour:
		return usagef("recording-link: --ttl %v: want a duration from 1s to 168h", ttl)
	}
	if err := callsync.ValidateCallID(id); err != nil {
		return usagef("recording-link: %v", err)
	}
	if err := recs.validate(); err != nil {
		return err
	}
	if !recs.enabled() {
		return usagef("recording-link: no recordings storage: set SYNC_RECORDINGS_URL (--recordings-url)")
	}
	_, db, err := openLogged(ctx, e, lc, dc, false)
	if err != nil {
		return err
	}
	defer db.Close()
	rec, err := db.Recording(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("recording-link: call %s is not stored", id)
	}
	if err != nil {
		return fmt.Errorf("recording-link: %w", err)
	}
	if rec.State != store.RecordingArchived || rec.Key == "" {
		return fmt.Errorf("recording-link: the recording of call %s is not archived (state %s)", id, rec.State)
	}
	st, err := recs.open(ctx)
	if err != nil {
		return err
	}
	link, err := st.Link(ctx, rec.Key, ttl)
	if err != nil {
		return fmt.Errorf("recording-link: %w", err)
	}
	fmt.Fprintln(e.stdout, link)
	return nil
}

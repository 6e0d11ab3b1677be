package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/objects"
	callsync "github.com/callsync/callsync/sync"
)

// unlimited is the demo's budget: the fake API has no rate limit.
type unlimited struct{}

func (unlimited) TryTake(context.Context) bool             { return true }
func (unlimited) Throttled(context.Context, time.Duration) {}

// demoRecordings archives the fake API's recordings into a temporary local
// directory, as SYNC_RECORDINGS_URL=file:///… does, shows what landed, and
// removes the directory.
func demoRecordings(ctx context.Context, out io.Writer, db *store.DB, fake *apitest.Server, logger *slog.Logger) error {
	dir, err := os.MkdirTemp("", "callsync-demo-recordings-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }() // a temporary directory: nothing to do if it stays
	st, err := objects.OpenDir(dir)
	if err != nil {
		return err
	}
	client, err := api.NewClient(api.Options{BaseURL: fake.URL, APIKey: demoKey})
	if err != nil {
		return err
	}
	a := &callsync.Archiver{Queue: db, Deletions: db, API: client, Objects: st, Budget: unlimited{},
		// The fake API's signed links point at its own loopback address.
		Download: api.NewDownloader(api.DownloadOptions{AllowPrivate: true}), Logger: withComponent(logger, componentRecordings)}
	start := time.Now()
	s, err := a.RunOnce(ctx)
	if err != nil {
		return fmt.Errorf("demo: archive recordings: %w", err)
	}
	fmt.Fprintf(out, "• recordings archived into %s (SYNC_RECORDINGS_URL=file://%s): %d archived (%.1f MB), %d without a recording, "+
		"%d still processing, %d failed; %d link requests, in %s\n", dir, dir, s.Archived, float64(s.Bytes)/1e6, s.None,
		s.Processing, s.Failed, s.Requests, time.Since(start).Round(time.Millisecond))
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if rel, rerr := filepath.Rel(dir, p); rerr == nil && rel[0] != '.' {
				files = append(files, rel)
			}
		}
		return nil
	})
	sort.Strings(files)
	fmt.Fprintln(out, "  object keys (date of the call / call id), the first few:")
	for _, f := range files[:min(3, len(files))] {
		fmt.Fprintln(out, "    "+f)
	}
	rs, err := db.RecordingStatus(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "  callsync status shows:")
	printRecordingStatus(indent{out}, rs)
	return nil
}

// indent writes each line with a prefix of four spaces.
type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	if _, err := fmt.Fprint(i.w, "    "+string(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

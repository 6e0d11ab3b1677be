package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/callsync/callsync/store"
)

func runLimits(ctx context.Context, args []string, e env) error {
	f := newFlagSet("limits", "limits [flags] status|clear\n\n"+
		"After a 429 every process using the API key pauses its requests (as long as Retry-After asks, at most\n"+
		"5 minutes; without it 10 s, doubling while 429s keep coming). status shows the pause in force; clear\n"+
		"ends it for every key, and running workers resume within seconds. Clear it once the API is known to\n"+
		"answer again, e.g. after a 429 from a proxy or a Retry-After far in the future.", e)
	verb, db, err := openVerb(ctx, f, args, e, "status", "clear")
	if err != nil {
		return err
	}
	defer db.Close()
	if verb == "clear" {
		n, err := db.ClearPauses(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "limits: %d pause(s) cleared\n", n)
	}
	h, err := db.Health(ctx)
	if err != nil {
		return err
	}
	if !printPause(e.stdout, h) {
		fmt.Fprintln(e.stdout, "limits: no pause in force: API requests go at the configured rate")
	}
	return nil
}

// printPause prints the pause of API requests in force, if any, and
// reports whether there was one.
func printPause(w io.Writer, h store.Health) bool {
	if !h.APIPausedUntil.After(h.CheckedAt) {
		return false
	}
	fmt.Fprintf(w, "API requests paused after a 429: %s more (until %s UTC); 'callsync limits clear' ends it\n",
		h.APIPausedUntil.Sub(h.CheckedAt).Round(time.Second), h.APIPausedUntil.UTC().Format(time.DateTime))
	return true
}

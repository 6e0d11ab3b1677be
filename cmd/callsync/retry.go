package main

import (
	"context"
	"fmt"
	"time"
)

func runRetryFailed(ctx context.Context, args []string, e env) error {
	f := newFlagSet("retry-failed", "retry-failed [flags]\n\nQueues failed calls again, due now, with their attempts reset. 'callsync status' groups them by error.", e)
	var lc logConfig
	var dc dbConfig
	var like string
	var since time.Duration
	lc.register(f, "info")
	dc.register(f)
	f.StringVar(&like, "error-like", "", "only calls whose last error contains this text (case-insensitive), e.g. 'HTTP 503'")
	f.DurationVar(&since, "since", 0, "only calls that failed within this long, e.g. 24h (0: any time)")
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return usagef("retry-failed: unexpected argument %q", f.Arg(0))
	}
	if since < 0 {
		return usagef("retry-failed: --since must not be negative")
	}
	_, db, err := openLogged(ctx, e, lc, dc, true)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.RetryFailed(ctx, like, since)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "queued %d failed calls again\n", n)
	return nil
}

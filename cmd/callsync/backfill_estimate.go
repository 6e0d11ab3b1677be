package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	callsync "github.com/callsync/callsync/sync"
)

// printEstimate prints a dry run: the calls the API counts per agent, and
// the requests and time the backfill will take at the configured budget.
func printEstimate(w io.Writer, est callsync.BackfillEstimate, modelRequests int, ac apiConfig, names map[string]string) {
	fmt.Fprintf(w, "backfill --dry-run: %d calls in %d windows of %d agents", est.Calls, est.Windows, len(est.Models))
	if est.Skipped > 0 {
		fmt.Fprintf(w, " (%d windows done before, skipped)", est.Skipped)
	}
	fmt.Fprintf(w, "; counted with %d list requests", est.Sent)
	if modelRequests > 0 {
		fmt.Fprintf(w, " + %d to list agents", modelRequests)
	}
	fmt.Fprintln(w, "; nothing written")
	if len(est.Models) > 1 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "agent\tmodel\tcalls\twindows\trequests\t")
		for _, m := range est.Models {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t\n", agentName(names, m.ModelID), m.ModelID, m.Calls, m.Windows, m.Requests)
		}
		tw.Flush()
	}
	total := est.Requests + est.Fetches
	fmt.Fprintf(w, "the backfill will send about %d list requests", est.Requests)
	if est.Fetches > 0 {
		fmt.Fprintf(w, " + %d get requests (--enrich)", est.Fetches)
	}
	if rps := ac.requestsPerSecond(); rps > 0 {
		// The first requests go at once (the burst), the rest at the budget.
		took := time.Duration(float64(max(total-ac.rateBurst, 0)) / rps * float64(time.Second))
		fmt.Fprintf(w, ": about %s at %d requests a minute (SYNTHFLOW_RATE_LIMIT), if no other process uses the key",
			took.Round(time.Second), ac.rateLimit)
	} else {
		fmt.Fprintf(w, ", with no rate limit set (SYNTHFLOW_RATE_LIMIT=%d): as fast as the API answers", ac.rateLimit)
	}
	fmt.Fprintln(w, "; windows whose counts differ are read again, and calls still in progress are queued for a fetch of their own")
}

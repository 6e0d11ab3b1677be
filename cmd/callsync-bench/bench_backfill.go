package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callsync/callsync/api/apitest"
)

// benchBackfill measures `callsync backfill` over the calls' whole range,
// from list pages (100 calls a request, no latency): fresh into an empty
// database, then the same command again over the finished range. It
// compares the fresh rate with freshSync, the fresh sync's.
func benchBackfill(ctx context.Context, c benchConfig, admin server, calls []apitest.Call, freshSync float64, logger *slog.Logger, out io.Writer) error {
	fake, err := apitest.NewServer(apitest.Options{Calls: calls, APIKey: fakeAPIKey})
	if err != nil {
		return err
	}
	defer fake.Close()
	var from, to time.Time
	for _, call := range calls {
		if st := call.Start(); !st.IsZero() {
			if from.IsZero() || st.Before(from) {
				from = st
			}
			if st.After(to) {
				to = st
			}
		}
	}
	from = from.Truncate(24 * time.Hour)
	to = to.Truncate(24 * time.Hour).Add(24 * time.Hour)
	args := []string{"backfill", "--all-models", "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339)}
	fmt.Fprintf(out, "\nbackfill of %d calls from list pages (%s), %s to %s, rate limit %d/min:\n",
		len(calls), strings.Join(args[:2], " "), from.Format(time.DateOnly), to.Format(time.DateOnly), c.rateLimit)
	var freshRates []float64
	for run := range c.runs {
		db, dbURL, drop, err := benchDB(ctx, admin)
		if err != nil {
			return err
		}
		db.Close()
		env := append(os.Environ(), "DATABASE_URL="+dbURL, "SYNTHFLOW_API_URL="+fake.URL, "SYNTHFLOW_API_KEY="+fakeAPIKey,
			"SYNTHFLOW_API_KEY_FILE=", "SYNTHFLOW_RATE_LIMIT="+strconv.Itoa(c.rateLimit), "LOG_LEVEL=warn")
		for _, again := range []bool{false, true} {
			fake.Counters().Reset()
			r, err := runBackfillProcess(ctx, c.worker, env, args)
			if err != nil {
				drop()
				return err
			}
			requests := fake.Counters().Endpoint(apitest.EndpointListCalls)
			if !again {
				rate := float64(r.calls) / r.took.Seconds()
				freshRates = append(freshRates, rate)
				fmt.Fprintf(out, "  run %d/%d: fresh    %7d calls in %8s  %8.0f calls/s  %d windows, %d list requests\n",
					run+1, c.runs, r.calls, r.took.Round(time.Millisecond), rate, r.windows, requests)
				continue
			}
			fmt.Fprintf(out, "  run %d/%d: re-run   %7d calls in %8s  %d windows (%d done before), %d list requests\n",
				run+1, c.runs, r.calls, r.took.Round(time.Millisecond), r.windows, r.skipped, requests)
		}
		drop()
	}
	slices.Sort(freshRates)
	median := freshRates[len(freshRates)/2]
	if len(freshRates)%2 == 0 {
		median = (freshRates[len(freshRates)/2-1] + median) / 2
	}
	fmt.Fprintf(out, "  backfill is %.0f calls/s (median), %.1f× the fresh sync's rate\n", median, median/freshSync)
	return nil
}

// backfillRun is what one backfill process reported.
type backfillRun struct {
	windows, skipped, calls int
	took                    time.Duration // the process's run, start to exit
}

var backfillSummaryRE = regexp.MustCompile(`backfill: \d+ of (\d+) windows read to the end in this run(?: \((\d+) done before, skipped\))?(?:, \d+ left)?; (\d+) calls stored`)

// runBackfillProcess runs `callsync backfill` and reads its summary.
func runBackfillProcess(ctx context.Context, binary string, env, args []string) (backfillRun, error) {
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := backfillRun{took: time.Since(start)}
	if err != nil {
		return r, fmt.Errorf("bench: backfill: %w\n%s%s", err, stdout.String(), tailLines(stderr.String(), 20))
	}
	m := backfillSummaryRE.FindStringSubmatch(stdout.String())
	if m == nil {
		return r, fmt.Errorf("bench: backfill printed no summary:\n%s", stdout.String())
	}
	r.windows, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		r.skipped, _ = strconv.Atoi(m[2])
	}
	r.calls, _ = strconv.Atoi(m[3])
	return r, nil
}

package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/callsync/callsync/api/apitest"
)

// liveRun is what one live bench run measured. Times are on the clock.
type liveRun struct {
	landed     map[string]time.Time // call ID → when the warehouse first held it with a final status
	backlog    []backlogSample
	calls      []apitest.LiveCall
	requests   []apitest.Request
	phaseTimes [][2]time.Time // start and end of each phase
	metrics    map[string]int // the worker's webhook answers, by labels
	skipped    int            // schedule ticks skipped because a pass was still running
	rows       int            // rows in the calls table at the end
}

// backlogSample is the state of things one workspace minute into a run.
type backlogSample struct {
	at       time.Duration // since the workspace started, clock time
	started  int           // calls started so far
	notFinal int           // calls ended whose row is not final yet
	queued   int           // queue rows pending or running
}

// requestKind names the requests to one route.
type requestKind struct {
	name string
	ep   apitest.Endpoint
}

// requestKinds are the kinds requests are counted by, in report order.
var requestKinds = []requestKind{
	{"list", apitest.EndpointListCalls}, {"get", apitest.EndpointGetCall}, {"agents", apitest.EndpointAssistants},
	{"recording", apitest.EndpointRecording}, {"other", apitest.EndpointOther},
}

// liveFigures are the figures of one phase, or of the whole run.
type liveFigures struct {
	name          string
	calls, landed int
	lags          []float64 // workspace seconds from a call's end to its final row, of the calls landed; sorted
	requests      [5]int    // by requestKinds
	tooMany       int       // 429s
}

func (f liveFigures) total() int {
	n := 0
	for _, r := range f.requests {
		n += r
	}
	return n
}

// perCall is requests per call of the phase (NaN without calls).
func (f liveFigures) perCall(n int) float64 {
	if f.calls == 0 {
		return math.NaN()
	}
	return float64(n) / float64(f.calls)
}

// lag is the q-quantile of the lags (nearest rank), NaN without any.
func (f liveFigures) lag(q float64) float64 {
	if len(f.lags) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(f.lags)))) - 1
	return f.lags[min(max(i, 0), len(f.lags)-1)]
}

// figures returns the figures of each phase, then of the whole run. A
// call belongs to the phase it started in; a request to the phase whose
// time it was sent in (the first phase takes the worker's start, the
// last everything after its end).
func (r liveRun) figures(c liveConfig) []liveFigures {
	out := make([]liveFigures, len(c.phases)+1)
	for i, p := range c.phases {
		out[i].name = phaseName(p)
	}
	whole := &out[len(c.phases)]
	whole.name = "whole run"
	for _, lc := range r.calls {
		for _, f := range []*liveFigures{&out[lc.Phase], whole} {
			f.calls++
			if at, ok := r.landed[lc.ID]; ok {
				f.landed++
				f.lags = append(f.lags, at.Sub(lc.End).Seconds()*c.scale)
			}
		}
	}
	for _, req := range r.requests {
		i := 0
		for i+1 < len(r.phaseTimes) && !req.At.Before(r.phaseTimes[i+1][0]) {
			i++
		}
		k := slices.IndexFunc(requestKinds, func(k requestKind) bool { return k.ep == req.Endpoint })
		if k < 0 {
			k = len(requestKinds) - 1
		}
		for _, f := range []*liveFigures{&out[i], whole} {
			f.requests[k]++
			if req.Status == http.StatusTooManyRequests {
				f.tooMany++
			}
		}
	}
	for i := range out {
		slices.Sort(out[i].lags)
	}
	return out
}

// maxAccepted is the most requests answered other than 429 within any
// window of length d (half-open): what the budget counts.
func (r liveRun) maxAccepted(d time.Duration) int {
	var at []time.Time
	for _, req := range r.requests {
		if req.Status != http.StatusTooManyRequests {
			at = append(at, req.At)
		}
	}
	best, i := 0, 0
	for j := range at {
		for at[j].Sub(at[i]) >= d {
			i++
		}
		best = max(best, j-i+1)
	}
	return best
}

const liveTableHead = "  %-24s %6s %7s %8s %8s %8s %9s  %s  %5s\n"

// printLiveTableHead prints the column names of the figures table.
func printLiveTableHead(out io.Writer) {
	names := make([]string, len(requestKinds))
	for i, k := range requestKinds {
		names[i] = k.name
	}
	fmt.Fprintf(out, liveTableHead, "phase", "calls", "landed", "lag p50", "lag p90", "lag p99", "req/call",
		"by kind ("+strings.Join(names, " ")+")", "429s")
}

// printLiveFigures prints one row of the figures table.
func printLiveFigures(out io.Writer, f liveFigures) {
	kinds := make([]string, len(f.requests))
	for i, n := range f.requests {
		kinds[i] = fmt.Sprintf("%.2f", f.perCall(n))
	}
	fmt.Fprintf(out, "  %-24s %6d %7d %8s %8s %8s %9.2f  %-38s  %5d\n", f.name, f.calls, f.landed, seconds(f.lag(0.5)),
		seconds(f.lag(0.9)), seconds(f.lag(0.99)), f.perCall(f.total()), strings.Join(kinds, " "), f.tooMany)
}

// seconds formats workspace seconds, "-" for none.
func seconds(s float64) string {
	if math.IsNaN(s) {
		return "-"
	}
	return fmt.Sprintf("%.0fs", s)
}

// printLiveRun prints a run's figures, backlog and the worker's side.
func printLiveRun(out io.Writer, c liveConfig, r liveRun) {
	printLiveTableHead(out)
	figs := r.figures(c)
	for _, f := range figs {
		printLiveFigures(out, f)
	}
	whole := figs[len(figs)-1]
	kinds := make([]string, len(requestKinds))
	for i, k := range requestKinds {
		kinds[i] = fmt.Sprintf("%s %d", k.name, whole.requests[i])
	}
	perLanded := math.NaN()
	if whole.landed > 0 {
		perLanded = float64(whole.total()) / float64(whole.landed)
	}
	fmt.Fprintf(out, "  requests: %d in all (%s), %.2f per call landed; at most %d accepted in any workspace minute (budget %d)\n",
		whole.total(), strings.Join(kinds, ", "), perLanded, r.maxAccepted(time.Duration(float64(time.Minute)/c.scale)), c.budget)
	fmt.Fprintf(out, "  lag: workspace seconds from a call's end to its row with the final status, of the calls landed within %s of the last end\n", c.tail)
	fmt.Fprintf(out, "  backlog every workspace minute (calls started / ended but not final in the warehouse / queue rows pending or running):\n   ")
	for i, b := range r.backlog {
		if i > 0 && i%8 == 0 {
			fmt.Fprintf(out, "\n   ")
		}
		fmt.Fprintf(out, " %3.0fm %d/%d/%d", b.at.Minutes()*c.scale, b.started, b.notFinal, b.queued)
	}
	fmt.Fprintln(out)
	dup := "none stored twice"
	if r.rows > whole.calls {
		dup = "MORE ROWS THAN CALLS"
	}
	fmt.Fprintf(out, "  warehouse: %d call rows for %d calls (%s); worker: %d schedule ticks skipped (pass still running)\n",
		r.rows, whole.calls, dup, r.skipped)
	sent, lost, late := 0, 0, 0.0
	for _, lc := range r.calls {
		switch {
		case lc.WebhookLost:
			lost++
		case !lc.WebhookSent.IsZero():
			sent++
			late = max(late, lc.WebhookSent.Sub(lc.Webhook).Seconds()*c.scale)
		}
	}
	if sent+lost > 0 {
		fmt.Fprintf(out, "  webhooks: %d sent (at most %.1fs after due), %d lost on purpose\n", sent, late, lost)
	}
	if len(r.metrics) > 0 {
		keys := slices.Sorted(maps.Keys(r.metrics))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s %d", strings.ReplaceAll(k, `"`, ""), r.metrics[k])
		}
		fmt.Fprintf(out, "  webhook answers: %s\n", strings.Join(parts, "; "))
	}
}

// printLiveMedians prints each phase's figures as medians over the runs.
func printLiveMedians(out io.Writer, c liveConfig, runs []liveRun) {
	fmt.Fprintf(out, "\nmedians of %d runs:\n", len(runs))
	printLiveTableHead(out)
	all := make([][]liveFigures, len(runs))
	for i, r := range runs {
		all[i] = r.figures(c)
	}
	for p := range all[0] {
		med := func(f func(liveFigures) float64) float64 {
			v := make([]float64, len(runs))
			for i := range runs {
				v[i] = f(all[i][p])
			}
			return median(v)
		}
		kinds := make([]string, len(requestKinds))
		for k := range requestKinds {
			kinds[k] = fmt.Sprintf("%.2f", med(func(f liveFigures) float64 { return f.perCall(f.requests[k]) }))
		}
		fmt.Fprintf(out, "  %-24s %6.0f %7.0f %8s %8s %8s %9.2f  %-38s  %5.0f\n", all[0][p].name,
			med(func(f liveFigures) float64 { return float64(f.calls) }), med(func(f liveFigures) float64 { return float64(f.landed) }),
			seconds(med(func(f liveFigures) float64 { return f.lag(0.5) })), seconds(med(func(f liveFigures) float64 { return f.lag(0.9) })),
			seconds(med(func(f liveFigures) float64 { return f.lag(0.99) })), med(func(f liveFigures) float64 { return f.perCall(f.total()) }),
			strings.Join(kinds, " "), med(func(f liveFigures) float64 { return float64(f.tooMany) }))
	}
}

// median is the median of v, ignoring NaNs; NaN when none is left.
func median(v []float64) float64 {
	v = slices.DeleteFunc(slices.Clone(v), math.IsNaN)
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

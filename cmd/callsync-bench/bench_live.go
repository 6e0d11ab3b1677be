package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/lmittmann/tint"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store/pgserver"
)

// liveConfig holds the settings of `callsync-bench --live`.
type liveConfig struct {
	phases   []apitest.LivePhase
	agents   int
	minLen   time.Duration
	maxLen   time.Duration
	budget   int
	webhooks bool
	loss     float64
	listLag  time.Duration
	scale    float64
	runs     int
	tail     time.Duration
	seed     uint64
	worker   string
	extraEnv []string // KEY=VALUE settings of the worker, for experiments
}

// liveArg reports whether args ask for the live mode (--live anywhere
// before the flags end) and returns them without it.
func liveArg(args []string) (bool, []string) {
	for i, a := range args {
		switch a {
		case "--":
			return false, args
		case "--live", "-live", "--live=true", "-live=true":
			return true, append(append([]string(nil), args[:i]...), args[i+1:]...)
		}
	}
	return false, args
}

const liveUsage = `callsync-bench --live [flags]

Measures freshness under the request budget: runs a live workspace (calls that start at a rate,
stay in-progress for a while, end, and send their post-call webhooks), and the real worker against it
('callsync run' with the webhook endpoint and --poll-models for every agent, every other setting at its
default), and reports, per phase, how long after a call ended its final row was in the warehouse, the
requests spent per call and the backlog over time. Each run uses a fresh database; the summary gives
medians. The databases live on a throwaway PostgreSQL started from the installed server binaries,
or, with --create-databases-on, are created (and dropped) on that server. DATABASE_URL is not read.

Flags:
`

func runBenchLive(ctx context.Context, args []string, e env) error {
	f := flag.NewFlagSet("callsync-bench --live", flag.ContinueOnError)
	f.SetOutput(e.stderr)
	f.Usage = func() {
		fmt.Fprintf(f.Output(), "%s", liveUsage)
		f.PrintDefaults()
	}
	var server, logLevel string
	c := liveConfig{phases: []apitest.LivePhase{{PerMinute: 20, Duration: 2 * time.Minute}, {PerMinute: 60, Duration: 4 * time.Minute}}}
	phases := phaseList{&c.phases}
	f.StringVar(&server, "create-databases-on", "", "postgres:// URL of a server on which the bench may create and drop databases of its own (default: a throwaway server)")
	f.StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	f.Var(phases, "phases", "calls per workspace minute and for how long, phase after phase: RATE:DURATION,… (e.g. 20:2m,60:4m)")
	f.IntVar(&c.agents, "agents", 5, "agents the calls are spread over (model IDs agent-0, agent-1, …), all polled")
	f.DurationVar(&c.minLen, "min-length", 20*time.Second, "shortest call")
	f.DurationVar(&c.maxLen, "max-length", 2*time.Minute, "longest call")
	f.IntVar(&c.budget, "budget", 30, "requests the API accepts per key in any minute (bare 429 beyond); the worker's --rate-limit")
	f.BoolVar(&c.webhooks, "webhooks", true, "send a signed post-call webhook 2 s after each call ends (false: polling only)")
	f.Float64Var(&c.loss, "webhook-loss", 0, "share of webhooks never sent, 0 to 1")
	f.DurationVar(&c.listLag, "list-lag", 0, "how long a call stays out of list pages after its start")
	f.Float64Var(&c.scale, "time-scale", 1, "compress time: a workspace minute lasts 60/SCALE seconds; the budget and the worker's timings scale alike")
	f.IntVar(&c.runs, "runs", 1, "runs, each on a fresh database; the summary gives medians")
	f.DurationVar(&c.tail, "tail", 3*time.Minute, "how long after the last call ended a call may still land")
	f.Uint64Var(&c.seed, "seed", 1, "seed of the calls (agents, lengths, lost webhooks)")
	f.StringVar(&c.worker, "worker-binary", "", "callsync binary for the worker (default: callsync beside this binary, else one built with 'go build')")
	f.Var((*envList)(&c.extraEnv), "worker-env", "a setting of the worker as KEY=VALUE (e.g. SYNTHFLOW_WEBHOOK_COOLDOWN=0), for experiments; repeatable")
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError(err.Error())
	}
	if f.NArg() > 0 {
		return usagef("unexpected argument %q", f.Arg(0))
	}
	switch {
	case len(c.phases) == 0:
		return usagef("--live: --phases: give at least one RATE:DURATION")
	case c.agents < 1, c.runs < 1, c.budget < 1:
		return usagef("--live: --agents, --runs and --budget must be positive")
	case c.minLen <= 0, c.maxLen < c.minLen:
		return usagef("--live: want 0 < --min-length <= --max-length")
	case c.loss < 0, c.loss > 1:
		return usagef("--live: --webhook-loss must be between 0 and 1")
	case c.scale <= 0, c.listLag < 0, c.tail < 0:
		return usagef("--live: --time-scale must be positive, --list-lag and --tail not negative")
	}
	if server != "" {
		if _, err := pgserver.DatabaseURL(server, "postgres"); err != nil {
			return usagef("--create-databases-on: want a postgres:// URL")
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", logLevel)
	}
	logger := slog.New(tint.NewTextHandler(e.stderr, &tint.Options{Level: level, NoColor: true}))
	worker, cleanup, err := workerBinary(ctx, c.worker, e.stdout)
	if err != nil {
		return err
	}
	defer cleanup()
	c.worker = worker
	return benchLive(ctx, c, server, logger, e.stdout)
}

func benchLive(ctx context.Context, c liveConfig, adminURL string, logger *slog.Logger, out io.Writer) error {
	admin, cleanup, err := benchDatabases(ctx, adminURL, logger)
	if err != nil {
		return err
	}
	defer cleanup()
	printLiveHeader(out, c)
	var runs []liveRun
	for i := range c.runs {
		fmt.Fprintf(out, "run %d/%d:\n", i+1, c.runs)
		r, err := benchLiveRun(ctx, c, admin, uint64(i), logger)
		if err != nil {
			return err
		}
		printLiveRun(out, c, r)
		runs = append(runs, r)
	}
	if c.runs > 1 {
		printLiveMedians(out, c, runs)
	}
	return nil
}

// printLiveHeader prints what the live bench runs.
func printLiveHeader(out io.Writer, c liveConfig) {
	hooks := "polling only (no webhooks)"
	if c.webhooks {
		hooks = fmt.Sprintf("webhooks on (%.0f %% lost)", 100*c.loss)
	}
	fmt.Fprintf(out, "live workspace: %s; %d agents, calls of %s–%s, budget %d requests/min per key (bare 429), %s, list lag %s, "+
		"time scale %g, %d run(s)\n", phaseNames(c.phases), c.agents, c.minLen, c.maxLen, c.budget, hooks, c.listLag, c.scale, c.runs)
	if len(c.extraEnv) > 0 {
		fmt.Fprintf(out, "  worker settings besides the defaults: %s\n", strings.Join(c.extraEnv, " "))
	}
	if c.scale != 1 {
		fmt.Fprintf(out, "  time compressed %g×: the worker's schedule, rate limit, webhook cooldown, retry delays, lease and agents refresh\n"+
			"  are scaled with it; its re-fetch delay of calls not final yet (1 min, doubling) is not, so figures are indicative only\n", c.scale)
	}
}

// phaseNames describes phases: "20/min for 2m0s, then 60/min for 4m0s".
func phaseNames(phases []apitest.LivePhase) string {
	names := make([]string, len(phases))
	for i, p := range phases {
		names[i] = phaseName(p)
	}
	return strings.Join(names, ", then ")
}

func phaseName(p apitest.LivePhase) string {
	return strconv.FormatFloat(p.PerMinute, 'f', -1, 64) + "/min for " + p.Duration.String()
}

// phaseList is the --phases flag: RATE:DURATION pairs, comma-separated.
type phaseList struct{ phases *[]apitest.LivePhase }

func (l phaseList) String() string {
	if l.phases == nil {
		return ""
	}
	s := make([]string, len(*l.phases))
	for i, p := range *l.phases {
		s[i] = strconv.FormatFloat(p.PerMinute, 'f', -1, 64) + ":" + p.Duration.String()
	}
	return strings.Join(s, ",")
}

func (l phaseList) Set(v string) error {
	var out []apitest.LivePhase
	for _, part := range strings.Split(v, ",") {
		rate, dur, ok := strings.Cut(strings.TrimSpace(part), ":")
		r, err1 := strconv.ParseFloat(strings.TrimSuffix(rate, "/min"), 64)
		d, err2 := time.ParseDuration(dur)
		if !ok || err1 != nil || err2 != nil || r <= 0 || d <= 0 {
			return fmt.Errorf("%q: want RATE:DURATION pairs separated by commas, e.g. 20:2m,60:4m", v)
		}
		out = append(out, apitest.LivePhase{PerMinute: r, Duration: d})
	}
	*l.phases = out
	return nil
}

// envList is the --worker-env flag: KEY=VALUE, repeatable.
type envList []string

func (l *envList) String() string { return strings.Join(*l, " ") }

func (l *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" || strings.ContainsAny(k, " \t") {
		return fmt.Errorf("%q: want KEY=VALUE", v)
	}
	*l = append(*l, v)
	return nil
}

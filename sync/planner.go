package sync

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

// PlannerConfig tunes a Planner. Zero fields take the defaults of
// DefaultPlannerConfig.
type PlannerConfig struct {
	// PollEvery is how often each polled agent is read at the least, for
	// calls no webhook announced; an agent whose polls find nothing is
	// polled less often, down to a quarter of that.
	PollEvery time.Duration
	// Lookback is how far before the newest call seen a poll starts: calls
	// show up in lists a while after they start, and calls in progress are
	// read again until they end.
	Lookback time.Duration
	// Recheck spaces list reads of a call seen with a status not final.
	Recheck Backoff
	// Webhooks says webhooks announce calls that end: a call seen in
	// progress is read again only after WebhookRecheck (its webhook, or a
	// poll, usually settles it first).
	Webhooks       bool
	WebhookRecheck time.Duration
	// FallbackWait is how long a row the list did not show waits before it
	// is fetched alone: lists can lag a call's start.
	FallbackWait time.Duration
	// MaxListAge bounds the reads: a row whose call started longer ago
	// than this is fetched alone, so that a wrong hint cannot cost a read
	// of hours of calls.
	MaxListAge time.Duration
	// Slack widens a read around the start times it covers: a webhook's
	// start time and the list's may differ a little.
	Slack time.Duration
	// MaxPages bounds the pages of one read; rows it did not reach are
	// fetched alone.
	MaxPages int
	// EagerShare is the share of the request budget spent on reads for
	// rows that became due only just now; rows that waited Patience are
	// read at the full budget. Reading at every webhook would spend a
	// request per call; waiting a few seconds lets a read serve several.
	EagerShare float64
	// Patience: see EagerShare.
	Patience time.Duration
	// RequestsPerSecond is the API budget (0: none; reads are not spaced).
	RequestsPerSecond float64
	// Lease is how long rows claimed for a read stay reserved.
	Lease time.Duration
	// ExtraEvery spaces the gets for the fields list pages lack, spent only
	// when no read is due and none was for as long; negative: none.
	ExtraEvery time.Duration
}

// DefaultPlannerConfig returns the defaults.
func DefaultPlannerConfig() PlannerConfig {
	return PlannerConfig{
		PollEvery:      30 * time.Second,
		Lookback:       3 * time.Minute,
		Recheck:        Backoff{Base: 20 * time.Second, Max: 10 * time.Minute},
		WebhookRecheck: 2 * time.Minute,
		FallbackWait:   15 * time.Second,
		MaxListAge:     time.Hour,
		Slack:          5 * time.Second,
		MaxPages:       5,
		EagerShare:     0.5,
		Patience:       30 * time.Second,
		Lease:          2 * time.Minute,
		ExtraEvery:     15 * time.Second,
	}
}

func (c PlannerConfig) withDefaults() PlannerConfig {
	d := DefaultPlannerConfig()
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&c.PollEvery, d.PollEvery)
	set(&c.Lookback, d.Lookback)
	set(&c.FallbackWait, d.FallbackWait)
	set(&c.MaxListAge, d.MaxListAge)
	set(&c.Slack, d.Slack)
	set(&c.Patience, d.Patience)
	set(&c.Lease, d.Lease)
	set(&c.WebhookRecheck, d.WebhookRecheck)
	if c.Webhooks {
		c.Recheck.Base = max(c.Recheck.Base, c.WebhookRecheck)
		c.Recheck.Max = max(c.Recheck.Max, c.Recheck.Base)
	}
	if c.ExtraEvery == 0 {
		c.ExtraEvery = d.ExtraEvery
	}
	if c.Recheck.Base <= 0 || c.Recheck.Max < c.Recheck.Base {
		c.Recheck = d.Recheck
	}
	if c.MaxPages <= 0 {
		c.MaxPages = d.MaxPages
	}
	if c.EagerShare <= 0 || c.EagerShare > 1 {
		c.EagerShare = d.EagerShare
	}
	return c
}

// Lister lists one agent's calls and fetches calls alone. *api.Client
// implements it.
type Lister interface {
	ListCalls(ctx context.Context, opts api.ListOptions) (*api.CallPage, error)
	GetPayload(ctx context.Context, id string) (*api.Payload, error)
}

// Planner spends the request budget where it lands the most calls: due
// queue rows of one agent are served by one list read around their start
// times (a page carries up to 100 calls, a get one), polled agents are read
// for calls no webhook announced, rows a list does not show fall back to a
// get (left to Syncer's passes), and the budget left over goes to extras.
// Its fields are set before the first Step. One Planner runs one Step at a
// time; planners of several processes share the queue safely.
type Planner struct {
	API    Lister
	Store  *store.DB
	Logger *slog.Logger
	Config PlannerConfig
	Intake IntakeConfig
	// Models are the agents polled; others are read only for due rows.
	Models []string
	// Turns orders requests by priority; nil: no order.
	Turns *Turns
	// Spend counts requests by purpose; nil: not counted.
	Spend *Spend
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	lastRead  time.Time            // start of the last read, any agent
	lastPoll  map[string]time.Time // per polled agent, the last read that polled it
	pollGap   map[string]time.Duration
	lastExtra time.Time
}

// PlanStats counts what one Step did.
type PlanStats struct {
	Model    string // the agent read; empty when none was
	Poll     bool   // the read polled the agent
	Requests int    // requests sent (list pages, or the extra get)
	Listed   int    // calls on the pages
	Served   int    // claimed rows settled done
	Rechecks int    // claimed rows seen with a status not final
	Missed   int    // claimed rows the list did not show: fetched alone later
	Settled  int    // other pending rows settled done by the pages
	Queued   int    // calls queued, seen in progress
	Extra    bool   // the step fetched an extra
}

// Step does the most useful next thing, at most one read (or one extra),
// and returns what it did and how long until the next Step is worth
// running (0: at once; it is never more than PollEvery). It returns a
// store error, ctx's, or an error matching ErrUnauthorized or
// ErrAPIUnavailable; a read that fails otherwise is logged, its rows
// released, and the next Step goes on.
func (p *Planner) Step(ctx context.Context) (PlanStats, time.Duration, error) {
	cfg := p.Config.withDefaults()
	if p.lastPoll == nil {
		p.lastPoll, p.pollGap = map[string]time.Time{}, map[string]time.Duration{}
	}
	due, next, err := p.Store.ListDue(ctx, cfg.MaxListAge)
	if err != nil {
		return PlanStats{}, 0, err
	}
	now := p.now()
	model, poll, prio, wait := p.choose(cfg, due, now)
	if model == "" {
		if cfg.ExtraEvery > 0 && now.Sub(p.lastExtra) >= cfg.ExtraEvery && now.Sub(p.lastRead) >= cfg.ExtraEvery {
			p.lastExtra = now
			st, err := p.extra(ctx, cfg)
			if err != nil || st.Extra {
				return st, 0, err
			}
		}
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(now), 0))
		}
		return PlanStats{}, wait, nil
	}
	if i := slices.IndexFunc(due, func(d store.ModelDue) bool { return d.ModelID == model }); i >= 0 &&
		due[i].Due == 1 && due[i].Open == 1 && !(poll && now.Sub(p.lastPoll[model]) >= cfg.PollEvery) {
		// One due row, nothing else of the agent open: a get costs the
		// same request as a read and returns every field.
		p.lastRead = now
		return PlanStats{Model: model}, 0, p.delegate(ctx, cfg, model)
	}
	if poll {
		p.lastPoll[model] = now
	}
	if !slices.ContainsFunc(due, func(d store.ModelDue) bool { return d.ModelID == model }) {
		// A poll on the clock alone: one replica polls an agent per
		// PollEvery, whichever gets there first.
		_, _, ok, err := p.Store.ClaimPoll(ctx, model, now, cfg.PollEvery*9/10, now.Add(-cfg.Lookback))
		if err != nil || !ok {
			return PlanStats{}, 0, err
		}
	}
	st, err := p.read(ctx, cfg, model, poll, prio)
	st.Model, st.Poll = model, poll
	if poll {
		// An agent whose polls find nothing is polled less often, down to
		// one poll every four periods; one that has calls, every period.
		gap := cfg.PollEvery
		if err == nil && st.Queued == 0 && st.Settled == 0 && st.Served == 0 {
			gap = min(2*max(p.pollGap[model], cfg.PollEvery), 4*cfg.PollEvery)
		}
		p.pollGap[model] = gap
	}
	if st.Requests > 0 {
		p.lastRead = now
	}
	var re *readError
	switch {
	case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrAPIUnavailable):
		return st, 0, err
	case errors.As(err, &re) && ctx.Err() == nil:
		p.Logger.Warn("list read failed; its rows are read again later", modelIDAttr(model), errAttr(re.err))
	case err != nil:
		return st, 0, err
	}
	return st, 0, nil
}

// readError is a list read that failed on the API's side: the planner goes
// on with its next step.
type readError struct{ err error }

func (e *readError) Error() string { return "list read: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// choose picks the agent to read now, and whether the read polls it; or,
// when none is worth a request yet, how long until one may be.
//
// Agents whose rows include calls never stored come first, then agents
// due for a poll, then agents with re-fetches due; within a class, the one
// whose rows waited longest. A read for rows that became due only just now
// waits until reads have been spaced by the eager share of the budget.
func (p *Planner) choose(cfg PlannerConfig, due []store.ModelDue, now time.Time) (model string, poll bool, prio int, wait time.Duration) {
	wait = cfg.PollEvery
	gap := time.Duration(0)
	if cfg.RequestsPerSecond > 0 {
		gap = time.Duration(float64(time.Second) / (cfg.RequestsPerSecond * cfg.EagerShare))
	}
	type cand struct {
		model  string
		class  int
		oldest time.Time
		poll   bool
	}
	var cands []cand
	polled := map[string]bool{}
	for _, m := range p.Models {
		polled[m] = true
	}
	every := func(m string) time.Duration { return max(p.pollGap[m], cfg.PollEvery) }
	pollDue := func(m string) bool { return polled[m] && now.Sub(p.lastPoll[m]) >= every(m) }
	for _, d := range due {
		c := cand{model: d.ModelID, class: 2, oldest: d.Oldest, poll: polled[d.ModelID]}
		if d.New > 0 {
			c.class = 0
		}
		eager := now.Sub(d.Oldest) < cfg.Patience
		if eager && now.Sub(p.lastRead) < gap && !pollDue(d.ModelID) {
			wait = min(wait, gap-now.Sub(p.lastRead), cfg.Patience-now.Sub(d.Oldest))
			continue
		}
		cands = append(cands, c)
	}
	for _, m := range p.Models {
		if !pollDue(m) || slices.ContainsFunc(cands, func(c cand) bool { return c.model == m }) {
			if polled[m] {
				wait = min(wait, max(every(m)-now.Sub(p.lastPoll[m]), 0))
			}
			continue
		}
		cands = append(cands, cand{model: m, class: 1, oldest: p.lastPoll[m], poll: true})
	}
	if len(cands) == 0 {
		return "", false, 0, max(wait, 0)
	}
	best := slices.MinFunc(cands, func(a, b cand) int {
		if a.class != b.class {
			return a.class - b.class
		}
		return a.oldest.Compare(b.oldest)
	})
	prio = PriorityNew
	if best.class == 2 {
		prio = PriorityRefetch
	}
	return best.model, best.poll, prio, 0
}

func (p *Planner) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Scaled returns c with every duration divided by s (s > 1), for benches
// that run a workspace on compressed time; the budget is the caller's.
func (c PlannerConfig) Scaled(s float64) PlannerConfig {
	if s <= 1 {
		return c
	}
	c = c.withDefaults()
	div := func(d *time.Duration) { *d = time.Duration(float64(*d) / s) }
	for _, d := range []*time.Duration{&c.PollEvery, &c.Lookback, &c.FallbackWait, &c.MaxListAge, &c.Slack, &c.Patience, &c.Lease,
		&c.Recheck.Base, &c.Recheck.Max, &c.WebhookRecheck} {
		div(d)
	}
	if c.ExtraEvery > 0 {
		div(&c.ExtraEvery)
	}
	return c
}

package apitest

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"
)

// LivePhase is a stretch of a live workspace during which calls start at
// a steady rate.
type LivePhase struct {
	// PerMinute is how many calls start per workspace minute.
	PerMinute float64
	// Duration is how long the phase lasts, in workspace time.
	Duration time.Duration
}

// LiveOptions configure a live workspace (Options.Live): calls that start
// over time, stay in-progress for a while, then end with a final status,
// transcript and duration, and whose post-call webhooks are sent a moment
// later, as a Synthflow workspace does. Durations are in workspace time:
// with Scale s, a workspace minute lasts 60/s seconds of the server's
// clock, and call lengths, the webhook delay and the list lag shrink
// alike (use LiveBudget to scale the request budget with them).
type LiveOptions struct {
	// Agents is the number of agents (model IDs agent-0, agent-1, …) the
	// calls are spread over at random. Zero means 5.
	Agents int
	// Phases are run one after the other from Start.
	Phases []LivePhase
	// MinLength and MaxLength bound a call's length (uniform). Zero means
	// 20 s and 120 s.
	MinLength, MaxLength time.Duration
	// WebhookURL, when set, receives the post-call webhook of every call
	// (Call.Webhook's body, signed with WebhookSecret as PostWebhook
	// signs) WebhookDelay after the call ends, unless it is lost.
	WebhookURL    string
	WebhookSecret []byte
	// WebhookDelay is how long after a call's end its webhook is sent.
	// Zero means 2 s.
	WebhookDelay time.Duration
	// WebhookLoss is the share of webhooks never sent, in [0, 1].
	WebhookLoss float64
	// ManualWebhooks leaves sending the webhooks to DeliverWebhooks, for
	// tests on an injected clock; otherwise Start sends them on time.
	ManualWebhooks bool
	// ListLag keeps a call out of list pages for this long after its
	// start, as a lagging list index would; GET finds it at once.
	ListLag time.Duration
	// Scale compresses time: workspace time runs Scale times as fast as
	// the clock. Zero means 1 (real time).
	Scale float64
	// Seed makes the calls: the same options give the same calls.
	Seed uint64
}

// LiveBudget is the rate limit of a key allowed requests per workspace
// minute at this time scale (zero means 1), counted per key on every
// route and answered with a bare 429, as Synthflow documents its limit.
func LiveBudget(requests int, scale float64) RateLimit {
	if scale <= 0 {
		scale = 1
	}
	return RateLimit{Requests: requests, Window: time.Duration(float64(time.Minute) / scale), NoRetryAfter: true, PerKey: true}
}

// withDefaults fills zero fields and checks the rest.
func (o LiveOptions) withDefaults() (LiveOptions, error) {
	if o.Agents == 0 {
		o.Agents = 5
	}
	if o.MinLength == 0 && o.MaxLength == 0 {
		o.MinLength, o.MaxLength = 20*time.Second, 120*time.Second
	}
	if o.WebhookDelay == 0 {
		o.WebhookDelay = 2 * time.Second
	}
	if o.Scale == 0 {
		o.Scale = 1
	}
	switch {
	case o.Agents < 0:
		return o, errors.New("apitest: live: Agents must not be negative")
	case o.MinLength <= 0 || o.MaxLength < o.MinLength:
		return o, errors.New("apitest: live: want 0 < MinLength <= MaxLength")
	case o.WebhookLoss < 0 || o.WebhookLoss > 1:
		return o, errors.New("apitest: live: WebhookLoss must be in [0, 1]")
	case o.Scale < 0 || o.ListLag < 0 || o.WebhookDelay < 0:
		return o, errors.New("apitest: live: Scale, ListLag and WebhookDelay must not be negative")
	}
	for i, p := range o.Phases {
		if p.PerMinute < 0 || p.Duration < 0 {
			return o, fmt.Errorf("apitest: live: phase %d: rate and duration must not be negative", i+1)
		}
	}
	return o, nil
}

// real converts workspace time to clock time.
func (o LiveOptions) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / o.Scale)
}

// LiveCall is one call of a live workspace. Times are on the server's
// clock, zero until Start.
type LiveCall struct {
	ID      string
	ModelID string
	// Phase is the index in LiveOptions.Phases of the phase it started in.
	Phase int
	// Start and End are when the call starts and ends; Length is End -
	// Start in workspace time.
	Start, End time.Time
	Length     time.Duration
	// Status is the final status it ends with.
	Status string
	// Webhook is when its webhook is due; WebhookLost means it is never
	// sent.
	Webhook     time.Time
	WebhookLost bool
	// WebhookSent is when the webhook was sent (zero before), and
	// WebhookStatus the receiver's answer: an HTTP status, or -1 when the
	// request failed; 0 before.
	WebhookSent   time.Time
	WebhookStatus int
}

// liveCall is a scheduled call with its offsets from the workspace's
// start, on the server's clock.
type liveCall struct {
	LiveCall
	start, end, hook time.Duration
	template         Call
	added, final     bool
}

// Live is a running live workspace; get it with Server.Live. Its methods
// are safe for concurrent use.
type Live struct {
	s     *Server
	opts  LiveOptions
	clock func() time.Time

	mu        sync.Mutex
	started   bool
	epoch     time.Time
	calls     []liveCall // by start time
	byEnd     []int      // indices of calls by end time (and so by webhook time)
	nextStart int
	nextEnd   int
	nextHook  int
	woke      chan struct{} // closed and replaced when Start is called
}

// newLive schedules the calls of o; nothing starts before Start.
func newLive(s *Server, o LiveOptions, clock func() time.Time) (*Live, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &Live{s: s, opts: o, clock: clock, woke: make(chan struct{})}
	total := 0
	for _, p := range o.Phases {
		total += phaseCalls(p)
	}
	templates := Generate(GenerateOptions{Seed: o.Seed, Calls: max(total, 1), Models: 1})
	var at time.Duration // workspace time of the phase's start
	for pi, p := range o.Phases {
		n := phaseCalls(p)
		for k := range n {
			i := len(l.calls)
			r := rand.New(rand.NewPCG(o.Seed, uint64(i)+0x6c697665)) // "live"
			startWS := at + time.Duration(float64(k)*float64(time.Minute)/p.PerMinute)
			length := o.MinLength + time.Duration(r.Float64()*float64(o.MaxLength-o.MinLength))
			length = length.Round(time.Second)
			c := liveCall{template: templates[i]}
			c.ID = uuid(r)
			c.ModelID = "agent-" + strconv.Itoa(r.IntN(o.Agents))
			c.Phase = pi
			c.Length = length
			c.WebhookLost = r.Float64() < o.WebhookLoss
			c.Status = finalStatus(templates[i])
			c.start = o.real(startWS)
			c.end = o.real(startWS + length)
			c.hook = o.real(startWS + length + o.WebhookDelay)
			l.calls = append(l.calls, c)
		}
		at += p.Duration
	}
	l.byEnd = make([]int, len(l.calls))
	for i := range l.byEnd {
		l.byEnd[i] = i
	}
	slices.SortStableFunc(l.byEnd, func(a, b int) int { return cmp.Compare(l.calls[a].end, l.calls[b].end) })
	return l, nil
}

// phaseCalls is how many calls start in p.
func phaseCalls(p LivePhase) int {
	return int(p.PerMinute*p.Duration.Minutes() + 0.5)
}

// finalStatus is the status a call built from template ends with: the
// template's when it is final, else completed.
func finalStatus(template Call) string {
	if v, ok := template.Field("status"); ok {
		switch s := string(v); s {
		case `"completed"`, `"failed"`, `"no-answer"`, `"busy"`, `"canceled"`, `"hangup_on_voicemail"`, `"left_voicemail"`:
			return s[1 : len(s)-1]
		}
	}
	return "completed"
}

// Start starts the workspace's clock: the phases run from now on. Unless
// ManualWebhooks is set, a goroutine sends the webhooks on time until the
// server closes. Calling it again does nothing.
func (l *Live) Start() {
	l.mu.Lock()
	if l.started {
		l.mu.Unlock()
		return
	}
	l.started = true
	l.epoch = l.clock()
	close(l.woke)
	l.mu.Unlock()
	if l.opts.WebhookURL != "" && !l.opts.ManualWebhooks {
		go l.sendWebhooks()
	}
}

// Options returns the workspace's options, defaults filled in.
func (l *Live) Options() LiveOptions { return l.opts }

// Phase returns when phase i (an index of Options().Phases) starts and
// ends on the server's clock; zero times before Start.
func (l *Live) Phase(i int) (start, end time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		return time.Time{}, time.Time{}
	}
	var at time.Duration
	for _, p := range l.opts.Phases[:i] {
		at += p.Duration
	}
	return l.epoch.Add(l.opts.real(at)), l.epoch.Add(l.opts.real(at + l.opts.Phases[i].Duration))
}

// Calls returns every scheduled call, in start order, as it stands now.
func (l *Live) Calls() []LiveCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]LiveCall, len(l.calls))
	for i, c := range l.calls {
		out[i] = c.LiveCall
		if l.started {
			out[i].Start, out[i].End, out[i].Webhook = l.epoch.Add(c.start), l.epoch.Add(c.end), l.epoch.Add(c.hook)
		}
	}
	return out
}

// LastEnd returns when the last call ends (zero before Start or without
// calls).
func (l *Live) LastEnd() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started || len(l.byEnd) == 0 {
		return time.Time{}
	}
	return l.epoch.Add(l.calls[l.byEnd[len(l.byEnd)-1]].end)
}

// advance brings the server's calls up to the clock: calls that have
// started are served in-progress, calls that have ended in their final
// state. It returns the clock's reading.
func (l *Live) advance() time.Time {
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		return now
	}
	off := now.Sub(l.epoch)
	for l.nextStart < len(l.calls) && l.calls[l.nextStart].start <= off {
		c := &l.calls[l.nextStart]
		c.added = true
		if c.end <= off {
			c.final = true
			l.s.data.put(c.finalCall(l.epoch))
		} else {
			l.s.data.put(c.inProgressCall(l.epoch))
		}
		l.nextStart++
	}
	for l.nextEnd < len(l.byEnd) && l.calls[l.byEnd[l.nextEnd]].end <= off {
		c := &l.calls[l.byEnd[l.nextEnd]]
		if c.added && !c.final {
			c.final = true
			l.s.data.put(c.finalCall(l.epoch))
		}
		l.nextEnd++
	}
	return now
}

// listCutoff is the start time from which calls are still missing from
// list pages at now (exclusive bound), or zero without a list lag.
func (l *Live) listCutoff(now time.Time) time.Time {
	if l.opts.ListLag <= 0 {
		return time.Time{}
	}
	return now.Add(-l.opts.real(l.opts.ListLag)).Add(time.Millisecond) // start_time has millisecond precision
}

// finalCall is the call as served once it has ended.
func (c *liveCall) finalCall(epoch time.Time) Call {
	return c.version(epoch, map[string]any{"status": c.Status, "duration": int(c.Length / time.Second)})
}

// inProgressCall is the call as served while it lasts: no end, no
// recording, no transcript yet.
func (c *liveCall) inProgressCall(epoch time.Time) Call {
	return c.version(epoch, map[string]any{"status": "in-progress", "duration": 0, "end_call_reason": nil,
		"recording_url": nil, "recording_duration": nil, "transcript": "", "custom_end_call_reason": nil})
}

// version is the template with the call's identity and these fields.
func (c *liveCall) version(epoch time.Time, set map[string]any) Call {
	set["call_id"] = c.ID
	set["model_id"] = c.ModelID
	set["start_time"] = strconv.FormatInt(epoch.Add(c.start).UnixMilli(), 10)
	fields := slices.Clone(c.template.fields)
	for name, v := range set {
		raw := marshal(v)
		if i := slices.IndexFunc(fields, func(f field) bool { return f.name == name }); i >= 0 {
			fields[i].value = raw
		} else {
			fields = append(fields, field{name: name, value: raw})
		}
	}
	out, err := build(fields, Call{})
	if err != nil {
		panic("apitest: live call: " + err.Error()) // the call_id is always set
	}
	return out
}

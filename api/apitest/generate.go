package apitest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// GenerateOptions configures Generate. The zero value is usable.
type GenerateOptions struct {
	// Seed makes the data set: the same options give the same bytes.
	Seed uint64
	// Calls is the number of calls. Zero means 1000.
	Calls int
	// Models is the number of models (agents) the calls are spread over.
	// Zero means 4.
	Models int
	// From and To bound the start times, [From, To). Zero values mean the
	// 30 days before 2026-06-01 UTC (fixed, so the data set does not depend
	// on the clock).
	From, To time.Time
}

// defaultTo is the end of the default start-time range.
var defaultTo = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// Generate returns a deterministic, realistic set of calls built from
// opts.Seed: about 3.5 KB of get-one JSON and 30 transcript lines per call on
// average, spread uniformly over [From, To) and over the models. Across a
// thousand calls every variation of the API reference occurs: Bubble-style
// and UUID ids, duration as number and numeric string, start_time as digit
// string and JSON number, telephony_start/end as naive ISO strings, {} and
// null, collected_variables as null, {}, one and two levels with values of
// every JSON type, executed_actions as {} and with JSON-encoded string
// parameters, transcripts with bot/human/assistant speakers, leading
// newlines, CRLF, continuation lines, accents, CJK, emoji, long and empty
// transcripts, final and non-final statuses, and custom_end_call_reason only
// with end_call_reason custom_end_call. Call i depends only on the seed, i,
// the models and the time range, not on opts.Calls. Call IDs are unique.
func Generate(opts GenerateOptions) []Call {
	n := opts.Calls
	if n <= 0 {
		n = 1000
	}
	nm := opts.Models
	if nm <= 0 {
		nm = 4
	}
	from, to := opts.From, opts.To
	if to.IsZero() {
		to = defaultTo
	}
	if from.IsZero() || !from.Before(to) {
		from = to.Add(-30 * 24 * time.Hour)
	}
	mr := rand.New(rand.NewPCG(opts.Seed, 0x6d6f64656c73)) // "models"
	models := make([]string, nm)
	for i := range models {
		if i%2 == 0 {
			models[i] = bubbleID(mr, from.Add(-90*24*time.Hour).UnixMilli()+mr.Int64N(80*24*3600*1000))
		} else {
			models[i] = uuid(mr)
		}
	}
	calls := make([]Call, 0, n)
	seen := make(map[string]bool, n)
	span := to.UnixMilli() - from.UnixMilli()
	for i := range n {
		r := rand.New(rand.NewPCG(opts.Seed, uint64(i)+1))
		g := &gen{r: r, models: models, startMS: from.UnixMilli() + r.Int64N(max(span, 1))}
		c := g.call()
		for seen[c.id] { // practically never; keeps IDs unique
			c, _ = c.With("call_id", c.id+"0")
		}
		seen[c.id] = true
		calls = append(calls, c)
	}
	return calls
}

// gen builds one call.
type gen struct {
	r       *rand.Rand
	models  []string
	startMS int64
	fields  []field
}

// set adds a field marshalled from v.
func (g *gen) set(name string, v any) {
	g.fields = append(g.fields, field{name: name, value: marshal(v)})
}

// status weights: mostly completed, every other value present.
var statusWeights = []struct {
	status string
	weight int
}{
	{"completed", 700}, {"failed", 55}, {"no-answer", 55}, {"busy", 35},
	{"hangup_on_voicemail", 40}, {"left_voicemail", 30}, {"canceled", 25},
	{"in-progress", 35}, {"queue", 25},
}

func (g *gen) pickStatus() string {
	total := 0
	for _, w := range statusWeights {
		total += w.weight
	}
	n := g.r.IntN(total)
	for _, w := range statusWeights {
		if n < w.weight {
			return w.status
		}
		n -= w.weight
	}
	return "completed"
}

// chance reports true with probability p.
func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// pick returns a random element of s.
func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// call builds one call from g's random source.
func (g *gen) call() Call {
	r := g.r
	status := g.pickStatus()
	connected := status == "completed" || status == "left_voicemail" ||
		status == "hangup_on_voicemail" || status == "in-progress"
	final := status != "in-progress" && status != "queue"
	model := pick(r, g.models)
	start := time.UnixMilli(g.startMS).UTC()
	lang := g.language()
	lead := g.lead(lang)
	agentPhone := agentPhone(model)
	direction := pick(r, []string{"outbound", "outbound", "outbound", "inbound", "inbound"})
	if g.chance(0.02) {
		direction = "widget"
	}

	g.parties(model, direction, agentPhone, lead)

	lines := g.transcriptLines(status)
	g.set("transcript", g.transcript(lang, lead.first, lines))

	dur := g.duration(status, connected, final, lines)
	reason := g.endReason(status)
	g.set("end_call_reason", reason)
	if reason == "custom_end_call" {
		g.set("custom_end_call_reason", pick(r, customEndReasons))
	}
	g.errorMessage(status)
	g.set("executed_actions", g.executedActions(connected && lines > 2, lead))
	g.set("prompt_variables", g.promptVariables(lead))
	g.set("type_of_call", direction)
	if direction == "widget" {
		g.set("deployment_type", "web_widget")
	} else {
		g.set("deployment_type", "telephony")
	}
	if g.chance(0.1) {
		g.set("start_time", g.startMS)
	} else {
		g.set("start_time", strconv.FormatInt(g.startMS, 10))
	}
	g.set("timezone", pick(r, timezones))
	g.telephony(status, connected, dur, start)
	g.set("status", status)
	g.set("judge_results", g.judgeResults(status, final))
	g.set("collected_variables", g.collectedVariables(model, lead, connected))
	g.set("labels", g.labels())
	g.set("agents_used", g.agentsUsed(model))
	if g.chance(0.7) {
		g.set("assistant_version", 1+r.IntN(12))
	} else {
		g.set("assistant_version", nil)
	}
	c, err := build(g.fields, Call{})
	if err != nil {
		panic("apitest: generated call: " + err.Error()) // the generator always sets call_id
	}
	return c
}

// parties sets the call's id, agent and the numbers and names of both
// ends.
func (g *gen) parties(model, direction, agentPhone string, lead lead) {
	r := g.r
	if g.chance(0.6) {
		g.set("call_id", bubbleID(r, g.startMS-r.Int64N(4000)))
	} else {
		g.set("call_id", uuid(r))
	}
	g.set("model_id", model)
	g.set("campaign_type", pick(r, []string{"live", "live", "live", "live", "test"}))
	from, to := agentPhone, lead.phone
	if direction == "inbound" {
		from, to = lead.phone, agentPhone
	}
	if direction == "widget" {
		from, to = "", ""
	}
	g.set("phone_number_from", from)
	g.set("phone_number_to", to)
	g.set("name", lead.name)
	if lead.name == "" {
		g.set("lead_name", nil)
	} else {
		g.set("lead_name", lead.name)
	}
	g.set("lead_phone_number", lead.phone)
	g.set("agent_phone_number", agentPhone)
}

// duration sets the call's duration and recording, and returns the
// duration in seconds.
func (g *gen) duration(status string, connected, final bool, lines int) int {
	r := g.r
	dur := 0
	switch {
	case status == "completed" || status == "in-progress":
		dur = 15 + lines*6 + r.IntN(60)
	case connected:
		dur = 8 + r.IntN(40)
	case status == "no-answer":
		dur = 5
	}
	if g.chance(0.2) {
		g.set("duration", strconv.Itoa(dur))
	} else {
		g.set("duration", dur)
	}
	hasRecording := connected && final && g.chance(0.93)
	if hasRecording {
		g.set("recording_url", g.recordingURL())
		g.set("recording_duration", strconv.Itoa(max(dur-r.IntN(6), 0)))
	} else {
		g.set("recording_url", nil)
		g.set("recording_duration", nil)
	}
	return dur
}

// bubbleID returns a Bubble-style id: epoch ms, "x", 18 digits.
func bubbleID(r *rand.Rand, ms int64) string {
	return fmt.Sprintf("%dx%018d", ms, r.Uint64N(1e18))
}

// uuid returns a random version-4 UUID.
func uuid(r *rand.Rand) string {
	h := hex(r, 32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + string("89ab"[r.IntN(4)]) + h[17:20] + "-" + h[20:]
}

// hex returns n random lowercase hex digits.
func hex(r *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[r.IntN(16)]
	}
	return string(b)
}

// fnv hashes s (FNV-1a), for stable picks keyed by an ID.
func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

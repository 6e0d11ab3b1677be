package apitest

import (
	"fmt"
	"strconv"
	"time"
)

// telephony sets the telephony_* fields.
func (g *gen) telephony(status string, connected bool, dur int, start time.Time) {
	r := g.r
	ringMS := 1000 + r.IntN(25000)
	switch {
	case status == "queue":
		g.set("telephony_hangup", nil)
		g.set("telephony_disconnect_reason", nil)
	case status == "failed":
		g.set("telephony_hangup", "callee")
		g.set("telephony_disconnect_reason", pick(r, []string{"error", "forbidden", "unknown"}))
	case connected:
		g.set("telephony_hangup", pick(r, []string{"caller", "callee", "agent"}))
		g.set("telephony_disconnect_reason", pick(r, []string{"callee_hangup", "caller_hangup", "unknown"}))
	default:
		g.set("telephony_hangup", "callee")
		g.set("telephony_disconnect_reason", "unknown")
	}
	g.set("telephony_duration", max(dur*1000-r.IntN(4000), 0))
	g.set("telephony_ringing_duration", ringMS)
	tStart := start.Add(time.Duration(r.IntN(3000)) * time.Millisecond)
	tEnd := tStart.Add(time.Duration(dur) * time.Second)
	switch x := r.IntN(100); {
	case status == "queue" || x < 15:
		g.set("telephony_start", nil)
		g.set("telephony_end", nil)
	case x < 30:
		g.set("telephony_start", obj{})
		g.set("telephony_end", obj{})
	case x < 40:
		g.set("telephony_start", tStart.Format("2006-01-02T15:04:05.000000"))
		g.set("telephony_end", tEnd.Format("2006-01-02T15:04:05.000000"))
	default:
		g.set("telephony_start", tStart.Format("2006-01-02T15:04:05"))
		if status == "in-progress" {
			g.set("telephony_end", nil)
		} else {
			g.set("telephony_end", tEnd.Format("2006-01-02T15:04:05"))
		}
	}
	if g.chance(0.25) {
		g.set("telephony_sip_headers", obj{})
		return
	}
	g.set("telephony_sip_headers", obj{
		{"X-Twilio-CallSid", "CA" + hex(r, 32)},
		{"X-Carrier-IP", fmt.Sprintf("54.172.%d.%d", r.IntN(256), r.IntN(256))},
		{"X-Dialed-Number", "+1415555" + strconv.Itoa(1000+r.IntN(9000))},
		{"User-Agent", "Twilio Gateway"},
	})
}

// errorMessage sets error_message: "" on most calls, text on failures and
// occasionally null, as observed.
func (g *gen) errorMessage(status string) {
	switch {
	case status == "failed" && g.chance(0.1):
		g.set("error_message", nil)
	case status == "failed":
		g.set("error_message", pick(g.r, failureMessages))
	case status == "busy":
		g.set("error_message", "486: Busy Here")
	default:
		g.set("error_message", "")
	}
}

// endReason picks an end_call_reason fitting the status, from all three
// vocabularies.
func (g *gen) endReason(status string) string {
	r := g.r
	switch status {
	case "completed":
		if g.chance(0.08) {
			return "custom_end_call"
		}
		return pick(r, []string{"human_goodbye", "agent_goodbye", "human_ended_call", "agent_ended_call",
			"human_hangup", "max_duration", "idle_time_exceeded", "goodbye_detected", "timeout",
			"human_pick_up_cut_off", "user_disconnected"})
	case "left_voicemail":
		return "voicemail_message_left"
	case "hangup_on_voicemail":
		return pick(r, []string{"voicemail", "voicemail_cut_off"})
	case "failed":
		return pick(r, []string{"error", "undefined"})
	case "canceled":
		return "user_canceled"
	case "in-progress", "queue":
		return ""
	}
	return "undefined"
}

// judgeResults returns string-valued judge results, {} on failed calls and
// null when the call was not judged.
func (g *gen) judgeResults(status string, final bool) any {
	switch {
	case status == "failed":
		return obj{}
	case !final || status != "completed" || g.chance(0.25):
		return nil
	}
	verdicts := []string{"true", "true", "true", "True", "false", "partial", "not_applicable"}
	o := obj{}
	for _, k := range judgeKeys {
		v := pick(g.r, verdicts)
		o = append(o, kv{k, v})
		fb := ""
		if v == "false" || v == "partial" {
			fb = pick(g.r, judgeFeedback)
		}
		o = append(o, kv{k + "_feedback", fb})
	}
	return o
}

// labels is usually empty.
func (g *gen) labels() []string {
	switch g.r.IntN(20) {
	case 0:
		return []string{"vip"}
	case 1:
		return []string{"follow-up", "hot-lead"}
	}
	return []string{}
}

// agentsUsed is usually empty; multi-agent calls list their agents.
func (g *gen) agentsUsed(model string) []string {
	if g.chance(0.85) || len(g.models) < 2 {
		return []string{}
	}
	other := pick(g.r, g.models)
	if other == model {
		return []string{model}
	}
	return []string{model, other}
}

// recordingURL is a Twilio recording or a signed storage URL.
func (g *gen) recordingURL() string {
	r := g.r
	if g.chance(0.7) {
		return "https://api.twilio.com/2010-04-01/Accounts/AC" + hex(r, 32) + "/Recordings/RE" + hex(r, 32)
	}
	return "https://storage.googleapis.com/synthflow-recordings/" + uuid(r) +
		".wav?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Expires=3153600000&X-Goog-Signature=" + hex(r, 64)
}

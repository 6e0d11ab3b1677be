package apitest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// promptVariables returns the pre-call variables: often {}, else a few
// custom variables.
func (g *gen) promptVariables(l lead) any {
	if g.chance(0.45) {
		return obj{}
	}
	o := obj{{"first_name", l.first}, {"industry", pick(g.r, []string{"dental", "insurance", "real estate", "hospitality"})}}
	if g.chance(0.4) {
		o = append(o, kv{"appointment_time", time.UnixMilli(g.startMS).UTC().Add(72 * time.Hour).Format("2006-01-02 15:04")})
	}
	return o
}

// collectedVariables returns null, {}, one level ({name: {value, collected}})
// or two levels ({agent_id: {name: {value, collected}}}), about three
// variables each, with values of every JSON type.
func (g *gen) collectedVariables(model string, l lead, connected bool) any {
	x := g.r.IntN(100)
	switch {
	case x < 8:
		return nil
	case x < 16 || (!connected && x < 70):
		return obj{}
	}
	vars := obj{}
	order := g.r.Perm(len(variableKinds))
	for _, k := range order[:2+g.r.IntN(3)] {
		name, value := variableKinds[k](g, l)
		collected := true
		if g.chance(0.12) {
			value, collected = nil, false
		}
		vars = append(vars, kv{name, obj{{"value", value}, {"collected", collected}}})
	}
	if x < 50 {
		return vars
	}
	agent := model
	if g.chance(0.5) {
		agent = "agent_" + strconv.Itoa(100+g.r.IntN(900))
	}
	return obj{{agent, vars}}
}

// variableKinds make one collected variable each: a name and a value.
var variableKinds = []func(g *gen, l lead) (string, any){
	func(g *gen, l lead) (string, any) { return "user_name", l.first },
	func(g *gen, l lead) (string, any) { return "email", l.email },
	func(g *gen, l lead) (string, any) {
		switch g.r.IntN(3) {
		case 0:
			return "appointment_date", obj{}
		case 1:
			return "appointment_date", obj{{"date", "2026-05-20"}, {"time", "15:30"}}
		}
		return "appointment_date", "2026-05-20 15:30"
	},
	func(g *gen, l lead) (string, any) {
		if g.chance(0.5) {
			return "budget", 500 + g.r.IntN(5000)
		}
		return "budget", float64(50000+g.r.IntN(500000)) / 100
	},
	func(g *gen, l lead) (string, any) { return "is_decision_maker", g.chance(0.6) },
	func(g *gen, l lead) (string, any) { return "callback_time", nil },
	func(g *gen, l lead) (string, any) {
		return "address", obj{{"street", "Calle Mayor 12"}, {"city", pick(g.r, []string{"Madrid", "München", "Zürich", "Springfield"})}, {"zip", "28013"}}
	},
	func(g *gen, l lead) (string, any) { return "company_size", 1 + g.r.IntN(500) },
	func(g *gen, l lead) (string, any) {
		return "notes", pick(g.r, []string{"Prefers mornings ☀️", "Llamar después de las 18h", "Only speaks Japanese / 日本語のみ", ""})
	},
}

// executedActions returns {} or realistic actions keyed by name, whose
// parameters and return values are JSON-encoded strings as the live API
// sends them.
func (g *gen) executedActions(ok bool, l lead) any {
	if !ok || g.chance(0.25) {
		return obj{}
	}
	r := g.r
	o := obj{}
	ts := float64(g.startMS)/1000 + 5 + float64(r.IntN(60000))/1000
	for i := range 1 + r.IntN(4) {
		ts += float64(r.IntN(40000)) / 1000
		var name string
		var a obj
		switch r.IntN(4) {
		case 0, 1:
			ex := pick(r, []struct {
				ident string
				value any
			}{{"customer email", l.email}, {"appointment date", "2026-05-20"}, {"budget", 1500}, {"callback_time", nil}, {"is decision maker", true}})
			ident := ex.ident
			name = pick(r, []string{"extract_info_", "info_extractor_"}) + ident
			a = obj{{"name", name}, {"action_type", "extract_info_action_type"},
				{"description", "Extract the " + ident + " from the conversation"},
				{"parameters_hard_coded", pyDumps(obj{{"identifier", ident}, {"type", "open_question"}, {"examples", []string{"e.g. " + l.email}}})},
				{"parameters_from_llm", "{}"},
				{"return_value", pyDumps(obj{{ident, ex.value}})}}
		case 2:
			fn := pick(r, []string{"book_appointment", "check_availability", "update_crm"})
			name = "custom_function_" + fn
			ret := pick(r, []any{obj{}, obj{{"id", nil}}, "ok", obj{{"status", "booked"}, {"booking", obj{{"id", 48213 + i}, {"slot", "2026-05-20T15:30:00"}}}}})
			a = obj{{"name", fn}, {"action_type", "custom_function_action_type"},
				{"description", "Calls the " + strings.ReplaceAll(fn, "_", " ") + " webhook"},
				{"parameters_hard_coded", pyDumps(obj{{"url", "https://hooks.example.com/" + fn}, {"method", "POST"}, {"headers", obj{{"Authorization", "Bearer ***"}}}})},
				{"parameters_from_llm", pyDumps(obj{{"date", "2026-05-20"}, {"time", "15:30"}, {"name", l.name}})},
				{"return_value", pyDumps(ret)}}
		default:
			name = "live_transfer_sales"
			a = obj{{"name", name}, {"action_type", "LIVE_TRANSFER"}, {"description", "Transfer to a human"},
				{"parameters_hard_coded", pyDumps(obj{{"phone_number", "+14155550100"}, {"timeout", 30}})},
				{"parameters_from_llm", "{}"},
				{"return_value", pyDumps(obj{{"status", pick(r, []string{"transfer-failed-timeout", "transferred"})}})}}
		}
		if slices.ContainsFunc(o, func(e kv) bool { return e.k == name }) {
			continue // keys of an object are unique
		}
		when := time.UnixMicro(int64(ts * 1e6)).UTC()
		if i == 0 && g.chance(0.1) {
			when = when.Add(-200 * 24 * time.Hour) // pre-call actions carry the config's creation time
		}
		a = append(a,
			kv{"return_value_status", pick(r, []string{"success", "success", "error"})},
			kv{"is_relevant_action", "true"},
			kv{"error_message", nil},
			kv{"timestamp_datetime", when.Format("2006-01-02T15:04:05.000000")},
			kv{"timestamp", strconv.FormatFloat(float64(when.UnixMicro())/1e6, 'f', 6, 64)})
		o = append(o, kv{name, a})
	}
	return o
}

// pyDumps encodes v like Python's json.dumps: ", " and ": " separators and
// non-ASCII escaped as \uXXXX. The live API embeds such strings.
func pyDumps(v any) string {
	var b strings.Builder
	pyEncode(&b, v)
	return b.String()
}

func pyEncode(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int:
		b.WriteString(strconv.Itoa(v))
	case float64:
		b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	case string:
		b.WriteByte('"')
		for _, c := range v {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteRune(c)
			case c < 0x20 || c > 0x7e:
				for _, u := range utf16.Encode([]rune{c}) {
					fmt.Fprintf(b, `\u%04x`, u)
				}
			default:
				b.WriteRune(c)
			}
		}
		b.WriteByte('"')
	case []string:
		b.WriteByte('[')
		for i, s := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			pyEncode(b, s)
		}
		b.WriteByte(']')
	case obj:
		b.WriteByte('{')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			pyEncode(b, e.k)
			b.WriteString(": ")
			pyEncode(b, e.v)
		}
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("apitest: pyDumps %T", v)) // generator values only
	}
}

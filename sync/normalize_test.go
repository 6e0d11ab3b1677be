package sync_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/callsync/callsync/api"
	callsync "github.com/callsync/callsync/sync"
)

func mustDecode(t *testing.T, raw string) *api.Call {
	t.Helper()
	c, err := api.DecodeCall(json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNormalize_PreservationRules(t *testing.T) {
	c := mustDecode(t, `{"call_id":"a","transcript":"  \n","recording_url":"","collected_variables":{},"telephony_start":{}}`)
	row, _, err := callsync.Normalize(c)
	if err != nil {
		t.Fatal(err)
	}
	if row.Transcript != nil {
		t.Errorf("Transcript = %v, want nil (keep stored) for a blank transcript", row.Transcript)
	}
	if row.RecordingURL != nil {
		t.Errorf("RecordingURL = %q, want nil (keep stored) for an empty URL", *row.RecordingURL)
	}
	if row.Variables != nil {
		t.Errorf("Variables = %v, want nil (keep stored) for an empty set", row.Variables)
	}
	if row.Telephony != nil {
		t.Errorf("Telephony = %+v, want nil when no telephony field has a value", row.Telephony)
	}
	if row.ErrorMessage != nil {
		t.Errorf("ErrorMessage = %q, want nil when absent", *row.ErrorMessage)
	}
}

func TestNormalize_NUL(t *testing.T) {
	c := mustDecode(t, `{"call_id":"a","name":"Jo\u0000e","transcript":"bot: h\u0000i","executed_actions":{"k\u0000":"v\u0000"},`+
		`"collected_variables":{"n\u0000":{"value":"x\u0000","collected":true}}}`)
	row, notes, err := callsync.Normalize(c)
	if err != nil {
		t.Fatal(err)
	}
	if *row.Name != "Joe" || row.Transcript[0].Text != "hi" || row.Variables[0].Name != "n" {
		t.Errorf("NULs not removed: name %q, transcript %q, variable %q", *row.Name, row.Transcript[0].Text, row.Variables[0].Name)
	}
	for _, b := range [][]byte{row.Raw, row.ExecutedActions, row.Variables[0].Value} {
		if strings.Contains(string(b), `\u0000`) || !json.Valid(b) {
			t.Errorf("JSON %s still has NUL or is invalid", b)
		}
	}
	if string(row.ExecutedActions) != `{"k":"v"}` {
		t.Errorf("ExecutedActions = %s", row.ExecutedActions)
	}
	if len(notes) == 0 || !strings.Contains(strings.Join(notes, ";"), "NUL") {
		t.Errorf("notes = %q, want NUL removal reported", notes)
	}
}

func TestNormalize_BadUnicodeAndDepth(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000)
	raw := `{"call_id":"a","lone":"\ud800","bad":"` + "\xff\xfe" + `","deep":` + deep + `}`
	c := mustDecode(t, raw)
	row, notes, err := callsync.Normalize(c)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(row.Raw) || strings.Contains(string(row.Raw), `\ud800`) {
		t.Errorf("raw not cleaned: %.200s", row.Raw)
	}
	if strings.Count(string(row.Raw), "{") > 250 {
		t.Errorf("raw still nested %d deep", strings.Count(string(row.Raw), "{"))
	}
	joined := strings.Join(notes, ";")
	if !strings.Contains(joined, "UTF-8") || !strings.Contains(joined, "nested deeper") {
		t.Errorf("notes = %q, want UTF-8 and depth fixes reported", notes)
	}
}

func TestNormalize_CleanPayloadUnchanged(t *testing.T) {
	raw := `{"call_id":"a", "b": [1, 2.50, "x"], "c": {"d": null}}`
	row, notes, err := callsync.Normalize(mustDecode(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	if string(row.Raw) != raw {
		t.Errorf("Raw = %s, want the payload byte for byte", row.Raw)
	}
	if len(notes) != 0 {
		t.Errorf("notes = %q, want none", notes)
	}
	if len(row.PayloadHash) != 32 {
		t.Errorf("PayloadHash has %d bytes, want 32", len(row.PayloadHash))
	}
}

func TestNormalize_DurationOutOfRange(t *testing.T) {
	row, notes, err := callsync.Normalize(mustDecode(t, `{"call_id":"a","duration":99999999999}`))
	if err != nil {
		t.Fatal(err)
	}
	if row.DurationSeconds != nil || len(notes) == 0 {
		t.Errorf("DurationSeconds = %v, notes %q; want nil and a note", row.DurationSeconds, notes)
	}
}

// TestNormalize_ImpossibleTimings: negative or week-long durations are
// stored as NULL with a note.
func TestNormalize_ImpossibleTimings(t *testing.T) {
	row, notes, err := callsync.Normalize(mustDecode(t, `{"call_id":"a","duration":700000,
		"telephony_duration":-5,"telephony_ringing_duration":-3600000}`))
	if err != nil {
		t.Fatal(err)
	}
	if row.DurationSeconds != nil || row.Telephony != nil && (row.Telephony.DurationMS != nil || row.Telephony.RingingDurationMS != nil) {
		t.Fatalf("stored duration %v, telephony %+v; want none", row.DurationSeconds, row.Telephony)
	}
	if len(notes) != 3 {
		t.Fatalf("notes = %q, want one per field", notes)
	}
	row, notes, _ = callsync.Normalize(mustDecode(t, `{"call_id":"a","duration":60,"telephony_duration":60000,"telephony_ringing_duration":0}`))
	if *row.DurationSeconds != 60 || *row.Telephony.DurationMS != 60000 || *row.Telephony.RingingDurationMS != 0 || len(notes) != 0 {
		t.Fatalf("plausible timings changed: %+v %+v %q", row.DurationSeconds, row.Telephony, notes)
	}
}

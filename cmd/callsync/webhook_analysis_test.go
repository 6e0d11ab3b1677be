package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
)

// hookOn serves the webhook endpoint as run mounts it, with the settings
// in env, on the database of env's DATABASE_URL.
func hookOn(t *testing.T, env map[string]string) (url string, logs *bytes.Buffer, tel *telemetry) {
	t.Helper()
	f := newFlagSet("run", "run", env2(env))
	var c webhookConfig
	c.register(f)
	if err := f.parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := c.load(); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(t.Context(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	logs, tel = &bytes.Buffer{}, newTelemetry()
	mux := http.NewServeMux()
	c.mount(mux, store.New(pool), tel, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + c.path, logs, tel
}

// analysisCount reads callsync_webhook_analysis_total{outcome}.
func analysisCount(t *testing.T, tel *telemetry, outcome string) float64 {
	t.Helper()
	families, err := tel.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "callsync_webhook_analysis_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetLabel()[0].GetValue() == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no callsync_webhook_analysis_total{outcome=%q}", outcome)
	return 0
}

// judgedCalls returns n generated calls whose list pages carry judgements.
func judgedCalls(t *testing.T, seed uint64, n int) []apitest.Call {
	t.Helper()
	var out []apitest.Call
	for _, c := range apitest.Generate(apitest.GenerateOptions{Seed: seed, Calls: 40 * n, Models: 1}) {
		if v, _ := c.Field("judge_results"); len(v) > 2 && v[0] == '{' && len(out) < n {
			out = append(out, c)
		}
	}
	if len(out) < n {
		t.Fatalf("%d judged calls generated, want %d", len(out), n)
	}
	return out
}

func sendHook(t *testing.T, url string, secret []byte, c apitest.Call, o apitest.WebhookOptions) {
	t.Helper()
	code, err := apitest.PostWebhook(t.Context(), http.DefaultClient, url, secret, c.ID(), c.Webhook(o))
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("webhook for %s: %d, %v; want 202", c.ID(), code, err)
	}
}

// rowsOf lists a call's judgements as criterion=result|value|feedback.
func rowsOf(t *testing.T, dbURL, id string) string {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var s string
	err = pool.QueryRow(t.Context(), `SELECT coalesce(string_agg(criterion || '=' || coalesce(result, '-') || '|' ||
		coalesce(value, '-') || '|' || coalesce(feedback, '-'), ',' ORDER BY criterion), '')
		FROM call_judgements WHERE call_id = $1`, id).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// variants is an analysis object with every value variant: the strings
// seen live, JSON booleans, null, free text, and feedback alone.
const variants = `{"persona":"true","persona_feedback":"","style":"True","style_feedback":"",
	"steps":"false","steps_feedback":"skipped a step","goal":"partial","goal_feedback":"no booking",
	"knowledge":"not_applicable","knowledge_feedback":"","opted_in":true,"no_opt_out":false,
	"appointment":null,"appointment_feedback":null,"call_summary":" TRUE ","objections":"n/a",
	"user_sentiment":"mostly happy","judge_found_partial_or_error":"true","judge_found_full_error":"false",
	"all_feedback":"skipped a step; no booking"}`

const variantRows = "all=-|-|skipped a step; no booking,appointment=-|-|-,call_summary=true| TRUE |-," +
	"goal=partial|partial|no booking,judge_found_full_error=false|false|-,judge_found_partial_or_error=true|true|-," +
	"knowledge=not_applicable|not_applicable|,no_opt_out=false|false|-,objections=not_applicable|n/a|-," +
	"opted_in=true|true|-,persona=true|true|,steps=false|false|skipped a step,style=true|True|," +
	"user_sentiment=-|mostly happy|-"

// TestWebhook_Analysis: a verified webhook's analysis, at the top level or
// under call, in every value variant, waits on the queue row and lands
// when the worker stores the call from GET (which never carries
// judgements); a re-sync keeps it. Null, empty, oversize and unverified
// analyses store nothing, and every webhook is still queued.
func TestWebhook_Analysis(t *testing.T) {
	calls := judgedCalls(t, 81, 6)
	srv := fakeAPI(t, calls...)
	env := intakeEnv(t, srv)
	env["SYNTHFLOW_WEBHOOK_SECRET"] = hookSecret
	url, logs, tel := hookOn(t, env)
	secret := []byte(hookSecret)
	live, inCall, variant, null, empty, huge := calls[0], calls[1], calls[2], calls[3], calls[4], calls[5]
	sendHook(t, url, secret, live, apitest.WebhookOptions{})
	sendHook(t, url, secret, inCall, apitest.WebhookOptions{AnalysisInCall: true})
	sendHook(t, url, secret, variant, apitest.WebhookOptions{Analysis: json.RawMessage(variants), AnalysisInCall: true})
	sendHook(t, url, secret, null, apitest.WebhookOptions{Analysis: json.RawMessage(`null`)})
	sendHook(t, url, secret, empty, apitest.WebhookOptions{Analysis: json.RawMessage(`{}`)})
	big, _ := json.Marshal(map[string]string{"goal": "true", "goal_feedback": strings.Repeat("x", api.MaxWebhookAnalysis)})
	sendHook(t, url, secret, huge, apitest.WebhookOptions{Analysis: big})

	dbURL := env["DATABASE_URL"]
	if n := count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE state = 'pending'`); n != 6 {
		t.Fatalf("%d calls queued, want all 6", n)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE webhook_judgements IS NOT NULL`); n != 3 {
		t.Fatalf("%d judgement sets waiting, want 3 (live, under call, variants)", n)
	}
	for outcome, want := range map[string]float64{"staged": 3, "none": 2, "too_large": 1, "stored": 0, "unverified": 0} {
		if got := analysisCount(t, tel, outcome); got != want {
			t.Errorf("analysis outcome %s counted %v times, want %v", outcome, got, want)
		}
	}
	if !strings.Contains(logs.String(), "analysis dropped") || !strings.Contains(logs.String(), huge.ID()) {
		t.Errorf("the oversize analysis was not logged:\n%s", logs)
	}

	if r := runCmd(t, env, "", "once"); r.err != nil {
		t.Fatalf("once: %v\n%s", r.err, r.stderr)
	}
	check := func(after string) {
		t.Helper()
		for _, c := range []apitest.Call{live, inCall} {
			if n := count(t, dbURL, `SELECT count(*) FROM call_judgements WHERE call_id = '`+c.ID()+`'`); n != 19 {
				t.Errorf("after %s: %s has %d judgements, want 19 (16 criteria, 2 aggregates, all)", after, c.ID(), n)
			}
		}
		if got := rowsOf(t, dbURL, variant.ID()); got != variantRows {
			t.Errorf("after %s: variants stored as\n%s\nwant\n%s", after, got, variantRows)
		}
		for _, c := range []apitest.Call{null, empty, huge} {
			if got := rowsOf(t, dbURL, c.ID()); got != "" {
				t.Errorf("after %s: %s has judgements %s, want none", after, c.ID(), got)
			}
		}
		if n := count(t, dbURL, `SELECT count(*) FROM calls`); n != 6 {
			t.Errorf("after %s: %d calls stored, want 6", after, n)
		}
		if n := count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE webhook_judgements IS NOT NULL`); n != 0 {
			t.Errorf("after %s: %d judgement sets still waiting", after, n)
		}
	}
	check("once")
	// A re-sync from GET: the API still sends no judgements, and they stay.
	if r := runCmd(t, env, "", "enqueue", live.ID(), inCall.ID(), variant.ID()); r.err != nil {
		t.Fatal(r.err)
	}
	if r := runCmd(t, env, "", "once"); r.err != nil {
		t.Fatalf("once again: %v\n%s", r.err, r.stderr)
	}
	check("a re-sync")
	if n := count(t, dbURL, `SELECT count(*) FROM calls WHERE answered_by_human IS NULL AND call_id IN ('`+
		live.ID()+`', '`+inCall.ID()+`', '`+variant.ID()+`')`); n != 0 {
		t.Errorf("%d judged calls without answered_by_human", n)
	}
}

// TestWebhook_AnalysisUnverified: without a secret (--webhook-insecure) an
// analysis is ignored, however well formed; the call is still queued.
func TestWebhook_AnalysisUnverified(t *testing.T) {
	calls := judgedCalls(t, 82, 1)
	srv := fakeAPI(t, calls...)
	env := intakeEnv(t, srv)
	env["SYNTHFLOW_WEBHOOK_INSECURE"] = "1"
	url, _, tel := hookOn(t, env)
	sendHook(t, url, nil, calls[0], apitest.WebhookOptions{})
	// Signed all the same: with no secret to check it against, still unverified.
	sendHook(t, url, []byte(hookSecret), calls[0], apitest.WebhookOptions{AnalysisInCall: true})
	dbURL := env["DATABASE_URL"]
	if n := count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE webhook_judgements IS NULL`); n != 1 {
		t.Fatalf("queue: %d rows without judgements, want the call queued with none", n)
	}
	if got := analysisCount(t, tel, "unverified"); got != 2 {
		t.Fatalf("unverified counted %v times, want 2", got)
	}
	if r := runCmd(t, env, "", "once"); r.err != nil {
		t.Fatal(r.err)
	}
	if got := rowsOf(t, dbURL, calls[0].ID()); got != "" {
		t.Fatalf("unverified analysis stored: %s", got)
	}
}

// TestWebhook_AnalysisAndBackfill: list pages' judge_results and a
// webhook's analysis for the same calls never duplicate a criterion; the
// set received last wins, whichever sent it.
func TestWebhook_AnalysisAndBackfill(t *testing.T) {
	calls := judgedCalls(t, 83, 2)
	srv := fakeAPI(t, calls...)
	env := intakeEnv(t, srv)
	env["SYNTHFLOW_WEBHOOK_SECRET"] = hookSecret
	url, _, tel := hookOn(t, env)
	dbURL := env["DATABASE_URL"]
	backfill := func() {
		t.Helper()
		r := runCmd(t, env, "", "backfill", "--all-models", "--from", "2026-01-01", "--to", "2027-01-01", "--refetch")
		if r.err != nil {
			t.Fatalf("backfill: %v\n%s", r.err, r.stderr)
		}
	}
	backfill()
	listed := rowsOf(t, dbURL, calls[0].ID())
	if n := count(t, dbURL, `SELECT count(*) FROM call_judgements WHERE call_id = '`+calls[0].ID()+`'`); n != 14 {
		t.Fatalf("backfill stored %d judgements, want 14: %s", n, listed)
	}
	sendHook(t, url, []byte(hookSecret), calls[0], apitest.WebhookOptions{Analysis: json.RawMessage(variants)})
	if got := rowsOf(t, dbURL, calls[0].ID()); got != variantRows {
		t.Fatalf("webhook after backfill: %s, want the webhook's set", got)
	}
	if analysisCount(t, tel, "stored") != 1 {
		t.Fatal("not counted as stored")
	}
	// The worker fetches the call the webhook queued (GET: no judgements).
	if r := runCmd(t, env, "", "once"); r.err != nil {
		t.Fatal(r.err)
	}
	if got := rowsOf(t, dbURL, calls[0].ID()); got != variantRows {
		t.Fatalf("after the fetch: %s, want the webhook's set", got)
	}
	backfill() // newer than the webhook: the list page's set again
	if got := rowsOf(t, dbURL, calls[0].ID()); got != listed {
		t.Fatalf("backfill after the webhook: %s, want %s", got, listed)
	}
	if n := count(t, dbURL, `SELECT count(*) FROM (SELECT call_id, criterion FROM call_judgements
		GROUP BY 1, 2 HAVING count(*) > 1) d`); n != 0 {
		t.Fatalf("%d duplicate criteria", n)
	}
}

// TestWebhook_AnalysisForgetAndPrune: forget removes judgements waiting for
// a call, and prune --retain-calls drops those waiting longer than that.
func TestWebhook_AnalysisForgetAndPrune(t *testing.T) {
	calls := judgedCalls(t, 84, 2)
	srv := fakeAPI(t) // the API serves neither call: they stay unstored
	env := intakeEnv(t, srv)
	env["SYNTHFLOW_WEBHOOK_SECRET"] = hookSecret
	url, _, _ := hookOn(t, env)
	for _, c := range calls {
		sendHook(t, url, []byte(hookSecret), c, apitest.WebhookOptions{})
	}
	dbURL := env["DATABASE_URL"]
	waiting := func() int {
		return count(t, dbURL, `SELECT count(*) FROM sync_queue WHERE webhook_judgements IS NOT NULL`)
	}
	if waiting() != 2 {
		t.Fatalf("%d judgement sets waiting, want 2", waiting())
	}
	if r := runCmd(t, env, "", "forget", "--call-id", calls[0].ID()); r.err != nil {
		t.Fatal(r.err)
	}
	if waiting() != 1 {
		t.Fatalf("after forget: %d judgement sets waiting, want 1", waiting())
	}
	pool, err := pgxpool.New(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(t.Context(), `UPDATE sync_queue SET webhook_judged_at = now() - interval '3 days'`); err != nil {
		t.Fatal(err)
	}
	env["SYNC_RETAIN_CALLS"] = "2d"
	r := runCmd(t, env, "", "prune")
	if r.err != nil || !strings.Contains(r.stdout, "1 webhook judgement sets waiting for their calls") || waiting() != 0 {
		t.Fatalf("prune: %v, %d waiting\n%s%s", r.err, waiting(), r.stdout, r.stderr)
	}
}

// failingJudgements is a judgement store whose database fails.
type failingJudgements struct{}

func (failingJudgements) SaveHookJudgements(context.Context, string, []store.Judgement, *string) (string, error) {
	return "", errors.New("database gone")
}

// TestWebhook_AnalysisStoreFails: when the judgements cannot be stored, the
// webhook is still accepted and its call queued; the failure is logged and
// counted.
func TestWebhook_AnalysisStoreFails(t *testing.T) {
	calls := judgedCalls(t, 85, 1)
	env := intakeEnv(t, fakeAPI(t, calls...))
	pool, err := pgxpool.New(t.Context(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var logs bytes.Buffer
	tel := newTelemetry()
	h := &webhookHandler{secret: []byte(hookSecret), queue: store.New(pool), judgements: failingJudgements{},
		logger: slog.New(slog.NewTextHandler(&logs, nil)), maxBody: defaultWebhookMaxBody, slots: make(chan struct{}, 1),
		analyses: tel.webhookAnalysisCounter(), refusals: newRefusalLog(slog.New(slog.NewTextHandler(&logs, nil)))}
	srv := httptest.NewServer(h)
	defer srv.Close()
	sendHook(t, srv.URL, []byte(hookSecret), calls[0], apitest.WebhookOptions{})
	if n := count(t, env["DATABASE_URL"], `SELECT count(*) FROM sync_queue WHERE state = 'pending'`); n != 1 {
		t.Fatalf("%d calls queued, want 1", n)
	}
	if analysisCount(t, tel, "error") != 1 || !strings.Contains(logs.String(), "analysis not stored") {
		t.Fatalf("failure not counted or logged:\n%s", logs.String())
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lmittmann/tint"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

// defaultWebhookMaxBody caps a webhook body. Payloads carry the transcript
// and executed actions, rarely more than a few hundred KB.
const defaultWebhookMaxBody = 4 << 20

// Defaults of the webhook's flood and replay guards. A body being read
// costs a few KB (api.ReadWebhook streams it; at most
// api.MaxWebhookAnalysis of analysis is kept), so hundreds may be read at
// once: clients that trickle bodies that will never verify cannot take
// every slot. The minimum rate ends such a body within about a second.
// One client (remote address) may hold a quarter of the slots.
const (
	defaultWebhookCooldown    = 10 * time.Minute
	defaultWebhookInFlight    = 256
	defaultWebhookPerClient   = 64
	defaultWebhookMinBodyRate = 16 << 10 // bytes a second
	webhookBodyGrace          = time.Second
)

// webhookConfig holds the post-call webhook settings of run.
type webhookConfig struct {
	path       string
	secret     string
	secretFile string
	insecure   bool
	maxBody    int
	inFlight   int
	perClient  int
	minRate    int
	cooldown   time.Duration
	key        []byte // the secret, once loaded
	secrets    *secretSet
}

func (c *webhookConfig) register(f *flagSet) {
	c.secrets = f.secrets
	f.stringVar(&c.path, "webhook-path", "SYNTHFLOW_WEBHOOK_PATH", "/webhooks/synthflow",
		"with --http-addr, path of the post-call webhook endpoint (off: no webhook endpoint)")
	f.secretVar(&c.secret, "webhook-secret", "SYNTHFLOW_WEBHOOK_SECRET",
		"webhook secret (Synthflow: Settings → Security → Webhooks); prefer the environment or a file to a flag")
	f.stringVar(&c.secretFile, "webhook-secret-file", "SYNTHFLOW_WEBHOOK_SECRET_FILE", "", "file holding the webhook secret")
	envBoolVar(f, &c.insecure, "webhook-insecure", "SYNTHFLOW_WEBHOOK_INSECURE",
		"accept webhooks without a signature when no secret is set (for trusted networks only)")
	f.intVar(&c.maxBody, "webhook-max-body", "SYNTHFLOW_WEBHOOK_MAX_BODY", defaultWebhookMaxBody, "largest webhook body accepted, in bytes")
	f.intVar(&c.inFlight, "webhook-max-inflight", "SYNTHFLOW_WEBHOOK_MAX_INFLIGHT", defaultWebhookInFlight,
		"webhook bodies read at once; more wait up to 10s, then get 503")
	f.intVar(&c.perClient, "webhook-max-inflight-per-client", "SYNTHFLOW_WEBHOOK_MAX_INFLIGHT_PER_CLIENT", defaultWebhookPerClient,
		"webhook bodies read at once from one remote address; more get 429 (0: no per-client limit, e.g. behind a proxy)")
	f.intVar(&c.minRate, "webhook-min-body-rate", "SYNTHFLOW_WEBHOOK_MIN_BODY_RATE", defaultWebhookMinBodyRate,
		"after its first second, a webhook body slower than this many bytes a second is cut off with 408 (0: only the 10s limit)")
	f.durationVar(&c.cooldown, "webhook-cooldown", "SYNTHFLOW_WEBHOOK_COOLDOWN", defaultWebhookCooldown,
		"a webhook for a call queued, synced or failed this recently changes nothing (replays cost no API request)")
}

// load reads the secret and checks the settings; errors name the setting,
// never the secret. Without a secret the endpoint refuses to start unless
// --webhook-insecure.
func (c *webhookConfig) load() error {
	if c.path == "off" {
		c.path = "" // an empty variable means the default, so the environment says off
	}
	if c.path == "" {
		return nil
	}
	if !strings.HasPrefix(c.path, "/") {
		return usagef("--webhook-path (SYNTHFLOW_WEBHOOK_PATH) %q: want a path starting with /", c.path)
	}
	if c.maxBody < 1024 {
		return usagef("--webhook-max-body (SYNTHFLOW_WEBHOOK_MAX_BODY) %d: want at least 1024 bytes", c.maxBody)
	}
	if c.inFlight < 1 {
		return usagef("--webhook-max-inflight (SYNTHFLOW_WEBHOOK_MAX_INFLIGHT) %d: want at least 1", c.inFlight)
	}
	if c.perClient < 0 {
		return usagef("--webhook-max-inflight-per-client (SYNTHFLOW_WEBHOOK_MAX_INFLIGHT_PER_CLIENT) %d: want 0 (no limit) or more", c.perClient)
	}
	if c.minRate < 0 {
		return usagef("--webhook-min-body-rate (SYNTHFLOW_WEBHOOK_MIN_BODY_RATE) %d: want 0 (no minimum) or more bytes a second", c.minRate)
	}
	if c.cooldown < 0 {
		return usagef("--webhook-cooldown (SYNTHFLOW_WEBHOOK_COOLDOWN) %v: want 0 (no cooldown) or more", c.cooldown)
	}
	secret := strings.TrimSpace(c.secret)
	if c.secretFile != "" {
		if secret != "" {
			return usagef("set SYNTHFLOW_WEBHOOK_SECRET or SYNTHFLOW_WEBHOOK_SECRET_FILE, not both")
		}
		b, err := os.ReadFile(c.secretFile)
		if pe := (*os.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err // not the path: a secret set there by mistake must not be shown
		}
		if err != nil {
			return usagef("read SYNTHFLOW_WEBHOOK_SECRET_FILE (--webhook-secret-file): %v", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	if secret == "" && !c.insecure {
		return usagef("webhook endpoint %s: no secret: set SYNTHFLOW_WEBHOOK_SECRET (or SYNTHFLOW_WEBHOOK_SECRET_FILE) "+
			"to the secret of Synthflow's Settings → Security → Webhooks; or --webhook-insecure to accept unsigned "+
			"webhooks; or SYNTHFLOW_WEBHOOK_PATH=off (--webhook-path off) to serve none", c.path)
	}
	c.secrets.add(secret)
	c.key = []byte(secret)
	return nil
}

// hookStore is what the webhook endpoint writes: the queue, and the
// judgements of verified webhooks. *store.DB implements it.
type hookStore interface {
	callsync.HookQueue
	callsync.HookJudgementStore
}

// mount registers the webhook endpoint on mux, when it is enabled, with
// its requests counted in tel (nil: not counted). load must have succeeded.
func (c *webhookConfig) mount(mux *http.ServeMux, q hookStore, tel *telemetry, logger *slog.Logger) {
	if c.path == "" {
		return
	}
	if len(c.key) == 0 {
		logger.Warn("webhook signatures are not checked (--webhook-insecure): anyone who can reach the endpoint can queue calls")
	}
	h := &webhookHandler{secret: c.key, queue: q, judgements: q, logger: logger, maxBody: int64(c.maxBody),
		cooldown: c.cooldown, slots: make(chan struct{}, c.inFlight), clients: newClientSlots(c.perClient),
		minRate: int64(c.minRate), counted: tel.webhookCounter(),
		analyses: tel.webhookAnalysisCounter(), refusals: newRefusalLog(logger)}
	mux.Handle(c.path, h)
	logger.Info("webhook endpoint ready", "path", c.path, "signed", len(c.key) > 0, "cooldown", c.cooldown)
}

// webhookHandler receives Synthflow's post-call webhooks: it checks the
// request, queues the call id, stores the judgements of its analysis object
// when its signature verified, and answers at once. The call is fetched
// from the API by the worker: the payload is a hint, and only its call id
// is signed.
//
// Its memory is bounded whatever arrives: requests the headers already
// settle (method, type, size, no signature) are refused before the body is
// read; at most cap(slots) bodies are read at once, each streamed through a
// few KB plus at most api.MaxWebhookAnalysis of analysis (api.ReadWebhook),
// never held whole.
//
// Its slots go to clients that send: a body must arrive at minRate after
// its first second (bodyPace), and one remote address holds at most
// clients' share of the slots. A signature can only be checked once the
// body is read (it signs the call id inside), so slow bodies that will
// never verify are fended off by their pace and number, not their
// signature.
type webhookHandler struct {
	secret     []byte // empty: signatures not checked
	queue      callsync.HookQueue
	judgements callsync.HookJudgementStore
	logger     *slog.Logger
	maxBody    int64
	cooldown   time.Duration
	slots      chan struct{}
	clients    *clientSlots
	minRate    int64                  // bytes a second; 0: none
	counted    *prometheus.CounterVec // by code and reason
	analyses   *prometheus.CounterVec // by outcome
	refusals   *refusalLog
}

// Timeouts of one webhook: the wait for a slot to read its body in, the
// read of the body, and the queue write.
const (
	slotWait       = 10 * time.Second
	bodyTimeout    = 10 * time.Second
	enqueueTimeout = 10 * time.Second
)

func (h *webhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.checkHeaders(w, r) {
		return
	}
	hook, ok := h.readBody(w, r)
	if !ok {
		return
	}
	if len(h.secret) > 0 && !api.VerifyWebhookHeaders(h.secret, hook.CallID, r.Header) {
		h.refuse(w, r, http.StatusUnauthorized, "bad_signature", "signature does not match the call id")
		return
	}
	h.enqueue(w, r, hook, len(h.secret) > 0) // with a secret, only a verified request gets here
}

// checkHeaders refuses, before the body is read, a request its method and
// headers already settle; it reports whether the request may go on.
func (h *webhookHandler) checkHeaders(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, r, http.StatusMethodNotAllowed, "method", "method "+r.Method+" not allowed: send POST")
		return false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.refuse(w, r, http.StatusUnsupportedMediaType, "content_type", "content type must be application/json")
		return false
	}
	if r.ContentLength > h.maxBody {
		h.refuse(w, r, http.StatusRequestEntityTooLarge, "too_large", "body larger than "+strconv.FormatInt(h.maxBody, 10)+" bytes")
		return false
	}
	if len(h.secret) > 0 && len(api.WebhookSignatures(r.Header)) == 0 {
		h.refuse(w, r, http.StatusUnauthorized, "no_signature", "no "+api.SignatureHeader+" header")
		return false
	}
	return true
}

// readBody reads the webhook in one of the slots, refusing what cannot be
// read; it reports whether it read one.
func (h *webhookHandler) readBody(w http.ResponseWriter, r *http.Request) (*api.Webhook, bool) {
	client := remoteHost(r.RemoteAddr)
	if !h.clients.acquire(client) {
		w.Header().Set("Retry-After", "5")
		h.refuse(w, r, http.StatusTooManyRequests, "client_busy", "too many webhooks at once from this address; send it again later")
		return nil, false
	}
	defer h.clients.release(client)
	if !h.acquire(r.Context()) {
		w.Header().Set("Retry-After", "5")
		h.refuse(w, r, http.StatusServiceUnavailable, "busy", "too many webhooks at once; send it again later")
		return nil, false
	}
	// A slot is held for bodyTimeout at most, and only while the body
	// arrives at minRate: a client that trickles its body cannot keep a
	// slot from the others.
	body := &bodyPace{r: r.Body, rc: http.NewResponseController(w), start: time.Now(), rate: h.minRate}
	hook, err := api.ReadWebhook(http.MaxBytesReader(w, body, h.maxBody))
	<-h.slots
	if err != nil {
		switch {
		case errors.As(err, new(*http.MaxBytesError)):
			h.refuse(w, r, http.StatusRequestEntityTooLarge, "too_large", "body larger than "+strconv.FormatInt(h.maxBody, 10)+" bytes")
		case errors.Is(err, os.ErrDeadlineExceeded):
			h.refuse(w, r, http.StatusRequestTimeout, "slow_body", body.tooSlow())
		default:
			h.refuse(w, r, http.StatusBadRequest, "bad_payload", err.Error())
		}
		return nil, false
	}
	return hook, true
}

// enqueue queues the webhook's call, stores its analysis when verified,
// and answers what it did.
func (h *webhookHandler) enqueue(w http.ResponseWriter, r *http.Request, hook *api.Webhook, verified bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), enqueueTimeout)
	defer cancel()
	hint := store.Hint{ModelID: hook.ModelID}
	if hook.StartTime != nil {
		hint.StartedAt = *hook.StartTime
	}
	what, err := callsync.EnqueueHook(ctx, h.queue, hook.CallID, hint, callsync.DefaultPlannerConfig().MaxListAge, h.cooldown)
	switch {
	case errors.Is(err, callsync.ErrBadCallID):
		// The sender's id is not repeated: the log line carries the
		// detail too, and an unsigned sender may put anything in an id.
		h.refuse(w, r, http.StatusUnprocessableEntity, "bad_call_id", "call id "+callsync.CallIDFault(hook.CallID))
		return
	case err != nil:
		h.logger.Error("webhook: queue call", attrCallID, hook.CallID, tint.Err(err))
		h.count(http.StatusServiceUnavailable, "queue_error")
		webhookReply(w, http.StatusServiceUnavailable, "error", "the call could not be queued; send it again")
		return
	}
	if what != store.HookErased {
		// Within the cooldown too: a poll or a sync that just touched the
		// queue row must not cost the call its judgements.
		h.judge(ctx, hook, verified)
	}
	status := ""
	if hook.Status != nil {
		status = *hook.Status
	}
	if what == store.HookErased {
		// Erased for good: accepted, so that Synthflow does not send it again, and dropped.
		h.logger.Debug("webhook: erased call skipped", attrCallID, hook.CallID)
		h.count(http.StatusOK, "erased")
		webhookReply(w, http.StatusOK, "skipped", "erased")
		return
	}
	if what == store.HookIgnored {
		h.logger.Debug("webhook: call queued, synced or failed within the cooldown; nothing to do", attrCallID, hook.CallID)
		h.count(http.StatusAccepted, "replay")
		webhookReply(w, http.StatusAccepted, "already queued", hook.CallID)
		return
	}
	h.logger.Info("webhook: call queued", attrCallID, hook.CallID, "status", status, "again", what == store.HookQueued)
	h.count(http.StatusAccepted, "queued")
	webhookReply(w, http.StatusAccepted, "queued", hook.CallID)
}

// judge stores the webhook's analysis as its call's judgements when the
// request was verified. What it did is counted and, when the analysis was
// dropped or could not be stored, logged; the answer does not depend on it:
// the call is queued either way.
func (h *webhookHandler) judge(ctx context.Context, hook *api.Webhook, verified bool) {
	outcome, err := callsync.SaveHookAnalysis(ctx, h.judgements, hook, verified)
	switch {
	case err != nil:
		outcome = "error"
		h.logger.Warn("webhook: analysis not stored", attrCallID, hook.CallID, tint.Err(err))
	case outcome == api.AnalysisTooLarge || outcome == api.AnalysisInvalid:
		h.logger.Warn("webhook: analysis dropped", attrCallID, hook.CallID, "reason", outcome,
			"max_bytes", api.MaxWebhookAnalysis)
	case outcome == callsync.AnalysisUnverified:
		h.logger.Debug("webhook: analysis ignored: signatures are not checked", attrCallID, hook.CallID)
	case outcome != callsync.AnalysisNone:
		h.logger.Debug("webhook: analysis", attrCallID, hook.CallID, "outcome", outcome)
	}
	if h.analyses != nil {
		h.analyses.WithLabelValues(outcome).Inc()
	}
}

// acquire waits up to slotWait for a slot to read a body in.
func (h *webhookHandler) acquire(ctx context.Context) bool {
	select {
	case h.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(slotWait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// refuse answers a request that is not a valid webhook, counts it by
// reason, and logs why (a summary per reason and second under a flood).
func (h *webhookHandler) refuse(w http.ResponseWriter, r *http.Request, code int, reason, detail string) {
	h.count(code, reason)
	h.refusals.log(code, reason, detail, r.RemoteAddr)
	webhookReply(w, code, "error", detail)
}

func (h *webhookHandler) count(code int, reason string) {
	if h.counted != nil {
		h.counted.WithLabelValues(strconv.Itoa(code), reason).Inc()
	}
}

// webhookReply answers {"status": status, "detail": detail}.
func webhookReply(w http.ResponseWriter, code int, status, detail string) {
	body, _ := json.Marshal(map[string]string{"status": status, "detail": detail}) // strings always marshal
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n')) // the sender may be gone; nothing to do
}

// envBoolVar defines a boolean flag whose default comes from an environment
// variable (1, true, yes or 0, false, no).
func envBoolVar(f *flagSet, p *bool, name, envName, usage string) {
	def := false
	if v, ok := f.env(envName); ok {
		b, err := strconv.ParseBool(strings.TrimSpace(strings.NewReplacer("yes", "true", "no", "false").Replace(strings.ToLower(v))))
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q: want 1, true, yes, 0, false or no", envName, v))
		} else {
			def = b
		}
	}
	f.BoolVar(p, name, def, f.usage(usage, envName))
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lmittmann/tint"

	"github.com/callsync/callsync/api"
	callsync "github.com/callsync/callsync/sync"
)

// defaultWebhookMaxBody caps a webhook body. Payloads carry the transcript
// and executed actions, rarely more than a few hundred KB.
const defaultWebhookMaxBody = 4 << 20

// webhookConfig holds the post-call webhook settings of run.
type webhookConfig struct {
	path       string
	secret     string
	secretFile string
	insecure   bool
	maxBody    int
	key        []byte // the secret, once loaded
}

func (c *webhookConfig) register(f *flagSet) {
	f.stringVar(&c.path, "webhook-path", "SYNTHFLOW_WEBHOOK_PATH", "/webhooks/synthflow",
		"with --http-addr, path of the post-call webhook endpoint (empty: no webhook endpoint)")
	f.secretVar(&c.secret, "webhook-secret", "SYNTHFLOW_WEBHOOK_SECRET",
		"webhook secret (Synthflow: Settings → Security → Webhooks); prefer the environment or a file to a flag")
	f.stringVar(&c.secretFile, "webhook-secret-file", "SYNTHFLOW_WEBHOOK_SECRET_FILE", "", "file holding the webhook secret")
	envBoolVar(f, &c.insecure, "webhook-insecure", "SYNTHFLOW_WEBHOOK_INSECURE",
		"accept webhooks without a signature when no secret is set (for trusted networks only)")
	f.intVar(&c.maxBody, "webhook-max-body", "SYNTHFLOW_WEBHOOK_MAX_BODY", defaultWebhookMaxBody, "largest webhook body accepted, in bytes")
}

// load reads the secret and checks the settings; errors name the setting,
// never the secret. Without a secret the endpoint refuses to start unless
// --webhook-insecure.
func (c *webhookConfig) load() error {
	if c.path == "" {
		return nil
	}
	if !strings.HasPrefix(c.path, "/") {
		return usagef("--webhook-path %q: want a path starting with /", c.path)
	}
	if c.maxBody < 1024 {
		return usagef("--webhook-max-body %d: want at least 1024 bytes", c.maxBody)
	}
	secret := strings.TrimSpace(c.secret)
	if c.secretFile != "" {
		if secret != "" {
			return usagef("set SYNTHFLOW_WEBHOOK_SECRET or SYNTHFLOW_WEBHOOK_SECRET_FILE, not both")
		}
		b, err := os.ReadFile(c.secretFile)
		if err != nil {
			return usagef("read SYNTHFLOW_WEBHOOK_SECRET_FILE: %v", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	if secret == "" && !c.insecure {
		return usagef("webhook endpoint %s: no secret: set SYNTHFLOW_WEBHOOK_SECRET (or SYNTHFLOW_WEBHOOK_SECRET_FILE) "+
			"to the secret of Synthflow's Settings → Security → Webhooks; or --webhook-insecure to accept unsigned "+
			"webhooks; or --webhook-path '' to serve none", c.path)
	}
	c.key = []byte(secret)
	return nil
}

// mount registers the webhook endpoint on mux, when it is enabled. load
// must have succeeded.
func (c *webhookConfig) mount(mux *http.ServeMux, q callsync.Enqueuer, logger *slog.Logger) {
	if c.path == "" {
		return
	}
	if len(c.key) == 0 {
		logger.Warn("webhook signatures are not checked (--webhook-insecure): anyone who can reach the endpoint can queue calls")
	}
	mux.Handle(c.path, &webhookHandler{secret: c.key, queue: q, logger: logger, maxBody: int64(c.maxBody)})
	logger.Info("webhook endpoint ready", "path", c.path, "signed", len(c.key) > 0)
}

// webhookHandler receives Synthflow's post-call webhooks: it checks the
// request, queues the call id and answers at once. The call is fetched from
// the API by the worker: the payload is a hint, and only its call id is
// signed.
type webhookHandler struct {
	secret  []byte // empty: signatures not checked
	queue   callsync.Enqueuer
	logger  *slog.Logger
	maxBody int64
}

// enqueueTimeout bounds the queue write of one webhook.
const enqueueTimeout = 10 * time.Second

func (h *webhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: send POST")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.refuse(w, r, http.StatusUnsupportedMediaType, "content type must be application/json")
		return
	}
	if r.ContentLength > h.maxBody {
		h.refuse(w, r, http.StatusRequestEntityTooLarge, "body larger than "+strconv.FormatInt(h.maxBody, 10)+" bytes")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			h.refuse(w, r, http.StatusRequestEntityTooLarge, "body larger than "+strconv.FormatInt(h.maxBody, 10)+" bytes")
			return
		}
		h.refuse(w, r, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	hook, err := api.ParseWebhook(body)
	if err != nil {
		h.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if len(h.secret) > 0 {
		sig := api.WebhookSignature(r.Header)
		if sig == "" {
			h.refuse(w, r, http.StatusUnauthorized, "no "+api.SignatureHeader+" header")
			return
		}
		if !api.VerifyWebhook(h.secret, hook.CallID, sig) {
			h.refuse(w, r, http.StatusUnauthorized, "signature does not match the call id")
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), enqueueTimeout)
	defer cancel()
	rep, err := callsync.Enqueue(ctx, h.queue, []string{hook.CallID})
	switch {
	case err != nil:
		h.logger.Error("webhook: queue call", "call_id", hook.CallID, tint.Err(err))
		webhookReply(w, http.StatusServiceUnavailable, "error", "the call could not be queued; send it again")
		return
	case len(rep.Rejected) > 0:
		h.refuse(w, r, http.StatusUnprocessableEntity, rep.Rejected[0].Reason.Error())
		return
	case len(rep.Erased) > 0:
		// Erased for good: accepted, so that Synthflow does not send it again, and dropped.
		h.logger.Debug("webhook: erased call skipped", "call_id", hook.CallID)
		webhookReply(w, http.StatusOK, "skipped", "erased")
		return
	}
	status := ""
	if hook.Status != nil {
		status = *hook.Status
	}
	h.logger.Info("webhook: call queued", "call_id", hook.CallID, "status", status, "again", rep.Requeued > 0)
	webhookReply(w, http.StatusAccepted, "queued", hook.CallID)
}

// refuse answers a request that is not a valid webhook, and logs why.
func (h *webhookHandler) refuse(w http.ResponseWriter, r *http.Request, code int, reason string) {
	h.logger.Warn("webhook refused", "status", code, "reason", reason, "remote", r.RemoteAddr)
	webhookReply(w, code, "error", reason)
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

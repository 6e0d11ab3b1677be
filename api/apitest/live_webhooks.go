package apitest

import (
	"context"
	"net/http"
	"time"
)

// webhookClient posts the live workspace's webhooks; the timeout keeps a
// stuck receiver from holding up the webhooks after it.
var webhookClient = &http.Client{Timeout: 10 * time.Second}

// DeliverWebhooks sends the webhooks due by the clock that have not been
// sent, in order, skipping the lost ones, and returns how many it sent.
// Start calls it on time unless LiveOptions.ManualWebhooks is set; tests
// on an injected clock call it themselves.
func (l *Live) DeliverWebhooks(ctx context.Context) int {
	now := l.advance()
	if l.opts.WebhookURL == "" {
		return 0
	}
	sent := 0
	for {
		l.mu.Lock()
		if !l.started || l.nextHook >= len(l.byEnd) || l.epoch.Add(l.calls[l.byEnd[l.nextHook]].hook).After(now) {
			l.mu.Unlock()
			return sent
		}
		i := l.byEnd[l.nextHook]
		l.nextHook++
		c := l.calls[i]
		l.mu.Unlock()
		if c.WebhookLost {
			continue
		}
		call := c.finalCall(l.epoch)
		status, err := PostWebhook(ctx, webhookClient, l.opts.WebhookURL, l.opts.WebhookSecret, c.ID, call.Webhook(WebhookOptions{}))
		if err != nil {
			status = -1
		}
		l.mu.Lock()
		l.calls[i].WebhookStatus = status
		l.mu.Unlock()
		sent++
	}
}

// nextWebhook returns when the next webhook is due, and false when none
// is left.
func (l *Live) nextWebhook() (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.nextHook >= len(l.byEnd) {
		return time.Time{}, false
	}
	return l.epoch.Add(l.calls[l.byEnd[l.nextHook]].hook), true
}

// sendWebhooks sends the webhooks on time until none is left or the
// server closes.
func (l *Live) sendWebhooks() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-l.s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		l.DeliverWebhooks(ctx)
		due, ok := l.nextWebhook()
		if !ok {
			return
		}
		if !l.s.sleep(ctx, time.Until(due)) {
			return
		}
	}
}

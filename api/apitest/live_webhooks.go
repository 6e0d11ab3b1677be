package apitest

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// webhookClient posts the live workspace's webhooks; the timeout keeps a
// stuck receiver from holding up the webhooks after it.
var webhookClient = &http.Client{Timeout: 10 * time.Second}

// webhooksInFlight bounds the webhooks posted at once: Synthflow sends
// each call's webhook on its own, so a slow answer to one must not hold up
// the next, but a burst must not open connections without bound.
const webhooksInFlight = 16

// DeliverWebhooks sends the webhooks due by the clock that have not been
// sent, skipping the lost ones, each in its own request (at most 16 at
// once), and returns how many it sent once every answer is in. Start
// calls it on time unless LiveOptions.ManualWebhooks is set; tests on an
// injected clock call it themselves.
func (l *Live) DeliverWebhooks(ctx context.Context) int {
	now := l.advance()
	if l.opts.WebhookURL == "" {
		return 0
	}
	var due []int
	l.mu.Lock()
	for l.started && l.nextHook < len(l.byEnd) && !l.epoch.Add(l.calls[l.byEnd[l.nextHook]].hook).After(now) {
		if i := l.byEnd[l.nextHook]; !l.calls[i].WebhookLost {
			due = append(due, i)
		}
		l.nextHook++
	}
	l.mu.Unlock()
	slots := make(chan struct{}, webhooksInFlight)
	var wg sync.WaitGroup
	for _, i := range due {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			l.post(ctx, i)
		})
	}
	wg.Wait()
	return len(due)
}

// post sends the webhook of call i and notes the answer.
func (l *Live) post(ctx context.Context, i int) {
	l.mu.Lock()
	c := l.calls[i]
	l.mu.Unlock()
	call := c.finalCall(l.epoch)
	sent := l.clock()
	status, err := PostWebhook(ctx, webhookClient, l.opts.WebhookURL, l.opts.WebhookSecret, c.ID, call.Webhook(WebhookOptions{}))
	if err != nil {
		status = -1
	}
	l.mu.Lock()
	l.calls[i].WebhookStatus, l.calls[i].WebhookSent = status, sent
	l.mu.Unlock()
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

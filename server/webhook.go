package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/cutover/cutover/api"
)

// WebhookConfig configures the delivery of guard notifications. Every zero
// field has the default its comment states.
type WebhookConfig struct {
	// Client sends the requests. Zero: a client with a 10s timeout.
	Client *http.Client
	// QueueSize bounds the notifications waiting for delivery; beyond it
	// they are dropped and counted, so a dead webhook never blocks the
	// guard. Zero: 100.
	QueueSize int
	// MaxAttempts is the number of tries per notification. Zero: 5.
	MaxAttempts int
	// Backoff is the wait before the first retry; it doubles with each
	// retry, with up to 50% jitter. Zero: 1s.
	Backoff time.Duration
	// DrainTimeout bounds how long Close keeps delivering the notifications
	// still queued. Zero: 5s.
	DrainTimeout time.Duration
	// OnResult, if set, is called after each notification is delivered
	// (err nil) or given up; for tests and logs.
	OnResult func(url string, n api.GuardNotification, err error)
}

type webhookJob struct {
	url  string
	note api.GuardNotification
}

// notifier posts guard notifications from a bounded queue on a goroutine
// of its own.
type notifier struct {
	cfg     WebhookConfig
	log     *slog.Logger
	metrics *Metrics
	queue   chan webhookJob
	wg      sync.WaitGroup

	ctx     context.Context // deliveries; cancelled when the drain times out
	cancel  context.CancelFunc
	closing chan struct{} // closed by stop: drain the queue, then return
}

func newNotifier(cfg WebhookConfig, log *slog.Logger, m *Metrics) *notifier {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 100
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 5 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &notifier{cfg: cfg, log: log, metrics: m, queue: make(chan webhookJob, cfg.QueueSize),
		ctx: ctx, cancel: cancel, closing: make(chan struct{})}
}

// enqueue queues a notification without blocking; it reports false (and
// counts the drop) when the queue is full.
func (n *notifier) enqueue(url string, note api.GuardNotification) bool {
	select {
	case n.queue <- webhookJob{url: url, note: note}:
		return true
	default:
		n.metrics.Webhooks.WithLabelValues("dropped").Inc()
		n.log.Warn("guard webhook queue full: notification dropped", "url", url, "migration", note.Migration)
		return false
	}
}

// start runs the delivery goroutine until stop.
func (n *notifier) start() {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			select {
			case j := <-n.queue:
				n.handle(j)
			case <-n.closing:
				for {
					select {
					case j := <-n.queue:
						n.handle(j)
					default:
						return
					}
				}
			}
		}
	}()
}

func (n *notifier) handle(j webhookJob) {
	err := n.deliver(n.ctx, j)
	if err != nil {
		n.metrics.Webhooks.WithLabelValues("failed").Inc()
		n.log.Warn("guard webhook not delivered", "url", j.url, "migration", j.note.Migration, "err", err)
	} else {
		n.metrics.Webhooks.WithLabelValues("delivered").Inc()
	}
	if n.cfg.OnResult != nil {
		n.cfg.OnResult(j.url, j.note, err)
	}
}

// stop delivers what is queued, for at most DrainTimeout, and returns
// when the delivery goroutine has stopped.
func (n *notifier) stop() {
	close(n.closing)
	t := time.AfterFunc(n.cfg.DrainTimeout, n.cancel)
	n.wg.Wait()
	t.Stop()
	n.cancel()
}

func (n *notifier) deliver(ctx context.Context, j webhookJob) error {
	body, err := json.Marshal(j.note)
	if err != nil {
		return err
	}
	wait := n.cfg.Backoff
	var last error
	for attempt := 1; attempt <= n.cfg.MaxAttempts; attempt++ {
		if attempt > 1 {
			d := wait + jitter(wait/2)
			wait *= 2
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("server shutting down after %d attempts: %w", attempt-1, last)
			case <-t.C:
			}
		}
		last = n.post(ctx, j.url, body)
		if last == nil {
			return nil
		}
	}
	return fmt.Errorf("%d attempts failed, the last with: %w", n.cfg.MaxAttempts, last)
}

func (n *notifier) post(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cutover-guard")
	resp, err := n.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

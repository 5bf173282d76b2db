package proxy

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cutover/cutover"
)

// sinkQueue delivers observations to one sink on its own goroutine, through
// a bounded channel: a slow sink loses observations (counted), it never
// slows the proxy. It follows the contract of [cutover.Sink].
type sinkQueue struct {
	sink    cutover.Sink
	ch      chan *cutover.Observation
	done    chan struct{} // closed when run returns
	logger  *slog.Logger
	pending atomic.Int64 // offered and not yet handled
	dropped atomic.Uint64
	panics  atomic.Uint64

	mu     sync.RWMutex // protects closed, and ch against a send after close
	closed bool
}

func startSinkQueue(s cutover.Sink, size int, logger *slog.Logger) *sinkQueue {
	q := &sinkQueue{sink: s, ch: make(chan *cutover.Observation, size), done: make(chan struct{}), logger: logger}
	go q.run()
	return q
}

func (q *sinkQueue) enabled(o cutover.Outcome) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			q.panics.Add(1)
			ok = false
		}
	}()
	return q.sink.Enabled(o)
}

// offer queues o unless the queue is full or closed; it never blocks.
func (q *sinkQueue) offer(o *cutover.Observation) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		q.dropped.Add(1)
		return
	}
	q.pending.Add(1)
	select {
	case q.ch <- o:
	default:
		q.pending.Add(-1)
		q.dropped.Add(1)
	}
}

func (q *sinkQueue) run() {
	defer close(q.done)
	ctx := context.Background()
	for o := range q.ch {
		q.deliver(ctx, o)
		q.pending.Add(-1)
	}
}

func (q *sinkQueue) deliver(ctx context.Context, o *cutover.Observation) {
	defer func() {
		if p := recover(); p != nil {
			if q.panics.Add(1) == 1 {
				q.logger.Error("cutover proxy: sink panicked; observation lost (further panics only counted)",
					"migration", o.Migration, "panic", p)
			}
		}
	}()
	q.sink.Observe(ctx, o)
}

// stop closes the queue and waits, until ctx is done, for the goroutine to
// deliver what is queued.
func (q *sinkQueue) stop(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

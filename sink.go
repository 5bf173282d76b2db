package cutover

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Sink receives observations: logs, metrics, the control plane's reporter,
// a test recorder.
//
// The library calls a sink off the caller's path, from one goroutine of its
// own per migration and sink, through a bounded queue: a slow sink fills its
// queue and then loses observations (counted in [Stats].SinkDropped); it
// never slows a caller. A sink shared by several migrations is called
// concurrently, once per migration, so it must be safe for concurrent use.
//
// Enabled is asked first, on the goroutine that built the call's result, to
// save effort: when no sink wants an outcome, no observation is built. It
// must be cheap, and must not block.
//
// Observe handles one observation. It must treat o as read-only; it may
// keep the pointer. A panic in Observe is recovered and counted
// ([Stats].SinkPanics); the sink keeps receiving.
type Sink interface {
	Enabled(Outcome) bool
	Observe(ctx context.Context, o *Observation)
}

// sinkQueue delivers observations to one sink on its own goroutine.
type sinkQueue struct {
	sink    Sink
	ch      chan *Observation
	done    chan struct{} // closed when run returns
	logger  *slog.Logger
	pending atomic.Int64 // offered and not yet handled
	dropped atomic.Uint64
	panics  atomic.Uint64

	mu     sync.RWMutex // protects closed, and ch against a send after close
	closed bool
}

func startSinkQueue(s Sink, size int, logger *slog.Logger) *sinkQueue {
	q := &sinkQueue{sink: s, ch: make(chan *Observation, size), done: make(chan struct{}), logger: logger}
	go q.run()
	return q
}

func (q *sinkQueue) enabled(o Outcome) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			q.panics.Add(1)
			ok = false
		}
	}()
	return q.sink.Enabled(o)
}

func (q *sinkQueue) offer(o *Observation) {
	if !q.enabled(o.Outcome) {
		return
	}
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

func (q *sinkQueue) deliver(ctx context.Context, o *Observation) {
	defer func() {
		if p := recover(); p != nil {
			if q.panics.Add(1) == 1 {
				q.logger.Error("cutover: sink panicked; observation lost (further panics only counted)",
					"migration", o.Migration, "panic", p)
			}
		}
	}()
	q.sink.Observe(ctx, o)
}

// stop closes the queue; the goroutine exits after handling what is queued.
// It waits for that until ctx is done.
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

package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
)

// Defaults for the zero fields of [ReporterOptions].
const (
	DefaultFlushInterval = 10 * time.Second
	DefaultMaxPending    = 60
	DefaultMaxSamples    = 3
	DefaultMaxGroups     = 100
	DefaultMaxDiffs      = 10
)

// ReporterOptions configures a [Reporter]. Every zero field has the default
// its comment states.
type ReporterOptions struct {
	// Instance names this process in the batches it sends.
	// Zero: the host name and the process id, "web-7f9c-4121".
	Instance string

	// FlushInterval is how often the observations summed so far are sent as
	// one batch. Zero: DefaultFlushInterval.
	FlushInterval time.Duration

	// MaxPending bounds the batches kept while the server cannot take them.
	// When it is reached the oldest batch is dropped and counted in
	// [ReporterStats]. Zero: DefaultMaxPending (ten minutes of batches at
	// the default interval).
	MaxPending int

	// MaxSamples bounds the samples kept per discrepancy signature and
	// batch. Zero: DefaultMaxSamples; negative: none.
	MaxSamples int

	// MaxGroups bounds the distinct signatures kept per aggregate and
	// batch; observations beyond it are still counted, not grouped. Zero:
	// DefaultMaxGroups.
	MaxGroups int

	// MaxDiffs bounds the differing paths kept per sample.
	// Zero: DefaultMaxDiffs.
	MaxDiffs int

	// Now tells the time, for tests. Zero: time.Now.
	Now func() time.Time
}

// ReporterStats are a [Reporter]'s counters since it started.
type ReporterStats struct {
	// Observed counts the observations summed into batches.
	Observed int64
	// Sent counts the batches the server acknowledged; Duplicates those it
	// had already received (a retry whose first answer was lost).
	Sent, Duplicates int64
	// Retries counts failed sends, each retried later with the same batch id.
	Retries int64
	// Pending is the number of batches waiting to be sent.
	Pending int
	// DroppedBatches counts batches dropped because MaxPending was reached
	// or the server refused them as invalid; DroppedObservations the
	// observations they held, and those that arrived after Close.
	DroppedBatches, DroppedObservations int64
	// UngroupedObservations counts discrepancies counted but not grouped
	// because an aggregate had MaxGroups signatures already.
	UngroupedObservations int64
	// LastError is the latest failed send.
	LastError error
}

// Reporter is a [cutover.Sink] that sends the control plane the evidence
// of the migrations it observes: it sums observations in the process per
// (migration, operation, kind, mode) into [api.Aggregate] values — counts
// by outcome, each side's errors, latency sketches, discrepancies grouped
// by signature with a few samples — and sends them as one
// [api.ReportBatch] every FlushInterval, so the traffic to the server grows
// with the number of instances, not with the request rate.
//
// A batch that fails to send is kept and sent again, with the same batch
// id, at the next flush: the server counts a batch once however often it
// arrives. Memory is bounded: at most MaxPending batches wait, the oldest
// dropped (and counted) first.
//
// Samples carry keys, differing values and error messages exactly as the
// observations do, after [cutover.Config].Redact: mask there what must not
// leave the process.
//
// Give one Reporter to every migration of the process in
// [cutover.Config].Sinks, and Close it after the migrations, so the last
// observations are sent.
type Reporter struct {
	c    *Client
	opts ReporterOptions

	mu      sync.Mutex // protects the fields below
	agg     *aggregator
	pending []*pendingBatch
	stats   ReporterStats
	closed  bool
	// unknownWarned holds the migrations the server said it does not know.
	unknownWarned map[string]bool

	sendMu sync.Mutex // held while sending, so a batch is not sent twice at once

	stop chan struct{}
	done chan struct{}
	once sync.Once
	// runCtx bounds the sends of the flushing goroutine; Close cancels it
	// so that a hanging send does not hold Close up.
	runCtx    context.Context
	runCancel context.CancelFunc
}

// pendingBatch is a batch waiting to be acknowledged.
type pendingBatch struct {
	batch        api.ReportBatch
	observations int64
}

// Reporter returns a sink that reports to the server. It flushes on its own
// goroutine every FlushInterval until Close.
func (c *Client) Reporter(opts ReporterOptions) *Reporter {
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.MaxSamples == 0 {
		opts.MaxSamples = DefaultMaxSamples
	}
	if opts.MaxSamples < 0 {
		opts.MaxSamples = 0
	}
	if opts.MaxGroups <= 0 {
		opts.MaxGroups = DefaultMaxGroups
	}
	if opts.MaxDiffs <= 0 {
		opts.MaxDiffs = DefaultMaxDiffs
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Instance == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "unknown"
		}
		opts.Instance = host + "-" + strconv.Itoa(os.Getpid())
	}
	r := &Reporter{
		c:    c,
		opts: opts,
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	r.agg = r.newAggregator()
	r.runCtx, r.runCancel = context.WithCancel(context.Background())
	go r.run()
	return r
}

func (r *Reporter) newAggregator() *aggregator {
	return newAggregator(limits{
		maxGroups:  r.opts.MaxGroups,
		maxSamples: r.opts.MaxSamples,
		maxDiffs:   r.opts.MaxDiffs,
	}, r.opts.Now())
}

// Enabled reports true for every outcome: matches count as evidence too.
func (r *Reporter) Enabled(cutover.Outcome) bool { return true }

// Observe sums one observation into the current batch.
func (r *Reporter) Observe(_ context.Context, o *cutover.Observation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		r.stats.DroppedObservations++
		return
	}
	r.agg.add(o)
}

// Stats returns the reporter's counters.
func (r *Reporter) Stats() ReporterStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Observed += r.agg.observed
	s.UngroupedObservations += r.agg.droppedGroups
	s.Pending = len(r.pending)
	return s
}

// run flushes every FlushInterval until Close.
func (r *Reporter) run() {
	defer close(r.done)
	t := time.NewTicker(r.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			// Each send is bounded by the client's Timeout, not by the
			// interval: a slow server must not make every send fail.
			if err := r.Flush(r.runCtx); err != nil && r.runCtx.Err() == nil {
				r.c.logger.Warn("cutover client: sending a report failed; it will be sent again",
					"server", r.c.URL(), "pending", r.Stats().Pending, "err", err)
			}
		}
	}
}

// Flush ends the current batch and sends every pending batch, oldest first,
// until one fails or ctx is done. A failed batch stays pending, with its
// batch id, for the next flush.
func (r *Reporter) Flush(ctx context.Context) error {
	r.cut()
	return r.sendPending(ctx)
}

// cut turns the observations summed so far into a pending batch.
func (r *Reporter) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.opts.Now()
	if r.agg.empty() {
		r.agg.start = now // the window of observations without a time
		return
	}
	b := &pendingBatch{
		batch: api.ReportBatch{
			BatchID:    newBatchID(),
			Instance:   r.opts.Instance,
			Aggregates: r.agg.aggregates(now),
		},
		observations: r.agg.observed,
	}
	r.stats.Observed += r.agg.observed
	r.stats.UngroupedObservations += r.agg.droppedGroups
	r.agg = newAggregator(r.agg.limits, now)
	r.pending = append(r.pending, b)
	for len(r.pending) > r.opts.MaxPending {
		r.dropLocked(r.pending[0], "too many batches are waiting for the server (MaxPending)")
		r.pending = r.pending[1:]
	}
}

func (r *Reporter) dropLocked(b *pendingBatch, why string) {
	r.stats.DroppedBatches++
	r.stats.DroppedObservations += b.observations
	r.c.logger.Error("cutover client: dropping a report batch", "batch", b.batch.BatchID,
		"observations", b.observations, "why", why)
}

// sendPending sends the pending batches in order.
func (r *Reporter) sendPending(ctx context.Context) error {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	for {
		r.mu.Lock()
		if len(r.pending) == 0 {
			r.mu.Unlock()
			return nil
		}
		b := r.pending[0]
		r.mu.Unlock()

		ack, err := r.c.Report(ctx, &b.batch)

		r.mu.Lock()
		switch {
		case err == nil:
			r.stats.Sent++
			if ack.Duplicate {
				r.stats.Duplicates++
			}
			r.removeLocked(b)
			r.warnUnknownLocked(ack.UnknownMigrations)
		case refusedForGood(err):
			// Sending it again cannot help; keep the batches behind it.
			r.stats.LastError = err
			r.dropLocked(b, err.Error())
			r.removeLocked(b)
		default:
			r.stats.Retries++
			r.stats.LastError = err
			r.mu.Unlock()
			return fmt.Errorf("sending report batch %s: %w", b.batch.BatchID, err)
		}
		r.mu.Unlock()
	}
}

// warnUnknownLocked logs, once per name, the migrations the server does not
// know: their evidence is not counted until someone creates them.
func (r *Reporter) warnUnknownLocked(names []string) {
	for _, n := range names {
		if r.unknownWarned[n] {
			continue
		}
		if r.unknownWarned == nil {
			r.unknownWarned = map[string]bool{}
		}
		r.unknownWarned[n] = true
		r.c.logger.Warn("cutover client: the server does not know this migration, so it ignores its reports: create it (POST /api/v1/migrations) or fix the name",
			"migration", n, "server", r.c.URL())
	}
}

// removeLocked removes b from the pending batches, wherever it is now (cut
// may have dropped older ones meanwhile).
func (r *Reporter) removeLocked(b *pendingBatch) {
	for i, p := range r.pending {
		if p == b {
			r.pending = append(r.pending[:i:i], r.pending[i+1:]...)
			return
		}
	}
}

// refusedForGood reports whether the server refused a batch in a way that
// a retry of the same batch cannot change: it is malformed or too large.
// Authentication errors are not among them: a token can be fixed.
func refusedForGood(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusNotFound:
		return true
	}
	return false
}

// Close stops the flushing goroutine, then flushes what was summed and
// sends every pending batch until ctx is done. Observations that arrive
// afterwards are dropped and counted. It returns the error of the last
// failed send, if batches remain unsent. Close is idempotent.
func (r *Reporter) Close(ctx context.Context) error {
	r.once.Do(func() {
		close(r.stop)
		r.runCancel()
	})
	<-r.done
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cut()
	err := r.sendPending(ctx)
	if err != nil {
		return fmt.Errorf("cutover client: closing the reporter with %d batches unsent: %w", r.Stats().Pending, err)
	}
	return nil
}

// newBatchID returns 128 random bits in hex: unique across instances and
// restarts without coordination.
func newBatchID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

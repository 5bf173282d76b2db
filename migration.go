package cutover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover/cutover/diff"
)

// Defaults for the zero fields of [Config].
const (
	DefaultShadowTimeout = time.Second
	DefaultMaxInFlight   = 256
	DefaultSinkQueueSize = 1024
)

// Config configures a [Migration]. Only Name is required; every other zero
// field has the default its comment states.
type Config struct {
	// Name identifies the migration in rollouts, buckets, metrics and the
	// control plane. Required.
	Name string

	// Rollout is the rollout in force until Source delivers one.
	// Zero: every key in ModeOld.
	Rollout Rollout

	// Source, if set, delivers rollouts at run time (a watched file, the
	// control plane). Zero: the rollout changes only through SetRollout.
	Source Source

	// ShadowTimeout bounds each secondary call and each second write. The
	// secondary runs on a context detached from the caller's cancellation
	// (its values are kept) with this deadline. Zero: DefaultShadowTimeout.
	ShadowTimeout time.Duration

	// MaxInFlight bounds the secondary calls running at once. When it is
	// reached, further secondary work is shed and counted, never queued.
	// Zero: DefaultMaxInFlight.
	MaxInFlight int

	// SampleRate is the fraction of reads, in (0, 1], on which the secondary
	// side runs in shadow and reverse-shadow. Writes are never sampled.
	// Zero: 1, every read.
	SampleRate float64

	// DisableFallback stops reverse-shadow from answering with old's result
	// when new fails. Zero: fallback on.
	DisableFallback bool

	// NewTimeout, if set, bounds new's call on the caller's path in
	// reverse-shadow, so that a slow new falls back to old. Zero: only the
	// caller's context bounds it.
	NewTimeout time.Duration

	// ErrorRule decides whether two failed sides agree.
	// Zero: ErrorsMatchIfBothFail.
	ErrorRule ErrorRule

	// Comparer compares the two sides' values for readers and writers that
	// set no Compare function. Zero: diff.Diff's defaults.
	Comparer *diff.Comparer

	// Sinks receive observations off the caller's path; see [Sink].
	Sinks []Sink

	// SinkQueueSize bounds the observations waiting for each sink; beyond
	// it they are dropped and counted. Zero: DefaultSinkQueueSize.
	SinkQueueSize int

	// Redact, if set, is applied to every observation before any sink sees
	// it: the one place where keys and values may be masked before they
	// leave the process. If it panics, the observation is dropped.
	Redact func(*Observation)

	// OnDivergence, if set, is called on the caller's goroutine, right after
	// a second write failed, with that write's observation: the hook to
	// persist the key for repair (an outbox table, a queue). Divergences
	// also go to the sinks, and are counted in Stats. A panic in it is
	// recovered and logged.
	OnDivergence func(context.Context, *Observation)

	// Logger receives the library's own trouble: panicking sinks,
	// comparators, redaction. Zero: slog.Default().
	Logger *slog.Logger
}

// ErrorRule reports whether two non-nil errors, one from each side, count as
// agreement. It is asked only when both sides failed.
type ErrorRule func(oldErr, newErr error) bool

// ErrorsMatchIfBothFail counts any two failures as agreement.
func ErrorsMatchIfBothFail(oldErr, newErr error) bool { return true }

// ErrorsMatchIfSameMessage counts two failures as agreement when their
// messages are equal.
func ErrorsMatchIfSameMessage(oldErr, newErr error) bool { return oldErr.Error() == newErr.Error() }

// Migration runs one migration: it holds the rollout, decides each call's
// mode, bounds the secondary work and delivers observations to sinks. Reads
// and writes go through a [Reader] or [Writer] bound to it, or through
// [Read] and [Write]. A Migration is safe for concurrent use.
type Migration struct {
	name          string
	rollout       atomic.Pointer[Rollout]
	shadowTimeout time.Duration
	newTimeout    time.Duration
	maxInFlight   int64
	sampleRate    float64
	fallback      bool
	errorRule     ErrorRule
	comparer      *diff.Comparer
	redact        func(*Observation)
	onDivergence  func(context.Context, *Observation)
	logger        *slog.Logger
	sinks         []*sinkQueue

	pool       *workerPool
	stopSource func()
	closed     atomic.Bool
	closeOnce  sync.Once

	inFlight      atomic.Int64
	outcomes      [len(outcomeNames)]atomic.Uint64
	comparePanics atomic.Uint64
	redactPanics  atomic.Uint64
}

// New returns a running migration. Call Close when done with it, so that
// secondary work is drained and the sinks' goroutines stop.
func New(cfg Config) (*Migration, error) {
	if cfg.Name == "" {
		return nil, errors.New("cutover: Config.Name is required")
	}
	if err := cfg.Rollout.Validate(); err != nil {
		return nil, fmt.Errorf("cutover: Config.Rollout: %w", err)
	}
	if cfg.SampleRate < 0 || cfg.SampleRate > 1 {
		return nil, fmt.Errorf("cutover: Config.SampleRate %v is outside (0, 1]", cfg.SampleRate)
	}
	if cfg.ShadowTimeout < 0 || cfg.NewTimeout < 0 || cfg.MaxInFlight < 0 || cfg.SinkQueueSize < 0 {
		return nil, errors.New("cutover: Config durations and sizes must not be negative")
	}
	m := &Migration{
		name:          cfg.Name,
		shadowTimeout: orDefault(cfg.ShadowTimeout, DefaultShadowTimeout),
		newTimeout:    cfg.NewTimeout,
		maxInFlight:   int64(orDefault(cfg.MaxInFlight, DefaultMaxInFlight)),
		sampleRate:    orDefault(cfg.SampleRate, 1),
		fallback:      !cfg.DisableFallback,
		errorRule:     cfg.ErrorRule,
		comparer:      cfg.Comparer,
		redact:        cfg.Redact,
		onDivergence:  cfg.OnDivergence,
		logger:        cfg.Logger,
		pool:          newWorkerPool(),
	}
	if m.errorRule == nil {
		m.errorRule = ErrorsMatchIfBothFail
	}
	if m.logger == nil {
		m.logger = slog.Default()
	}
	if m.comparer == nil {
		m.comparer = defaultComparer
	}
	r := cfg.Rollout.Clone()
	m.rollout.Store(&r)
	queueSize := orDefault(cfg.SinkQueueSize, DefaultSinkQueueSize)
	for _, s := range cfg.Sinks {
		if s == nil {
			continue
		}
		m.sinks = append(m.sinks, startSinkQueue(s, queueSize, m.logger))
	}
	if cfg.Source != nil {
		stop, err := cfg.Source.Subscribe(cfg.Name, func(r Rollout) {
			if err := m.SetRollout(r); err != nil {
				m.logger.Error("cutover: source delivered an invalid rollout; keeping the last good one",
					"migration", m.name, "err", err)
			}
		})
		if err != nil {
			m.stopSinks(context.Background())
			return nil, fmt.Errorf("cutover: subscribing to the rollout source: %w", err)
		}
		m.stopSource = stop
	}
	return m, nil
}

var defaultComparer = diff.MustNew(diff.Options{})

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Name returns the migration's name.
func (m *Migration) Name() string { return m.name }

// Rollout returns a copy of the rollout in force.
func (m *Migration) Rollout() Rollout { return m.rollout.Load().Clone() }

// SetRollout replaces the rollout in force; calls that start afterwards see
// it. An invalid rollout is refused and the current one kept. SetRollout
// does not check transitions: that is the control plane's job.
func (m *Migration) SetRollout(r Rollout) error {
	if err := r.Validate(); err != nil {
		return err
	}
	r = r.Clone()
	m.rollout.Store(&r)
	return nil
}

// ModeForBucket returns the mode a bucket is in now under the rollout's
// split, ignoring overrides: see [Rollout.ModeForBucket].
func (m *Migration) ModeForBucket(bucket int) Mode { return m.rollout.Load().ModeForBucket(bucket) }

// ModeFor returns the mode a call with this key runs in now.
func (m *Migration) ModeFor(key string) Mode { return m.rollout.Load().ModeFor(m.name, key) }

// Stats are the migration's counters since it started.
type Stats struct {
	// InFlight is the number of secondary calls running now.
	InFlight int64
	// Outcomes counts calls by outcome, indexed by [Outcome]: among them
	// the shed secondaries (MaxInFlight reached, or the migration closed),
	// the reverse-shadow fallbacks, and the second writes that failed.
	Outcomes [len(outcomeNames)]uint64
	// SinkDropped counts observations a sink did not get because its queue
	// was full; SinkPanics the calls of a sink that panicked.
	SinkDropped, SinkPanics uint64
	// ComparePanics counts comparisons that panicked; RedactPanics the
	// observations dropped because Redact panicked.
	ComparePanics, RedactPanics uint64
}

// Stats returns the migration's counters.
func (m *Migration) Stats() Stats {
	s := Stats{
		InFlight:      m.inFlight.Load(),
		ComparePanics: m.comparePanics.Load(),
		RedactPanics:  m.redactPanics.Load(),
	}
	for i := range m.outcomes {
		s.Outcomes[i] = m.outcomes[i].Load()
	}
	for _, q := range m.sinks {
		s.SinkDropped += q.dropped.Load()
		s.SinkPanics += q.panics.Load()
	}
	return s
}

// Drain waits until no secondary work is in flight and every sink has
// handled what was queued for it, or until ctx is done. New work may start
// meanwhile; Drain is for tests and for shutdown (see Close).
func (m *Migration) Drain(ctx context.Context) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		if m.inFlight.Load() == 0 && m.sinksIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cutover: draining %s: %d secondary calls still in flight, %d observations not yet handled by sinks: %w",
				m.name, m.inFlight.Load(), m.sinksPending(), ctx.Err())
		case <-t.C:
		}
	}
}

func (m *Migration) sinksPending() int64 {
	var n int64
	for _, q := range m.sinks {
		n += q.pending.Load()
	}
	return n
}

// logWorthy reports whether the n-th occurrence of a repeated problem is
// logged: the first, then every 1000th, so that a broken comparator or hook
// cannot flood the log (every occurrence is counted in Stats).
func logWorthy(n uint64) bool { return n == 1 || n%1000 == 0 }

func (m *Migration) sinksIdle() bool {
	for _, q := range m.sinks {
		if q.pending.Load() != 0 {
			return false
		}
	}
	return true
}

// Close stops following the rollout source, sheds secondary work from now
// on, waits (until ctx is done) for in-flight secondary work and queued
// observations, and stops the sinks' goroutines. Calls made after Close
// still work: they run the primary side only. Close is idempotent; if ctx
// ends first it returns the error and leaves stuck work running.
func (m *Migration) Close(ctx context.Context) error {
	var err error
	m.closeOnce.Do(func() {
		m.closed.Store(true)
		if m.stopSource != nil {
			m.stopSource()
		}
		err = m.Drain(ctx)
		m.pool.stop()
		if serr := m.stopSinks(ctx); err == nil && serr != nil {
			err = fmt.Errorf("cutover: closing %s: a sink is still busy: %w", m.name, serr)
		}
	})
	return err
}

func (m *Migration) stopSinks(ctx context.Context) error {
	var err error
	for _, q := range m.sinks {
		if e := q.stop(ctx); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// acquire takes a slot for secondary work, or reports that it must be shed.
func (m *Migration) acquire() bool {
	if m.closed.Load() {
		return false
	}
	if m.inFlight.Add(1) > m.maxInFlight {
		m.inFlight.Add(-1)
		return false
	}
	return true
}

func (m *Migration) release() { m.inFlight.Add(-1) }

// sampled reports whether this read's secondary side should run.
func (m *Migration) sampled() bool {
	return m.sampleRate >= 1 || rand.Float64() < m.sampleRate
}

// wants reports whether any sink wants observations with this outcome, so
// that none is built for nobody.
func (m *Migration) wants(o Outcome) bool {
	for _, q := range m.sinks {
		if q.enabled(o) {
			return true
		}
	}
	return false
}

// publish hands an observation to every sink that wants it, after
// redaction. It never blocks: a full queue drops and counts.
func (m *Migration) publish(o *Observation) {
	if len(m.sinks) == 0 {
		return
	}
	if m.redact != nil && !m.safeRedact(o) {
		return
	}
	for _, q := range m.sinks {
		q.offer(o)
	}
}

func (m *Migration) safeRedact(o *Observation) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if n := m.redactPanics.Add(1); logWorthy(n) {
				m.logger.Error("cutover: Redact panicked; observation dropped", "migration", m.name,
					"panic", p, "panics_so_far", n)
			}
			ok = false
		}
	}()
	m.redact(o)
	return true
}

// recordShed counts a shed secondary call and reports it to sinks that
// want it.
func (m *Migration) recordShed(kind Kind, op, key string, mode Mode, start time.Time) {
	m.outcomes[OutcomeShed].Add(1)
	if !m.wants(OutcomeShed) {
		return
	}
	m.publish(&Observation{Migration: m.name, Operation: op, Kind: kind, Mode: mode, Key: key,
		Time: start, Outcome: OutcomeShed})
}

// Publish counts an observation made outside this package — by the shadow
// proxy, a batch comparison, a custom runner — and hands it to the
// migration's sinks exactly as the library's own: after Redact, through the
// bounded queues, never blocking. o.Migration is set to the migration's
// name; an invalid outcome is refused. Publish must not be called after o
// was handed over: sinks may keep it.
func (m *Migration) Publish(o *Observation) error {
	if o == nil || !o.Outcome.Valid() {
		return errors.New("cutover: Publish needs an observation with a valid outcome")
	}
	o.Migration = m.name
	m.outcomes[o.Outcome].Add(1)
	if m.wants(o.Outcome) {
		m.publish(o)
	}
	return nil
}

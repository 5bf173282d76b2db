package cutover

import (
	"context"
	"errors"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cutover/cutover/diff"
)

// Reader reads through a migration with typed old and new functions that
// take the call's input, so a call allocates no closure: build one Reader
// per operation, at start, and call Read on the hot path.
//
// Old and New are required. Compare is optional; when nil, results are
// compared with the migration's [Config].Comparer.
type Reader[In, Out any] struct {
	Migration *Migration
	// Operation names the call for observations and metrics ("getCustomerID").
	// Keep it a constant: it becomes a metric label.
	Operation string
	Old       func(ctx context.Context, in In) (Out, error)
	New       func(ctx context.Context, in In) (Out, error)
	// Compare reports the differences between two successful results.
	Compare func(old, new Out) []diff.Difference
}

// Read runs the call in the mode the rollout gives key:
//
//   - ModeOld, ModeNew: only that side runs, exactly as a direct call: same
//     value, same error, same panic.
//   - ModeShadow: old runs on the caller's goroutine and its result is
//     returned as soon as it is ready; new runs beside it on a worker of
//     the migration's bounded pool, with its own deadline and detached from ctx's cancellation.
//     The caller never waits for new, nor for comparison or sinks.
//   - ModeReverseShadow: new runs on the caller's goroutine, old beside it.
//     If new fails (error, panic, or [Config].NewTimeout) and fallback is
//     on, the caller gets old's result, waiting for old only then.
//
// When the bound on secondary work is reached the secondary is shed and
// counted; the primary still runs.
func (r *Reader[In, Out]) Read(ctx context.Context, key string, in In) (Out, error) {
	m := r.Migration
	switch mode := m.rollout.Load().ModeFor(m.name, key); mode {
	case ModeOld:
		return r.Old(ctx, in)
	case ModeNew:
		return r.New(ctx, in)
	case ModeShadow:
		return r.shadow(ctx, key, in)
	default:
		return r.reverseShadow(ctx, key, in)
	}
}

// Read is the convenient form of [Reader.Read] for one-off calls: old and new
// are closures. The closures themselves cost an allocation when they capture
// variables; on hot paths build a [Reader] once instead.
func Read[T any](ctx context.Context, m *Migration, operation, key string,
	old, new func(context.Context) (T, error)) (T, error) {
	switch mode := m.rollout.Load().ModeFor(m.name, key); mode {
	case ModeOld:
		return old(ctx)
	case ModeNew:
		return new(ctx)
	default:
		r := &Reader[thunks[T], T]{Migration: m, Operation: operation, Old: callOld[T], New: callNew[T]}
		if mode == ModeShadow {
			return r.shadow(ctx, key, thunks[T]{old, new})
		}
		return r.reverseShadow(ctx, key, thunks[T]{old, new})
	}
}

// thunks carries Read's closures as a Reader's input, so that Read needs no
// adapter closure of its own.
type thunks[T any] struct {
	old, new func(context.Context) (T, error)
}

func callOld[T any](ctx context.Context, t thunks[T]) (T, error) { return t.old(ctx) }
func callNew[T any](ctx context.Context, t thunks[T]) (T, error) { return t.new(ctx) }

// errPrimaryPanicked stands for the primary's result in an observation when
// the primary panicked: the panic itself went to the caller untouched.
var errPrimaryPanicked = errors.New("cutover: the primary side panicked; the panic went to the caller")

// result is what one side of a call did.
type result[Out any] struct {
	v        Out
	err      error
	dur      time.Duration
	panicVal any // set when the side panicked; err is then a *PanicError
	panicked bool
}

func (r result[Out]) side() Side { return Side{Ran: true, Duration: r.dur, Err: r.err} }

// callSafely runs fn, turning a panic into a *PanicError result.
func callSafely[In, Out any](ctx context.Context, fn func(context.Context, In) (Out, error), in In) (res result[Out]) {
	start := time.Now()
	defer func() {
		res.dur = time.Since(start)
		if p := recover(); p != nil {
			res.err = &PanicError{Value: p, Stack: debug.Stack()}
			res.panicVal, res.panicked = p, true
		}
	}()
	res.v, res.err = fn(ctx, in)
	return res
}

// call is one read whose secondary side runs on its own goroutine. The
// caller fills primary and marks primaryDone done; the goroutine fills
// secondary and closes secondaryDone (reverse-shadow only, where the caller
// may need old's result to fall back).
type call[In, Out any] struct {
	r             *Reader[In, Out]
	ctx           context.Context
	key           string
	in            In
	mode          Mode
	start         time.Time
	primary       result[Out]
	secondary     result[Out]
	primaryDone   sync.WaitGroup // the primary's result is in primary
	secondaryDone chan struct{}
	fellBack      bool
	timedOut      bool
	fn            func(context.Context, In) (Out, error) // the secondary side
}

func (r *Reader[In, Out]) shadow(ctx context.Context, key string, in In) (Out, error) {
	m := r.Migration
	if !m.sampled() {
		return r.Old(ctx, in)
	}
	start := time.Now()
	if !m.acquire() {
		m.recordShed(KindRead, r.Operation, key, ModeShadow, start)
		return r.Old(ctx, in)
	}
	c := &call[In, Out]{r: r, ctx: ctx, key: key, in: in, mode: ModeShadow, start: start, fn: r.New}
	c.primaryDone.Add(1)
	m.pool.submit(c)

	return c.runPrimary(ctx, r.Old)
}

func (r *Reader[In, Out]) reverseShadow(ctx context.Context, key string, in In) (Out, error) {
	m := r.Migration
	start := time.Now()
	var c *call[In, Out]
	if m.sampled() {
		if m.acquire() {
			c = &call[In, Out]{r: r, ctx: ctx, key: key, in: in, mode: ModeReverseShadow, start: start,
				secondaryDone: make(chan struct{}), fn: r.Old}
			c.primaryDone.Add(1)
			m.pool.submit(c)
		} else {
			m.recordShed(KindRead, r.Operation, key, ModeReverseShadow, start)
		}
	}
	if !m.fallback {
		return r.reverseNoFallback(ctx, c, in)
	}

	nctx, cancel := m.newSideContext(ctx)
	defer cancel()
	res := callSafely(nctx, r.New, in)
	if res.err == nil {
		if c != nil {
			c.primary = res
			c.primaryDone.Done()
		}
		return res.v, nil
	}

	// New failed. Unless the caller gave up, answer with old's result.
	var old result[Out]
	haveOld := false
	if ctx.Err() == nil {
		if c != nil {
			select {
			case <-c.secondaryDone:
				old, haveOld = c.secondary, true
			case <-ctx.Done():
			}
		} else {
			old, haveOld = callSafely(ctx, r.Old, in), true
		}
	}
	fellBack := haveOld && old.err == nil
	if c != nil {
		c.primary, c.fellBack = res, fellBack
		c.primaryDone.Done()
	} else if haveOld {
		// Old ran here, on the caller's path: report it from here too.
		observe(m, KindRead, r.Operation, key, ModeReverseShadow, start, old, res, fellBack, false, r.compare)
	}
	if fellBack {
		return old.v, nil
	}
	if res.panicked {
		panic(res.panicVal)
	}
	return res.v, res.err
}

// newSideContext bounds new's call on the caller's path in reverse-shadow
// by Config.NewTimeout, when set.
func (m *Migration) newSideContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if m.newTimeout > 0 {
		return context.WithTimeout(ctx, m.newTimeout)
	}
	return ctx, func() {}
}

// reverseNoFallback runs new as a direct call would: its panic reaches the
// caller untouched.
func (r *Reader[In, Out]) reverseNoFallback(ctx context.Context, c *call[In, Out], in In) (Out, error) {
	nctx, cancel := r.Migration.newSideContext(ctx)
	defer cancel()
	if c == nil {
		return r.New(nctx, in)
	}
	return c.runPrimary(nctx, r.New)
}

// runPrimary calls the primary side as a direct call would, and hands its
// result to the secondary. There is no recover: a panic reaches the caller
// exactly as from a direct call; the deferred function only tells the
// secondary side.
func (c *call[In, Out]) runPrimary(ctx context.Context, fn func(context.Context, In) (Out, error)) (Out, error) {
	finished := false
	defer func() {
		if !finished {
			c.primary = result[Out]{err: errPrimaryPanicked, dur: time.Since(c.start)}
			c.primaryDone.Done()
		}
	}()
	v, err := fn(ctx, c.in)
	finished = true
	c.primary = result[Out]{v: v, err: err, dur: time.Since(c.start)}
	c.primaryDone.Done()
	return v, err
}

// run is the call's secondary work, on a worker of the migration's pool: it
// runs the secondary side, waits for the primary's result, then compares
// and publishes.
func (c *call[In, Out]) run() {
	m := c.r.Migration
	defer m.release()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), m.shadowTimeout)
	c.secondary = callSafely(sctx, c.fn, c.in)
	c.timedOut = c.secondary.err != nil && errors.Is(sctx.Err(), context.DeadlineExceeded)
	cancel()
	if c.secondaryDone != nil {
		close(c.secondaryDone)
	}
	c.primaryDone.Wait()
	oldRes, newRes := c.primary, c.secondary
	if c.mode == ModeReverseShadow {
		oldRes, newRes = newRes, oldRes
	}
	observe(m, KindRead, c.r.Operation, c.key, c.mode, c.start, oldRes, newRes, c.fellBack, c.timedOut, c.r.compare)
}

func (r *Reader[In, Out]) compare(old, new Out) []diff.Difference {
	if r.Compare != nil {
		return r.Compare(old, new)
	}
	// Pointers, so that the values are not boxed into interfaces: equal
	// values compare without allocating. Paths are the same either way.
	c := r.Migration.comparer
	if c.Equal(&old, &new) {
		return nil
	}
	return c.Diff(&old, &new)
}

// observe classifies a call whose both sides ran, counts it and publishes
// its observation to the sinks that want it. compare is nil for writes that
// are not compared.
func observe[Out any](m *Migration, kind Kind, op, key string, mode Mode, start time.Time,
	oldRes, newRes result[Out], fellBack, timedOut bool, compare func(a, b Out) []diff.Difference) {
	o := Observation{Migration: m.name, Operation: op, Kind: kind, Mode: mode, Key: key, Time: start,
		Old: oldRes.side(), New: newRes.side()}
	switch {
	case fellBack:
		o.Outcome, o.Signature = OutcomeFallback, "error:new"
	case timedOut:
		o.Outcome = OutcomeTimeout
	case oldRes.err != nil && newRes.err != nil:
		o.Outcome, o.Signature = OutcomeMatch, ""
		if !m.errorsAgree(oldRes.err, newRes.err) {
			o.Outcome, o.Signature = OutcomeMismatch, "error:both"
		}
	case oldRes.err != nil:
		o.Outcome, o.Signature = OutcomeError, "error:old"
	case newRes.err != nil:
		o.Outcome, o.Signature = OutcomeError, "error:new"
	case compare == nil:
		o.Outcome = OutcomeMatch
	default:
		o.Diffs = m.safeCompare(func() []diff.Difference { return compare(oldRes.v, newRes.v) })
		o.Outcome = OutcomeMatch
		if len(o.Diffs) > 0 {
			o.Outcome, o.Signature = OutcomeMismatch, diff.Signature(o.Diffs)
		}
	}
	m.outcomes[o.Outcome].Add(1)
	if m.wants(o.Outcome) {
		p := new(Observation) // only now: no allocation when nobody listens
		*p = o
		m.publish(p)
	}
}

// errCompareSignature marks mismatches whose comparison panicked.
const errCompareSignature = "panic:compare"

func (m *Migration) safeCompare(compare func() []diff.Difference) (diffs []diff.Difference) {
	defer func() {
		if p := recover(); p != nil {
			if n := m.comparePanics.Add(1); logWorthy(n) {
				m.logger.Error("cutover: comparison panicked; counted as a mismatch", "migration", m.name,
					"panic", p, "panics_so_far", n)
			}
			diffs = []diff.Difference{{Path: errCompareSignature, Old: "?", New: "?"}}
		}
	}()
	return compare()
}

func (m *Migration) errorsAgree(oldErr, newErr error) (agree bool) {
	defer func() {
		if p := recover(); p != nil {
			m.comparePanics.Add(1)
			agree = false
		}
	}()
	return m.errorRule(oldErr, newErr)
}

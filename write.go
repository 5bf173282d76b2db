package cutover

import (
	"context"
	"errors"
	"time"

	"github.com/cutover/cutover/diff"
)

// Writer writes through a migration to both stores, in the order the mode
// requires, with typed functions that take the call's input. Build one per
// operation at start.
//
// Old and New are required. Compare is optional: when set, the two write
// results are compared off the caller's path (the comparison, not the
// write, may be shed under load).
type Writer[In, Out any] struct {
	Migration *Migration
	// Operation names the call for observations and metrics ("createOrder").
	Operation string
	Old       func(ctx context.Context, in In) (Out, error)
	New       func(ctx context.Context, in In) (Out, error)
	Compare   func(old, new Out) []diff.Difference
}

// Write runs the write in the mode the rollout gives key:
//
//   - ModeOld, ModeNew: only that side, exactly as a direct call.
//   - ModeShadow: old is authoritative; ModeReverseShadow: new is.
//
// The authoritative write runs first, on the caller's goroutine, as a direct
// call. If it fails, the other is skipped and the caller gets that failure.
// If it succeeds, the other runs next, on the caller's goroutine too (so
// two writes to one key reach the second store in the caller's order),
// detached from ctx's cancellation and bounded by [Config].ShadowTimeout.
// Its failure, or panic, is never returned: it is a divergence, recorded
// with its key through [Config].OnDivergence, the sinks and [Stats].
// Writes are never sampled or shed.
func (w *Writer[In, Out]) Write(ctx context.Context, key string, in In) (Out, error) {
	m := w.Migration
	mode := m.rollout.Load().ModeFor(m.name, key)
	switch mode {
	case ModeOld:
		return w.Old(ctx, in)
	case ModeNew:
		return w.New(ctx, in)
	}
	return w.dual(ctx, mode, key, in)
}

// Write is the convenient form of [Writer.Write] for one-off calls.
func Write[T any](ctx context.Context, m *Migration, operation, key string,
	old, new func(context.Context) (T, error)) (T, error) {
	switch mode := m.rollout.Load().ModeFor(m.name, key); mode {
	case ModeOld:
		return old(ctx)
	case ModeNew:
		return new(ctx)
	default:
		w := &Writer[thunks[T], T]{Migration: m, Operation: operation, Old: callOld[T], New: callNew[T]}
		return w.dual(ctx, mode, key, thunks[T]{old, new})
	}
}

func (w *Writer[In, Out]) dual(ctx context.Context, mode Mode, key string, in In) (Out, error) {
	m := w.Migration
	authoritative, other := w.Old, w.New
	if mode == ModeReverseShadow {
		authoritative, other = w.New, w.Old
	}
	start := time.Now()
	v, err := authoritative(ctx, in)
	if err != nil {
		return v, err
	}
	auth := result[Out]{v: v, dur: time.Since(start)}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.shadowTimeout)
	second := callSafely(sctx, other, in)
	cancel()

	oldRes, newRes := auth, second
	if mode == ModeReverseShadow {
		oldRes, newRes = second, auth
	}
	if second.err != nil {
		m.recordDivergence(ctx, w.Operation, key, mode, start, oldRes.side(), newRes.side())
		return v, nil
	}
	if w.Compare == nil {
		observe(m, KindWrite, w.Operation, key, mode, start, oldRes, newRes, false, false, nil)
		return v, nil
	}
	if !m.acquire() {
		m.recordShed(KindWrite, w.Operation, key, mode, start)
		return v, nil
	}
	m.pool.submit(&writeComparison[Out]{m: m, op: w.Operation, key: key, mode: mode, start: start,
		old: oldRes, new: newRes, compare: w.Compare})
	return v, nil
}

// writeComparison compares two write results on a worker of the pool.
type writeComparison[Out any] struct {
	m        *Migration
	op, key  string
	mode     Mode
	start    time.Time
	old, new result[Out]
	compare  func(old, new Out) []diff.Difference
}

func (c *writeComparison[Out]) run() {
	defer c.m.release()
	observe(c.m, KindWrite, c.op, c.key, c.mode, c.start, c.old, c.new, false, false, c.compare)
}

// errNoDivergenceHook is logged with divergences when no OnDivergence hook
// is set, so that a failed second write is never silent.
var errNoDivergenceHook = errors.New("second write failed; the stores differ at this key (set Config.OnDivergence to persist it for repair)")

// recordDivergence counts a failed second write and hands it to the hook,
// or the log, then to the sinks. It runs on the caller's goroutine so that
// the hook sees every divergence: these are never dropped.
func (m *Migration) recordDivergence(ctx context.Context, op, key string, mode Mode, start time.Time, old, new Side) {
	m.outcomes[OutcomeDivergence].Add(1)
	o := &Observation{Migration: m.name, Operation: op, Kind: KindWrite, Mode: mode, Key: key,
		Time: start, Old: old, New: new, Outcome: OutcomeDivergence, Signature: "divergence"}
	if m.onDivergence != nil {
		m.callDivergenceHook(ctx, o)
	} else {
		failed := new.Err
		if mode == ModeReverseShadow {
			failed = old.Err
		}
		m.logger.Error("cutover: "+errNoDivergenceHook.Error(), "migration", m.name, "operation", op,
			"key", key, "mode", mode.String(), "err", failed)
	}
	m.publish(o)
}

func (m *Migration) callDivergenceHook(ctx context.Context, o *Observation) {
	defer func() {
		if p := recover(); p != nil {
			m.logger.Error("cutover: OnDivergence panicked; the divergence is in this log line",
				"migration", m.name, "operation", o.Operation, "key", o.Key, "panic", p)
		}
	}()
	m.onDivergence(context.WithoutCancel(ctx), o)
}

// Package cutovertest makes a discrepancy between the old and the new side
// of a migration fail a Go test, the way GitHub's Scientist raises on a
// mismatch, so teams can run shadow comparisons in their own test suites.
//
// # Use
//
// [New] returns a running [cutover.Migration] in [cutover.ModeShadow] for
// every key, whose sink fails the test on every mismatch, one-sided error,
// timeout, fallback and divergence, with the details in the message: the
// migration, operation, mode and key, each differing path with both values,
// and the errors of the sides that failed:
//
//	func TestCustomerLookup(t *testing.T) {
//		m := cutovertest.New(t, "orders-customer-id")
//		r := &cutover.Reader[string, Customer]{Migration: m, Operation: "getCustomer",
//			Old: legacyLookup, New: newLookup}
//		for _, id := range fixtures {
//			r.Read(ctx, id, id) // the test fails if new disagrees with old
//		}
//	}
//
// The comparison runs off the test's goroutine, after Read has returned, so
// New registers a [testing.TB.Cleanup] that drains and closes the migration
// before the test ends: a mismatch found after the last call still fails
// the test, in the cleanup phase.
//
// [Sink] returns the failing sink alone, to add to a [cutover.Config] you
// build yourself; then you close the migration yourself, before the test
// ends.
package cutovertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/diff"
)

// DefaultFailOn lists the outcomes that fail a test unless [FailOn] says
// otherwise: every outcome where the two sides did not agree. Match is
// agreement; Shed means no comparison happened at all (the bound on
// in-flight shadow work was reached), and is logged with t.Logf instead.
var DefaultFailOn = []cutover.Outcome{
	cutover.OutcomeMismatch,
	cutover.OutcomeError,
	cutover.OutcomeTimeout,
	cutover.OutcomeFallback,
	cutover.OutcomeDivergence,
}

// DefaultCloseTimeout bounds the wait, at the end of a test, for shadow work
// and observations still in flight. Zero [WithCloseTimeout]: this.
const DefaultCloseTimeout = 30 * time.Second

// Option adjusts the migration [New] builds.
type Option func(*settings)

type settings struct {
	rollout      cutover.Rollout
	comparer     *diff.Comparer
	failOn       []cutover.Outcome
	closeTimeout time.Duration
	configure    []func(*cutover.Config)
}

// WithMode puts every key in mode instead of [cutover.ModeShadow]. Only
// shadow and reverse-shadow compare; old and new run one side, so nothing
// can fail there.
func WithMode(mode cutover.Mode) Option {
	return func(s *settings) { s.rollout = cutover.Rollout{Mode: mode} }
}

// WithRollout sets the whole rollout: control and treatment modes, percent
// and overrides.
func WithRollout(r cutover.Rollout) Option {
	return func(s *settings) { s.rollout = r.Clone() }
}

// WithComparer compares results with c (ignored paths, float tolerance,
// unordered slices) instead of diff's defaults.
func WithComparer(c *diff.Comparer) Option {
	return func(s *settings) { s.comparer = c }
}

// FailOn replaces [DefaultFailOn]: only these outcomes fail the test.
func FailOn(outcomes ...cutover.Outcome) Option {
	return func(s *settings) { s.failOn = slices.Clone(outcomes) }
}

// WithCloseTimeout bounds the wait for in-flight work when the test ends.
// Zero: [DefaultCloseTimeout].
func WithCloseTimeout(d time.Duration) Option {
	return func(s *settings) { s.closeTimeout = d }
}

// WithConfig edits the [cutover.Config] after New has filled it in (Name,
// Rollout, Comparer and the failing sink), for anything else: ShadowTimeout,
// ErrorRule, more sinks, a Source. Keep the failing sink in Config.Sinks, or
// nothing fails.
func WithConfig(configure func(*cutover.Config)) Option {
	return func(s *settings) { s.configure = append(s.configure, configure) }
}

// New returns a running migration named name that fails tb on every
// discrepancy (see [DefaultFailOn]). Every key is in [cutover.ModeShadow]
// unless an [Option] says otherwise.
//
// New registers a cleanup that drains and closes the migration, so
// discrepancies found after the last call still fail the test; a close
// that does not finish within the close timeout (a secondary side stuck
// past its deadline) fails the test too. If the configuration is invalid,
// New stops the test with tb.Fatalf, so call it on the test's goroutine.
func New(tb testing.TB, name string, opts ...Option) *cutover.Migration {
	tb.Helper()
	s := settings{rollout: cutover.Rollout{Mode: cutover.ModeShadow}, closeTimeout: DefaultCloseTimeout}
	for _, o := range opts {
		o(&s)
	}
	if s.closeTimeout <= 0 {
		s.closeTimeout = DefaultCloseTimeout
	}
	sink := newFailingSink(tb, s.failOn)
	cfg := cutover.Config{
		Name:     name,
		Rollout:  s.rollout,
		Comparer: s.comparer,
		Sinks:    []cutover.Sink{sink},
	}
	for _, c := range s.configure {
		c(&cfg)
	}
	m, err := cutover.New(cfg)
	if err != nil {
		sink.finish()
		tb.Fatalf("cutovertest.New(%q): %v", name, err)
		return nil
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.closeTimeout)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			tb.Errorf("cutovertest: migration %s did not finish its shadow work within %v: %v "+
				"(a secondary side ran past its deadline; its result is not compared)", name, s.closeTimeout, err)
		}
		sink.finish()
	})
	return m
}

// Sink returns a sink that fails tb on the outcomes in failOn, or on
// [DefaultFailOn] if none is given, for a [cutover.Config] you build
// yourself.
//
// The sink learns of a discrepancy only after the call returned, off the
// test's goroutine: close (or drain) the migration before the test ends,
// for example with a t.Cleanup registered after Sink. Observations that
// arrive after the test has ended are dropped, since the testing package
// forbids failing a finished test.
func Sink(tb testing.TB, failOn ...cutover.Outcome) *FailingSink {
	s := newFailingSink(tb, failOn)
	tb.Cleanup(s.finish)
	return s
}

// FailingSink is a [cutover.Sink] that fails a test on chosen outcomes. Make
// one with [Sink] or let [New] make it.
type FailingSink struct {
	tb     testing.TB
	failOn [len(cutover.Outcomes)]bool

	mu       sync.Mutex // protects finished, and tb against use after the test
	finished bool
}

func newFailingSink(tb testing.TB, failOn []cutover.Outcome) *FailingSink {
	if len(failOn) == 0 {
		failOn = DefaultFailOn
	}
	s := &FailingSink{tb: tb}
	for _, o := range failOn {
		if int(o) < len(s.failOn) {
			s.failOn[o] = true
		}
	}
	return s
}

// finish stops reporting: the test is over, or about to be.
func (s *FailingSink) finish() {
	s.mu.Lock()
	s.finished = true
	s.mu.Unlock()
}

// Enabled reports whether o fails the test, or is shed (which is logged).
func (s *FailingSink) Enabled(o cutover.Outcome) bool {
	return o == cutover.OutcomeShed || int(o) < len(s.failOn) && s.failOn[o]
}

// Observe fails the test with a description of o, or logs a shed call.
func (s *FailingSink) Observe(_ context.Context, o *cutover.Observation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return
	}
	if int(o.Outcome) < len(s.failOn) && s.failOn[o.Outcome] {
		s.tb.Errorf("%s", Describe(o))
		return
	}
	if o.Outcome == cutover.OutcomeShed {
		s.tb.Logf("%s", Describe(o))
	}
}

// Describe formats an observation for a test failure: what happened, where
// (migration, kind, operation, mode, key), each differing path with both
// values, and the errors of the sides that failed (with the stack of a
// panic).
func Describe(o *cutover.Observation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cutover: %s: %s in %s %s %q for key %q", o.Migration, o.Outcome, o.Mode, o.Kind, o.Operation, o.Key)
	if o.Signature != "" {
		fmt.Fprintf(&b, " (signature %s)", o.Signature)
	}
	switch o.Outcome {
	case cutover.OutcomeMismatch:
		if len(o.Diffs) > 0 {
			b.WriteString(": old != new at")
			for _, d := range o.Diffs {
				b.WriteString("\n\t" + d.String())
			}
		}
	case cutover.OutcomeTimeout:
		fmt.Fprintf(&b, ": the secondary side did not finish within its deadline")
	case cutover.OutcomeFallback:
		b.WriteString(": new failed; the caller got old's result")
	case cutover.OutcomeDivergence:
		b.WriteString(": the second write failed; the stores now differ at this key")
	case cutover.OutcomeShed:
		b.WriteString(": the secondary side was shed (too much shadow work in flight); nothing was compared")
	}
	describeSide(&b, "old", o.Old)
	describeSide(&b, "new", o.New)
	return b.String()
}

func describeSide(b *strings.Builder, name string, s cutover.Side) {
	if !s.Failed() {
		return
	}
	fmt.Fprintf(b, "\n\t%s failed after %v: %v", name, s.Duration, s.Err)
	if p, ok := s.Err.(*cutover.PanicError); ok && len(p.Stack) > 0 {
		fmt.Fprintf(b, "\n\t%s", strings.ReplaceAll(strings.TrimSpace(string(p.Stack)), "\n", "\n\t"))
	}
}

package cutover_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/diff"
)

func TestOldAndNewModesRunOneSideLikeADirectCall(t *testing.T) {
	errOld, errNew := errors.New("old failed"), errors.New("new failed")
	for _, tc := range []struct {
		mode     cutover.Mode
		wantSide string
	}{{cutover.ModeOld, "old"}, {cutover.ModeNew, "new"}} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			m, rec := newMigration(t, tc.mode)
			var oldCalls, newCalls atomic.Int32
			behave := "value"
			side := func(name string, calls *atomic.Int32, err error) func(context.Context, int) (string, error) {
				return func(ctx context.Context, in int) (string, error) {
					calls.Add(1)
					switch behave {
					case "error":
						return "", err
					case "panic":
						panic(name + " panicked")
					}
					return fmt.Sprint(name, in), nil
				}
			}
			r := &cutover.Reader[int, string]{Migration: m, Operation: "get",
				Old: side("old", &oldCalls, errOld), New: side("new", &newCalls, errNew)}

			v, err := r.Read(context.Background(), "k", 7)
			if v != tc.wantSide+"7" || err != nil {
				t.Fatalf("Read = %q, %v; want %q, nil", v, err, tc.wantSide+"7")
			}
			behave = "error"
			wantErr := map[string]error{"old": errOld, "new": errNew}[tc.wantSide]
			if _, err := r.Read(context.Background(), "k", 7); err != wantErr {
				t.Fatalf("Read error = %v; want the side's own error value %v", err, wantErr)
			}
			behave = "panic"
			func() {
				defer func() {
					if p := recover(); p != tc.wantSide+" panicked" {
						t.Fatalf("recovered %v; want the side's own panic value", p)
					}
				}()
				r.Read(context.Background(), "k", 7)
				t.Fatal("Read returned; want the side's panic")
			}()
			other := map[string]*atomic.Int32{"old": &newCalls, "new": &oldCalls}[tc.wantSide]
			if n := other.Load(); n != 0 {
				t.Errorf("the other side ran %d times; want 0", n)
			}
			drain(t, m)
			if n := len(rec.Observations()); n != 0 {
				t.Errorf("%d observations in %s mode; want none", n, tc.mode)
			}
		})
	}
}

// In shadow, Read returns old's result while new is still blocked; new is
// released only after Read has returned, and is compared afterwards.
func TestShadowReturnsWithoutWaitingForNew(t *testing.T) {
	m, rec := newMigration(t, cutover.ModeShadow)
	newStarted, release := make(chan struct{}), make(chan struct{})
	r := &cutover.Reader[string, string]{Migration: m, Operation: "getCustomerID",
		Old: func(ctx context.Context, id string) (string, error) { return "cust-1", nil },
		New: func(ctx context.Context, id string) (string, error) {
			close(newStarted)
			<-release
			return "cust-2", nil
		},
	}
	v, err := r.Read(context.Background(), "order-1", "order-1")
	if v != "cust-1" || err != nil {
		t.Fatalf("Read = %q, %v; want old's %q", v, err, "cust-1")
	}
	<-newStarted // new really runs, and is still blocked: Read did not wait for it
	if got := m.Stats().InFlight; got != 1 {
		t.Fatalf("InFlight = %d while new is blocked; want 1", got)
	}
	close(release)
	drain(t, m)
	obs := rec.Filter(cutover.OutcomeMismatch)
	if len(obs) != 1 {
		t.Fatalf("mismatch observations = %d; want 1 (all: %+v)", len(obs), rec.Observations())
	}
	o := obs[0]
	if o.Key != "order-1" || o.Operation != "getCustomerID" || o.Mode != cutover.ModeShadow ||
		!o.Old.Ran || !o.New.Ran || o.Kind != cutover.KindRead {
		t.Errorf("observation = %+v", o)
	}
	want := []diff.Difference{{Path: "", Old: `"cust-1"`, New: `"cust-2"`}}
	if len(o.Diffs) != 1 || o.Diffs[0] != want[0] || o.Signature != "(root)" {
		t.Errorf("diffs = %v, signature %q; want %v, (root)", o.Diffs, o.Signature, want)
	}
}

// The caller's cancellation does not reach the shadow side: it runs on a
// detached context with its own deadline.
func TestShadowSideIsDetachedFromCallerCancellation(t *testing.T) {
	m, rec := newMigration(t, cutover.ModeShadow, func(c *cutover.Config) { c.ShadowTimeout = time.Hour })
	type ctxKey struct{}
	type seen struct {
		err      error
		deadline time.Time
		hasDL    bool
		value    any
	}
	seenCh := make(chan seen, 1)
	proceed := make(chan struct{})
	r := &cutover.Reader[int, int]{Migration: m, Operation: "op",
		Old: func(ctx context.Context, in int) (int, error) { return in, nil },
		New: func(ctx context.Context, in int) (int, error) {
			<-proceed
			dl, ok := ctx.Deadline()
			seenCh <- seen{ctx.Err(), dl, ok, ctx.Value(ctxKey{})}
			return in, nil
		},
	}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	r.Read(ctx, "k", 1)
	cancel()
	close(proceed)
	s := <-seenCh
	if s.err != nil {
		t.Errorf("shadow context error = %v after the caller cancelled; want nil", s.err)
	}
	if !s.hasDL || time.Until(s.deadline) < 30*time.Minute {
		t.Errorf("shadow context deadline = %v, %v; want one from ShadowTimeout", s.deadline, s.hasDL)
	}
	if s.value != "v" {
		t.Error("shadow context lost the caller's values")
	}
	drain(t, m)
	if rec.Count(cutover.OutcomeMatch) != 1 {
		t.Errorf("observations = %+v; want one match", rec.Observations())
	}
}

// With the secondary blocked forever, in-flight secondary work never exceeds
// MaxInFlight; the rest is shed and counted, and callers still get old.
func TestShadowWorkIsBoundedAndShed(t *testing.T) {
	const bound, calls = 4, 200
	release := make(chan struct{})
	m, rec := newMigration(t, cutover.ModeShadow, func(c *cutover.Config) {
		c.MaxInFlight = bound
		c.ShadowTimeout = time.Hour
	})
	defer close(release) // runs before the Cleanup that closes m
	r := &cutover.Reader[int, int]{Migration: m, Operation: "op",
		Old: func(ctx context.Context, in int) (int, error) { return in, nil },
		New: func(ctx context.Context, in int) (int, error) { <-release; return in, nil },
	}
	for i := range calls {
		if v, err := r.Read(context.Background(), fmt.Sprint(i), i); v != i || err != nil {
			t.Fatalf("Read(%d) = %d, %v", i, v, err)
		}
		if n := m.Stats().InFlight; n > bound {
			t.Fatalf("InFlight = %d after %d calls; bound is %d", n, i+1, bound)
		}
	}
	st := m.Stats()
	if st.InFlight != bound {
		t.Errorf("InFlight = %d; want %d (the blocked secondaries)", st.InFlight, bound)
	}
	if got := st.Outcomes[cutover.OutcomeShed]; got != calls-bound {
		t.Errorf("shed = %d; want %d", got, calls-bound)
	}
	// Shed calls are observable by sinks too.
	deadline, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for rec.Count(cutover.OutcomeShed) < calls-bound {
		if deadline.Err() != nil {
			t.Fatalf("shed observations = %d; want %d", rec.Count(cutover.OutcomeShed), calls-bound)
		}
		time.Sleep(time.Millisecond) // waiting for the sink goroutine; not a timing assertion
	}
}

// The core safety property, over 10,000 calls: whatever the secondary,
// comparator and sinks do (panic, fail, hang, disagree), the caller sees
// exactly what a direct call of the primary gives: same value, same error
// value, same panic.
func TestMisbehavingSecondaryNeverChangesTheCallersResult(t *testing.T) {
	const calls = 10000
	primaryErr := errors.New("primary failed")
	primary := func(_ context.Context, i int) (int, error) {
		switch {
		case i%13 == 0:
			panic(fmt.Sprintf("primary panic %d", i))
		case i%7 == 0:
			return 0, primaryErr
		}
		return i * 2, nil
	}
	secondary := func(ctx context.Context, i int) (int, error) {
		switch i % 5 {
		case 0:
			panic("secondary panic")
		case 1:
			return 0, errors.New("secondary failed")
		case 2:
			<-ctx.Done() // hangs until its own deadline
			return 0, ctx.Err()
		case 3:
			return i*2 + 1, nil // disagrees
		}
		return i * 2, nil
	}
	compare := func(a, b int) []diff.Difference {
		if a%3 == 0 {
			panic("comparator panic")
		}
		return diff.Diff(a, b)
	}
	for _, tc := range []struct {
		name string
		mode cutover.Mode
		form string
	}{
		{"shadow/Reader", cutover.ModeShadow, "reader"},
		{"shadow/Read", cutover.ModeShadow, "func"},
		{"reverse-shadow-without-fallback/Reader", cutover.ModeReverseShadow, "reader"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stuck := make(chan struct{})
			sinks := []cutover.Sink{
				sinkFunc(func(o *cutover.Observation) {
					if o.Key[len(o.Key)-1]%2 == 0 {
						panic("sink panic")
					}
				}),
				sinkFunc(func(o *cutover.Observation) { <-stuck }), // stuck until all calls are made
				panickyEnabled{},
			}
			m, _ := newMigration(t, tc.mode, func(c *cutover.Config) {
				c.Logger = slog.New(slog.DiscardHandler)
				c.ShadowTimeout = time.Millisecond
				c.MaxInFlight = 64
				c.SinkQueueSize = 16
				c.DisableFallback = true
				c.Sinks = append(c.Sinks, sinks...)
				c.Redact = func(o *cutover.Observation) {
					if o.Key == "13" {
						panic("redact panic")
					}
				}
			})
			old, new := primary, secondary
			if tc.mode == cutover.ModeReverseShadow {
				old, new = secondary, primary
			}
			r := &cutover.Reader[int, int]{Migration: m, Operation: "op", Old: old, New: new, Compare: compare}
			ctx := context.Background()
			for i := range calls {
				key := fmt.Sprint(i)
				var got callResult
				if tc.form == "reader" {
					got = capture(func() (int, error) { return r.Read(ctx, key, i) })
				} else {
					got = capture(func() (int, error) {
						return cutover.Read(ctx, m, "op", key,
							func(ctx context.Context) (int, error) { return old(ctx, i) },
							func(ctx context.Context) (int, error) { return new(ctx, i) })
					})
				}
				want := capture(func() (int, error) { return primary(ctx, i) })
				if got.v != want.v || got.err != want.err || got.panicked != want.panicked || got.panicVal != want.panicVal {
					t.Fatalf("call %d: got %+v; a direct call of the primary gives %+v", i, got, want)
				}
			}
			close(stuck)
			drain(t, m)
			st := m.Stats()
			if (tc.form == "reader" && st.ComparePanics == 0) || st.SinkPanics == 0 || st.SinkDropped == 0 {
				t.Errorf("stats = %+v; want compare panics, sink panics and dropped observations counted", st)
			}
			if st.Outcomes[cutover.OutcomeTimeout] == 0 || st.Outcomes[cutover.OutcomeError] == 0 ||
				st.Outcomes[cutover.OutcomeMismatch] == 0 {
				t.Errorf("outcomes = %v; want timeouts, errors and mismatches", st.Outcomes)
			}
		})
	}
}

type sinkFunc func(*cutover.Observation)

func (f sinkFunc) Enabled(cutover.Outcome) bool                      { return true }
func (f sinkFunc) Observe(_ context.Context, o *cutover.Observation) { f(o) }

type panickyEnabled struct{}

func (panickyEnabled) Enabled(cutover.Outcome) bool                  { panic("Enabled panic") }
func (panickyEnabled) Observe(context.Context, *cutover.Observation) {}

func TestReverseShadowFallsBackToOld(t *testing.T) {
	newFails := map[string]func(ctx context.Context, in int) (int, error){
		"error": func(ctx context.Context, in int) (int, error) { return 0, errors.New("new is down") },
		"panic": func(ctx context.Context, in int) (int, error) { panic("new panicked") },
		"timeout": func(ctx context.Context, in int) (int, error) {
			<-ctx.Done() // slower than NewTimeout
			return 0, ctx.Err()
		},
	}
	for name, newFn := range newFails {
		for _, shed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/old-shed=%v", name, shed), func(t *testing.T) {
				m, rec := newMigration(t, cutover.ModeReverseShadow, func(c *cutover.Config) {
					c.NewTimeout = time.Millisecond
					if shed {
						c.SampleRate = 1e-9 // old does not run beside new: the fallback must run it
					}
				})
				r := &cutover.Reader[int, int]{Migration: m, Operation: "op",
					Old: func(ctx context.Context, in int) (int, error) { return in + 100, nil },
					New: newFn,
				}
				v, err := r.Read(context.Background(), "k", 1)
				if v != 101 || err != nil {
					t.Fatalf("Read = %d, %v; want old's 101, nil", v, err)
				}
				drain(t, m)
				if got := m.Stats().Outcomes[cutover.OutcomeFallback]; got != 1 {
					t.Errorf("fallbacks = %d; want 1", got)
				}
				fb := rec.Filter(cutover.OutcomeFallback)
				if len(fb) != 1 || fb[0].New.Err == nil || fb[0].Old.Err != nil {
					t.Errorf("fallback observations = %+v; want one with new's error", fb)
				}
			})
		}
	}
}

func TestReverseShadowReturnsNewAndComparesWithOld(t *testing.T) {
	m, rec := newMigration(t, cutover.ModeReverseShadow)
	r := &cutover.Reader[int, int]{Migration: m, Operation: "op",
		Old: func(ctx context.Context, in int) (int, error) { return 1, nil },
		New: func(ctx context.Context, in int) (int, error) { return 2, nil },
	}
	if v, err := r.Read(context.Background(), "k", 0); v != 2 || err != nil {
		t.Fatalf("Read = %d, %v; want new's 2", v, err)
	}
	drain(t, m)
	mm := rec.Filter(cutover.OutcomeMismatch)
	if len(mm) != 1 || mm[0].Diffs[0].Old != "1" || mm[0].Diffs[0].New != "2" {
		t.Fatalf("mismatches = %+v; want old=1 new=2", mm)
	}
}

func TestReverseShadowWithoutFallbackReturnsNewsFailure(t *testing.T) {
	m, _ := newMigration(t, cutover.ModeReverseShadow, func(c *cutover.Config) { c.DisableFallback = true })
	errNew := errors.New("new failed")
	r := &cutover.Reader[int, int]{Migration: m, Operation: "op",
		Old: func(ctx context.Context, in int) (int, error) { return 1, nil },
		New: func(ctx context.Context, in int) (int, error) { return 0, errNew },
	}
	if _, err := r.Read(context.Background(), "k", 0); err != errNew {
		t.Fatalf("Read error = %v; want new's error", err)
	}
}

func TestFallbackFailsWhenOldFailsToo(t *testing.T) {
	m, rec := newMigration(t, cutover.ModeReverseShadow)
	r := &cutover.Reader[int, int]{Migration: m, Operation: "op",
		Old: func(ctx context.Context, in int) (int, error) { return 0, errors.New("old failed") },
		New: func(ctx context.Context, in int) (int, error) { panic("new panicked") },
	}
	got := capture(func() (int, error) { return r.Read(context.Background(), "k", 0) })
	if !got.panicked || got.panicVal != "new panicked" {
		t.Fatalf("got %+v; with both sides failing the caller gets new's own panic", got)
	}
	drain(t, m)
	if rec.Count(cutover.OutcomeFallback) != 0 {
		t.Error("a failed fallback was recorded as a fallback")
	}
}

func TestSampleRateBoundsSecondaryWork(t *testing.T) {
	const calls, rate = 4000, 0.25
	var secondaries atomic.Int64
	m, _ := newMigration(t, cutover.ModeShadow, func(c *cutover.Config) { c.SampleRate = rate; c.MaxInFlight = 1 << 20 })
	r := &cutover.Reader[int, int]{Migration: m, Operation: "op",
		Old: func(ctx context.Context, in int) (int, error) { return in, nil },
		New: func(ctx context.Context, in int) (int, error) { secondaries.Add(1); return in, nil },
	}
	for i := range calls {
		r.Read(context.Background(), fmt.Sprint(i), i)
	}
	drain(t, m)
	// Binomial(4000, 0.25): mean 1000, sd ≈ 27; ±200 is more than 7 sd.
	if n := secondaries.Load(); n < 800 || n > 1200 {
		t.Errorf("secondary ran %d times in %d calls at rate %v; want about %d", n, calls, rate, calls/4)
	}
}

func TestErrorOutcomesAndErrorRule(t *testing.T) {
	errA, errB := errors.New("a"), errors.New("b")
	for _, tc := range []struct {
		name        string
		rule        cutover.ErrorRule
		oldE, newE  error
		wantOutcome cutover.Outcome
		wantSig     string
	}{
		{"new fails", nil, nil, errB, cutover.OutcomeError, "error:new"},
		{"old fails", nil, errA, nil, cutover.OutcomeError, "error:old"},
		{"both fail, default rule", nil, errA, errB, cutover.OutcomeMatch, ""},
		{"both fail, same-message rule", cutover.ErrorsMatchIfSameMessage, errA, errB, cutover.OutcomeMismatch, "error:both"},
		{"both fail alike, same-message rule", cutover.ErrorsMatchIfSameMessage, errA, errors.New("a"), cutover.OutcomeMatch, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, rec := newMigration(t, cutover.ModeShadow, func(c *cutover.Config) { c.ErrorRule = tc.rule })
			r := &cutover.Reader[int, int]{Migration: m, Operation: "op",
				Old: func(ctx context.Context, in int) (int, error) { return 1, tc.oldE },
				New: func(ctx context.Context, in int) (int, error) { return 1, tc.newE },
			}
			r.Read(context.Background(), "k", 0)
			drain(t, m)
			obs := rec.Observations()
			if len(obs) != 1 || obs[0].Outcome != tc.wantOutcome || obs[0].Signature != tc.wantSig {
				t.Fatalf("observations = %+v; want outcome %v signature %q", obs, tc.wantOutcome, tc.wantSig)
			}
		})
	}
}

func TestRedactRunsBeforeSinks(t *testing.T) {
	m, rec := newMigration(t, cutover.ModeShadow, func(c *cutover.Config) {
		c.Redact = func(o *cutover.Observation) {
			o.Key = "redacted"
			for i := range o.Diffs {
				o.Diffs[i].Old, o.Diffs[i].New = "***", "***"
			}
		}
	})
	cutover.Read(context.Background(), m, "op", "alice@example.com",
		func(context.Context) (string, error) { return "secret-1", nil },
		func(context.Context) (string, error) { return "secret-2", nil })
	drain(t, m)
	obs := rec.Observations()
	if len(obs) != 1 || obs[0].Key != "redacted" || obs[0].Diffs[0].Old != "***" {
		t.Fatalf("observations = %+v; want the key and values redacted", obs)
	}
}

func TestCloseWaitsForShadowWorkAndThenSheds(t *testing.T) {
	rec := &cutover.Recorder{}
	m, err := cutover.New(cutover.Config{Name: "m", Rollout: cutover.Rollout{Mode: cutover.ModeShadow},
		Sinks: []cutover.Sink{rec}, ShadowTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	release, started := make(chan struct{}), make(chan struct{}, 1)
	r := &cutover.Reader[int, int]{Migration: m, Operation: "op",
		Old: func(ctx context.Context, in int) (int, error) { return in, nil },
		New: func(ctx context.Context, in int) (int, error) { started <- struct{}{}; <-release; return in, nil },
	}
	r.Read(context.Background(), "k", 1)
	<-started

	// A deadline that has already passed: Close reports the stuck work.
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Drain(expired); err == nil {
		t.Fatal("Drain with a blocked secondary and a done context returned nil")
	}
	closed := make(chan error)
	go func() { closed <- m.Close(context.Background()) }()
	close(release)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := rec.Count(cutover.OutcomeMatch); got != 1 {
		t.Errorf("matches recorded before Close returned = %d; want 1", got)
	}
	// After Close, reads still work and only the primary runs.
	if v, err := r.Read(context.Background(), "k", 5); v != 5 || err != nil {
		t.Errorf("Read after Close = %d, %v", v, err)
	}
	if m.Stats().Outcomes[cutover.OutcomeShed] != 1 {
		t.Errorf("shed after Close = %d; want 1", m.Stats().Outcomes[cutover.OutcomeShed])
	}
}

func TestRolloutChangesApplyToTheNextCall(t *testing.T) {
	m, _ := newMigration(t, cutover.ModeOld)
	read := func() string {
		v, _ := cutover.Read(context.Background(), m, "op", "k",
			func(context.Context) (string, error) { return "old", nil },
			func(context.Context) (string, error) { return "new", nil })
		return v
	}
	for _, step := range []struct {
		mode cutover.Mode
		want string
	}{{cutover.ModeOld, "old"}, {cutover.ModeShadow, "old"}, {cutover.ModeReverseShadow, "new"}, {cutover.ModeNew, "new"}, {cutover.ModeShadow, "old"}} {
		if err := m.SetRollout(cutover.Rollout{Mode: step.mode}); err != nil {
			t.Fatal(err)
		}
		if got := read(); got != step.want {
			t.Errorf("in %s, Read = %q; want %q", step.mode, got, step.want)
		}
	}
	if err := m.SetRollout(cutover.Rollout{Mode: 9}); err == nil {
		t.Error("SetRollout accepted mode 9")
	}
	if m.Rollout().Mode != cutover.ModeShadow {
		t.Error("an invalid rollout replaced the good one")
	}
}

func TestConcurrentReadsAndRolloutChanges(t *testing.T) {
	m, _ := newMigration(t, cutover.ModeShadow)
	r := &cutover.Reader[int, int]{Migration: m, Operation: "op",
		Old: func(ctx context.Context, in int) (int, error) { return in, nil },
		New: func(ctx context.Context, in int) (int, error) { return in, nil },
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				if v, err := r.Read(context.Background(), fmt.Sprint(g, i), i); v != i || err != nil {
					t.Errorf("Read = %d, %v", v, err)
					return
				}
			}
		}()
	}
	for i := range 200 {
		m.SetRollout(cutover.Rollout{Mode: cutover.Modes[i%4], Treatment: cutover.ModeShadow, Percent: float64(i % 100)})
	}
	wg.Wait()
	drain(t, m)
}

func TestNewValidatesConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  cutover.Config
		want string
	}{
		{cutover.Config{}, "Name"},
		{cutover.Config{Name: "m", SampleRate: 2}, "SampleRate"},
		{cutover.Config{Name: "m", Rollout: cutover.Rollout{Percent: 200}}, "percent"},
		{cutover.Config{Name: "m", MaxInFlight: -1}, "negative"},
	} {
		if _, err := cutover.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) error = %v; want one naming %q", tc.cfg, err, tc.want)
		}
	}
}

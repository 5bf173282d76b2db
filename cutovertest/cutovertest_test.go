package cutovertest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/cutovertest"
	"github.com/cutover/cutover/diff"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeTB stands in for a test that is expected to fail: it records what
// would have failed the real test, and runs cleanups when told to. Methods
// it does not override go to the real test.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex // protects errors, logs, fatals, cleanups
	errors   []string
	logs     []string
	fatals   []string
	cleanups []func()
}

func newFakeTB(t *testing.T) *fakeTB { return &fakeTB{TB: t} }

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fatals = append(f.fatals, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// end runs the cleanups, last registered first, as the testing package
// does when a test ends, and returns the recorded failures.
func (f *fakeTB) end() []string {
	f.mu.Lock()
	fns := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errors...)
}

func (f *fakeTB) recorded() (errs, logs []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errors...), append([]string(nil), f.logs...)
}

type order struct {
	ID    string
	Price int
	Items []string
}

func orderReader(m *cutover.Migration, old, new func(context.Context, string) (order, error)) *cutover.Reader[string, order] {
	return &cutover.Reader[string, order]{Migration: m, Operation: "getOrder", Old: old, New: new}
}

func fixed(o order) func(context.Context, string) (order, error) {
	return func(context.Context, string) (order, error) { return o, nil }
}

func TestMatchingReadsPass(t *testing.T) {
	m := cutovertest.New(t, "orders") // the real test: it must not fail
	r := orderReader(m, fixed(order{ID: "o-1", Price: 100}), fixed(order{ID: "o-1", Price: 100}))
	for i := 0; i < 100; i++ {
		if got, err := r.Read(context.Background(), "o-1", "o-1"); err != nil || got.Price != 100 {
			t.Fatalf("Read = %+v, %v; want old's value", got, err)
		}
	}
}

func TestMismatchFailsWithTheDiff(t *testing.T) {
	ft := newFakeTB(t)
	m := cutovertest.New(ft, "orders")
	r := orderReader(m, fixed(order{ID: "o-1", Price: 100, Items: []string{"a"}}),
		fixed(order{ID: "o-1", Price: 101, Items: []string{"b"}}))
	got, err := r.Read(context.Background(), "customer-42", "o-1")
	if err != nil || got.Price != 100 {
		t.Fatalf("Read = %+v, %v; want old's value", got, err)
	}
	errs := ft.end()
	if len(errs) != 1 {
		t.Fatalf("got %d failures, want 1: %q", len(errs), errs)
	}
	for _, want := range []string{"orders", "mismatch", `"getOrder"`, `"customer-42"`, "shadow read",
		".Price: 100 != 101", `.Items[0]: "a" != "b"`} {
		if !strings.Contains(errs[0], want) {
			t.Errorf("failure message lacks %q:\n%s", want, errs[0])
		}
	}
}

func TestMismatchFoundAfterTheCallFailsAtCleanup(t *testing.T) {
	ft := newFakeTB(t)
	m := cutovertest.New(ft, "orders")
	release := make(chan struct{})
	r := orderReader(m, fixed(order{Price: 1}), func(context.Context, string) (order, error) {
		<-release
		return order{Price: 2}, nil
	})
	if _, err := r.Read(context.Background(), "k", "o"); err != nil {
		t.Fatal(err)
	}
	// New is still blocked, so nothing can have been compared yet.
	if errs, _ := ft.recorded(); len(errs) != 0 {
		t.Fatalf("failed before the comparison ran: %q", errs)
	}
	close(release)
	if errs := ft.end(); len(errs) != 1 || !strings.Contains(errs[0], ".Price: 1 != 2") {
		t.Fatalf("cleanup failures = %q; want the mismatch", errs)
	}
}

func TestErrorTimeoutAndDivergenceFail(t *testing.T) {
	boom := errors.New("boom")
	t.Run("error", func(t *testing.T) {
		ft := newFakeTB(t)
		m := cutovertest.New(ft, "orders")
		r := orderReader(m, fixed(order{}), func(context.Context, string) (order, error) { return order{}, boom })
		r.Read(context.Background(), "k", "o")
		errs := ft.end()
		if len(errs) != 1 || !strings.Contains(errs[0], "error in shadow read") || !strings.Contains(errs[0], "new failed after") ||
			!strings.Contains(errs[0], "boom") {
			t.Fatalf("failures = %q; want new's error", errs)
		}
	})
	t.Run("panic", func(t *testing.T) {
		ft := newFakeTB(t)
		m := cutovertest.New(ft, "orders")
		r := orderReader(m, fixed(order{}), func(context.Context, string) (order, error) { panic("kaboom") })
		r.Read(context.Background(), "k", "o")
		errs := ft.end()
		if len(errs) != 1 || !strings.Contains(errs[0], "panic: kaboom") || !strings.Contains(errs[0], "goroutine") {
			t.Fatalf("failures = %q; want the panic and its stack", errs)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		ft := newFakeTB(t)
		m := cutovertest.New(ft, "orders", cutovertest.WithConfig(func(c *cutover.Config) {
			c.ShadowTimeout = time.Millisecond
		}))
		r := orderReader(m, fixed(order{}), func(ctx context.Context, _ string) (order, error) {
			<-ctx.Done() // runs until its deadline, whatever that is
			return order{}, ctx.Err()
		})
		r.Read(context.Background(), "k", "o")
		errs := ft.end()
		if len(errs) != 1 || !strings.Contains(errs[0], "timeout") {
			t.Fatalf("failures = %q; want a timeout", errs)
		}
	})
	t.Run("fallback", func(t *testing.T) {
		ft := newFakeTB(t)
		m := cutovertest.New(ft, "orders", cutovertest.WithMode(cutover.ModeReverseShadow))
		r := orderReader(m, fixed(order{Price: 7}), func(context.Context, string) (order, error) { return order{}, boom })
		if got, err := r.Read(context.Background(), "k", "o"); err != nil || got.Price != 7 {
			t.Fatalf("Read = %+v, %v; want old's value by fallback", got, err)
		}
		errs := ft.end()
		if len(errs) != 1 || !strings.Contains(errs[0], "fallback") || !strings.Contains(errs[0], "boom") {
			t.Fatalf("failures = %q; want the fallback", errs)
		}
	})
	t.Run("divergence", func(t *testing.T) {
		ft := newFakeTB(t)
		m := cutovertest.New(ft, "orders", cutovertest.WithConfig(func(c *cutover.Config) {
			c.OnDivergence = func(context.Context, *cutover.Observation) {} // keep the log quiet
		}))
		w := &cutover.Writer[string, bool]{Migration: m, Operation: "saveOrder",
			Old: func(context.Context, string) (bool, error) { return true, nil },
			New: func(context.Context, string) (bool, error) { return false, boom }}
		if _, err := w.Write(context.Background(), "order-9", "o"); err != nil {
			t.Fatal(err)
		}
		errs := ft.end()
		if len(errs) != 1 || !strings.Contains(errs[0], "divergence") || !strings.Contains(errs[0], `"order-9"`) ||
			!strings.Contains(errs[0], `"saveOrder"`) {
			t.Fatalf("failures = %q; want the divergence with its key", errs)
		}
	})
}

func TestOptions(t *testing.T) {
	t.Run("FailOn", func(t *testing.T) {
		ft := newFakeTB(t)
		m := cutovertest.New(ft, "orders", cutovertest.FailOn(cutover.OutcomeMismatch))
		r := orderReader(m, fixed(order{}), func(context.Context, string) (order, error) { return order{}, errors.New("x") })
		r.Read(context.Background(), "k", "o")
		if errs := ft.end(); len(errs) != 0 {
			t.Fatalf("an error failed a test that fails only on mismatches: %q", errs)
		}
	})
	t.Run("WithComparer", func(t *testing.T) {
		ft := newFakeTB(t)
		m := cutovertest.New(ft, "orders", cutovertest.WithComparer(diff.MustNew(diff.Options{IgnorePaths: []string{".Price"}})))
		r := orderReader(m, fixed(order{Price: 1}), fixed(order{Price: 2}))
		r.Read(context.Background(), "k", "o")
		if errs := ft.end(); len(errs) != 0 {
			t.Fatalf("an ignored path failed the test: %q", errs)
		}
	})
	t.Run("WithMode new compares nothing", func(t *testing.T) {
		ft := newFakeTB(t)
		m := cutovertest.New(ft, "orders", cutovertest.WithMode(cutover.ModeNew))
		r := orderReader(m, fixed(order{Price: 1}), fixed(order{Price: 2}))
		if got, _ := r.Read(context.Background(), "k", "o"); got.Price != 2 {
			t.Fatalf("Read in ModeNew = %+v; want new's value", got)
		}
		if errs := ft.end(); len(errs) != 0 {
			t.Fatalf("failures = %q; want none", errs)
		}
	})
	t.Run("WithRollout overrides", func(t *testing.T) {
		ft := newFakeTB(t)
		m := cutovertest.New(ft, "orders", cutovertest.WithRollout(cutover.Rollout{Mode: cutover.ModeOld,
			Overrides: map[string]cutover.Mode{"tenant-test": cutover.ModeShadow}}))
		r := orderReader(m, fixed(order{Price: 1}), fixed(order{Price: 2}))
		r.Read(context.Background(), "tenant-other", "o")
		r.Read(context.Background(), "tenant-test", "o")
		if errs := ft.end(); len(errs) != 1 || !strings.Contains(errs[0], `"tenant-test"`) {
			t.Fatalf("failures = %q; want one, for the overridden key", errs)
		}
	})
	t.Run("invalid config stops the test", func(t *testing.T) {
		ft := newFakeTB(t)
		m := cutovertest.New(ft, "orders", cutovertest.WithConfig(func(c *cutover.Config) { c.SampleRate = 2 }))
		if m != nil || len(ft.fatals) != 1 || !strings.Contains(ft.fatals[0], "SampleRate") {
			t.Fatalf("New = %v, fatals %q; want nil and a Fatalf naming SampleRate", m, ft.fatals)
		}
		ft.end()
	})
}

func TestShedIsLoggedNotFailed(t *testing.T) {
	ft := newFakeTB(t)
	release := make(chan struct{})
	m := cutovertest.New(ft, "orders", cutovertest.WithConfig(func(c *cutover.Config) { c.MaxInFlight = 1 }))
	r := orderReader(m, fixed(order{}), func(context.Context, string) (order, error) {
		<-release
		return order{}, nil
	})
	r.Read(context.Background(), "k", "o") // holds the only slot
	r.Read(context.Background(), "k", "o") // shed
	close(release)
	errs := ft.end()
	_, logs := ft.recorded()
	if len(errs) != 0 || len(logs) != 1 || !strings.Contains(logs[0], "shed") {
		t.Fatalf("failures %q, logs %q; want no failure and one log line about the shed call", errs, logs)
	}
}

func TestSinkInYourOwnConfig(t *testing.T) {
	ft := newFakeTB(t)
	rec := &cutover.Recorder{}
	m, err := cutover.New(cutover.Config{Name: "orders", Rollout: cutover.Rollout{Mode: cutover.ModeShadow},
		Sinks: []cutover.Sink{cutovertest.Sink(ft), rec}})
	if err != nil {
		t.Fatal(err)
	}
	r := orderReader(m, fixed(order{Price: 1}), fixed(order{Price: 3}))
	r.Read(context.Background(), "k", "o")
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if errs := ft.end(); len(errs) != 1 || !strings.Contains(errs[0], ".Price: 1 != 3") {
		t.Fatalf("failures = %q; want the mismatch", errs)
	}
	if rec.Count(cutover.OutcomeMismatch) != 1 {
		t.Fatalf("the other sink saw %d mismatches, want 1", rec.Count(cutover.OutcomeMismatch))
	}
}

func TestObservationsAfterTheTestAreDropped(t *testing.T) {
	ft := newFakeTB(t)
	s := cutovertest.Sink(ft)
	ft.end()
	s.Observe(context.Background(), &cutover.Observation{Migration: "orders", Outcome: cutover.OutcomeMismatch})
	if errs, _ := ft.recorded(); len(errs) != 0 {
		t.Fatalf("a finished test was failed: %q", errs)
	}
}

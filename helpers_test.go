package cutover_test

import (
	"context"
	"testing"
	"time"

	"github.com/cutover/cutover"
)

// newMigration returns a migration whose every key is in mode, recording
// observations, closed when the test ends.
func newMigration(t testing.TB, mode cutover.Mode, tweak ...func(*cutover.Config)) (*cutover.Migration, *cutover.Recorder) {
	t.Helper()
	rec := &cutover.Recorder{}
	cfg := cutover.Config{
		Name:    "orders-customer-id",
		Rollout: cutover.Rollout{Mode: mode},
		Sinks:   []cutover.Sink{rec},
	}
	for _, f := range tweak {
		f(&cfg)
	}
	m, err := cutover.New(cfg)
	if err != nil {
		t.Fatalf("cutover.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m, rec
}

// drain waits for the migration's secondary work and sinks; the deadline
// only turns a hang into a failure.
func drain(t testing.TB, m *cutover.Migration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
}

// callResult is everything a call can do: return a value, an error, or panic.
type callResult struct {
	v        int
	err      error
	panicked bool
	panicVal any
}

func capture(f func() (int, error)) (r callResult) {
	defer func() {
		if p := recover(); p != nil {
			r.panicked, r.panicVal = true, p
		}
	}()
	r.v, r.err = f()
	return r
}

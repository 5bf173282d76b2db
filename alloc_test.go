package cutover_test

import (
	"context"
	"testing"

	"github.com/cutover/cutover"
)

type customer struct {
	ID    int
	Email string
}

func oldLookup(_ context.Context, id int) (customer, error) {
	return customer{ID: id, Email: "a@example.com"}, nil
}

func newLookup(_ context.Context, id int) (customer, error) {
	return customer{ID: id, Email: "a@example.com"}, nil
}

func oldThunk(context.Context) (customer, error) { return customer{ID: 1}, nil }
func newThunk(context.Context) (customer, error) { return customer{ID: 1}, nil }

// In old and new the toolkit allocates nothing: the mode comes from an
// immutable snapshot behind an atomic pointer, and only one side runs.
func TestNoAllocationsInOldAndNew(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are checked in the full run")
	}
	for _, mode := range []cutover.Mode{cutover.ModeOld, cutover.ModeNew} {
		m, _ := newMigration(t, mode, func(c *cutover.Config) {
			// A rollout with overrides and a treatment share, as in production.
			c.Rollout = cutover.Rollout{Mode: mode, Treatment: mode, Percent: 50,
				Overrides: map[string]cutover.Mode{"tenant-test": mode}}
			c.Sinks = []cutover.Sink{cutover.NewLogSink(nil)} // enabled for nothing at Info: no observation built
		})
		r := &cutover.Reader[int, customer]{Migration: m, Operation: "getCustomer", Old: oldLookup, New: newLookup}
		w := &cutover.Writer[int, customer]{Migration: m, Operation: "setCustomer", Old: oldLookup, New: newLookup}
		ctx := context.Background()
		for name, f := range map[string]func(){
			"Reader.Read":  func() { r.Read(ctx, "order-1", 1) },
			"Read":         func() { cutover.Read(ctx, m, "getCustomer", "order-1", oldThunk, newThunk) },
			"Writer.Write": func() { w.Write(ctx, "order-1", 1) },
			"Write":        func() { cutover.Write(ctx, m, "setCustomer", "order-1", oldThunk, newThunk) },
			"ModeFor":      func() { m.ModeFor("order-1") },
		} {
			if n := testing.AllocsPerRun(1000, f); n != 0 {
				t.Errorf("%s in %s: %v allocations per call; want 0", name, mode, n)
			}
		}
	}
}

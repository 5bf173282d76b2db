package cutover_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/cutover/cutover"
)

// The trivial sides are not inlined, as no real side (a query, an RPC) is:
// "direct" is an ordinary call of the same function.
//
//go:noinline
func trivialOld(_ context.Context, id int) (int, error) { return id * 2, nil }

//go:noinline
func trivialNew(_ context.Context, id int) (int, error) { return id * 2, nil }

// BenchmarkRead measures the caller's cost of a read in each mode against a
// direct call of the same function.
//
// In shadow and reverse-shadow, each call waits (outside the measured
// window of "caller-ns/op") until its secondary side has finished, so that
// every call finds an idle worker as it would in a service that is not
// saturated: "caller-ns/op" is then the time spent inside Read, the caller's
// own path, and ns/op the whole round trip including the secondary side,
// its deadline, the comparison and the observation. BenchmarkReadSaturated
// shows the other extreme.
func BenchmarkRead(b *testing.B) {
	keys := benchKeys()
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			_ = keys[i&1023]
			trivialOld(ctx, i)
		}
	})
	for _, mode := range cutover.Modes {
		b.Run(mode.String(), func(b *testing.B) {
			m, err := cutover.New(cutover.Config{Name: "bench", Rollout: cutover.Rollout{Mode: mode}})
			if err != nil {
				b.Fatal(err)
			}
			r := &cutover.Reader[int, int]{Migration: m, Operation: "op", Old: trivialOld, New: trivialNew}
			b.ReportAllocs()
			if !mode.Compares() {
				for i := 0; b.Loop(); i++ {
					r.Read(ctx, keys[i&1023], i)
				}
				b.StopTimer()
				m.Close(ctx)
				return
			}
			var onCaller time.Duration
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				r.Read(ctx, keys[i&1023], i)
				onCaller += time.Since(start)
				for m.Stats().InFlight != 0 {
					runtime.Gosched()
				}
			}
			b.StopTimer()
			m.Close(ctx)
			b.ReportMetric(float64(onCaller.Nanoseconds())/float64(b.N), "caller-ns/op")
			b.ReportMetric(float64(m.Stats().Outcomes[cutover.OutcomeShed])/float64(b.N), "shed/op")
		})
	}
}

// BenchmarkReadSaturated calls Read as fast as one goroutine can, with no
// bound on secondary work: the secondaries pile up and the two cores are
// shared between the caller and them. ns/op is then the whole system's cost
// per call; in a service, MaxInFlight sheds such a backlog instead.
func BenchmarkReadSaturated(b *testing.B) {
	keys := benchKeys()
	ctx := context.Background()
	for _, mode := range []cutover.Mode{cutover.ModeShadow, cutover.ModeReverseShadow} {
		b.Run(mode.String(), func(b *testing.B) {
			m, err := cutover.New(cutover.Config{Name: "bench", Rollout: cutover.Rollout{Mode: mode}, MaxInFlight: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			r := &cutover.Reader[int, int]{Migration: m, Operation: "op", Old: trivialOld, New: trivialNew}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				r.Read(ctx, keys[i&1023], i)
			}
			m.Close(ctx)
		})
	}
}

func benchKeys() []string {
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "order-" + strconv.Itoa(i)
	}
	return keys
}

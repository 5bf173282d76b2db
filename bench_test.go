package cutover_test

import (
	"context"
	"strconv"
	"testing"

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
// direct call of the same function. In shadow and reverse-shadow, ns/op is
// the caller's path plus, on the other core, the secondary goroutine and the
// comparison. MaxInFlight is raised so that no secondary is shed (a shed
// call is cheaper and would flatter the figure); "shed/op" reports the share
// shed anyway.
func BenchmarkRead(b *testing.B) {
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "order-" + strconv.Itoa(i)
	}
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
			m, err := cutover.New(cutover.Config{Name: "bench", Rollout: cutover.Rollout{Mode: mode}, MaxInFlight: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			r := &cutover.Reader[int, int]{Migration: m, Operation: "op", Old: trivialOld, New: trivialNew}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				r.Read(ctx, keys[i&1023], i)
			}
			b.StopTimer()
			m.Close(ctx)
			if mode.Compares() {
				st := m.Stats()
				b.ReportMetric(float64(st.Outcomes[cutover.OutcomeShed])/float64(b.N), "shed/op")
			}
		})
	}
}

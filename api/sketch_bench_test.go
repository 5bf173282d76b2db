package api_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cutover/cutover/api"
)

// latencies are log-normal durations around 10ms, as the reporter sees.
func latencies(n int) []float64 {
	r := rand.New(rand.NewPCG(5, 6))
	vs := make([]float64, n)
	for i := range vs {
		vs[i] = math.Exp(r.NormFloat64()) / 100
	}
	return vs
}

// BenchmarkSketchAdd is the reporter's hot path: one Add per observation.
func BenchmarkSketchAdd(b *testing.B) {
	vs := latencies(1 << 12)
	s := api.NewSketch()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Add(vs[i&(len(vs)-1)])
	}
}

// BenchmarkDecodeSketch is the server's ingest path: a report's sketch of
// a minute's values, decoded and merged into the minute's bucket.
func BenchmarkDecodeSketch(b *testing.B) {
	s := api.NewSketch()
	for _, v := range latencies(10000) {
		s.Add(v)
	}
	data, _ := s.MarshalBinary()
	bucket := api.NewSketch()
	b.ReportAllocs()
	for b.Loop() {
		d, err := api.DecodeSketch(data)
		if err != nil {
			b.Fatal(err)
		}
		bucket.Merge(d)
	}
}

package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/metrics"
)

var benchObservation = &cutover.Observation{Migration: "orders", Operation: "getOrder", Outcome: cutover.OutcomeMismatch,
	Old: cutover.Side{Ran: true, Duration: 3 * time.Millisecond}, New: cutover.Side{Ran: true, Duration: 4 * time.Millisecond}}

// Observe resolves its series once per migration and operation; after that
// it only looks them up and counts, allocating nothing.
func TestSinkObserveAllocatesNothing(t *testing.T) {
	sink, err := metrics.NewSink(prometheus.NewRegistry(), metrics.SinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sink.Observe(ctx, benchObservation)
	if n := testing.AllocsPerRun(1000, func() { sink.Observe(ctx, benchObservation) }); n != 0 {
		t.Fatalf("Observe allocates %v times per call, want 0", n)
	}
}

func BenchmarkSinkObserve(b *testing.B) {
	sink, err := metrics.NewSink(prometheus.NewRegistry(), metrics.SinkOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		sink.Observe(ctx, benchObservation)
	}
}

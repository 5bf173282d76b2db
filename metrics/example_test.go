package metrics_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/metrics"
)

// A service registers one Sink for all its migrations, and tracks each
// migration's own counters, on the registry it serves on /metrics.
func Example() {
	reg := prometheus.NewRegistry()
	sink, err := metrics.NewSink(reg, metrics.SinkOptions{})
	if err != nil {
		log.Fatal(err)
	}
	m, err := cutover.New(cutover.Config{
		Name:    "orders-customer-id",
		Rollout: cutover.Rollout{Mode: cutover.ModeShadow},
		Sinks:   []cutover.Sink{sink},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close(context.Background())
	if err := metrics.Track(reg, m); err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	_ = mux // serve it with http.ListenAndServe(addr, mux)

	cutover.Read(context.Background(), m, "getCustomerID", "order-1",
		func(context.Context) (int, error) { return 42, nil },
		func(context.Context) (int, error) { return 43, nil })
	m.Drain(context.Background())

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			if mf.GetName() == "cutover_comparisons_total" && metric.GetCounter().GetValue() > 0 {
				fmt.Println(mf.GetName(), metric.GetLabel()[2].GetValue(), metric.GetCounter().GetValue())
			}
		}
	}
	// Output:
	// cutover_comparisons_total mismatch 1
}

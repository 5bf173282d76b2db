package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the server's Prometheus metrics (github.com/prometheus/
// client_golang), on a registry of their own that package httpapi serves
// at /metrics. docs/operations.md lists them.
//
// Each Metrics has its own [prometheus.Registry], never the global one, so
// that several servers in one process (replicas in a test) do not clash,
// and a server's /metrics shows its own counts only.
type Metrics struct {
	// Registry holds the metrics below and the collectors of the Go
	// runtime (go_…) and of the process (process_…).
	Registry *prometheus.Registry

	// Requests counts HTTP requests by route pattern and status code.
	Requests *prometheus.CounterVec
	// ReportBatches counts report batches by result: "accepted" or
	// "duplicate".
	ReportBatches *prometheus.CounterVec
	// ReportAggregates counts the aggregates of accepted batches.
	ReportAggregates prometheus.Counter
	// GuardRollbacks counts the guard's automatic rollbacks.
	GuardRollbacks prometheus.Counter
	// GuardChecks counts the guard's evaluation rounds.
	GuardChecks prometheus.Counter
	// Webhooks counts webhook deliveries by result: "delivered", "failed"
	// (after every retry) or "dropped" (queue full).
	Webhooks *prometheus.CounterVec
	// Watchers is the number of open watch streams.
	Watchers prometheus.Gauge
}

// NewMetrics returns the server's metrics, every one at zero, registered
// on a new registry with the Go and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		ReportBatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_report_batches_total", Help: "Report batches received, by result (accepted, duplicate).",
		}, []string{"result"}),
		ReportAggregates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cutover_report_aggregates_total", Help: "Aggregates of accepted report batches.",
		}),
		GuardRollbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cutover_guard_rollbacks_total", Help: "Automatic rollbacks to shadow made by the guard.",
		}),
		GuardChecks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cutover_guard_checks_total", Help: "Guard evaluation rounds run on this server.",
		}),
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_webhook_deliveries_total", Help: "Guard webhook notifications by result (delivered, failed, dropped).",
		}, []string{"result"}),
		Watchers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cutover_watch_streams", Help: "Open watch streams.",
		}),
	}
	// Every result shows from the start, at zero, so that rate() and
	// alerts see the series before the first event.
	for _, r := range []string{"accepted", "duplicate"} {
		m.ReportBatches.WithLabelValues(r)
	}
	for _, r := range []string{"delivered", "failed", "dropped"} {
		m.Webhooks.WithLabelValues(r)
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.Requests, m.ReportBatches, m.ReportAggregates, m.GuardRollbacks, m.GuardChecks, m.Webhooks, m.Watchers,
	)
	return m
}

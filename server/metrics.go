package server

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Metrics are the server's Prometheus metrics, written in the Prometheus
// text exposition format by [Metrics.WriteTo] (served at /metrics).
//
// They are kept here rather than with prometheus/client_golang because
// that module's dependencies are not in this module's go.sum; the shapes
// (counters and gauges, bounded labels resolved with WithLabelValues) are
// the same, so moving to client_golang later is mechanical.
type Metrics struct {
	// Requests counts HTTP requests by route pattern and status code.
	Requests *CounterVec
	// ReportBatches counts report batches by result: "accepted" or
	// "duplicate".
	ReportBatches *CounterVec
	// ReportAggregates counts the aggregates of accepted batches.
	ReportAggregates *Counter
	// GuardRollbacks counts the guard's automatic rollbacks.
	GuardRollbacks *Counter
	// GuardChecks counts the guard's evaluation rounds.
	GuardChecks *Counter
	// Webhooks counts webhook deliveries by result: "delivered", "failed"
	// (after every retry) or "dropped" (queue full).
	Webhooks *CounterVec
	// Watchers is the number of open watch streams.
	Watchers *Gauge

	families []family
}

type family interface {
	write(w io.Writer) error
}

// NewMetrics returns the server's metrics, every one at zero.
func NewMetrics() *Metrics {
	m := &Metrics{
		Requests:         newCounterVec("cutover_http_requests_total", "HTTP requests by route pattern and status code.", "route", "code"),
		ReportBatches:    newCounterVec("cutover_report_batches_total", "Report batches received, by result (accepted, duplicate).", "result"),
		ReportAggregates: newCounter("cutover_report_aggregates_total", "Aggregates of accepted report batches."),
		GuardRollbacks:   newCounter("cutover_guard_rollbacks_total", "Automatic rollbacks to shadow made by the guard."),
		GuardChecks:      newCounter("cutover_guard_checks_total", "Guard evaluation rounds run on this server."),
		Webhooks:         newCounterVec("cutover_webhook_deliveries_total", "Guard webhook notifications by result (delivered, failed, dropped).", "result"),
		Watchers:         newGauge("cutover_watch_streams", "Open watch streams."),
	}
	for _, r := range []string{"accepted", "duplicate"} {
		m.ReportBatches.WithLabelValues(r)
	}
	for _, r := range []string{"delivered", "failed", "dropped"} {
		m.Webhooks.WithLabelValues(r)
	}
	m.families = []family{m.Requests, m.ReportBatches, m.ReportAggregates, m.GuardRollbacks, m.GuardChecks, m.Webhooks, m.Watchers}
	return m
}

// WriteTo writes every metric in the Prometheus text format (version
// 0.0.4).
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	for _, f := range m.families {
		if err := f.write(cw); err != nil {
			return cw.n, err
		}
	}
	return cw.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Counter is a monotonically increasing value.
type Counter struct {
	name, help string
	bits       atomic.Uint64 // float64 bits
}

func newCounter(name, help string) *Counter { return &Counter{name: name, help: help} }

// Inc adds 1.
func (c *Counter) Inc() { c.Add(1) }

// Add adds v, which must not be negative.
func (c *Counter) Add(v float64) {
	for {
		old := c.bits.Load()
		if c.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Value returns the current value.
func (c *Counter) Value() float64 { return math.Float64frombits(c.bits.Load()) }

func (c *Counter) write(w io.Writer) error {
	_, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %s\n", c.name, c.help, c.name, c.name, formatFloat(c.Value()))
	return err
}

// Gauge is a value that goes up and down.
type Gauge struct {
	name, help string
	v          atomic.Int64
}

func newGauge(name, help string) *Gauge { return &Gauge{name: name, help: help} }

// Inc adds 1.
func (g *Gauge) Inc() { g.v.Add(1) }

// Dec subtracts 1.
func (g *Gauge) Dec() { g.v.Add(-1) }

// Value returns the current value.
func (g *Gauge) Value() int64 { return g.v.Load() }

func (g *Gauge) write(w io.Writer) error {
	_, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", g.name, g.help, g.name, g.name, g.Value())
	return err
}

// CounterVec is a family of counters told apart by label values. Keep the
// label values bounded (route patterns, not raw paths).
type CounterVec struct {
	name, help string
	labels     []string
	mu         sync.Mutex // protects children
	children   map[string]*Counter
}

func newCounterVec(name, help string, labels ...string) *CounterVec {
	return &CounterVec{name: name, help: help, labels: labels, children: map[string]*Counter{}}
}

// WithLabelValues returns the counter of these label values, in the order
// the labels were declared, creating it at zero.
func (v *CounterVec) WithLabelValues(values ...string) *Counter {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metric %s: %d label values for %d labels", v.name, len(values), len(v.labels)))
	}
	var b strings.Builder
	for i, l := range v.labels {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", l, escapeLabel(values[i]))
	}
	key := b.String()
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.children[key]
	if c == nil {
		c = &Counter{name: v.name}
		v.children[key] = c
	}
	return c
}

func escapeLabel(s string) string {
	// %q escapes quotes and backslashes; newlines become \n as Prometheus wants.
	return strings.ToValidUTF8(s, "\uFFFD")
}

func (v *CounterVec) write(w io.Writer) error {
	v.mu.Lock()
	keys := make([]string, 0, len(v.children))
	for k := range v.children {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vals := make([]float64, len(keys))
	for i, k := range keys {
		vals[i] = v.children[k].Value()
	}
	v.mu.Unlock()
	if _, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", v.name, v.help, v.name); err != nil {
		return err
	}
	for i, k := range keys {
		if _, err := fmt.Fprintf(w, "%s{%s} %s\n", v.name, k, formatFloat(vals[i])); err != nil {
			return err
		}
	}
	return nil
}

func formatFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%g", f)
}

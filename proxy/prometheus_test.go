package proxy

import (
	"context"
	"strings"
	"testing"

	"github.com/cutover/cutover"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	old, new := newUpstream(t, text("a")), newUpstream(t, text("b"))
	reg := prometheus.NewRegistry()
	h := startProxy(t, old, new, Config{Rollout: static(cutover.ModeShadow), Routes: []Route{{Name: "root", Pattern: "/"}},
		Registerer: reg})
	h.do(t, "GET", "/", nil)
	h.sink.next(t)
	h.drain(t) // the slot is released after the observation is queued
	want := `# HELP cutover_proxy_requests_total Client requests by the mode they ran in.
# TYPE cutover_proxy_requests_total counter
cutover_proxy_requests_total{migration="orders",mode="new"} 0
cutover_proxy_requests_total{migration="orders",mode="old"} 0
cutover_proxy_requests_total{migration="orders",mode="reverse-shadow"} 0
cutover_proxy_requests_total{migration="orders",mode="shadow"} 1
# HELP cutover_proxy_upstream_requests_total Requests sent to each upstream (old, new, old2), to answer or to compare.
# TYPE cutover_proxy_upstream_requests_total counter
cutover_proxy_upstream_requests_total{migration="orders",side="new"} 1
cutover_proxy_upstream_requests_total{migration="orders",side="old"} 1
cutover_proxy_upstream_requests_total{migration="orders",side="old2"} 0
# HELP cutover_proxy_secondary_in_flight Secondary requests running now.
# TYPE cutover_proxy_secondary_in_flight gauge
cutover_proxy_secondary_in_flight{migration="orders"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "cutover_proxy_requests_total",
		"cutover_proxy_upstream_requests_total", "cutover_proxy_secondary_in_flight"); err != nil {
		t.Error(err)
	}
	if v := sample(t, reg, "cutover_proxy_outcomes_total", `operation="root"`, `outcome="mismatch"`); v != 1 {
		t.Errorf("outcomes{root, mismatch} = %v, want 1", v)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}

	// A second proxy of the same migration on the same registry is refused
	// (its samples would collide) until the first is closed.
	cfg := Config{Migration: "orders", Old: mustURL(t, old.URL), New: mustURL(t, new.URL), Registerer: reg}
	if p, err := New(cfg); err == nil {
		p.Close(context.Background())
		t.Fatal("a second proxy registered the same metrics")
	}
	if err := h.p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("after Close, the metrics were not unregistered: %v", err)
	}
	p.Close(context.Background())
}

// sample returns the value of the metric's sample whose labels include
// every one of labels (written name="value").
func sample(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]bool{}
			for _, l := range m.GetLabel() {
				have[l.GetName()+`="`+l.GetValue()+`"`] = true
			}
			for _, l := range labels {
				if !have[l] {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no sample %s%v", name, labels)
	return 0
}

//go:build cutover_prometheus

package proxy

import (
	"strings"
	"testing"

	"github.com/cutover/cutover"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollector(t *testing.T) {
	old, new := newUpstream(t, text("a")), newUpstream(t, text("a"))
	h := startProxy(t, old, new, Config{Rollout: static(cutover.ModeShadow)})
	h.do(t, "GET", "/", nil)
	h.sink.next(t)
	reg := prometheus.NewRegistry()
	if err := h.p.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	want := `# HELP cutover_proxy_shed_total Secondary requests not sent because the in-flight bound was reached.
# TYPE cutover_proxy_shed_total counter
cutover_proxy_shed_total{migration="orders"} 0
# HELP cutover_proxy_requests_total Client requests by the mode they ran in.
# TYPE cutover_proxy_requests_total counter
cutover_proxy_requests_total{migration="orders",mode="new"} 0
cutover_proxy_requests_total{migration="orders",mode="old"} 0
cutover_proxy_requests_total{migration="orders",mode="reverse-shadow"} 0
cutover_proxy_requests_total{migration="orders",mode="shadow"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "cutover_proxy_shed_total", "cutover_proxy_requests_total"); err != nil {
		t.Fatal(err)
	}
}

//go:build cutover_prometheus

// This file needs prometheus/client_golang's dependencies in go.sum, which
// the module does not list yet; build with -tags cutover_prometheus once it
// does (then drop the tag). WriteMetrics serves the same metrics meanwhile.

package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector returns a prometheus.Collector of the proxy's metrics, read
// from its counters at each scrape (the request path pays nothing for it).
// Register it on the program's own registerer, never the global one:
//
//	reg := prometheus.NewRegistry()
//	if err := reg.Register(p.Collector()); err != nil { … }
func (p *Proxy) Collector() prometheus.Collector { return collector{p} }

// RegisterMetrics registers the proxy's collector on reg.
func (p *Proxy) RegisterMetrics(reg prometheus.Registerer) error { return reg.Register(p.Collector()) }

type collector struct{ p *Proxy }

func (c collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.p.metricFamilies() {
		desc := prometheus.NewDesc(f.name, f.help, f.labels, prometheus.Labels{"migration": c.p.migration})
		typ := prometheus.CounterValue
		if f.gauge {
			typ = prometheus.GaugeValue
		}
		for _, s := range f.samples {
			ch <- prometheus.MustNewConstMetric(desc, typ, s.value, s.values...)
		}
	}
}

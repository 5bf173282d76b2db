package proxy

import (
	"sort"

	"github.com/cutover/cutover"
	"github.com/prometheus/client_golang/prometheus"
)

// collector exposes the proxy's counters to Prometheus. It reads them from
// [Proxy.Stats] at each scrape, so the request path pays nothing for it but
// its atomic adds. Every sample carries the migration, and every other
// label is bounded: mode, side, kind, outcome, and route names from the
// configuration (never raw paths).
type collector struct {
	p *Proxy

	requests, upstream, shed, oversize, unshadowed, sampledOut,
	outcomes, noise, inFlight, sinkDropped, sinkPanics *prometheus.Desc
}

func newCollector(p *Proxy) *collector {
	migration := prometheus.Labels{"migration": p.migration}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, migration)
	}
	return &collector{
		p:           p,
		requests:    desc("cutover_proxy_requests_total", "Client requests by the mode they ran in.", "mode"),
		upstream:    desc("cutover_proxy_upstream_requests_total", "Requests sent to each upstream (old, new, old2), to answer or to compare.", "side"),
		shed:        desc("cutover_proxy_shed_total", "Secondary requests not sent because the in-flight bound was reached."),
		oversize:    desc("cutover_proxy_oversize_bodies_total", "Bodies over the buffer limit: requests (not shadowed), responses (not compared).", "kind"),
		unshadowed:  desc("cutover_proxy_unshadowed_writes_total", "Unsafe requests in shadow or reverse-shadow sent to the authoritative side only."),
		sampledOut:  desc("cutover_proxy_sampled_out_total", "Safe requests in shadow or reverse-shadow not compared because of the sample rate."),
		outcomes:    desc("cutover_proxy_outcomes_total", "Compared requests and dual writes by operation (route name) and outcome.", "operation", "outcome"),
		noise:       desc("cutover_proxy_noise_total", "Compared requests with differences cancelled as noise (also present between old and old2), by operation.", "operation"),
		inFlight:    desc("cutover_proxy_secondary_in_flight", "Secondary requests running now."),
		sinkDropped: desc("cutover_proxy_sink_dropped_total", "Observations a sink did not get because its queue was full."),
		sinkPanics:  desc("cutover_proxy_sink_panics_total", "Sink calls that panicked."),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.upstream, c.shed, c.oversize, c.unshadowed, c.sampledOut,
		c.outcomes, c.noise, c.inFlight, c.sinkDropped, c.sinkPanics} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.p.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, m := range cutover.Modes {
		counter(c.requests, s.Requests[m], m.String())
	}
	counter(c.upstream, s.OldRequests, "old")
	counter(c.upstream, s.NewRequests, "new")
	counter(c.upstream, s.Old2Requests, "old2")
	counter(c.shed, s.Shed)
	counter(c.oversize, s.OversizeRequests, "request")
	counter(c.oversize, s.OversizeResponses, "response")
	counter(c.unshadowed, s.UnshadowedWrites)
	counter(c.sampledOut, s.SampledOut)
	routes := make([]string, 0, len(s.Routes))
	for r := range s.Routes {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		rs := s.Routes[r]
		for _, o := range cutover.Outcomes {
			counter(c.outcomes, rs.Outcomes[o], r, o.String())
		}
		counter(c.noise, rs.Noise, r)
	}
	ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(s.InFlight))
	counter(c.sinkDropped, s.SinkDropped)
	counter(c.sinkPanics, s.SinkPanics)
}

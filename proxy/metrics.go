package proxy

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/cutover/cutover"
)

// metricFamily is one metric and its samples, read from Stats at scrape
// time: the request path only increments atomic counters.
type metricFamily struct {
	name, help string
	gauge      bool
	labels     []string // besides migration
	samples    []metricSample
}

type metricSample struct {
	values []string // one per label
	value  float64
}

// metricFamilies reads the proxy's counters as Prometheus metric families.
// Every label is bounded: mode, side, kind, outcome, and route names from
// the configuration.
func (p *Proxy) metricFamilies() []metricFamily {
	s := p.Stats()
	one := func(name, help string, v uint64) metricFamily {
		return metricFamily{name: name, help: help, samples: []metricSample{{value: float64(v)}}}
	}
	reqs := metricFamily{name: "cutover_proxy_requests_total", help: "Client requests by the mode they ran in.", labels: []string{"mode"}}
	for _, m := range cutover.Modes {
		reqs.samples = append(reqs.samples, metricSample{[]string{m.String()}, float64(s.Requests[m])})
	}
	up := metricFamily{name: "cutover_proxy_upstream_requests_total", help: "Requests sent to each upstream (old, new, old2), to answer or to compare.", labels: []string{"side"},
		samples: []metricSample{{[]string{"old"}, float64(s.OldRequests)}, {[]string{"new"}, float64(s.NewRequests)}, {[]string{"old2"}, float64(s.Old2Requests)}}}
	over := metricFamily{name: "cutover_proxy_oversize_bodies_total", help: "Bodies over the buffer limit: requests (not shadowed), responses (not compared).", labels: []string{"kind"},
		samples: []metricSample{{[]string{"request"}, float64(s.OversizeRequests)}, {[]string{"response"}, float64(s.OversizeResponses)}}}
	outcomes := metricFamily{name: "cutover_proxy_outcomes_total", help: "Compared requests and dual writes by operation (route name) and outcome.", labels: []string{"operation", "outcome"}}
	noise := metricFamily{name: "cutover_proxy_noise_total", help: "Compared requests with differences cancelled as noise (also present between old and old2), by operation.", labels: []string{"operation"}}
	routes := make([]string, 0, len(s.Routes))
	for r := range s.Routes {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		rs := s.Routes[r]
		for _, o := range cutover.Outcomes {
			outcomes.samples = append(outcomes.samples, metricSample{[]string{r, o.String()}, float64(rs.Outcomes[o])})
		}
		noise.samples = append(noise.samples, metricSample{[]string{r}, float64(rs.Noise)})
	}
	return []metricFamily{
		reqs, up,
		one("cutover_proxy_shed_total", "Secondary requests not sent because the in-flight bound was reached.", s.Shed),
		over,
		one("cutover_proxy_unshadowed_writes_total", "Unsafe requests in shadow or reverse-shadow sent to the authoritative side only.", s.UnshadowedWrites),
		one("cutover_proxy_sampled_out_total", "Safe requests in shadow or reverse-shadow not compared because of the sample rate.", s.SampledOut),
		outcomes, noise,
		{name: "cutover_proxy_secondary_in_flight", help: "Secondary requests running now.", gauge: true, samples: []metricSample{{value: float64(s.InFlight)}}},
		one("cutover_proxy_sink_dropped_total", "Observations a sink did not get because its queue was full.", s.SinkDropped),
		one("cutover_proxy_sink_panics_total", "Sink calls that panicked.", s.SinkPanics),
	}
}

// WriteMetrics writes the proxy's metrics in the Prometheus text exposition
// format (version 0.0.4), every sample labelled with the migration. It is
// what `cutover proxy` serves at /metrics; a program with its own
// prometheus.Registerer can register [Proxy.Collector] instead (build tag
// cutover_prometheus, see docs/proxy.md).
func (p *Proxy) WriteMetrics(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, f := range p.metricFamilies() {
		typ := "counter"
		if f.gauge {
			typ = "gauge"
		}
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, typ)
		for _, s := range f.samples {
			bw.WriteString(f.name)
			bw.WriteString(`{migration="` + escapeLabel(p.migration) + `"`)
			for i, l := range f.labels {
				bw.WriteString("," + l + `="` + escapeLabel(s.values[i]) + `"`)
			}
			bw.WriteString("} " + strconv.FormatFloat(s.value, 'g', -1, 64) + "\n")
		}
	}
	return bw.Flush()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

package metrics

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cutover/cutover"
)

// Track registers on reg a collector per migration that reads the
// migration's [cutover.Stats] and rollout at scrape time:
//
//	cutover_shadow_in_flight{migration}                 gauge: secondary calls running now
//	cutover_shed_total{migration}                       counter: secondary calls shed at the bound
//	cutover_sink_dropped_total{migration}               counter: observations lost to full sink queues
//	cutover_panics_total{migration,where}               counter: where is compare, redact or sink
//	cutover_outcomes_total{migration,outcome}           counter: every call by outcome
//	cutover_mode_info{migration,mode,treatment}         gauge: the percent of keys in treatment
//
// These are the library's own counters, so they count what no sink sees:
// observations a full queue dropped, and calls when no sink is configured.
//
// Track registers all the migrations or none. It fails for a nil reg or
// migration, for a name given twice, and for a migration already tracked
// on reg (the error wraps [prometheus.AlreadyRegisteredError]).
func Track(reg prometheus.Registerer, ms ...*cutover.Migration) error {
	if reg == nil {
		return errors.New("metrics: Track needs a Registerer: pass prometheus.NewRegistry() or prometheus.DefaultRegisterer")
	}
	seen := make(map[string]bool, len(ms))
	cs := make([]prometheus.Collector, 0, len(ms))
	for i, m := range ms {
		if m == nil {
			return fmt.Errorf("metrics: Track: migration %d of %d is nil", i+1, len(ms))
		}
		if seen[m.Name()] {
			return fmt.Errorf("metrics: Track: migration %q is given twice", m.Name())
		}
		seen[m.Name()] = true
		cs = append(cs, newCollector(m))
	}
	for i, c := range cs {
		name := ms[i].Name()
		if err := registerAll(reg, []prometheus.Collector{c}, fmt.Sprintf("the metrics of migration %q", name),
			"track each migration once per Registerer, or Untrack it first"); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return err
		}
	}
	return nil
}

// Untrack removes what [Track] registered for m from reg, and reports
// whether there was anything to remove.
func Untrack(reg prometheus.Registerer, m *cutover.Migration) bool {
	if reg == nil || m == nil {
		return false
	}
	return reg.Unregister(newCollector(m))
}

// collector reads one migration's counters at scrape time. Its descriptors
// carry the migration's name as a constant label, so that several
// migrations can be tracked on one registry, and the same one only once.
type collector struct {
	m                                      *cutover.Migration
	inFlight, shed, dropped, panics, modes *prometheus.Desc
	outcomes                               *prometheus.Desc
}

func newCollector(m *cutover.Migration) *collector {
	labels := prometheus.Labels{"migration": m.Name()}
	return &collector{
		m: m,
		inFlight: prometheus.NewDesc("cutover_shadow_in_flight",
			"Secondary (shadow) calls running now.", nil, labels),
		shed: prometheus.NewDesc("cutover_shed_total",
			"Secondary calls not run because the bound on in-flight secondary work was reached, or the migration was closed.", nil, labels),
		dropped: prometheus.NewDesc("cutover_sink_dropped_total",
			"Observations a sink did not get because its queue was full.", nil, labels),
		panics: prometheus.NewDesc("cutover_panics_total",
			"Recovered panics by where they happened: compare (a comparison or error rule), redact (the Redact hook), sink (a sink).",
			[]string{"where"}, labels),
		outcomes: prometheus.NewDesc("cutover_outcomes_total",
			"Calls by outcome, counted by the migration itself whether or not a sink listens.", []string{"outcome"}, labels),
		modes: prometheus.NewDesc("cutover_mode_info",
			"The rollout in force: control mode and treatment mode as labels, the percent of keys in treatment as the value.",
			[]string{"mode", "treatment"}, labels),
	}
}

// Describe sends the collector's descriptors.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.inFlight, c.shed, c.dropped, c.panics, c.outcomes, c.modes} {
		ch <- d
	}
}

// Collect reads the migration's counters now.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.Stats()
	r := c.m.Rollout()
	ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(s.InFlight))
	ch <- prometheus.MustNewConstMetric(c.shed, prometheus.CounterValue, float64(s.Outcomes[cutover.OutcomeShed]))
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(s.SinkDropped))
	ch <- prometheus.MustNewConstMetric(c.panics, prometheus.CounterValue, float64(s.ComparePanics), "compare")
	ch <- prometheus.MustNewConstMetric(c.panics, prometheus.CounterValue, float64(s.RedactPanics), "redact")
	ch <- prometheus.MustNewConstMetric(c.panics, prometheus.CounterValue, float64(s.SinkPanics), "sink")
	for _, o := range cutover.Outcomes {
		ch <- prometheus.MustNewConstMetric(c.outcomes, prometheus.CounterValue, float64(s.Outcomes[o]), o.String())
	}
	ch <- prometheus.MustNewConstMetric(c.modes, prometheus.GaugeValue, r.Percent, r.Mode.String(), r.Treatment.String())
}

package metrics

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cutover/cutover"
)

// DefaultMaxOperations is the cap on distinct operation label values per
// migration when [SinkOptions].MaxOperations is zero.
const DefaultMaxOperations = 50

// OtherOperation is the operation label of calls whose operation came after
// the cap on distinct operations was reached.
const OtherOperation = "other"

// DefaultBuckets are the upper bounds, in seconds, of the call duration
// histogram: from 100µs (an in-memory lookup) to 10s (a call that should
// have timed out), about 2.5× apart.
var DefaultBuckets = []float64{
	0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05,
	0.1, 0.25, 0.5,
	1, 2.5, 5, 10,
}

// SinkOptions configure a [Sink]. Every zero field has the default its
// comment states.
type SinkOptions struct {
	// MaxOperations caps the distinct operation label values per migration;
	// calls of further operations are counted under [OtherOperation]. See
	// the package doc for why. Zero: DefaultMaxOperations.
	MaxOperations int
	// Buckets are the duration histogram's upper bounds in seconds.
	// Zero: DefaultBuckets.
	Buckets []float64
}

// Sink is a [cutover.Sink] that counts observations in Prometheus metrics:
//
//	cutover_comparisons_total{migration,operation,outcome}   counter
//	cutover_call_duration_seconds{migration,operation,side}   histogram, side "old" or "new"
//	cutover_divergences_total{migration,operation}            counter
//
// Every observation is counted in cutover_comparisons_total under its
// outcome (match, mismatch, error, timeout, fallback, shed, divergence);
// each side that ran adds its duration to the histogram; divergences (a
// second write that failed) are also counted on their own, since each one
// is a key to repair.
//
// A Sink is safe for concurrent use: share one among all migrations.
type Sink struct {
	comparisons *prometheus.CounterVec
	durations   *prometheus.HistogramVec
	divergences *prometheus.CounterVec
	maxOps      int

	mu       sync.Mutex                     // protects admitted and series
	admitted map[string]map[string]struct{} // operations with a label of their own, by migration
	series   map[seriesKey]*opSeries        // resolved children, by migration and operation label
}

type seriesKey struct{ migration, operation string }

// opSeries are the children of one migration and operation, resolved once.
type opSeries struct {
	outcomes   [len(cutover.Outcomes)]prometheus.Counter
	old, new   prometheus.Observer
	divergence prometheus.Counter
}

// NewSink returns a sink whose metrics are registered on reg. It fails if
// reg is nil or already holds these metrics (see the package doc).
func NewSink(reg prometheus.Registerer, opts SinkOptions) (*Sink, error) {
	if reg == nil {
		return nil, errors.New("metrics: NewSink needs a Registerer: pass prometheus.NewRegistry() or prometheus.DefaultRegisterer")
	}
	if opts.MaxOperations < 0 {
		return nil, fmt.Errorf("metrics: SinkOptions.MaxOperations is %d; want 0 (the default, %d) or more",
			opts.MaxOperations, DefaultMaxOperations)
	}
	maxOps := opts.MaxOperations
	if maxOps == 0 {
		maxOps = DefaultMaxOperations
	}
	buckets := opts.Buckets
	if len(buckets) == 0 {
		buckets = DefaultBuckets
	}
	for i := 1; i < len(buckets); i++ {
		if !(buckets[i] > buckets[i-1]) {
			return nil, fmt.Errorf("metrics: SinkOptions.Buckets must increase strictly; %v is followed by %v", buckets[i-1], buckets[i])
		}
	}
	s := &Sink{
		comparisons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_comparisons_total",
			Help: "Calls observed through cutover, by migration, operation and outcome (match, mismatch, error, timeout, fallback, shed, divergence).",
		}, []string{"migration", "operation", "outcome"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cutover_call_duration_seconds",
			Help:    "Duration of each side (old, new) of observed calls, for the sides that ran.",
			Buckets: buckets,
		}, []string{"migration", "operation", "side"}),
		divergences: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cutover_divergences_total",
			Help: "Writes that succeeded on the authoritative side and failed on the other: keys whose stores differ and need repair.",
		}, []string{"migration", "operation"}),
		maxOps:   maxOps,
		admitted: make(map[string]map[string]struct{}),
		series:   make(map[seriesKey]*opSeries),
	}
	if err := registerAll(reg, []prometheus.Collector{s.comparisons, s.durations, s.divergences},
		"the metrics of a metrics.Sink (cutover_comparisons_total, …)",
		"create one Sink per Registerer and share it among migrations"); err != nil {
		return nil, err
	}
	return s, nil
}

// registerAll registers every collector, or none: on failure it unregisters
// those it registered and explains the failure.
func registerAll(reg prometheus.Registerer, cs []prometheus.Collector, what, advice string) error {
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) {
				return fmt.Errorf("metrics: %s are already registered on this Registerer; %s: %w", what, advice, err)
			}
			return fmt.Errorf("metrics: registering %s: %w", what, err)
		}
	}
	return nil
}

// Enabled reports true: the sink counts every outcome.
func (s *Sink) Enabled(cutover.Outcome) bool { return true }

// Observe counts o.
func (s *Sink) Observe(_ context.Context, o *cutover.Observation) {
	ser := s.seriesFor(o.Migration, o.Operation)
	if int(o.Outcome) < len(ser.outcomes) {
		ser.outcomes[o.Outcome].Inc()
	}
	if o.Old.Ran {
		ser.old.Observe(o.Old.Duration.Seconds())
	}
	if o.New.Ran {
		ser.new.Observe(o.New.Duration.Seconds())
	}
	if o.Outcome == cutover.OutcomeDivergence {
		ser.divergence.Inc()
	}
}

// seriesFor returns the children for a migration and operation, admitting
// the operation if the migration has room, else using [OtherOperation].
func (s *Sink) seriesFor(migration, operation string) *opSeries {
	s.mu.Lock()
	defer s.mu.Unlock()
	ops := s.admitted[migration]
	if ops == nil {
		ops = make(map[string]struct{})
		s.admitted[migration] = ops
	}
	if _, ok := ops[operation]; !ok {
		if len(ops) < s.maxOps {
			ops[operation] = struct{}{}
		} else {
			operation = OtherOperation
		}
	}
	k := seriesKey{migration, operation}
	if ser := s.series[k]; ser != nil {
		return ser
	}
	ser := &opSeries{
		old:        s.durations.WithLabelValues(migration, operation, "old"),
		new:        s.durations.WithLabelValues(migration, operation, "new"),
		divergence: s.divergences.WithLabelValues(migration, operation),
	}
	for _, oc := range cutover.Outcomes {
		ser.outcomes[oc] = s.comparisons.WithLabelValues(migration, operation, oc.String())
	}
	s.series[k] = ser
	return ser
}

package metrics_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newMigration(t *testing.T, cfg cutover.Config) *cutover.Migration {
	t.Helper()
	m, err := cutover.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return m
}

func drain(t *testing.T, m *cutover.Migration) {
	t.Helper()
	if err := m.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// histogramCounts returns the sample count of each
// cutover_call_duration_seconds series, keyed "migration/operation/side".
func histogramCounts(t *testing.T, g prometheus.Gatherer) map[string]uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, mf := range mfs {
		if mf.GetName() != "cutover_call_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[labelsKey(m, "migration", "operation", "side")] = m.GetHistogram().GetSampleCount()
		}
	}
	return out
}

func labelsKey(m *dto.Metric, names ...string) string {
	vals := make([]string, len(names))
	for i, n := range names {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == n {
				vals[i] = lp.GetValue()
			}
		}
	}
	return strings.Join(vals, "/")
}

func TestSinkCountsRealReadsAndWrites(t *testing.T) {
	reg := prometheus.NewRegistry()
	sink, err := metrics.NewSink(reg, metrics.SinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := newMigration(t, cutover.Config{Name: "orders", Rollout: cutover.Rollout{Mode: cutover.ModeShadow},
		Sinks: []cutover.Sink{sink}, OnDivergence: func(context.Context, *cutover.Observation) {}})
	r := &cutover.Reader[int, int]{Migration: m, Operation: "getOrder",
		Old: func(_ context.Context, in int) (int, error) { return in, nil },
		New: func(_ context.Context, in int) (int, error) {
			switch in {
			case 2:
				return in + 1, nil // a mismatch
			case 3:
				return 0, errors.New("new store down")
			}
			return in, nil
		}}
	ctx := context.Background()
	for _, in := range []int{0, 1, 2, 3} {
		if got, err := r.Read(ctx, "k", in); err != nil || got != in {
			t.Fatalf("Read(%d) = %d, %v; want old's value", in, got, err)
		}
	}
	w := &cutover.Writer[int, int]{Migration: m, Operation: "saveOrder",
		Old: func(_ context.Context, in int) (int, error) { return in, nil },
		New: func(context.Context, int) (int, error) { return 0, errors.New("new store down") }}
	if _, err := w.Write(ctx, "order-1", 1); err != nil {
		t.Fatal(err)
	}
	drain(t, m)

	const want = `
# HELP cutover_comparisons_total Calls observed through cutover, by migration, operation and outcome (match, mismatch, error, timeout, fallback, shed, divergence).
# TYPE cutover_comparisons_total counter
cutover_comparisons_total{migration="orders",operation="getOrder",outcome="divergence"} 0
cutover_comparisons_total{migration="orders",operation="getOrder",outcome="error"} 1
cutover_comparisons_total{migration="orders",operation="getOrder",outcome="fallback"} 0
cutover_comparisons_total{migration="orders",operation="getOrder",outcome="match"} 2
cutover_comparisons_total{migration="orders",operation="getOrder",outcome="mismatch"} 1
cutover_comparisons_total{migration="orders",operation="getOrder",outcome="shed"} 0
cutover_comparisons_total{migration="orders",operation="getOrder",outcome="timeout"} 0
cutover_comparisons_total{migration="orders",operation="saveOrder",outcome="divergence"} 1
cutover_comparisons_total{migration="orders",operation="saveOrder",outcome="error"} 0
cutover_comparisons_total{migration="orders",operation="saveOrder",outcome="fallback"} 0
cutover_comparisons_total{migration="orders",operation="saveOrder",outcome="match"} 0
cutover_comparisons_total{migration="orders",operation="saveOrder",outcome="mismatch"} 0
cutover_comparisons_total{migration="orders",operation="saveOrder",outcome="shed"} 0
cutover_comparisons_total{migration="orders",operation="saveOrder",outcome="timeout"} 0
# HELP cutover_divergences_total Writes that succeeded on the authoritative side and failed on the other: keys whose stores differ and need repair.
# TYPE cutover_divergences_total counter
cutover_divergences_total{migration="orders",operation="getOrder"} 0
cutover_divergences_total{migration="orders",operation="saveOrder"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"cutover_comparisons_total", "cutover_divergences_total"); err != nil {
		t.Fatal(err)
	}
	wantCounts := map[string]uint64{
		"orders/getOrder/old": 4, "orders/getOrder/new": 4,
		"orders/saveOrder/old": 1, "orders/saveOrder/new": 1,
	}
	got := histogramCounts(t, reg)
	for k, n := range wantCounts {
		if got[k] != n {
			t.Errorf("cutover_call_duration_seconds %s has %d samples, want %d (all: %v)", k, got[k], n, got)
		}
	}
	if lint, err := testutil.GatherAndLint(reg); err != nil || len(lint) > 0 {
		t.Errorf("lint problems: %v %v", lint, err)
	}
}

func TestSinkTimesOnlySidesThatRan(t *testing.T) {
	reg := prometheus.NewRegistry()
	sink, err := metrics.NewSink(reg, metrics.SinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sink.Observe(context.Background(), &cutover.Observation{Migration: "orders", Operation: "getOrder",
		Outcome: cutover.OutcomeShed, Old: cutover.Side{Ran: true}})
	got := histogramCounts(t, reg)
	if got["orders/getOrder/old"] != 1 || got["orders/getOrder/new"] != 0 {
		t.Fatalf("histogram counts %v; want one old sample and no new one", got)
	}
}

func TestSinkCapsOperationsPerMigration(t *testing.T) {
	reg := prometheus.NewRegistry()
	sink, err := metrics.NewSink(reg, metrics.SinkOptions{MaxOperations: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, op := range []string{"a", "b", "/users/1", "/users/2", "a", "/users/3"} {
		sink.Observe(ctx, &cutover.Observation{Migration: "orders", Operation: op, Outcome: cutover.OutcomeMatch})
	}
	sink.Observe(ctx, &cutover.Observation{Migration: "payments", Operation: "c", Outcome: cutover.OutcomeMatch})
	const want = `
# HELP cutover_comparisons_total Calls observed through cutover, by migration, operation and outcome (match, mismatch, error, timeout, fallback, shed, divergence).
# TYPE cutover_comparisons_total counter
cutover_comparisons_total{migration="orders",operation="a",outcome="match"} 2
cutover_comparisons_total{migration="orders",operation="b",outcome="match"} 1
cutover_comparisons_total{migration="orders",operation="other",outcome="match"} 3
cutover_comparisons_total{migration="payments",operation="c",outcome="match"} 1
`
	// Only orders/a and orders/b got series of their own; the rest went to
	// "other". payments has its own cap.
	if err := testutil.GatherAndCompare(onlyMatches{reg}, strings.NewReader(want), "cutover_comparisons_total"); err != nil {
		t.Fatal(err)
	}
}

// onlyMatches keeps the match series of a gatherer, so a golden text need
// not list every pre-created zero.
type onlyMatches struct{ g prometheus.Gatherer }

func (o onlyMatches) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := o.g.Gather()
	for _, mf := range mfs {
		kept := mf.Metric[:0]
		for _, m := range mf.Metric {
			if labelsKey(m, "outcome") == "match" {
				kept = append(kept, m)
			}
		}
		mf.Metric = kept
	}
	return mfs, err
}

func TestRegisteringTwiceFailsClearly(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.NewSink(reg, metrics.SinkOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := metrics.NewSink(reg, metrics.SinkOptions{})
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) || !strings.Contains(err.Error(), "share it among migrations") {
		t.Fatalf("second NewSink: %v; want an AlreadyRegisteredError that says to share the sink", err)
	}

	m := newMigration(t, cutover.Config{Name: "orders"})
	other := newMigration(t, cutover.Config{Name: "payments"})
	if err := metrics.Track(reg, m); err != nil {
		t.Fatal(err)
	}
	err = metrics.Track(reg, other, m)
	if !errors.As(err, &are) || !strings.Contains(err.Error(), `"orders"`) {
		t.Fatalf("second Track: %v; want an AlreadyRegisteredError naming the migration", err)
	}
	// All or nothing: payments was not left registered.
	if err := metrics.Track(reg, other); err != nil {
		t.Fatalf("Track(payments) after a failed Track of both: %v", err)
	}
	if !metrics.Untrack(reg, m) {
		t.Fatal("Untrack(orders) found nothing to remove")
	}
	if err := metrics.Track(reg, m); err != nil {
		t.Fatalf("Track after Untrack: %v", err)
	}
	if err := metrics.Track(prometheus.NewRegistry(), m, m); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("Track(m, m) = %v; want an error saying it is given twice", err)
	}
	if _, err := metrics.NewSink(nil, metrics.SinkOptions{}); err == nil {
		t.Fatal("NewSink(nil) succeeded")
	}
}

func TestTrackReadsStatsAtScrapeTime(t *testing.T) {
	reg := prometheus.NewRegistry()
	release := make(chan struct{})
	panicky := &panickingSink{}
	m := newMigration(t, cutover.Config{Name: "orders", MaxInFlight: 1,
		Rollout: cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeReverseShadow, Percent: 5},
		Sinks:   []cutover.Sink{panicky}})
	if err := metrics.Track(reg, m); err != nil {
		t.Fatal(err)
	}
	key := controlKey(t, m)
	r := &cutover.Reader[int, int]{Migration: m, Operation: "getOrder",
		Old: func(_ context.Context, in int) (int, error) { return in, nil },
		New: func(_ context.Context, in int) (int, error) {
			if in == 0 {
				<-release
			}
			return in + 1, nil
		},
		Compare: func(a, b int) []diff.Difference {
			if a == 2 {
				panic("comparator bug")
			}
			return diff.Diff(a, b)
		}}
	ctx := context.Background()
	r.Read(ctx, key, 0) // holds the only in-flight slot until release
	r.Read(ctx, key, 1) // shed
	const inFlight = `
# HELP cutover_shadow_in_flight Secondary (shadow) calls running now.
# TYPE cutover_shadow_in_flight gauge
cutover_shadow_in_flight{migration="orders"} 1
# HELP cutover_shed_total Secondary calls not run because the bound on in-flight secondary work was reached, or the migration was closed.
# TYPE cutover_shed_total counter
cutover_shed_total{migration="orders"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(inFlight),
		"cutover_shadow_in_flight", "cutover_shed_total"); err != nil {
		t.Fatal(err)
	}
	close(release)
	drain(t, m)
	r.Read(ctx, key, 2) // the comparator panics: a mismatch
	drain(t, m)

	const want = `
# HELP cutover_mode_info The rollout in force: control mode and treatment mode as labels, the percent of keys in treatment as the value.
# TYPE cutover_mode_info gauge
cutover_mode_info{migration="orders",mode="shadow",treatment="reverse-shadow"} 5
# HELP cutover_outcomes_total Calls by outcome, counted by the migration itself whether or not a sink listens.
# TYPE cutover_outcomes_total counter
cutover_outcomes_total{migration="orders",outcome="divergence"} 0
cutover_outcomes_total{migration="orders",outcome="error"} 0
cutover_outcomes_total{migration="orders",outcome="fallback"} 0
cutover_outcomes_total{migration="orders",outcome="match"} 0
cutover_outcomes_total{migration="orders",outcome="mismatch"} 2
cutover_outcomes_total{migration="orders",outcome="shed"} 1
cutover_outcomes_total{migration="orders",outcome="timeout"} 0
# HELP cutover_panics_total Recovered panics by where they happened: compare (a comparison or error rule), redact (the Redact hook), sink (a sink).
# TYPE cutover_panics_total counter
cutover_panics_total{migration="orders",where="compare"} 1
cutover_panics_total{migration="orders",where="redact"} 0
cutover_panics_total{migration="orders",where="sink"} 3
# HELP cutover_shadow_in_flight Secondary (shadow) calls running now.
# TYPE cutover_shadow_in_flight gauge
cutover_shadow_in_flight{migration="orders"} 0
# HELP cutover_sink_dropped_total Observations a sink did not get because its queue was full.
# TYPE cutover_sink_dropped_total counter
cutover_sink_dropped_total{migration="orders"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "cutover_mode_info", "cutover_outcomes_total",
		"cutover_panics_total", "cutover_shadow_in_flight", "cutover_sink_dropped_total"); err != nil {
		t.Fatal(err)
	}
	if err := m.SetRollout(cutover.Rollout{Mode: cutover.ModeReverseShadow}); err != nil {
		t.Fatal(err)
	}
	const after = `
# HELP cutover_mode_info The rollout in force: control mode and treatment mode as labels, the percent of keys in treatment as the value.
# TYPE cutover_mode_info gauge
cutover_mode_info{migration="orders",mode="reverse-shadow",treatment="old"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(after), "cutover_mode_info"); err != nil {
		t.Fatal(err)
	}
}

// controlKey finds a key outside the 5% treatment, so the test's reads run
// in shadow.
func controlKey(t *testing.T, m *cutover.Migration) string {
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		if m.ModeFor(k) == cutover.ModeShadow {
			return k
		}
	}
	t.Fatal("no key in control among a…h")
	return ""
}

// panickingSink panics on every observation it is given.
type panickingSink struct{}

func (*panickingSink) Enabled(cutover.Outcome) bool                  { return true }
func (*panickingSink) Observe(context.Context, *cutover.Observation) { panic("sink bug") }

func TestSinkOptionsAreChecked(t *testing.T) {
	if _, err := metrics.NewSink(prometheus.NewRegistry(), metrics.SinkOptions{Buckets: []float64{1, 0.5}}); err == nil ||
		!strings.Contains(err.Error(), "increase") {
		t.Fatalf("decreasing buckets: %v; want an error", err)
	}
	if _, err := metrics.NewSink(prometheus.NewRegistry(), metrics.SinkOptions{MaxOperations: -1}); err == nil {
		t.Fatal("negative MaxOperations accepted")
	}
}

package server

import (
	"math"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
)

// z95 is the normal quantile of a two-sided 95% confidence interval.
const z95 = 1.959963984540054

// Wilson returns the proportion k/n with its 95% Wilson score interval.
// With n = 0 nothing is known: the value is 0 and the interval [0, 1].
// k is clamped to [0, n].
func Wilson(k, n int64) api.Rate {
	if n <= 0 {
		return api.Rate{Value: 0, Lower: 0, Upper: 1, N: 0}
	}
	if k < 0 {
		k = 0
	}
	if k > n {
		k = n
	}
	nf := float64(n)
	p := float64(k) / nf
	z2 := z95 * z95
	denom := 1 + z2/nf
	center := (p + z2/(2*nf)) / denom
	half := z95 * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / denom
	lower, upper := math.Max(0, center-half), math.Min(1, center+half)
	if k == 0 {
		lower = 0
	}
	if k == n {
		upper = 1
	}
	return api.Rate{Value: p, Lower: lower, Upper: upper, N: n}
}

// totals sums buckets.
type totals struct {
	counts               [len(cutover.Outcomes)]int64
	oldErrors, newErrors int64
	oldLatency           *api.Sketch
	newLatency           *api.Sketch
}

func newTotals() *totals {
	return &totals{oldLatency: api.NewSketch(), newLatency: api.NewSketch()}
}

func (t *totals) add(b *StatsBucket) {
	for i, c := range b.Counts {
		t.counts[i] += c
	}
	t.oldErrors += b.OldErrors
	t.newErrors += b.NewErrors
	t.oldLatency.Merge(b.OldLatency)
	t.newLatency.Merge(b.NewLatency)
}

func (t *totals) compared() int64 {
	return t.counts[cutover.OutcomeMatch] + t.counts[cutover.OutcomeMismatch] +
		t.counts[cutover.OutcomeError] + t.counts[cutover.OutcomeFallback]
}

func (t *totals) mismatchRate() api.Rate {
	return Wilson(t.counts[cutover.OutcomeMismatch], t.compared())
}

func (t *totals) newErrorRate() api.Rate { return Wilson(t.newErrors, t.compared()) }
func (t *totals) oldErrorRate() api.Rate { return Wilson(t.oldErrors, t.compared()) }

func (t *totals) countsMap() map[cutover.Outcome]int64 {
	m := make(map[cutover.Outcome]int64, len(t.counts))
	for _, o := range cutover.Outcomes {
		m[o] = t.counts[o]
	}
	return m
}

func percentiles(s *api.Sketch) api.Percentiles {
	return api.Percentiles{P50: s.Quantile(0.50), P95: s.Quantile(0.95), P99: s.Quantile(0.99)}
}

func ratio(k, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return float64(k) / float64(n)
}

// minuteFloor truncates t to its minute, in UTC.
func minuteFloor(t time.Time) time.Time { return t.UTC().Truncate(time.Minute) }

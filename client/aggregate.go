package client

import (
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/diff"
)

// aggKey identifies one aggregate.
type aggKey struct {
	migration, operation string
	kind                 cutover.Kind
	mode                 cutover.Mode
}

// groupKey identifies one group of discrepancies within an aggregate.
type groupKey struct {
	outcome   cutover.Outcome
	signature string
}

// limits bound the memory one aggregation window may take.
type limits struct {
	maxGroups  int // per aggregate
	maxSamples int // per group
	maxDiffs   int // per sample
}

// aggregator sums observations into aggregates, one per aggKey, over one
// window. Each aggregate starts at its earliest observation (the server
// files it under that minute) and ends when the window is cut. It is not
// safe for concurrent use; the reporter locks it.
type aggregator struct {
	limits limits
	start  time.Time
	aggs   map[aggKey]*aggState
	// observed counts the observations summed; droppedGroups those whose
	// group was not kept because an aggregate had maxGroups already (they
	// are still in the counts).
	observed, droppedGroups int64
}

// aggState is one aggregate being summed.
type aggState struct {
	start      time.Time // the earliest observation's time
	counts     map[cutover.Outcome]int64
	oldErrors  int64
	newErrors  int64
	oldLatency *api.Sketch // nil until a side's first duration
	newLatency *api.Sketch
	groups     map[groupKey]*api.Group
	order      []groupKey // groups in order of first appearance
}

func newAggregator(l limits, start time.Time) *aggregator {
	return &aggregator{limits: l, start: start, aggs: map[aggKey]*aggState{}}
}

// add sums one observation.
func (a *aggregator) add(o *cutover.Observation) {
	k := aggKey{o.Migration, o.Operation, o.Kind, o.Mode}
	at := o.Time
	if at.IsZero() {
		at = a.start
	}
	st := a.aggs[k]
	if st == nil {
		st = &aggState{counts: map[cutover.Outcome]int64{}, start: at}
		a.aggs[k] = st
	} else if at.Before(st.start) {
		st.start = at
	}
	a.observed++
	st.counts[o.Outcome]++
	if o.Old.Failed() {
		st.oldErrors++
	}
	if o.New.Failed() {
		st.newErrors++
	}
	if o.Old.Ran {
		st.oldLatency = addLatency(st.oldLatency, o.Old.Duration)
	}
	if o.New.Ran {
		st.newLatency = addLatency(st.newLatency, o.New.Duration)
	}
	switch o.Outcome {
	case cutover.OutcomeMatch, cutover.OutcomeShed:
		return // not discrepancies
	}
	gk := groupKey{o.Outcome, o.Signature}
	g := st.groups[gk]
	if g == nil {
		if len(st.groups) >= a.limits.maxGroups {
			a.droppedGroups++
			return
		}
		if st.groups == nil {
			st.groups = map[groupKey]*api.Group{}
		}
		g = &api.Group{Signature: o.Signature, Outcome: o.Outcome}
		st.groups[gk] = g
		st.order = append(st.order, gk)
	}
	g.Count++
	if len(g.Samples) < a.limits.maxSamples {
		g.Samples = append(g.Samples, sampleOf(o, a.limits.maxDiffs))
	}
}

// sampleOf keeps what an observation says of one discrepancy: its key, time,
// differing paths (as the observation carries them, after the library's
// redaction hook) and error messages.
func sampleOf(o *cutover.Observation, maxDiffs int) api.Sample {
	s := api.Sample{Key: truncate(o.Key), Time: o.Time.UTC()}
	if n := len(o.Diffs); n > 0 {
		if n > maxDiffs {
			n = maxDiffs
		}
		s.Diffs = make([]diff.Difference, n)
		for i, d := range o.Diffs[:n] {
			s.Diffs[i] = diff.Difference{Path: truncate(d.Path), Old: truncate(d.Old), New: truncate(d.New)}
		}
	}
	if o.Old.Err != nil {
		s.OldError = truncate(o.Old.Err.Error())
	}
	if o.New.Err != nil {
		s.NewError = truncate(o.New.Err.Error())
	}
	return s
}

// maxSampleText bounds each string of a sample, so that a huge value or
// error message cannot make a batch too large for the server.
const maxSampleText = 1024

// truncate cuts s to maxSampleText bytes, on a rune boundary, marking the cut.
func truncate(s string) string { return api.TruncateText(s, maxSampleText) }

func addLatency(sk *api.Sketch, d time.Duration) *api.Sketch {
	if sk == nil {
		sk = api.NewSketch()
	}
	sk.Add(d.Seconds())
	return sk
}

// empty reports whether nothing was summed.
func (a *aggregator) empty() bool { return len(a.aggs) == 0 }

// aggregates returns the window's aggregates, ending at end.
func (a *aggregator) aggregates(end time.Time) []api.Aggregate {
	out := make([]api.Aggregate, 0, len(a.aggs))
	for k, st := range a.aggs {
		agg := api.Aggregate{
			Migration: k.migration,
			Operation: k.operation,
			Kind:      k.kind.String(),
			Mode:      k.mode,
			Start:     st.start.UTC(),
			End:       end.UTC(),
			Counts:    st.counts,
			OldErrors: st.oldErrors,
			NewErrors: st.newErrors,
		}
		if st.oldLatency != nil {
			agg.OldLatency, _ = st.oldLatency.MarshalBinary() // never fails
		}
		if st.newLatency != nil {
			agg.NewLatency, _ = st.newLatency.MarshalBinary()
		}
		for _, gk := range st.order {
			agg.Groups = append(agg.Groups, *st.groups[gk])
		}
		out = append(out, agg)
	}
	return out
}

package server

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/diff"
)

// Ingest records a report batch, once per batch id: a retried batch is
// acknowledged with Duplicate set and counted once. Aggregates of unknown
// migrations are left out and named in the answer.
func (s *Service) Ingest(ctx context.Context, b api.ReportBatch) (api.ReportAck, error) {
	if b.BatchID == "" || len(b.BatchID) > 200 {
		return api.ReportAck{}, Invalid("batch_id", "is required, 1 to 200 characters, unique per batch (a UUID)")
	}
	if len(b.Instance) > 200 {
		return api.ReportAck{}, Invalid("instance", "is %d bytes long, at most 200 allowed", len(b.Instance))
	}
	if len(b.Aggregates) > MaxBatchAggregates {
		return api.ReportAck{}, Invalid("aggregates", "has %d aggregates, at most %d allowed per batch: flush more often", len(b.Aggregates), MaxBatchAggregates)
	}
	known := map[string]bool{}
	var unknown []string
	type bucketKey struct {
		migration string
		minute    int64
		mode      cutover.Mode
	}
	type groupKey struct {
		migration, signature string
		outcome              cutover.Outcome
	}
	buckets := map[bucketKey]*BucketDelta{}
	groups := map[groupKey]*GroupDelta{}
	now := s.now().UTC()
	for i, a := range b.Aggregates {
		f := func(name string) string { return fmt.Sprintf("aggregates[%d].%s", i, name) }
		if !ValidName(a.Migration) {
			return api.ReportAck{}, Invalid(f("migration"), "%q is not a valid migration name", a.Migration)
		}
		if a.Kind != "" && a.Kind != "read" && a.Kind != "write" {
			return api.ReportAck{}, Invalid(f("kind"), "%q is neither read nor write", a.Kind)
		}
		if !a.Mode.Valid() {
			return api.ReportAck{}, Invalid(f("mode"), "is not a mode")
		}
		if a.Start.IsZero() {
			return api.ReportAck{}, Invalid(f("start"), "is required: when the aggregate's first observation was made")
		}
		if !a.End.IsZero() && a.End.Before(a.Start) {
			return api.ReportAck{}, Invalid(f("end"), "is before start")
		}
		if a.OldErrors < 0 || a.NewErrors < 0 {
			return api.ReportAck{}, Invalid(f("old_errors"), "error counts must not be negative")
		}
		for o, c := range a.Counts {
			if c < 0 || int(o) >= len(cutover.Outcomes) {
				return api.ReportAck{}, Invalid(f("counts"), "count of %s is negative", o)
			}
		}
		oldSketch, err := api.DecodeSketch(a.OldLatency)
		if err != nil {
			return api.ReportAck{}, Invalid(f("old_latency"), "%v", err)
		}
		newSketch, err := api.DecodeSketch(a.NewLatency)
		if err != nil {
			return api.ReportAck{}, Invalid(f("new_latency"), "%v", err)
		}
		for j, g := range a.Groups {
			if len(g.Signature) > 1000 {
				return api.ReportAck{}, Invalid(fmt.Sprintf("aggregates[%d].groups[%d].signature", i, j), "is %d bytes long, at most 1000 allowed", len(g.Signature))
			}
			if g.Count < 0 {
				return api.ReportAck{}, Invalid(fmt.Sprintf("aggregates[%d].groups[%d].count", i, j), "must not be negative")
			}
		}
		ok, seen := known[a.Migration]
		if !seen {
			_, err := s.store.Migration(ctx, a.Migration)
			switch {
			case err == nil:
				ok = true
			case ErrorCode(err) == api.CodeNotFound:
				unknown = append(unknown, a.Migration)
			default:
				return api.ReportAck{}, err
			}
			known[a.Migration] = ok
		}
		if !ok {
			continue
		}
		minute := minuteFloor(a.Start)
		k := bucketKey{a.Migration, minute.UnixNano(), a.Mode}
		d := buckets[k]
		if d == nil {
			d = &BucketDelta{Migration: a.Migration, StatsBucket: StatsBucket{Minute: minute, Mode: a.Mode, OldLatency: api.NewSketch(), NewLatency: api.NewSketch()}}
			buckets[k] = d
		}
		for o, c := range a.Counts {
			d.Counts[o] += c
		}
		d.OldErrors += a.OldErrors
		d.NewErrors += a.NewErrors
		d.OldLatency.Merge(oldSketch)
		d.NewLatency.Merge(newSketch)
		end := a.End
		if end.IsZero() {
			end = a.Start
		}
		for _, g := range a.Groups {
			gk := groupKey{a.Migration, g.Signature, g.Outcome}
			gd := groups[gk]
			if gd == nil {
				gd = &GroupDelta{Migration: a.Migration, Signature: g.Signature, Outcome: g.Outcome, FirstSeen: a.Start.UTC(), LastSeen: end.UTC()}
				groups[gk] = gd
			}
			gd.Count += g.Count
			if a.Start.Before(gd.FirstSeen) {
				gd.FirstSeen = a.Start.UTC()
			}
			if end.After(gd.LastSeen) {
				gd.LastSeen = end.UTC()
			}
			for _, smp := range g.Samples {
				gd.Samples = append(gd.Samples, boundSample(smp))
			}
			if n := len(gd.Samples); n > s.maxSamples {
				gd.Samples = gd.Samples[n-s.maxSamples:]
			}
		}
	}
	bd := make([]BucketDelta, 0, len(buckets))
	for _, d := range buckets {
		bd = append(bd, *d)
	}
	// A fixed order keeps concurrent batches from deadlocking on rows.
	sort.Slice(bd, func(i, j int) bool {
		if bd[i].Migration != bd[j].Migration {
			return bd[i].Migration < bd[j].Migration
		}
		if !bd[i].Minute.Equal(bd[j].Minute) {
			return bd[i].Minute.Before(bd[j].Minute)
		}
		return bd[i].Mode < bd[j].Mode
	})
	gd := make([]GroupDelta, 0, len(groups))
	for _, g := range groups {
		gd = append(gd, *g)
	}
	sort.Slice(gd, func(i, j int) bool {
		if gd[i].Migration != gd[j].Migration {
			return gd[i].Migration < gd[j].Migration
		}
		if gd[i].Signature != gd[j].Signature {
			return gd[i].Signature < gd[j].Signature
		}
		return gd[i].Outcome < gd[j].Outcome
	})
	dup, err := s.store.Ingest(ctx, b.BatchID, b.Instance, now, bd, gd, s.maxSamples)
	if err != nil {
		return api.ReportAck{}, err
	}
	if dup {
		s.metrics.ReportBatches.WithLabelValues("duplicate").Inc()
	} else {
		s.metrics.ReportBatches.WithLabelValues("accepted").Inc()
		s.metrics.ReportAggregates.Add(float64(len(b.Aggregates)))
	}
	return api.ReportAck{BatchID: b.BatchID, Duplicate: dup, UnknownMigrations: unknown}, nil
}

// Stats summarises a migration's reports over the window before now, with
// a per-step series when step > 0, and the gates' verdict.
func (s *Service) Stats(ctx context.Context, name string, window, step time.Duration) (api.Stats, error) {
	if window <= 0 {
		window = time.Hour
	}
	if window > MaxWindow {
		return api.Stats{}, Invalid("window", "%s is longer than the longest window, %s", window, MaxWindow)
	}
	if step < 0 || (step > 0 && step < time.Minute) {
		return api.Stats{}, Invalid("step", "must be at least 1m: reports are kept per minute")
	}
	if step > 0 && window/step > MaxSeriesPoints {
		return api.Stats{}, Invalid("step", "gives %d points, at most %d allowed: use a larger step", window/step, MaxSeriesPoints)
	}
	m, err := s.store.Migration(ctx, name)
	if err != nil {
		return api.Stats{}, err
	}
	now := s.now().UTC()
	from := minuteFloor(now.Add(-window))
	buckets, err := s.store.Buckets(ctx, name, from, now.Add(time.Minute))
	if err != nil {
		return api.Stats{}, err
	}
	t := newTotals()
	for i := range buckets {
		t.add(&buckets[i])
	}
	st := api.Stats{
		Migration: name, Window: api.Duration(window), From: from, To: now,
		Counts: t.countsMap(), Compared: t.compared(),
		MismatchRate: t.mismatchRate(), NewErrorRate: t.newErrorRate(), OldErrorRate: t.oldErrorRate(),
	}
	st.Latency.Old = percentiles(t.oldLatency)
	st.Latency.New = percentiles(t.newLatency)
	if step > 0 {
		n := int((now.Sub(from) + step - 1) / step)
		points := make([]*totals, n)
		for i := range buckets {
			idx := int(buckets[i].Minute.Sub(from) / step)
			if idx < 0 || idx >= n {
				continue
			}
			if points[idx] == nil {
				points[idx] = newTotals()
			}
			points[idx].add(&buckets[i])
		}
		st.Series = make([]api.StatsPoint, n)
		for i, p := range points {
			pt := api.StatsPoint{Time: from.Add(time.Duration(i) * step)}
			if p != nil {
				c := p.compared()
				pt.Compared = c
				pt.MatchRate = ratio(p.counts[cutover.OutcomeMatch], c)
				pt.OldErrorRate = ratio(p.oldErrors, c)
				pt.NewErrorRate = ratio(p.newErrors, c)
				pt.Old = percentiles(p.oldLatency)
				pt.New = percentiles(p.newLatency)
			}
			st.Series[i] = pt
		}
	}
	gs, err := s.evaluateGates(ctx, m, now)
	if err != nil {
		return api.Stats{}, err
	}
	st.Gates = gs
	return st, nil
}

// Mismatches returns a migration's discrepancy groups last seen within the
// window before now (all when window is zero), largest first, each with
// its share of the discrepancies listed.
func (s *Service) Mismatches(ctx context.Context, name string, window time.Duration) ([]api.MismatchGroup, error) {
	if window < 0 || window > MaxWindow {
		return nil, Invalid("window", "must be between 0 and %s", MaxWindow)
	}
	if _, err := s.store.Migration(ctx, name); err != nil {
		return nil, err
	}
	var since time.Time
	if window > 0 {
		since = s.now().UTC().Add(-window)
	}
	gs, err := s.store.Groups(ctx, name, since)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, g := range gs {
		total += g.Count
	}
	for i := range gs {
		gs[i].Share = ratio(gs[i].Count, total)
		if gs[i].Samples == nil {
			gs[i].Samples = []api.Sample{}
		}
	}
	return gs, nil
}

// Bounds on what one stored sample keeps, so that samples cannot grow the
// database without limit whatever clients send.
const (
	maxSampleDiffs = 20
	maxSampleText  = 512
)

// boundSample truncates a sample's key, values and error messages, and
// keeps its first maxSampleDiffs differences.
func boundSample(s api.Sample) api.Sample {
	s.Key = truncate(s.Key)
	s.OldError = truncate(s.OldError)
	s.NewError = truncate(s.NewError)
	s.Time = s.Time.UTC()
	if len(s.Diffs) > maxSampleDiffs {
		s.Diffs = s.Diffs[:maxSampleDiffs]
	}
	if len(s.Diffs) > 0 {
		ds := make([]diff.Difference, len(s.Diffs))
		for i, d := range s.Diffs {
			ds[i] = diff.Difference{Path: truncate(d.Path), Old: truncate(d.Old), New: truncate(d.New)}
		}
		s.Diffs = ds
	}
	return s
}

func truncate(s string) string { return api.TruncateText(s, maxSampleText) }

package server

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
)

// DefaultGates are the promotion gates of a migration created without
// them: 1,000 comparisons, 10 minutes at 100%, a mismatch rate whose upper
// 95% bound is under 0.1%, and a new-side error rate under 1%.
func DefaultGates() api.Gates {
	return api.Gates{
		MinComparisons:  1000,
		MinTimeAtFull:   api.Duration(10 * time.Minute),
		MaxMismatchRate: 0.001,
		MaxNewErrorRate: 0.01,
	}
}

// DefaultGuard is the guard of a migration created without one: over a
// 5-minute window with at least 100 compared calls, a mismatch rate above
// 1% or a new-side error rate above 5% rolls back to shadow.
func DefaultGuard() api.Guard {
	return api.Guard{
		Window:          api.Duration(5 * time.Minute),
		MinSamples:      100,
		MaxMismatchRate: 0.01,
		MaxNewErrorRate: 0.05,
	}
}

// topMode is the furthest mode a rollout sends any key to (overrides
// excepted): the mode the gates judge.
func topMode(r cutover.Rollout) cutover.Mode {
	if r.Percent > 0 && r.Treatment > r.Mode {
		return r.Treatment
	}
	return r.Mode
}

// atFull reports whether every key (overrides aside) is in the top mode.
func atFull(r cutover.Rollout) bool {
	top := topMode(r)
	return r.Mode == top || (r.Percent >= 100 && r.Treatment == top)
}

// oldStillRuns reports whether some key of r is in a mode where old runs.
func oldStillRuns(r cutover.Rollout) bool {
	if r.Mode != cutover.ModeNew || (r.Percent > 0 && r.Treatment != cutover.ModeNew) {
		return true
	}
	for _, m := range r.Overrides {
		if m != cutover.ModeNew {
			return true
		}
	}
	return false
}

// evaluateGates judges the evidence gathered in m's top mode since it came
// into use.
func (s *Service) evaluateGates(ctx context.Context, m Migration, now time.Time) (*api.GateStatus, error) {
	g := m.Gates
	st := &api.GateStatus{Pass: true, Criteria: []api.GateCriterion{}}
	if g.Disabled {
		return st, nil
	}
	top := topMode(m.Rollout)
	if !top.Compares() {
		// Nothing is compared in old or new: there is no evidence to ask for.
		return st, nil
	}
	from := minuteFloor(m.EvidenceSince)
	buckets, err := s.store.Buckets(ctx, m.Name, from, now.Add(time.Minute))
	if err != nil {
		return nil, err
	}
	t := newTotals()
	for i := range buckets {
		if buckets[i].Mode == top {
			t.add(&buckets[i])
		}
	}
	compared := t.compared()
	add := func(c api.GateCriterion) {
		if !c.Pass {
			st.Pass = false
		}
		st.Criteria = append(st.Criteria, c)
	}
	if g.MinComparisons > 0 {
		c := api.GateCriterion{Criterion: "min_comparisons", Threshold: float64(g.MinComparisons), Measured: float64(compared), Pass: compared >= g.MinComparisons}
		if c.Pass {
			c.Message = fmt.Sprintf("%d comparisons in %s, at least %d needed", compared, top, g.MinComparisons)
		} else {
			c.Message = fmt.Sprintf("needs %d more comparisons in %s: has %d, needs %d", g.MinComparisons-compared, top, compared, g.MinComparisons)
		}
		add(c)
	}
	if need := time.Duration(g.MinTimeAtFull); need > 0 {
		var have time.Duration
		if atFull(m.Rollout) && !m.FullSince.IsZero() {
			have = now.Sub(m.FullSince)
		}
		c := api.GateCriterion{Criterion: "min_time_at_full", Threshold: need.Seconds(), Measured: have.Seconds(), Pass: have >= need}
		switch {
		case c.Pass:
			c.Message = fmt.Sprintf("%s at 100%% %s, at least %s needed", have.Round(time.Second), top, need)
		case !atFull(m.Rollout):
			c.Message = fmt.Sprintf("not at 100%% %s yet: move every key to %s, then wait %s", top, top, need)
		default:
			c.Message = fmt.Sprintf("needs %s more at 100%% %s: has %s, needs %s", (need - have).Round(time.Second), top, have.Round(time.Second), need)
		}
		add(c)
	}
	if g.MaxMismatchRate > 0 {
		r := t.mismatchRate()
		c := api.GateCriterion{Criterion: "max_mismatch_rate", Threshold: g.MaxMismatchRate, Measured: r.Upper, Pass: r.Upper < g.MaxMismatchRate}
		c.Message = fmt.Sprintf("mismatch rate %.4f%% (upper 95%% bound %.4f%% over %d comparisons) must be under %.4f%%", 100*r.Value, 100*r.Upper, r.N, 100*g.MaxMismatchRate)
		add(c)
	}
	if g.MaxNewErrorRate > 0 {
		r := t.newErrorRate()
		c := api.GateCriterion{Criterion: "max_new_error_rate", Threshold: g.MaxNewErrorRate, Measured: r.Upper, Pass: r.Upper < g.MaxNewErrorRate}
		c.Message = fmt.Sprintf("new-side error rate %.4f%% (upper 95%% bound %.4f%% over %d calls) must be under %.4f%%", 100*r.Value, 100*r.Upper, r.N, 100*g.MaxNewErrorRate)
		add(c)
	}
	if within := time.Duration(g.VerifyWithin); within > 0 {
		v, ok, err := s.store.LatestVerification(ctx, m.Name)
		if err != nil {
			return nil, err
		}
		c := api.GateCriterion{Criterion: "verify_within", Threshold: within.Seconds(), Measured: -1}
		switch {
		case !ok:
			c.Message = fmt.Sprintf("no verify report: run `cutover verify` and post its report (needs one with zero differences within %s)", within)
		default:
			age := now.Sub(v.FinishedAt)
			c.Measured = age.Seconds()
			c.Pass = v.Identical && age <= within
			switch {
			case !v.Identical:
				c.Message = fmt.Sprintf("the latest verify report (%s ago) found differences: fix them and verify again", age.Round(time.Second))
			case !c.Pass:
				c.Message = fmt.Sprintf("the latest verify report is %s old, must be within %s: verify again", age.Round(time.Second), within)
			default:
				c.Message = fmt.Sprintf("verified identical %s ago", age.Round(time.Second))
			}
		}
		add(c)
	}
	// Failing criteria first, otherwise in the order above.
	sort.SliceStable(st.Criteria, func(i, j int) bool { return !st.Criteria[i].Pass && st.Criteria[j].Pass })
	return st, nil
}

// fillGates gives the zero fields of g the defaults.
func fillGates(g api.Gates, d api.Gates) api.Gates {
	if g.MinComparisons == 0 {
		g.MinComparisons = d.MinComparisons
	}
	if g.MinTimeAtFull == 0 {
		g.MinTimeAtFull = d.MinTimeAtFull
	}
	if g.MaxMismatchRate == 0 {
		g.MaxMismatchRate = d.MaxMismatchRate
	}
	if g.MaxNewErrorRate == 0 {
		g.MaxNewErrorRate = d.MaxNewErrorRate
	}
	if g.VerifyWithin == 0 {
		g.VerifyWithin = d.VerifyWithin
	}
	return g
}

// fillGuard gives the zero fields of g the defaults.
func fillGuard(g api.Guard, d api.Guard) api.Guard {
	if g.Window == 0 {
		g.Window = d.Window
	}
	if g.MinSamples == 0 {
		g.MinSamples = d.MinSamples
	}
	if g.MaxMismatchRate == 0 {
		g.MaxMismatchRate = d.MaxMismatchRate
	}
	if g.MaxNewErrorRate == 0 {
		g.MaxNewErrorRate = d.MaxNewErrorRate
	}
	if g.Webhook == "" {
		g.Webhook = d.Webhook
	}
	return g
}

package server

import (
	"context"
	"fmt"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
)

// Check runs one round of the guard: every migration in reverse-shadow (or
// in new while old still runs for some keys) whose rolling mismatch rate or
// new-side error rate, over its guard window with at least its minimum of
// compared calls, is above its threshold is moved back to shadow. Each
// rollback is an automatic, audited change with the figures, published to
// watchers and announced to the migration's webhook (queued; delivery
// never blocks Check). It returns the changes made.
//
// RunGuard calls Check on an interval; tests call it directly.
func (s *Service) Check(ctx context.Context) ([]api.Change, error) {
	s.guardMu.Lock()
	defer s.guardMu.Unlock()
	s.metrics.GuardChecks.Inc()
	ms, err := s.store.Migrations(ctx)
	if err != nil {
		return nil, err
	}
	var made []api.Change
	var firstErr error
	for _, m := range ms {
		c, err := s.guardOne(ctx, m)
		if err != nil {
			s.log.Warn("guard: checking a migration", "migration", m.Name, "err", err)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if c != nil {
			made = append(made, *c)
		}
	}
	return made, firstErr
}

func (s *Service) guardOne(ctx context.Context, m Migration) (*api.Change, error) {
	g := m.Guard
	top := topMode(m.Rollout)
	if g.Disabled || !(top == cutover.ModeReverseShadow || (top == cutover.ModeNew && oldStillRuns(m.Rollout))) {
		return nil, nil
	}
	now := s.now().UTC()
	window := time.Duration(g.Window)
	if window <= 0 {
		window = time.Duration(DefaultGuard().Window)
	}
	from := minuteFloor(now.Add(-window))
	if es := minuteFloor(m.EvidenceSince); es.After(from) {
		from = es
	}
	buckets, err := s.store.Buckets(ctx, m.Name, from, now.Add(time.Minute))
	if err != nil {
		return nil, err
	}
	t := newTotals()
	for i := range buckets {
		if buckets[i].Mode >= cutover.ModeReverseShadow {
			t.add(&buckets[i])
		}
	}
	n := t.compared()
	if n == 0 || n < g.MinSamples {
		return nil, nil
	}
	mismatches := t.counts[cutover.OutcomeMismatch]
	mismatchRate := ratio(mismatches, n)
	newErrors := min(t.newErrors, n)
	newErrorRate := ratio(newErrors, n)
	var why string
	switch {
	case g.MaxMismatchRate > 0 && mismatchRate > g.MaxMismatchRate:
		why = fmt.Sprintf("mismatch rate %.2f%% (%d of %d) over the last %s is above %.2f%%", 100*mismatchRate, mismatches, n, window, 100*g.MaxMismatchRate)
	case g.MaxNewErrorRate > 0 && newErrorRate > g.MaxNewErrorRate:
		why = fmt.Sprintf("new-side error rate %.2f%% (%d of %d) over the last %s is above %.2f%%", 100*newErrorRate, newErrors, n, window, 100*g.MaxNewErrorRate)
	default:
		return nil, nil
	}
	to := cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeShadow}
	for k, mode := range m.Rollout.Overrides {
		if mode <= cutover.ModeShadow {
			if to.Overrides == nil {
				to.Overrides = map[string]cutover.Mode{}
			}
			to.Overrides[k] = mode
		}
	}
	c := api.Change{
		Migration: m.Name, Actor: GuardActor, From: m.Rollout, To: to,
		Reason: "guard: " + why + "; rolled back to shadow", Forced: top == cutover.ModeNew,
		Automatic: true, Kind: "rollout", Time: now,
		Figures: map[string]float64{
			"compared": float64(n), "mismatches": float64(mismatches), "new_errors": float64(newErrors),
			"mismatch_rate": mismatchRate, "new_error_rate": newErrorRate,
			"max_mismatch_rate": g.MaxMismatchRate, "max_new_error_rate": g.MaxNewErrorRate,
			"window_seconds": window.Seconds(), "min_samples": float64(g.MinSamples),
		},
	}
	_, c, err = s.apply(ctx, m, c)
	if err != nil {
		if ErrorCode(err) == api.CodeConflict {
			// Someone changed the rollout meanwhile; judge it next round.
			return nil, nil
		}
		return nil, err
	}
	s.metrics.GuardRollbacks.Inc()
	s.log.Warn("guard rolled a migration back to shadow", "migration", m.Name, "reason", c.Reason, "change", c.ID)
	if g.Webhook != "" {
		s.notify.enqueue(g.Webhook, api.GuardNotification{
			Migration: m.Name, From: c.From, To: c.To, Reason: c.Reason,
			Figures: c.Figures, ChangeID: c.ID, Time: c.Time,
		})
	}
	return &c, nil
}

// RunGuard calls Check every interval until ctx ends. With a store shared
// by several servers ([GuardLocker]), only the server holding the guard
// lock checks; the others keep trying to take it, so the guard moves to
// another server when its holder dies.
func (s *Service) RunGuard(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	locker, shared := s.store.(GuardLocker)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if shared {
			leader, err := locker.GuardLeader(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("guard: taking the guard lock", "err", err)
				}
				continue
			}
			if !leader {
				continue
			}
		}
		if _, err := s.Check(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("guard round failed", "err", err)
		}
	}
}

package dashboard_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/server/servertest"
)

// clock is the service's clock in the evidence test: real time shifted
// back, so that the seeded changes happen at different minutes.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) at(offset time.Duration) {
	c.mu.Lock()
	c.offset = offset
	c.mu.Unlock()
}

// seedEvidence gives a migration an hour of reports with mismatch groups:
// created an hour ago, shadow since, a forced canary to reverse-shadow
// 8 minutes ago, and the guard's rollback 4 minutes ago. It is the data of
// docs/dashboard.png.
func seedEvidence(t *testing.T, e *env, clk *clock, name string) {
	t.Helper()
	ctx := context.Background()
	clk.at(-62 * time.Minute)
	e.create(t, name, nil)
	clk.at(-59*time.Minute - 30*time.Second)
	e.set(t, name, cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeShadow}, false, "start comparing pending_payments against orders")

	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC()
	minute := func(i int) time.Time { return now.Add(-time.Duration(i) * time.Minute) }
	key := func() string { return fmt.Sprintf("order-%d", 10000+rng.IntN(90000)) }
	shadowMinute := func(i int) api.Aggregate {
		start := minute(i)
		calls := int64(380 + rng.IntN(80))
		// A burst of stale IDs around 20 minutes ago, then a fix.
		rate := 0.004 + 0.002*rng.Float64()
		if i > 15 && i < 25 {
			rate = 0.02 + 0.01*rng.Float64()
		}
		mismatches := int64(math.Round(float64(calls) * rate))
		oldErr, newErr := int64(rng.IntN(2)), int64(rng.IntN(3))
		oldLat, newLat := map[float64]float64{}, map[float64]float64{}
		for range 200 {
			oldLat[0.009+0.006*rng.ExpFloat64()*0.5] += 1
			newLat[0.006+0.004*rng.ExpFloat64()*0.5] += 1
		}
		oldLat[0.045+0.01*rng.Float64()] += 3
		newLat[0.030+0.01*rng.Float64()] += 3
		a := api.Aggregate{
			Migration: name, Operation: "CustomerID", Kind: "read", Mode: cutover.ModeShadow,
			Start: start, End: start.Add(time.Minute),
			Counts:     map[cutover.Outcome]int64{cutover.OutcomeMatch: calls - mismatches - newErr, cutover.OutcomeMismatch: mismatches, cutover.OutcomeError: newErr},
			OldErrors:  oldErr,
			NewErrors:  newErr,
			OldLatency: sketch(t, oldLat), NewLatency: sketch(t, newLat),
		}
		a.Groups = []api.Group{{
			Signature: ".CustomerID", Outcome: cutover.OutcomeMismatch, Count: mismatches * 8 / 10,
			Samples: []api.Sample{{Key: key(), Time: start, Diffs: []diff.Difference{{Path: ".CustomerID", Old: fmt.Sprint(7000 + rng.IntN(999)), New: fmt.Sprint(7000 + rng.IntN(999))}}}},
		}, {
			Signature: ".Items[*].Price", Outcome: cutover.OutcomeMismatch, Count: mismatches - mismatches*8/10,
			Samples: []api.Sample{{Key: key(), Time: start, Diffs: []diff.Difference{
				{Path: fmt.Sprintf(".Items[%d].Price", rng.IntN(4)), Old: "1999", New: "2000"},
				{Path: ".Total", Old: "5997", New: "5998"},
			}}},
		}}
		if newErr > 0 {
			a.Groups = append(a.Groups, api.Group{
				Signature: "", Outcome: cutover.OutcomeError, Count: newErr,
				Samples: []api.Sample{{Key: key(), Time: start, NewError: "pending_payments: sql: no rows in result set"}},
			})
		}
		return a
	}
	var aggs []api.Aggregate
	for i := 59; i >= 9; i-- {
		aggs = append(aggs, shadowMinute(i))
	}
	e.ingest(t, aggs...)

	// A canary to reverse-shadow, forced past the gates, and the guard
	// taking it back when new disagrees too often.
	clk.at(-8 * time.Minute)
	m, err := e.svc.Migration(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.SetRollout(ctx, "alice", name, api.RolloutChange{
		Mode: cutover.ModeShadow, Treatment: cutover.ModeReverseShadow, Percent: 10,
		Reason: "canary: serve 10% from pending_payments before the 10 minutes are up", Force: true, Version: m.Version,
	}); err != nil {
		t.Fatal(err)
	}
	aggs = nil
	for i := 8; i >= 5; i-- {
		aggs = append(aggs, shadowMinute(i), api.Aggregate{
			Migration: name, Operation: "CustomerID", Kind: "read", Mode: cutover.ModeReverseShadow,
			Start: minute(i), End: minute(i).Add(time.Minute),
			Counts: map[cutover.Outcome]int64{cutover.OutcomeMatch: 40, cutover.OutcomeMismatch: 3, cutover.OutcomeFallback: 1},
			Groups: []api.Group{{Signature: ".CustomerID", Outcome: cutover.OutcomeMismatch, Count: 3,
				Samples: []api.Sample{{Key: key(), Time: minute(i), Diffs: []diff.Difference{{Path: ".CustomerID", Old: "7731", New: "7713"}}}}}},
		})
	}
	e.ingest(t, aggs...)
	clk.at(-4 * time.Minute)
	changes, err := e.svc.Check(ctx)
	if err != nil || len(changes) != 1 {
		t.Fatalf("the guard made %d changes (%v), want its rollback", len(changes), err)
	}
	clk.at(0)
	aggs = nil
	for i := 4; i >= 0; i-- {
		aggs = append(aggs, shadowMinute(i))
	}
	e.ingest(t, aggs...)
}

// TestBrowserEvidence renders a migration page with an hour of evidence:
// charts, mismatch groups, gates in words, and the guard's rollback
// marked in the history. With CUTOVER_SCREENSHOTS set, its screenshot is
// the one in docs/dashboard.png.
func TestBrowserEvidence(t *testing.T) {
	clk := &clock{}
	e := start(t, slow, servertest.WithNow(clk.Now))
	seedEvidence(t, e, clk, "orders-customer-id")
	e.create(t, "invoices-v2", nil)
	ctx := tab(t)
	signInBrowser(t, ctx, e.URL, e.token(t, "alice", api.ScopeOperator))
	screenshot(t, ctx, "overview-evidence")
	run(t, ctx,
		chromedp.Navigate(e.URL+"/migrations/orders-customer-id"),
		chromedp.WaitVisible(chromedp.CSS("#history .change.automatic")),
	)
	contains(t, "guard rollback", text(t, ctx, "#history .change.automatic"), "guard", "guard rollback", "→ shadow for 100% of keys")
	contains(t, "gates", text(t, ctx, "#gate-words"), "mismatch bound", "> 0.1%")
	groups := eval[[]string](t, ctx, `[...document.querySelectorAll("#mismatches .signature")].map(e => e.textContent)`)
	if len(groups) < 3 || groups[0] != ".CustomerID" {
		t.Errorf("mismatch groups %q, want .CustomerID first of at least 3", groups)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("svg.chart path.series").length`); n < 6 {
		t.Errorf("%d chart lines, want match, 4 latencies and 2 error rates", n)
	}
	screenshot(t, ctx, "migration")

	run(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("timeline")))
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 400 {
		t.Errorf("the migration page is %d px wide on a 390 px phone", w)
	}
	screenshot(t, ctx, "migration-phone")
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/examples/orders"
	"github.com/cutover/cutover/internal/demo"
	"github.com/cutover/cutover/server/app"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "run the control plane, dashboard and the orders → pendingPayments example with live traffic",
		usage:   "[--listen ADDR] [--data DIR] [--rate N] | --walk",
		run:     runDemo,
	})
}

func runDemo(ctx context.Context, e *env, args []string) error {
	c := commands["demo"]
	fs := newFlagSet(e, c)
	listen := fs.String("listen", app.DefaultListen, "serve the control plane and dashboard on `ADDR`")
	dataDir := fs.String("data", "", "keep the demo's data in `DIR` (default: a temporary directory, removed at exit)")
	rate := fs.Int("rate", 40, "the demo service's reads per second")
	nOrders := fs.Int("orders", 5000, "orders to seed")
	walk := fs.Bool("walk", false, "instead: walk the four modes in-process, print what each shows, and exit")
	calls := fs.Int("calls", 2000, "with --walk: reads per mode")
	seed := fs.Uint64("seed", 1, "with --walk: random seed, for a repeatable run")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %q; see cutover demo -h", fs.Args())
	}
	if *nOrders < 10 || *calls < 1 || *rate < 1 {
		return usageError("--orders must be at least 10, --calls and --rate at least 1")
	}
	if !*walk {
		return demo.Run(ctx, demo.Options{Listen: *listen, DataDir: *dataDir, Orders: *nOrders, Rate: *rate}, e.stdout)
	}
	dir, cleanup, err := demo.DataDir(*dataDir)
	if err != nil {
		return err
	}
	defer cleanup()
	return demoWalk(ctx, e.stdout, filepath.Join(dir, "walk-orders.db"), *nOrders, *calls, *seed)
}

// demoWalk seeds the orders database and walks the migration through
// old → shadow → reverse-shadow → new, printing what each mode shows.
func demoWalk(ctx context.Context, out io.Writer, dbPath string, nOrders, calls int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	db, err := orders.Open(dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	stale, missing, err := orders.Seed(ctx, db, nOrders, 0.02, 0.01, rng)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "cutover demo: %d orders in %s\n", nOrders, dbPath)
	fmt.Fprintf(out, "  planted: %d stale customer IDs and %d missing rows in pendingPayments\n\n", stale, missing)

	counter := &demoCounter{}
	m, err := cutover.New(cutover.Config{Name: orders.MigrationName, Sinks: []cutover.Sink{counter}})
	if err != nil {
		return err
	}
	defer m.Close(context.Background())
	svc := orders.NewService(db, m)
	nextID := int64(nOrders)

	steps := []struct {
		mode  cutover.Mode
		fault bool
		say   string
	}{
		{cutover.ModeOld, false, "legacy only: callers read orders.customer_id; nothing is compared"},
		{cutover.ModeShadow, false, "both run; callers still get orders; every difference is measured"},
		{cutover.ModeReverseShadow, false, "callers get pendingPayments; orders keeps running as validator and fallback"},
		{cutover.ModeReverseShadow, true, "a fault in the new path: callers fall back to orders, nobody sees an error"},
		{cutover.ModeNew, false, "new only: orders is retired from the read path"},
	}
	for _, st := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := m.SetRollout(cutover.Rollout{Mode: st.mode}); err != nil {
			return err
		}
		svc.FailNew.Store(st.fault)
		counter.reset()
		before := m.Stats()
		callerErrors := 0
		for range calls {
			id := int64(1 + rng.IntN(nOrders))
			if _, err := svc.CustomerID(ctx, id); err != nil {
				callerErrors++
			}
		}
		writes, writeErrors := 0, 0
		for range calls / 100 {
			nextID++
			if err := svc.CreateOrder(ctx, orders.NewOrder{ID: nextID, CustomerID: fmt.Sprintf("cust-%04d", rng.IntN(1000)), AmountCents: 500}); err != nil {
				writeErrors++
			} else {
				writes++
			}
		}
		drainCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := m.Drain(drainCtx)
		cancel()
		if err != nil {
			return err
		}
		after := m.Stats()
		title := st.mode.String()
		if st.fault {
			title += " + fault"
		}
		fmt.Fprintf(out, "== %s: %s\n", title, st.say)
		fmt.Fprintf(out, "   %d reads (%d returned an error to the caller), %d writes (%d failed)\n", calls, callerErrors, writes+writeErrors, writeErrors)
		if st.fault && writeErrors > 0 {
			fmt.Fprintln(out, "   writes fail: in reverse-shadow new is the authoritative store, and its failure is the caller's")
		}
		if st.mode.Compares() {
			var parts []string
			for _, o := range cutover.Outcomes {
				if d := after.Outcomes[o] - before.Outcomes[o]; d > 0 {
					parts = append(parts, fmt.Sprintf("%s %d", o, d))
				}
			}
			fmt.Fprintf(out, "   outcomes: %v\n", parts)
			for _, g := range counter.top(3) {
				fmt.Fprintf(out, "   %5d × %-12s %-22s e.g. %s\n", g.n, g.outcome, g.signature, g.example)
			}
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out, "Next: the same code runs behind a control plane, with a dashboard and promotion gates —")
	fmt.Fprintln(out, "run `cutover demo` without --walk to see it live.")
	return nil
}

// demoCounter groups observations by outcome and signature.
type demoCounter struct {
	mu     sync.Mutex
	groups map[[2]string]*demoGroup
}

type demoGroup struct {
	outcome, signature, example string
	n                           int
}

func (c *demoCounter) Enabled(o cutover.Outcome) bool { return o != cutover.OutcomeMatch }

func (c *demoCounter) Observe(_ context.Context, o *cutover.Observation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.groups == nil {
		c.groups = map[[2]string]*demoGroup{}
	}
	k := [2]string{o.Outcome.String(), o.Signature}
	g := c.groups[k]
	if g == nil {
		g = &demoGroup{outcome: k[0], signature: k[1]}
		switch {
		case len(o.Diffs) > 0:
			g.example = o.Key + " " + o.Diffs[0].Old + " → " + o.Diffs[0].New
		case o.New.Err != nil:
			g.example = o.Key + ": " + o.New.Err.Error()
		case o.Old.Err != nil:
			g.example = o.Key + ": " + o.Old.Err.Error()
		default:
			g.example = o.Key
		}
		c.groups[k] = g
	}
	g.n++
}

func (c *demoCounter) reset() {
	c.mu.Lock()
	c.groups = nil
	c.mu.Unlock()
}

func (c *demoCounter) top(n int) []demoGroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	var gs []demoGroup
	for _, g := range c.groups {
		gs = append(gs, *g)
	}
	sort.Slice(gs, func(i, j int) bool {
		return gs[i].n > gs[j].n || (gs[i].n == gs[j].n && gs[i].signature < gs[j].signature)
	})
	if len(gs) > n {
		gs = gs[:n]
	}
	return gs
}

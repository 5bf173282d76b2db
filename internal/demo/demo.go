// Package demo runs `cutover demo`: the control plane with its dashboard on
// an embedded SQLite database, and the orders → pendingPayments example
// service with live synthetic traffic, wired to the control plane through
// the SDK client (rollout source and reporter). Everything is real: two
// SQLite databases, HTTP on loopback, the same code paths a production
// service uses.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/client"
	"github.com/cutover/cutover/examples/orders"
	"github.com/cutover/cutover/server"
	"github.com/cutover/cutover/server/app"
	"github.com/cutover/cutover/server/dashboard"
)

// Options configure a demo run. Every zero field has the default its
// comment states.
type Options struct {
	// Listen is the control plane's address. Zero: 127.0.0.1:8080.
	Listen string
	// ServiceListen is the demo service's address. Zero: a free loopback port.
	ServiceListen string
	// DataDir keeps the data across runs. Zero: a temporary directory,
	// removed when the demo ends.
	DataDir string
	// Orders is the number of orders seeded. Zero: 5000.
	Orders int
	// Rate is the demo service's reads per second. Zero: 40.
	Rate int
	// Logger receives the parts' own logs. Zero: warnings and errors to
	// stderr.
	Logger *slog.Logger
	// Ready, if set, is called with the demo's addresses and token once
	// everything runs (tests use it).
	Ready func(Info)
}

// Info is what a user needs to reach a running demo.
type Info struct {
	URL        string // the control plane and dashboard
	ServiceURL string // the demo service
	Token      string // an admin token, to sign in and to use the CLI
	DataDir    string
}

// ErrAddressInUse is returned (wrapped) when the control plane's address is
// taken.
var ErrAddressInUse = errors.New("address already in use")

// DataDir makes the demo's data directory: dir, created if need be, or a new
// temporary directory when dir is "". cleanup removes a temporary directory
// and leaves a given one alone.
func DataDir(dir string) (path string, cleanup func(), err error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "cutover-demo-")
		if err != nil {
			return "", nil, fmt.Errorf("creating a temporary directory: %w", err)
		}
		return tmp, func() { os.RemoveAll(tmp) }, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("creating --data %s: %w", dir, err)
	}
	return dir, func() {}, nil
}

// Run runs the demo until ctx is done, printing a guide to out.
func Run(ctx context.Context, opts Options, out io.Writer) (err error) {
	if opts.Listen == "" {
		opts.Listen = app.DefaultListen
	}
	if opts.ServiceListen == "" {
		opts.ServiceListen = "127.0.0.1:0"
	}
	if opts.Orders == 0 {
		opts.Orders = 5000
	}
	if opts.Rate == 0 {
		opts.Rate = 40
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	dir, cleanup, err := DataDir(opts.DataDir)
	if err != nil {
		return err
	}
	defer cleanup()

	// The control plane, with gates and a guard tuned to a demo's minutes
	// rather than production's hours.
	gates := api.Gates{MinComparisons: 300, MinTimeAtFull: api.Duration(20 * time.Second),
		MaxMismatchRate: 0.08, MaxNewErrorRate: 0.05}
	guard := api.Guard{Window: api.Duration(time.Minute), MinSamples: 100,
		MaxMismatchRate: 0.2, MaxNewErrorRate: 0.2}
	cp, err := app.Open(ctx, app.Config{
		UI: func(svc *server.Service, log *slog.Logger) http.Handler {
			return dashboard.New(svc, dashboard.Config{Logger: log})
		},
		Listen: opts.Listen, DataDir: filepath.Join(dir, "control-plane"),
		GuardInterval: 2 * time.Second, Logger: log, Gates: &gates, Guard: &guard})
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s is taken (%w): stop what runs there, or choose another address with --listen 127.0.0.1:8090", opts.Listen, ErrAddressInUse)
		}
		return fmt.Errorf("starting the control plane: %w", err)
	}
	cp.Start()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if serr := cp.Shutdown(sctx); serr != nil && err == nil {
			err = fmt.Errorf("stopping the control plane: %w", serr)
		}
	}()
	svc := cp.Service()
	admin, err := svc.CreateToken(ctx, api.CreateToken{Name: "demo admin " + time.Now().UTC().Format("15:04:05"), Scope: api.ScopeAdmin})
	if err != nil {
		return fmt.Errorf("making the demo's admin token: %w", err)
	}
	sdk, err := svc.CreateToken(ctx, api.CreateToken{Name: "demo service", Scope: api.ScopeSDK})
	if err != nil {
		return fmt.Errorf("making the demo service's token: %w", err)
	}
	if _, err := svc.CreateMigration(ctx, "demo", api.CreateMigration{Name: orders.MigrationName,
		Description: "charging needs an order's customer ID: read it from pendingPayments instead of orders"}); err != nil &&
		!isConflict(err) {
		return fmt.Errorf("creating the example migration: %w", err)
	}

	// The example service: its own SQLite database, wired to the control
	// plane like any production service.
	db, err := orders.Open(filepath.Join(dir, "orders.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var count int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM orders`).Scan(&count); err != nil {
		return err
	}
	stale, missing := 0, 0
	if count == 0 {
		if stale, missing, err = orders.Seed(ctx, db, opts.Orders, 0.03, 0.01, rng); err != nil {
			return err
		}
		count = opts.Orders
	}
	c, err := client.New(cp.URL(), sdk.Secret, client.Options{Logger: log})
	if err != nil {
		return err
	}
	source := c.Source(client.SourceOptions{CacheFile: filepath.Join(dir, "rollouts.cache.json")})
	defer source.Close()
	reporter := c.Reporter(client.ReporterOptions{Instance: "demo-service", FlushInterval: 2 * time.Second})
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		reporter.Close(cctx)
	}()
	m, err := cutover.New(cutover.Config{Name: orders.MigrationName, Source: source,
		Sinks: []cutover.Sink{reporter}, Logger: log, ShadowTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m.Close(cctx)
	}()
	service := orders.NewService(db, m)

	ln, err := net.Listen("tcp", opts.ServiceListen)
	if err != nil {
		return fmt.Errorf("demo service: listening on %s: %w", opts.ServiceListen, err)
	}
	hs := &http.Server{Handler: serviceHandler(service), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()

	info := Info{URL: cp.URL(), ServiceURL: "http://" + ln.Addr().String(), Token: admin.Secret, DataDir: dir}
	printGuide(out, info, opts, count, stale, missing)
	if opts.Ready != nil {
		opts.Ready(info)
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		traffic(ctx, service, count, opts.Rate, rng)
	}()
	<-ctx.Done()
	wg.Wait()
	fmt.Fprintln(out, "\ncutover demo: stopping")
	return nil
}

func isConflict(err error) bool { return server.ErrorCode(err) == api.CodeConflict }

// traffic reads customer IDs of random orders at rate per second, and
// creates an order every 20 reads, until ctx is done.
func traffic(ctx context.Context, s *orders.Service, n, rate int, rng *rand.Rand) {
	t := time.NewTicker(time.Second / time.Duration(rate))
	defer t.Stop()
	nextID := int64(n) + int64(rng.IntN(1_000_000))*1000 // no clash with an earlier run's orders
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if i%20 == 19 {
			nextID++
			s.CreateOrder(ctx, orders.NewOrder{ID: nextID, CustomerID: fmt.Sprintf("cust-%04d", rng.IntN(1000)), AmountCents: 1999})
			continue
		}
		s.CustomerID(ctx, int64(1+rng.IntN(n)))
	}
}

// serviceHandler is the demo service's HTTP face: a read, and the fault
// switch.
func serviceHandler(s *orders.Service) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}/customer", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			http.Error(w, "order id: want an integer", http.StatusBadRequest)
			return
		}
		c, err := s.CustomerID(r.Context(), id)
		switch {
		case errors.Is(err, orders.ErrNotFound):
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, c)
	})
	mux.HandleFunc("POST /fault", func(w http.ResponseWriter, r *http.Request) {
		on, err := strconv.ParseBool(r.URL.Query().Get("on"))
		if err != nil {
			http.Error(w, "on: want true or false", http.StatusBadRequest)
			return
		}
		s.FailNew.Store(on)
		fmt.Fprintf(w, "fault in the new path: %v\n", on)
	})
	return mux
}

func printGuide(out io.Writer, info Info, opts Options, count, stale, missing int) {
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	p("cutover demo is running. Ctrl-C stops it.")
	p("")
	p("  dashboard & API   %s", info.URL)
	p("  sign-in token     %s", info.Token)
	p("  demo service      %s  (GET /orders/{id}/customer, POST /fault?on=true)", info.ServiceURL)
	if opts.DataDir == "" {
		p("  data              %s (removed at exit; --data DIR keeps it)", info.DataDir)
	} else {
		p("  data              %s", info.DataDir)
	}
	p("")
	if stale+missing > 0 {
		p("The service reads each order's customer ID from `orders` (old) or `pendingPayments` (new):")
		p("%d orders, of which %d have a stale customer ID and %d no row in pendingPayments.", count, stale, missing)
		p("")
	}
	p("Try it (in another terminal):")
	p("  export CUTOVER_SERVER=%s CUTOVER_TOKEN=%s", info.URL, info.Token)
	p("  go run ./cmd/cutover status")
	p("  go run ./cmd/cutover set %s --mode shadow --reason 'start comparing'", orders.MigrationName)
	p("      → mismatch groups appear on the dashboard: the stale IDs and the missing rows")
	p("  go run ./cmd/cutover set %s --mode reverse-shadow --reason 'serve from pendingPayments'", orders.MigrationName)
	p("      → refused until the gates have their evidence (300 comparisons, 20 s at 100%%)")
	p("  curl -X POST '%s/fault?on=true'", info.ServiceURL)
	p("      → new fails, callers fall back to orders, and the guard moves back to shadow by itself")
	p("  go run ./cmd/cutover history %s", orders.MigrationName)
}

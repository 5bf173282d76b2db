// Command orders-service is the orders → pendingPayments example migration
// as a standalone service, written to be copied: the wiring a production
// service needs around package [orders], and nothing else.
//
// It opens (and, when empty, seeds) a SQLite database, follows the
// migration's rollout from a watched JSON file or from the control plane,
// logs every discrepancy, exposes Prometheus metrics, serves
//
//	GET  /orders/{id}/customer   the order's customer ID, read in the migration's mode
//	POST /orders                 {"id": 1, "customer_id": "cust-0001", "amount_cents": 500}
//	GET  /metrics                Prometheus
//	GET  /healthz
//
// and stops cleanly on SIGINT or SIGTERM: the HTTP server first, then the
// migration (its shadow work and queued observations), then the reporter
// and the rollout source.
//
//	go run ./examples/orders/cmd/orders-service --rollout-file examples/orders/cmd/orders-service/rollouts.json
//	go run ./examples/orders/cmd/orders-service --server http://127.0.0.1:8080 --token "$SDK_TOKEN"
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/client"
	"github.com/cutover/cutover/examples/orders"
	"github.com/cutover/cutover/metrics"
	"github.com/cutover/cutover/rolloutfile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "orders-service:", err)
		os.Exit(1)
	}
}

// divergenceSchema is the repair queue: the keys whose second write failed.
// A job (or a person) replays them from the authoritative store.
const divergenceSchema = `
CREATE TABLE IF NOT EXISTS divergences (
	key        TEXT NOT NULL,
	operation  TEXT NOT NULL,
	mode       TEXT NOT NULL,
	error      TEXT NOT NULL,
	at         TEXT NOT NULL
);`

// run is the whole program; ready, if set, gets the address it listens on.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("orders-service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "TCP address to serve on (port 0 picks a free one)")
	dbPath := fs.String("db", "orders.db", "the SQLite database holding both tables")
	seed := fs.Int("seed", 1000, "orders to seed when the database is empty, with a few deliberate inconsistencies")
	rolloutFile := fs.String("rollout-file", "", "follow the rollout from this JSON file (watched and reloaded)")
	server := fs.String("server", "", "follow the rollout from this control plane and report to it (env CUTOVER_SERVER)")
	token := fs.String("token", "", "the control plane's sdk token (env CUTOVER_TOKEN)")
	cacheFile := fs.String("cache-file", "", "with --server: where to keep the last known rollout while the server is away")
	mode := fs.String("mode", "old", "the mode when neither --rollout-file nor --server is given")
	logLevel := fs.String("log-level", "info", "debug (logs matches too), info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *server == "" {
		*server = getenv("CUTOVER_SERVER")
	}
	if *token == "" {
		*token = getenv("CUTOVER_TOKEN")
	}
	if *server != "" && *rolloutFile != "" {
		return errors.New("--server and --rollout-file both give the rollout: choose one")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	db, err := orders.Open(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, divergenceSchema); err != nil {
		return fmt.Errorf("creating the divergences table: %w", err)
	}
	if err := seedIfEmpty(ctx, db, *seed, stdout); err != nil {
		return err
	}

	// Metrics on a registry of our own, never the global one.
	reg := prometheus.NewRegistry()
	promSink, err := metrics.NewSink(reg, metrics.SinkOptions{})
	if err != nil {
		return err
	}
	cfg := cutover.Config{
		Name:   orders.MigrationName,
		Sinks:  []cutover.Sink{cutover.NewLogSink(log), promSink},
		Logger: log,
		// A failed second write is never the caller's error: remember the
		// key so the stores can be repaired.
		OnDivergence: func(ctx context.Context, o *cutover.Observation) {
			failed := o.New.Err
			if o.Mode == cutover.ModeReverseShadow {
				failed = o.Old.Err
			}
			msg := fmt.Sprint(failed)
			if _, err := db.ExecContext(context.WithoutCancel(ctx),
				`INSERT INTO divergences(key, operation, mode, error, at) VALUES (?, ?, ?, ?, ?)`,
				o.Key, o.Operation, o.Mode.String(), msg, o.Time.UTC().Format(time.RFC3339Nano)); err != nil {
				log.Error("divergence not recorded: repair by hand", "key", o.Key, "err", err)
			}
		},
	}

	// Closed in reverse order of opening, after the migration: the
	// migration's last observations reach the reporter, which sends them.
	var closers []func(context.Context)
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i](cctx)
		}
	}()
	switch {
	case *rolloutFile != "":
		src, err := rolloutfile.Open(*rolloutFile, rolloutfile.Options{Logger: log, Registerer: reg})
		if err != nil {
			return err
		}
		closers = append(closers, func(context.Context) { src.Close() })
		cfg.Source = src
	case *server != "":
		c, err := client.New(*server, *token, client.Options{Logger: log})
		if err != nil {
			return fmt.Errorf("--server: %w", err)
		}
		src := c.Source(client.SourceOptions{CacheFile: *cacheFile})
		closers = append(closers, func(context.Context) { src.Close() })
		rep := c.Reporter(client.ReporterOptions{})
		closers = append(closers, func(ctx context.Context) {
			if err := rep.Close(ctx); err != nil {
				log.Warn("some evidence was not sent to the control plane", "err", err)
			}
		})
		cfg.Source = src
		cfg.Sinks = append(cfg.Sinks, rep)
	default:
		m, err := cutover.ParseMode(*mode)
		if err != nil {
			return fmt.Errorf("--mode: %w", err)
		}
		cfg.Rollout = cutover.Rollout{Mode: m}
	}

	m, err := cutover.New(cfg)
	if err != nil {
		return err
	}
	closers = append(closers, func(ctx context.Context) {
		if err := m.Close(ctx); err != nil {
			log.Warn("shadow work still running at exit", "err", err)
		}
	})
	if err := metrics.Track(reg, m); err != nil {
		return err
	}
	svc := orders.NewService(db, m)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: handler(svc, reg), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "orders-service listening on http://%s (migration %s: %s)\n", ln.Addr(), m.Name(), m.Rollout())
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx)
	<-served
	fmt.Fprintln(stdout, "orders-service stopped")
	return err
}

func seedIfEmpty(ctx context.Context, db *sql.DB, n int, stdout io.Writer) error {
	var count int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM orders`).Scan(&count); err != nil {
		return err
	}
	if count > 0 || n <= 0 {
		return nil
	}
	stale, missing, err := orders.Seed(ctx, db, n, 0.02, 0.01, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %d orders: %d with a stale customer ID in pendingPayments, %d missing there\n", n, stale, missing)
	return nil
}

// handler is the service's HTTP face.
func handler(svc *orders.Service, reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}/customer", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			http.Error(w, "order id: want an integer", http.StatusBadRequest)
			return
		}
		c, err := svc.CustomerID(r.Context(), id)
		switch {
		case errors.Is(err, orders.ErrNotFound):
			http.Error(w, err.Error(), http.StatusNotFound)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			fmt.Fprintln(w, c)
		}
	})
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		var o struct {
			ID          int64  `json:"id"`
			CustomerID  string `json:"customer_id"`
			AmountCents int64  `json:"amount_cents"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil || o.ID <= 0 || strings.TrimSpace(o.CustomerID) == "" {
			http.Error(w, `want {"id": 1, "customer_id": "cust-0001", "amount_cents": 500}`, http.StatusBadRequest)
			return
		}
		if err := svc.CreateOrder(r.Context(), orders.NewOrder{ID: o.ID, CustomerID: o.CustomerID, AmountCents: o.AmountCents}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	return mux
}

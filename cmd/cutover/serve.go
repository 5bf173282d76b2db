package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/cutover/cutover/server"
	"github.com/cutover/cutover/server/app"
	"github.com/cutover/cutover/server/dashboard"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "run the control plane: REST API, watch stream, report ingest, gates and guard",
		usage:   "[--listen ADDR] [--data DIR | --db URL] [--guard-interval D]",
		run:     runServe,
	})
}

// runServe starts the control plane and serves until ctx ends (SIGINT,
// SIGTERM), then shuts down gracefully.
func runServe(ctx context.Context, e *env, args []string) error {
	c := commands["serve"]
	fs := newFlagSet(e, c)
	listen := fs.String("listen", app.DefaultListen, "TCP address to serve on (port 0 picks a free one)")
	data := fs.String("data", app.DefaultDataDir, "data directory of the embedded SQLite database ("+app.DatabaseFile+")")
	db := fs.String("db", "", "database URL instead of --data: postgres://USER@HOST/DB for several replicas, or sqlite:///path/to/file.db")
	guard := fs.Duration("guard-interval", app.DefaultGuardInterval, "how often the guard checks reverse-shadow migrations (0 turns it off)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	withDashboard := fs.Bool("dashboard", true, "serve the dashboard's web pages at / (sign in with a token)")
	secureCookies := fs.Bool("secure-cookies", false, "mark the dashboard's cookies Secure even over plain HTTP: set it behind a TLS-terminating proxy")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments %q: serve takes flags only", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageError("--log-level %q: use debug, info, warn or error", *logLevel)
	}
	interval := *guard
	if interval == 0 {
		interval = -1
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var ui func(*server.Service, *slog.Logger) http.Handler
	if *withDashboard {
		ui = func(svc *server.Service, log *slog.Logger) http.Handler {
			return dashboard.New(svc, dashboard.Config{Logger: log, SecureCookies: *secureCookies})
		}
	}
	a, err := app.Open(openCtx, app.Config{
		UI:            ui,
		Listen:        *listen,
		DataDir:       *data,
		DB:            *db,
		GuardInterval: interval,
		AdminToken:    e.getenv("CUTOVER_ADMIN_TOKEN"),
		Logger:        log,
	})
	if err != nil {
		return err
	}
	if a.AdminSecret != "" {
		fmt.Fprintf(e.stdout, "admin token (shown once): %s\n", a.AdminSecret)
	}
	fmt.Fprintf(e.stdout, "database: %s\n", a.Database)
	fmt.Fprintf(e.stdout, "listening on %s\n", a.URL())
	err = a.Run(ctx)
	if err == nil {
		fmt.Fprintln(e.stdout, "stopped")
	}
	return err
}

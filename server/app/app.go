// Package app wires a whole control plane: the store named by the
// configuration (SQLite in a data directory, or PostgreSQL), the
// server.Service, the guard, and the HTTP server. `cutover serve` and
// package servertest both start servers through it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/server"
	"github.com/cutover/cutover/server/httpapi"
	"github.com/cutover/cutover/server/postgres"
	"github.com/cutover/cutover/server/sqlite"
)

// Defaults of [Config].
const (
	DefaultListen        = "127.0.0.1:8080"
	DefaultDataDir       = "./cutover-data"
	DefaultGuardInterval = 10 * time.Second
	// DatabaseFile is the SQLite file's name inside the data directory.
	DatabaseFile = "cutover.db"
)

// Config configures a server. Every zero field has the default its comment
// states.
type Config struct {
	// Listen is the TCP address to serve on; port 0 picks a free one.
	// Zero: DefaultListen.
	Listen string
	// DataDir holds the SQLite database when DB is empty.
	// Zero: DefaultDataDir.
	DataDir string
	// DB names the database: postgres://… (or postgresql://…) for
	// PostgreSQL, sqlite:///path/to/file.db for a SQLite file elsewhere.
	// Zero: DataDir/cutover.db.
	DB string
	// GuardInterval is how often the guard checks; negative turns the
	// guard's loop off (Service().Check still works). Zero:
	// DefaultGuardInterval.
	GuardInterval time.Duration
	// AdminToken, if set, is accepted as an administrator token (the
	// CUTOVER_ADMIN_TOKEN environment variable).
	AdminToken string
	// Logger receives the server's logs. Zero: slog.Default().
	Logger *slog.Logger
	// Now tells the service the time. Zero: time.Now.
	Now func() time.Time
	// Gates and Guard are the defaults of new migrations.
	// Zero: server.DefaultGates(), server.DefaultGuard().
	Gates *api.Gates
	Guard *api.Guard
	// Webhook configures the guard's notifications.
	Webhook server.WebhookConfig
	// Heartbeat and MaxBodyBytes configure the HTTP API (see httpapi.Config).
	Heartbeat    time.Duration
	MaxBodyBytes int64
	// UI, if set, makes the handler of the web pages (the dashboard) that
	// serves every path outside /api/ no API route takes. Zero: no pages.
	UI func(svc *server.Service, log *slog.Logger) http.Handler
}

// App is a running control plane.
type App struct {
	cfg      Config
	store    server.Store
	svc      *server.Service
	handler  *httpapi.Handler
	http     *http.Server
	listener net.Listener
	done     chan struct{} // closed at shutdown: ends the watch streams

	// AdminSecret is the administrator token made at this start because
	// there was none anywhere; empty otherwise. Show it once.
	AdminSecret string
	// Database describes the store ("sqlite /path" or "postgres host/db").
	Database string

	guardCancel  context.CancelFunc
	guardDone    chan struct{}
	serveErr     chan error
	shutdownOnce sync.Once
	shutdownErr  error
}

// OpenStore opens the store cfg names.
func OpenStore(ctx context.Context, cfg Config) (server.Store, string, error) {
	db := strings.TrimSpace(cfg.DB)
	switch {
	case strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://"):
		s, err := postgres.Open(ctx, db)
		if err != nil {
			return nil, "", err
		}
		desc := "postgres"
		if u, err := url.Parse(db); err == nil {
			desc = "postgres " + u.Host + u.Path
		}
		return s, desc, nil
	case strings.HasPrefix(db, "sqlite://"):
		u, err := url.Parse(db)
		if err != nil {
			return nil, "", fmt.Errorf("--db %q: %w", db, err)
		}
		path := u.Path
		if u.Host != "" { // sqlite://relative/path
			path = u.Host + u.Path
		}
		if path == "" {
			return nil, "", fmt.Errorf("--db %q names no file: use sqlite:///absolute/path.db", db)
		}
		s, err := sqlite.Open(ctx, path)
		return s, "sqlite " + path, err
	case db == "":
		dir := cfg.DataDir
		if dir == "" {
			dir = DefaultDataDir
		}
		path := filepath.Join(dir, DatabaseFile)
		s, err := sqlite.Open(ctx, path)
		return s, "sqlite " + path, err
	}
	return nil, "", fmt.Errorf("--db %q: use postgres://USER@HOST/DB or sqlite:///path/to/file.db", db)
}

// Open opens the store, makes the first administrator token if there is
// none, and listens; [App.Serve] then serves.
func Open(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.GuardInterval == 0 {
		cfg.GuardInterval = DefaultGuardInterval
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	store, desc, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	svc, err := server.New(server.Config{
		Store: store, Now: cfg.Now, Logger: log, Gates: cfg.Gates, Guard: cfg.Guard,
		AdminToken: cfg.AdminToken, Webhook: cfg.Webhook,
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	secret, err := svc.EnsureAdminToken(ctx)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("making the first admin token: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	a := &App{
		cfg: cfg, store: store, svc: svc, listener: ln,
		done: make(chan struct{}), AdminSecret: secret, Database: desc,
		serveErr: make(chan error, 1),
	}
	var ui http.Handler
	if cfg.UI != nil {
		ui = cfg.UI(svc, log)
	}
	a.handler = httpapi.New(httpapi.Config{
		Service: svc, Logger: log, Done: a.done,
		Heartbeat: cfg.Heartbeat, MaxBodyBytes: cfg.MaxBodyBytes, Fallback: ui,
	})
	a.http = &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return a, nil
}

// Service returns the server's service (for tests: Check, Stats, ...).
func (a *App) Service() *server.Service { return a.svc }

// Store returns the server's store.
func (a *App) Store() server.Store { return a.store }

// Handler returns the HTTP handler.
func (a *App) Handler() *httpapi.Handler { return a.handler }

// Addr returns the address the server listens on.
func (a *App) Addr() string { return a.listener.Addr().String() }

// URL returns the server's base URL, http://ADDR.
func (a *App) URL() string { return "http://" + a.Addr() }

// Start serves in the background: background work, the guard (unless
// GuardInterval is negative) and HTTP. Stop it with Shutdown.
func (a *App) Start() {
	a.svc.Start()
	gctx, cancel := context.WithCancel(context.Background())
	a.guardCancel = cancel
	a.guardDone = make(chan struct{})
	go func() {
		defer close(a.guardDone)
		if a.cfg.GuardInterval > 0 {
			a.svc.RunGuard(gctx, a.cfg.GuardInterval)
		}
	}()
	go func() {
		err := a.http.Serve(a.listener)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		a.serveErr <- err
	}()
}

// Run serves until ctx ends, then shuts down gracefully (bounded by 30s).
func (a *App) Run(ctx context.Context) error {
	a.Start()
	select {
	case <-ctx.Done():
	case err := <-a.serveErr:
		a.serveErr <- err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return a.Shutdown(sctx)
}

// Shutdown stops gracefully: it ends the watch streams, stops taking
// requests and waits for those in flight (so every acknowledged write is
// committed), stops the guard and background work, and closes the store.
// It is idempotent.
func (a *App) Shutdown(ctx context.Context) error {
	a.shutdownOnce.Do(func() {
		close(a.done)
		err := a.http.Shutdown(ctx)
		if err != nil {
			a.http.Close()
		}
		if a.guardCancel != nil {
			a.guardCancel()
			<-a.guardDone
		}
		a.svc.Close()
		if cerr := a.store.Close(); err == nil {
			err = cerr
		}
		if a.guardCancel != nil {
			if serr := <-a.serveErr; err == nil {
				err = serr
			}
		} else {
			a.listener.Close()
		}
		a.shutdownErr = err
	})
	return a.shutdownErr
}

// Package servertest starts a real control plane for tests: `cutover
// serve`'s wiring on a free loopback port, with SQLite in the test's
// temporary directory (or a PostgreSQL database), stopped when the test
// ends.
//
//	srv := servertest.Start(t)
//	c, _ := client.New(srv.URL, srv.Token(t, api.ScopeOperator), client.Options{})
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/server"
	"github.com/cutover/cutover/server/app"
)

// Server is a running control plane.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT.
	URL string
	// AdminToken is a token of scope admin.
	AdminToken string
	// Database describes the store ("sqlite /tmp/…/cutover.db").
	Database string

	app *app.App
}

type options struct {
	cfg app.Config
}

// Option configures Start.
type Option func(*options)

// WithPostgres stores in the PostgreSQL database at url (for example
// testenv.PostgresURL(t)) instead of SQLite.
func WithPostgres(url string) Option { return func(o *options) { o.cfg.DB = url } }

// WithDataDir stores the SQLite database in dir instead of tb.TempDir(),
// so that a second server can start on the same data.
func WithDataDir(dir string) Option { return func(o *options) { o.cfg.DataDir = dir } }

// WithGuardInterval runs the guard every d. The default is no guard loop:
// tests call Service().Check directly.
func WithGuardInterval(d time.Duration) Option {
	return func(o *options) { o.cfg.GuardInterval = d }
}

// WithNow gives the service a clock.
func WithNow(now func() time.Time) Option { return func(o *options) { o.cfg.Now = now } }

// WithGates sets the defaults of new migrations' gates.
func WithGates(g api.Gates) Option { return func(o *options) { o.cfg.Gates = &g } }

// WithGuard sets the defaults of new migrations' guard.
func WithGuard(g api.Guard) Option { return func(o *options) { o.cfg.Guard = &g } }

// WithWebhook configures the delivery of guard notifications.
func WithWebhook(w server.WebhookConfig) Option { return func(o *options) { o.cfg.Webhook = w } }

// WithHeartbeat sets the watch stream's heartbeat interval.
func WithHeartbeat(d time.Duration) Option { return func(o *options) { o.cfg.Heartbeat = d } }

// WithMaxBodyBytes bounds request bodies.
func WithMaxBodyBytes(n int64) Option { return func(o *options) { o.cfg.MaxBodyBytes = n } }

// WithLogger sends the server's logs to l (default: discarded unless the
// test fails, then they are in the test log).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.cfg.Logger = l } }

// WithUI serves web pages (the dashboard) outside /api/; see app.Config.UI.
func WithUI(ui func(svc *server.Service, log *slog.Logger) http.Handler) Option {
	return func(o *options) { o.cfg.UI = ui }
}

// WithAdminToken accepts secret as an admin token, as CUTOVER_ADMIN_TOKEN
// does.
func WithAdminToken(secret string) Option { return func(o *options) { o.cfg.AdminToken = secret } }

// Start starts a server on 127.0.0.1:0 and stops it when the test ends.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	o := options{cfg: app.Config{Listen: "127.0.0.1:0", GuardInterval: -1}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.cfg.DB == "" && o.cfg.DataDir == "" {
		o.cfg.DataDir = tb.TempDir()
	}
	if o.cfg.Logger == nil {
		o.cfg.Logger = slog.New(slog.NewTextHandler(&tbWriter{tb: tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.Open(ctx, o.cfg)
	if err != nil {
		tb.Fatalf("servertest: starting the server: %v", err)
	}
	a.Start()
	s := &Server{URL: a.URL(), Database: a.Database, app: a, AdminToken: o.cfg.AdminToken}
	if a.AdminSecret != "" {
		s.AdminToken = a.AdminSecret
	}
	if s.AdminToken == "" {
		// The data had an admin token from an earlier server: mint one.
		t, err := a.Service().CreateToken(ctx, api.CreateToken{Name: "servertest admin", Scope: api.ScopeAdmin})
		if err != nil {
			tb.Fatalf("servertest: minting an admin token: %v", err)
		}
		s.AdminToken = t.Secret
	}
	tb.Cleanup(func() { s.Stop(tb) })
	return s
}

// Stop shuts the server down gracefully; Cleanup calls it, and calling it
// again is harmless.
func (s *Server) Stop(tb testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.app.Shutdown(ctx); err != nil {
		tb.Errorf("servertest: stopping the server: %v", err)
	}
}

// Service returns the server's service: call Check to run the guard.
func (s *Server) Service() *server.Service { return s.app.Service() }

// App returns the whole server.
func (s *Server) App() *app.App { return s.app }

// Token mints a token of the given scope.
func (s *Server) Token(tb testing.TB, scope api.Scope) string {
	tb.Helper()
	t, err := s.app.Service().CreateToken(context.Background(), api.CreateToken{Name: "servertest " + string(scope), Scope: scope})
	if err != nil {
		tb.Fatalf("servertest: minting a %s token: %v", scope, err)
	}
	return t.Secret
}

// CreateMigration creates a migration through the API with the admin
// token and returns it.
func (s *Server) CreateMigration(tb testing.TB, req api.CreateMigration) api.Migration {
	tb.Helper()
	var m api.Migration
	if code := s.Do(tb, s.AdminToken, http.MethodPost, "/api/v1/migrations", req, &m); code != http.StatusCreated {
		tb.Fatalf("servertest: creating migration %q: status %d", req.Name, code)
	}
	return m
}

// Do sends a JSON request (body may be nil) with the token (may be empty)
// and decodes a 2xx answer into out (if not nil); it returns the status.
// An error answer is decoded into out only if out is *api.ErrorResponse.
func (s *Server) Do(tb testing.TB, token, method, path string, body, out any) int {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tb.Fatalf("servertest: encoding the body: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("servertest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("servertest: reading the answer of %s %s: %v", method, path, err)
	}
	_, wantsError := out.(*api.ErrorResponse)
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if out != nil && (ok || wantsError) {
		if err := json.Unmarshal(data, out); err != nil {
			tb.Fatalf("servertest: decoding the answer of %s %s (%d): %v: %s", method, path, resp.StatusCode, err, data)
		}
	}
	if !ok && !wantsError {
		tb.Logf("servertest: %s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	return resp.StatusCode
}

// tbWriter sends log lines to the test log.
type tbWriter struct{ tb testing.TB }

func (w *tbWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // logging after the test ended
	w.tb.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// Package httpapi is the control plane's HTTP face: the REST API of
// package api (version 1, under /api/v1), the server-sent-events watch
// stream, report ingest, and /healthz, /readyz and /metrics, over a
// [server.Service]. docs/api.md is its reference.
//
// Routing uses net/http's method and wildcard patterns. Every error answer
// is an [api.ErrorResponse]; the status follows its code (400 invalid, 401
// no or unknown token, 403 scope too small, 404 unknown migration, 409
// conflict, gate refusal or skipped mode, 413 body too large, 503 not
// ready). Handlers return errors; a panic becomes a 500 with its stack in
// the log.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/internal/httpx"
	"github.com/cutover/cutover/server"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultMaxBodyBytes bounds a request body when Config.MaxBodyBytes is
// zero: 4 MiB.
const DefaultMaxBodyBytes = 4 << 20

// DefaultHeartbeat is the interval of the watch stream's heartbeat
// comments when Config.Heartbeat is zero.
const DefaultHeartbeat = 15 * time.Second

// Config configures the [Handler]. Only Service is required; every other
// zero field has the default its comment states.
type Config struct {
	Service *server.Service
	// Logger receives internal errors and panics. Zero: slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies; larger ones get 413.
	// Zero: DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Heartbeat is the interval of the watch stream's keep-alive comments.
	// Zero: DefaultHeartbeat.
	Heartbeat time.Duration
	// Done, when closed, ends every watch stream (at shutdown: streams are
	// long-lived requests that http.Server.Shutdown would wait for).
	Done <-chan struct{}
	// Fallback, if set, serves the requests no route matches outside
	// /api/ (the dashboard's pages). Zero: a JSON 404.
	Fallback http.Handler
}

// Handler serves the API. Create it with [New].
type Handler struct {
	svc       *server.Service
	log       *slog.Logger
	metrics   *server.Metrics
	exporter  http.Handler // serves metrics.Registry
	maxBody   int64
	heartbeat time.Duration
	done      <-chan struct{}
	mux       *http.ServeMux
	fallback  bool // Config.Fallback is set
}

// New returns the handler of every route.
func New(cfg Config) *Handler {
	h := &Handler{
		svc: cfg.Service, log: cfg.Logger, metrics: cfg.Service.Metrics(),
		maxBody: cfg.MaxBodyBytes, heartbeat: cfg.Heartbeat, done: cfg.Done,
		mux: http.NewServeMux(),
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.heartbeat <= 0 {
		h.heartbeat = DefaultHeartbeat
	}
	h.exporter = promhttp.HandlerFor(h.metrics.Registry, promhttp.HandlerOpts{
		ErrorLog:      promLogger{h.log},
		ErrorHandling: promhttp.ContinueOnError, // a failed collector costs its metrics, not the page
	})
	for _, r := range h.routes() {
		h.mux.Handle(r.Pattern, h.wrap(r))
	}
	fallback := cfg.Fallback
	h.fallback = fallback != nil
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if fallback != nil && !strings.HasPrefix(r.URL.Path, "/api/") {
			fallback.ServeHTTP(w, r)
			return
		}
		h.writeError(w, r, server.Errorf(api.CodeNotFound, "no such endpoint: %s %s (see docs/api.md)", r.Method, r.URL.Path))
	})
	return h
}

// Route is one endpoint: its pattern, the scope it needs ("" for none),
// and a one-line summary (the reference in docs/api.md lists the same).
type Route struct {
	Pattern string
	Scope   api.Scope
	Summary string
	handle  func(w http.ResponseWriter, r *http.Request, p server.Principal) error
}

// Routes lists every endpoint, for documentation tests.
func (h *Handler) Routes() []Route { return h.routes() }

func (h *Handler) routes() []Route {
	return []Route{
		{"GET /healthz", "", "liveness: 200 while the process serves", h.healthz},
		{"GET /readyz", "", "readiness: 200 when the store answers, 503 otherwise", h.readyz},
		{"GET /metrics", "", "Prometheus metrics", h.metricsPage},
		{"GET /api/v1/migrations", api.ScopeSDK, "list migrations", h.listMigrations},
		{"POST /api/v1/migrations", api.ScopeAdmin, "create a migration", h.createMigration},
		{"GET /api/v1/migrations/{name}", api.ScopeSDK, "one migration", h.getMigration},
		{"PUT /api/v1/migrations/{name}/rollout", api.ScopeOperator, "change the rollout", h.setRollout},
		{"GET /api/v1/migrations/{name}/stats", api.ScopeOperator, "evidence over a window", h.stats},
		{"GET /api/v1/migrations/{name}/mismatches", api.ScopeOperator, "discrepancies by signature", h.mismatches},
		{"GET /api/v1/migrations/{name}/history", api.ScopeOperator, "audit history", h.history},
		{"POST /api/v1/migrations/{name}/verifications", api.ScopeOperator, "record a verify report", h.verification},
		{"GET /api/v1/watch", api.ScopeSDK, "server-sent events of rollout changes", h.watch},
		{"POST /api/v1/reports", api.ScopeSDK, "ingest a report batch", h.reports},
		{"POST /api/v1/tokens", api.ScopeAdmin, "create a token", h.createToken},
		{"GET /api/v1/tokens", api.ScopeAdmin, "list the tokens (never their secrets)", h.listTokens},
		{"DELETE /api/v1/tokens/{id}", api.ScopeAdmin, "revoke a token", h.revokeToken},
	}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &httpx.StatusWriter{ResponseWriter: w}
	defer func() {
		route := r.Pattern
		switch {
		case route == "/" && h.fallback && !strings.HasPrefix(r.URL.Path, "/api/"):
			route = "ui" // the dashboard's pages, one label for all
		case route == "" || route == "/":
			route = "unmatched"
		}
		code := sw.Status
		if code == 0 {
			code = http.StatusOK
		}
		h.metrics.Requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	}()
	h.mux.ServeHTTP(sw, r)
}

func (h *Handler) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.log.Error("panic serving a request", "route", rt.Pattern, "panic", v, "stack", string(debug.Stack()))
				h.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		var p server.Principal
		if rt.Scope != "" {
			var err error
			p, err = h.authenticate(r, rt.Scope)
			if err != nil {
				h.writeError(w, r, err)
				return
			}
		}
		if err := rt.handle(w, r, p); err != nil {
			h.writeError(w, r, err)
		}
	})
}

func (h *Handler) authenticate(r *http.Request, need api.Scope) (server.Principal, error) {
	auth := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		if auth != "" {
			return server.Principal{}, server.Errorf(api.CodeUnauthorized, "the Authorization header is not a bearer token: send Authorization: Bearer TOKEN")
		}
		return server.Principal{}, server.Errorf(api.CodeUnauthorized, "no token: send Authorization: Bearer TOKEN with a token of scope %s or more", need)
	}
	p, err := h.svc.Authenticate(r.Context(), strings.TrimSpace(secret))
	if err != nil {
		return p, err
	}
	if !p.Scope.Includes(need) {
		return p, server.Errorf(api.CodeForbidden, "this needs a token with scope %s (or a larger one); token %q has scope %s", need, p.Name, p.Scope)
	}
	return p, nil
}

// ---- answers ----

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *server.Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			return // the client went away
		}
		h.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		e = server.Errorf(api.CodeInternal, "internal error: the server log has the details")
	}
	body := api.ErrorResponse{Error: api.ErrorBody{
		Code: e.Code, Message: e.Message, Field: e.Field, CurrentVersion: e.CurrentVersion, Gate: e.Gate,
	}}
	if e.Code == api.CodeUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cutover"`)
	}
	writeJSON(w, api.HTTPStatus(e.Code), body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"encoding the answer failed"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decode reads a bounded body and decodes it strictly into v.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return server.Invalid("Content-Type", "is %q: send application/json", ct)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return server.Errorf(api.CodeTooLarge, "the body is larger than %d bytes: send less (report batches: flush more often)", mbe.Limit)
		}
		return server.Invalid("", "reading the body: %v", err)
	}
	if len(body) == 0 {
		return server.Invalid("", "the body is empty: send a JSON object")
	}
	if err := api.DecodeFields(body, v); err != nil {
		var fe *api.FieldError
		if errors.As(err, &fe) {
			return server.Invalid(fe.Field, "%v", fe.Err)
		}
		return server.Invalid("", "%v", err)
	}
	return nil
}

func durationParam(r *http.Request, name string) (time.Duration, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, server.Invalid(name, "%q is not a duration: use a Go duration such as 15m, 1h or 24h", s)
	}
	return d, nil
}

func intParam(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, server.Invalid(name, "%q is not a non-negative integer", s)
	}
	return n, nil
}

// ---- handlers ----

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request, _ server.Principal) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
	return nil
}

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request, _ server.Principal) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := h.svc.Store().Ping(ctx); err != nil {
		h.log.Warn("readiness: the store does not answer", "err", err)
		return server.Errorf(api.CodeUnavailable, "the database does not answer: %v", err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ready\n")
	return nil
}

func (h *Handler) metricsPage(w http.ResponseWriter, r *http.Request, _ server.Principal) error {
	h.exporter.ServeHTTP(w, r)
	return nil
}

// promLogger gives promhttp's errors (a collector failing) to the log.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) { l.log.Warn("serving /metrics", "err", fmt.Sprint(v...)) }

func (h *Handler) listMigrations(w http.ResponseWriter, r *http.Request, _ server.Principal) error {
	ms, err := h.svc.Migrations(r.Context())
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []api.Migration{}
	}
	writeJSON(w, http.StatusOK, ms)
	return nil
}

func (h *Handler) createMigration(w http.ResponseWriter, r *http.Request, p server.Principal) error {
	var req api.CreateMigration
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	m, err := h.svc.CreateMigration(r.Context(), p.Name, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/migrations/"+m.Name)
	writeJSON(w, http.StatusCreated, m)
	return nil
}

func (h *Handler) getMigration(w http.ResponseWriter, r *http.Request, _ server.Principal) error {
	m, err := h.svc.Migration(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (h *Handler) setRollout(w http.ResponseWriter, r *http.Request, p server.Principal) error {
	var req api.RolloutChange
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	m, _, err := h.svc.SetRollout(r.Context(), p.Name, r.PathValue("name"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (h *Handler) stats(w http.ResponseWriter, r *http.Request, _ server.Principal) error {
	window, err := durationParam(r, "window")
	if err != nil {
		return err
	}
	step, err := durationParam(r, "step")
	if err != nil {
		return err
	}
	st, err := h.svc.Stats(r.Context(), r.PathValue("name"), window, step)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (h *Handler) mismatches(w http.ResponseWriter, r *http.Request, _ server.Principal) error {
	window, err := durationParam(r, "window")
	if err != nil {
		return err
	}
	gs, err := h.svc.Mismatches(r.Context(), r.PathValue("name"), window)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, gs)
	return nil
}

func (h *Handler) history(w http.ResponseWriter, r *http.Request, _ server.Principal) error {
	after, err := intParam(r, "after")
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit")
	if err != nil {
		return err
	}
	cs, err := h.svc.History(r.Context(), r.PathValue("name"), after, int(min(limit, 100000)))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, cs)
	return nil
}

func (h *Handler) verification(w http.ResponseWriter, r *http.Request, p server.Principal) error {
	var req api.VerifyReport
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	c, err := h.svc.AddVerification(r.Context(), p.Name, r.PathValue("name"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (h *Handler) reports(w http.ResponseWriter, r *http.Request, _ server.Principal) error {
	var req api.ReportBatch
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	ack, err := h.svc.Ingest(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ack)
	return nil
}

func (h *Handler) listTokens(w http.ResponseWriter, r *http.Request, _ server.Principal) error {
	ts, err := h.svc.Tokens(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ts)
	return nil
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, p server.Principal) error {
	t, err := h.svc.RevokeToken(r.Context(), p.Name, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, _ server.Principal) error {
	var req api.CreateToken
	if err := h.decode(w, r, &req); err != nil {
		return err
	}
	t, err := h.svc.CreateToken(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, t)
	return nil
}

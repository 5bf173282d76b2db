package dashboard

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/internal/httpx"
	"github.com/cutover/cutover/server"
)

// Defaults of [Config].
const (
	DefaultSessionTTL  = 12 * time.Hour
	DefaultMaxSessions = 10000
	DefaultRefresh     = 3 * time.Second
)

// Config configures the dashboard. Every zero field has the default its
// comment states.
type Config struct {
	// Logger receives internal errors and panics. Zero: slog.Default().
	Logger *slog.Logger
	// SessionTTL is how long a sign-in lasts. Zero: DefaultSessionTTL.
	SessionTTL time.Duration
	// MaxSessions bounds the sessions kept in memory; beyond it the oldest
	// is signed out. Zero: DefaultMaxSessions.
	MaxSessions int
	// Refresh is how often open pages poll for fresh figures.
	// Zero: DefaultRefresh.
	Refresh time.Duration
	// SecureCookies marks the session cookie Secure even on plain HTTP
	// requests: set it when a proxy terminates TLS in front of the server.
	// Requests that arrive over TLS get Secure cookies regardless.
	SecureCookies bool
	// Now tells the time (session expiry, "3m ago"). Zero: time.Now.
	Now func() time.Time
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Handler serves the dashboard. Create it with [New]; it is safe for
// concurrent use.
type Handler struct {
	svc      *server.Service
	log      *slog.Logger
	now      func() time.Time
	refresh  time.Duration
	secure   bool
	sessions *sessions
	origin   *http.CrossOriginProtection
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// New returns the dashboard over svc.
func New(svc *server.Service, cfg Config) *Handler {
	h := &Handler{
		svc: svc, log: cfg.Logger, now: cfg.Now, refresh: cfg.Refresh,
		secure: cfg.SecureCookies, origin: http.NewCrossOriginProtection(),
		mux: http.NewServeMux(),
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.refresh <= 0 {
		h.refresh = DefaultRefresh
	}
	ttl := cfg.SessionTTL
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	maxSessions := cfg.MaxSessions
	if maxSessions <= 0 {
		maxSessions = DefaultMaxSessions
	}
	h.sessions = newSessions(ttl, maxSessions, h.now)
	h.pages = parseTemplates()

	assets, err := fs.Sub(assetFS, "assets")
	if err != nil {
		panic(err) // the embedded directory is part of the build
	}
	files := http.StripPrefix("/assets/", http.FileServerFS(assets))
	h.mux.Handle("GET /assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	}))
	h.mux.HandleFunc("GET /signin", h.signinPage)
	h.mux.HandleFunc("POST /signin", h.signin)
	h.mux.HandleFunc("POST /signout", h.signout)
	h.mux.HandleFunc("GET /{$}", h.page(h.overview))
	h.mux.HandleFunc("GET /fragments/overview", h.fragment(h.overviewFragment))
	h.mux.HandleFunc("GET /migrations/{name}", h.page(h.migration))
	h.mux.HandleFunc("GET /fragments/migrations/{name}", h.fragment(h.migrationFragment))
	h.mux.HandleFunc("POST /migrations/{name}/confirm", h.change(h.confirm))
	h.mux.HandleFunc("POST /migrations/{name}/rollout", h.change(h.apply))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s, _ := h.session(r)
		h.renderError(w, r, s, http.StatusNotFound, "Not found",
			fmt.Sprintf("There is no page at %s. The overview lists every migration.", r.URL.Path))
	})
	return h
}

// ServeHTTP implements http.Handler. Every answer carries headers that
// keep the pages out of frames and caches and allow only the dashboard's
// own scripts and styles.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &httpx.StatusWriter{ResponseWriter: w}
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.Error("panic serving a dashboard request", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			if sw.Status == 0 {
				h.renderError(sw, r, nil, http.StatusInternalServerError, "Something went wrong", "The server log has the details.")
			}
		}
	}()
	h.mux.ServeHTTP(sw, r)
}

// ---- request plumbing ----

// page wraps a GET page: it needs a session, and sends the visitor to the
// sign-in page otherwise.
func (h *Handler) page(fn func(w http.ResponseWriter, r *http.Request, s *session) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.session(r)
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		if s == nil {
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if err := fn(w, r, s); err != nil {
			h.fail(w, r, s, err)
		}
	}
}

// fragment wraps a polled fragment: without a session it answers 401, so
// the page's script can say that the user was signed out.
func (h *Handler) fragment(fn func(w http.ResponseWriter, r *http.Request, s *session) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.session(r)
		if err != nil {
			h.logInternal(r, err)
			http.Error(w, "the server could not check the session: retrying", http.StatusServiceUnavailable)
			return
		}
		if s == nil {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "signed out: reload the page to sign in again", http.StatusUnauthorized)
			return
		}
		if err := fn(w, r, s); err != nil {
			w.Header().Set("Cache-Control", "no-store")
			code := server.ErrorCode(err)
			if code == api.CodeInternal {
				h.logInternal(r, err)
				http.Error(w, "internal error: the server log has the details", http.StatusInternalServerError)
				return
			}
			var e *server.Error
			msg := code
			if errors.As(err, &e) {
				msg = e.Message
			}
			http.Error(w, msg, api.HTTPStatus(code))
		}
	}
}

// change wraps a state-changing POST: it needs a session, a same-origin
// request, the session's CSRF token, and operator scope.
func (h *Handler) change(fn func(w http.ResponseWriter, r *http.Request, s *session) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.session(r)
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		if s == nil {
			h.renderError(w, r, nil, http.StatusUnauthorized, "Signed out",
				"Your session has ended (or the server restarted): sign in again, then repeat the change.")
			return
		}
		if !h.checkPost(w, r, s) {
			return
		}
		if !s.canChange() {
			h.renderError(w, r, s, http.StatusForbidden, "View only",
				fmt.Sprintf("You are signed in with token %q of scope %s, which may view but not change rollouts. Sign in with an operator token to change them.", s.principal.Name, s.principal.Scope))
			return
		}
		if err := fn(w, r, s); err != nil {
			h.fail(w, r, s, err)
		}
	}
}

// checkPost checks the origin and the CSRF token of a POST with a session,
// and answers 403 when either is wrong.
func (h *Handler) checkPost(w http.ResponseWriter, r *http.Request, s *session) bool {
	if err := h.origin.Check(r); err != nil {
		h.renderError(w, r, s, http.StatusForbidden, "Cross-site request refused",
			"This form was sent from another site. Open the dashboard directly and submit the form from there.")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.renderError(w, r, s, http.StatusBadRequest, "Unreadable form", "The form could not be read: reload the page and try again.")
		return false
	}
	if !s.checkCSRF(r.PostForm.Get("csrf")) {
		h.renderError(w, r, s, http.StatusForbidden, "Form expired",
			"The form's security token does not match your session (it is older than your sign-in, or came from elsewhere). Reload the page and submit again.")
		return false
	}
	return true
}

func (h *Handler) logInternal(r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the browser went away
	}
	h.log.Error("dashboard: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
}

// fail renders an error page for err: the message of a *server.Error, a
// generic one (and a log line) for anything else.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	var e *server.Error
	if !errors.As(err, &e) || e.Code == api.CodeInternal {
		h.logInternal(r, err)
		h.renderError(w, r, s, http.StatusInternalServerError, "Something went wrong", "The server could not answer; its log has the details. Try again in a moment.")
		return
	}
	title := map[string]string{
		api.CodeNotFound: "Not found", api.CodeInvalid: "Not accepted", api.CodeForbidden: "Not allowed",
		api.CodeUnavailable: "Unavailable", api.CodeConflict: "Conflict",
	}[e.Code]
	if title == "" {
		title = "Not done"
	}
	h.renderError(w, r, s, api.HTTPStatus(e.Code), title, e.Message)
}

// ---- rendering ----

// layoutData is what every full page gets.
type layoutData struct {
	Title   string
	User    *userView
	CSRF    string
	Refresh int64 // milliseconds between polls
	Page    any
}

type userView struct {
	Name      string
	Scope     string
	CanChange bool
}

func (h *Handler) layout(s *session, title string, page any) layoutData {
	d := layoutData{Title: title, Refresh: h.refresh.Milliseconds(), Page: page}
	if s != nil {
		d.User = &userView{Name: s.principal.Name, Scope: string(s.principal.Scope), CanChange: s.canChange()}
		d.CSRF = s.csrf
	}
	return d
}

// render executes a page into a buffer first, so that a template error
// becomes a clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	t := h.pages[name]
	var buf bytes.Buffer
	tmpl := "layout"
	if strings.HasPrefix(name, "fragment:") {
		t = h.pages[strings.TrimPrefix(name, "fragment:")]
		tmpl = "live"
	}
	if err := t.ExecuteTemplate(&buf, tmpl, data); err != nil {
		h.log.Error("dashboard: rendering a template", "template", name, "err", err)
		http.Error(w, "internal error rendering the page: the server log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorView struct {
	Status  int
	Heading string
	Message string
}

func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, s *session, status int, heading, msg string) {
	h.render(w, r, status, "error", h.layout(s, heading, errorView{Status: status, Heading: heading, Message: msg}))
}

func parseTemplates() map[string]*template.Template {
	base := template.Must(template.New("base").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html"))
	pages := map[string]*template.Template{}
	for _, name := range []string{"signin", "overview", "migration", "confirm", "error"} {
		t := template.Must(base.Clone())
		template.Must(t.ParseFS(templateFS, "templates/"+name+".html"))
		pages[name] = t
	}
	return pages
}

package dashboard_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/server"
	"github.com/cutover/cutover/server/dashboard"
	"github.com/cutover/cutover/server/servertest"
)

// The two strings of the escaping tests: a script element, and an
// attribute break-out with an event handler.
const (
	xssScript = `<script>window.__xss=1</script>`
	xssAttr   = `"><img src=x onerror="window.__xss=2">`
)

// env is a real control plane (`cutover serve`'s wiring on loopback) with
// the dashboard mounted as its UI, as `cutover serve` mounts it.
type env struct {
	srv *servertest.Server
	svc *server.Service
	// URL is the server's base URL: the API under /api/, the dashboard
	// everywhere else.
	URL string
}

func start(t testing.TB, cfg dashboard.Config, opts ...servertest.Option) *env {
	t.Helper()
	ui := func(svc *server.Service, log *slog.Logger) http.Handler {
		c := cfg
		c.Logger = log
		return dashboard.New(svc, c)
	}
	srv := servertest.Start(t, append(opts, servertest.WithUI(ui))...)
	return &env{srv: srv, svc: srv.Service(), URL: srv.URL}
}

// token mints a token of scope with a name (the actor in the history).
func (e *env) token(t testing.TB, name string, scope api.Scope) string {
	t.Helper()
	tok, err := e.svc.CreateToken(context.Background(), api.CreateToken{Name: name, Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Secret
}

func (e *env) create(t testing.TB, name string, gates *api.Gates) api.Migration {
	t.Helper()
	m, err := e.svc.CreateMigration(context.Background(), "admin", api.CreateMigration{Name: name, Description: "orders.customer_id → pending_payments", Gates: gates})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// set changes a rollout through the service, as "someone else".
func (e *env) set(t testing.TB, name string, r cutover.Rollout, force bool, reason string) api.Migration {
	t.Helper()
	m, err := e.svc.Migration(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err = e.svc.SetRollout(context.Background(), "bob (cli)", name, api.RolloutChange{
		Mode: r.Mode, Treatment: r.Treatment, Percent: r.Percent, Reason: reason, Force: force, Version: m.Version,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) ingest(t testing.TB, aggs ...api.Aggregate) {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	ack, err := e.svc.Ingest(context.Background(), api.ReportBatch{BatchID: hex.EncodeToString(b), Instance: "test", Aggregates: aggs})
	if err != nil {
		t.Fatal(err)
	}
	if len(ack.UnknownMigrations) > 0 {
		t.Fatalf("ingest: unknown migrations %v", ack.UnknownMigrations)
	}
}

// xssSample is a mismatch whose key, path and values are hostile HTML.
func xssAggregate(name string, mode cutover.Mode) api.Aggregate {
	return api.Aggregate{
		Migration: name, Operation: "get", Kind: "read", Mode: mode,
		Start: time.Now().UTC(), End: time.Now().UTC(),
		Counts: map[cutover.Outcome]int64{cutover.OutcomeMatch: 10, cutover.OutcomeMismatch: 1},
		Groups: []api.Group{{
			Signature: ".Note" + xssAttr, Outcome: cutover.OutcomeMismatch, Count: 1,
			Samples: []api.Sample{{
				Key: "key" + xssScript, Time: time.Now().UTC(),
				Diffs: []diff.Difference{{Path: ".Note" + xssAttr, Old: xssScript, New: xssAttr}},
			}},
		}},
	}
}

// sketch encodes latencies (seconds) as a report's sketch.
func sketch(t testing.TB, values map[float64]float64) []byte {
	t.Helper()
	s := api.NewSketch()
	for v, n := range values {
		s.AddN(v, n)
	}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// client is a browser-like HTTP client: a cookie jar, no redirects
// followed (so that tests see them).
type client struct {
	t    testing.TB
	base string
	http *http.Client
}

func newClient(t testing.TB, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	*http.Response
	Body string
}

func (c *client) do(req *http.Request) answer {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return answer{resp, string(b)}
}

func (c *client) get(path string) answer {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form; header pairs are added to the request.
func (c *client) post(path string, form url.Values, header ...string) answer {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the first CSRF token of a page.
func csrf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", body)
	}
	return m[1]
}

// signIn signs the client in with token and returns the session's CSRF
// token.
func (c *client) signIn(token string) string {
	c.t.Helper()
	page := c.get("/signin")
	a := c.post("/signin", url.Values{"csrf": {csrf(c.t, page.Body)}, "token": {token}, "next": {"/"}})
	if a.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("sign-in: status %d: %s", a.StatusCode, a.Body)
	}
	return csrf(c.t, c.get("/").Body)
}

package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/internal/testenv"
	"github.com/cutover/cutover/server"
	"github.com/cutover/cutover/server/servertest"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// backends runs fn against a server on SQLite and one on PostgreSQL.
func backends(t *testing.T, fn func(t *testing.T, opts ...servertest.Option)) {
	t.Run("sqlite", func(t *testing.T) { fn(t) })
	t.Run("postgres", func(t *testing.T) { fn(t, servertest.WithPostgres(testenv.PostgresURL(t))) })
}

func change(mode, treatment cutover.Mode, percent float64, version int64) api.RolloutChange {
	return api.RolloutChange{Mode: mode, Treatment: treatment, Percent: percent, Reason: "test", Version: version}
}

// raw sends a request with a raw body and returns the status and the
// decoded error body (if any).
func raw(t *testing.T, srv *servertest.Server, token, method, path, body string) (int, api.ErrorBody, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e api.ErrorResponse
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatalf("%s %s: %d with a body that is not an ErrorResponse: %s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, e.Error, resp.Header
}

func TestAuth(t *testing.T) {
	srv := servertest.Start(t)
	srv.CreateMigration(t, api.CreateMigration{Name: "orders"})
	sdk, op := srv.Token(t, api.ScopeSDK), srv.Token(t, api.ScopeOperator)
	body := `{"mode":"shadow","treatment":"shadow","percent":0,"reason":"go","version":1}`

	code, e, h := raw(t, srv, "", "PUT", "/api/v1/migrations/orders/rollout", body)
	if code != 401 || e.Code != api.CodeUnauthorized || !strings.Contains(e.Message, "Bearer") || h.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d %+v", code, e)
	}
	code, e, _ = raw(t, srv, "cutover_not-a-token", "PUT", "/api/v1/migrations/orders/rollout", body)
	if code != 401 || e.Code != api.CodeUnauthorized || !strings.Contains(e.Message, "unknown token") {
		t.Fatalf("unknown token: %d %+v", code, e)
	}
	code, e, _ = raw(t, srv, sdk, "PUT", "/api/v1/migrations/orders/rollout", body)
	if code != 403 || e.Code != api.CodeForbidden || !strings.Contains(e.Message, "scope operator") || !strings.Contains(e.Message, "has scope sdk") {
		t.Fatalf("sdk token changing a rollout: %d %+v", code, e)
	}
	code, e, _ = raw(t, srv, op, "POST", "/api/v1/migrations", `{"name":"x"}`)
	if code != 403 || !strings.Contains(e.Message, "scope admin") {
		t.Fatalf("operator creating a migration: %d %+v", code, e)
	}
	code, e, _ = raw(t, srv, op, "POST", "/api/v1/tokens", `{"name":"x","scope":"admin"}`)
	if code != 403 {
		t.Fatalf("operator creating a token: %d %+v", code, e)
	}
	if code, _, _ := raw(t, srv, sdk, "GET", "/api/v1/migrations/orders", ""); code != 200 {
		t.Fatalf("sdk reading a migration: %d", code)
	}
	if code, _, _ := raw(t, srv, op, "PUT", "/api/v1/migrations/orders/rollout", body); code != 200 {
		t.Fatalf("operator changing a rollout: %d", code)
	}
	// A token made through the API works, and its secret is shown once.
	var tok api.Token
	if code := srv.Do(t, srv.AdminToken, "POST", "/api/v1/tokens", api.CreateToken{Name: "ci", Scope: api.ScopeOperator}, &tok); code != 201 || tok.Secret == "" || tok.Scope != api.ScopeOperator {
		t.Fatalf("creating a token: %d %+v", code, tok)
	}
	var h2 []api.Change
	if code := srv.Do(t, tok.Secret, "GET", "/api/v1/migrations/orders/history", nil, &h2); code != 200 || len(h2) != 2 || h2[1].Actor != "servertest operator" {
		t.Fatalf("history with the new token: %d %+v", code, h2)
	}
	// No token needed for health.
	if code, _, _ := raw(t, srv, "", "GET", "/healthz", ""); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	// The environment's admin token.
	srv2 := servertest.Start(t, servertest.WithAdminToken("s3cret-from-env"))
	if code, _, _ := raw(t, srv2, "s3cret-from-env", "POST", "/api/v1/migrations", `{"name":"y"}`); code != 201 {
		t.Fatalf("CUTOVER_ADMIN_TOKEN: %d", code)
	}
}

func TestErrors(t *testing.T) {
	backends(t, func(t *testing.T, opts ...servertest.Option) {
		srv := servertest.Start(t, append(opts, servertest.WithMaxBodyBytes(4096))...)
		srv.CreateMigration(t, api.CreateMigration{Name: "orders"})
		op := srv.Token(t, api.ScopeOperator)
		for _, tc := range []struct {
			name, method, path, body string
			status                   int
			code, field              string
		}{
			{"unknown field", "PUT", "/api/v1/migrations/orders/rollout", `{"mode":"shadow","colour":"red","reason":"r","version":1}`, 400, api.CodeInvalid, "colour"},
			{"bad mode", "PUT", "/api/v1/migrations/orders/rollout", `{"mode":"sideways","reason":"r","version":1}`, 400, api.CodeInvalid, "mode"},
			{"bad override", "PUT", "/api/v1/migrations/orders/rollout", `{"mode":"old","overrides":{"t1":"nope"},"reason":"r","version":1}`, 400, api.CodeInvalid, `overrides["t1"]`},
			{"wrong type", "PUT", "/api/v1/migrations/orders/rollout", `{"mode":"old","percent":"ten","reason":"r","version":1}`, 400, api.CodeInvalid, "percent"},
			{"percent range", "PUT", "/api/v1/migrations/orders/rollout", `{"mode":"old","percent":101,"reason":"r","version":1}`, 400, api.CodeInvalid, "percent"},
			{"no reason", "PUT", "/api/v1/migrations/orders/rollout", `{"mode":"shadow","version":1}`, 400, api.CodeInvalid, "reason"},
			{"not JSON", "PUT", "/api/v1/migrations/orders/rollout", `{"mode":`, 400, api.CodeInvalid, ""},
			{"trailing data", "PUT", "/api/v1/migrations/orders/rollout", `{"mode":"old","reason":"r","version":1} {}`, 400, api.CodeInvalid, ""},
			{"nested field", "POST", "/api/v1/reports", `{"batch_id":"b","aggregates":[{"migration":"orders","mode":"shadow","start":"2026-01-01T00:00:00Z","counts":{"matchy":1}}]}`, 400, api.CodeInvalid, `aggregates[0].counts["matchy"]`},
			{"bad window", "GET", "/api/v1/migrations/orders/stats?window=forever", "", 400, api.CodeInvalid, "window"},
			{"too large", "POST", "/api/v1/reports", `{"batch_id":"` + strings.Repeat("x", 5000) + `"}`, 413, api.CodeTooLarge, ""},
			{"unknown migration", "GET", "/api/v1/migrations/nope", "", 404, api.CodeNotFound, ""},
			{"unknown migration rollout", "PUT", "/api/v1/migrations/nope/rollout", `{"mode":"shadow","reason":"r","version":1}`, 404, api.CodeNotFound, ""},
			{"unknown migration stats", "GET", "/api/v1/migrations/nope/stats", "", 404, api.CodeNotFound, ""},
			{"unknown migration history", "GET", "/api/v1/migrations/nope/history", "", 404, api.CodeNotFound, ""},
			{"unknown migration watch", "GET", "/api/v1/watch?migration=nope", "", 404, api.CodeNotFound, ""},
			{"skipped mode", "PUT", "/api/v1/migrations/orders/rollout", `{"mode":"reverse-shadow","treatment":"reverse-shadow","reason":"r","version":1}`, 409, api.CodeTransition, "mode"},
			{"unknown route", "GET", "/api/v1/nothing", "", 404, api.CodeNotFound, ""},
		} {
			code, e, _ := raw(t, srv, op, tc.method, tc.path, tc.body)
			if code != tc.status || e.Code != tc.code || e.Field != tc.field || e.Message == "" {
				t.Errorf("%s: %d %+v, want %d %s field %q", tc.name, code, e, tc.status, tc.code, tc.field)
			}
		}
		// Name taken.
		code, e, _ := raw(t, srv, srv.AdminToken, "POST", "/api/v1/migrations", `{"name":"orders"}`)
		if code != 409 || e.Code != api.CodeConflict {
			t.Errorf("taken name: %d %+v", code, e)
		}
		// Stale version.
		var m api.Migration
		if code := srv.Do(t, op, "PUT", "/api/v1/migrations/orders/rollout", change(cutover.ModeShadow, cutover.ModeShadow, 0, 1), &m); code != 200 || m.Version != 2 {
			t.Fatalf("first change: %d %+v", code, m)
		}
		var er api.ErrorResponse
		code = srv.Do(t, op, "PUT", "/api/v1/migrations/orders/rollout", change(cutover.ModeOld, cutover.ModeOld, 0, 1), &er)
		if code != 409 || er.Error.Code != api.CodeConflict || er.Error.CurrentVersion != 2 {
			t.Errorf("stale version: %d %+v", code, er)
		}
		// A promotion without evidence.
		er = api.ErrorResponse{}
		code = srv.Do(t, op, "PUT", "/api/v1/migrations/orders/rollout", change(cutover.ModeShadow, cutover.ModeReverseShadow, 5, 2), &er)
		g := er.Error.Gate
		if code != 409 || er.Error.Code != api.CodeGateRefused || g == nil || g.Pass || g.Criteria[0].Criterion != "min_comparisons" ||
			g.Criteria[0].Threshold != 1000 || g.Criteria[0].Measured != 0 {
			t.Errorf("gate refusal: %d %+v", code, er)
		}
	})
}

func aggregate(name string, mode cutover.Mode, at time.Time, match, mismatch int64) api.Aggregate {
	s := api.NewSketch()
	for i := 1; i <= 10; i++ {
		s.Add(float64(i) / 1000)
	}
	b, _ := s.MarshalBinary()
	return api.Aggregate{Migration: name, Operation: "get", Kind: "read", Mode: mode, Start: at, End: at.Add(10 * time.Second),
		Counts: map[cutover.Outcome]int64{cutover.OutcomeMatch: match, cutover.OutcomeMismatch: mismatch}, OldLatency: b, NewLatency: b,
		Groups: []api.Group{{Signature: ".Price", Outcome: cutover.OutcomeMismatch, Count: mismatch,
			Samples: []api.Sample{{Key: "k1", Time: at, Diffs: nil}}}}}
}

func TestReportsAndEvidence(t *testing.T) {
	backends(t, func(t *testing.T, opts ...servertest.Option) {
		srv := servertest.Start(t, append(opts, servertest.WithGates(api.Gates{MinComparisons: 100, MinTimeAtFull: api.Duration(time.Nanosecond), MaxMismatchRate: 0.05, MaxNewErrorRate: 0.05}))...)
		srv.CreateMigration(t, api.CreateMigration{Name: "orders"})
		sdk, op := srv.Token(t, api.ScopeSDK), srv.Token(t, api.ScopeOperator)
		var m api.Migration
		srv.Do(t, op, "PUT", "/api/v1/migrations/orders/rollout", change(cutover.ModeShadow, cutover.ModeShadow, 0, 1), &m)
		batch := api.ReportBatch{BatchID: "batch-1", Instance: "i1", Aggregates: []api.Aggregate{aggregate("orders", cutover.ModeShadow, time.Now().UTC(), 990, 10)}}
		var ack api.ReportAck
		if code := srv.Do(t, sdk, "POST", "/api/v1/reports", batch, &ack); code != 200 || ack.Duplicate || ack.BatchID != "batch-1" {
			t.Fatalf("report: %d %+v", code, ack)
		}
		if code := srv.Do(t, sdk, "POST", "/api/v1/reports", batch, &ack); code != 200 || !ack.Duplicate {
			t.Fatalf("retried report: %d %+v", code, ack)
		}
		var st api.Stats
		if code := srv.Do(t, op, "GET", "/api/v1/migrations/orders/stats?window=1h&step=5m", nil, &st); code != 200 {
			t.Fatalf("stats: %d", code)
		}
		if st.Compared != 1000 || st.Counts[cutover.OutcomeMismatch] != 10 || st.MismatchRate.Value != 0.01 || len(st.Series) < 12 || len(st.Series) > 13 {
			t.Fatalf("stats counted the retried batch twice or wrongly: compared %d, counts %v, rate %+v, %d points", st.Compared, st.Counts, st.MismatchRate, len(st.Series))
		}
		if p := st.Latency.Old.P50; p < 0.0049 || p > 0.0051 {
			t.Fatalf("old p50 %v, want 5ms", p)
		}
		if st.Gates == nil || !st.Gates.Pass {
			t.Fatalf("gates %+v", st.Gates)
		}
		var gs []api.MismatchGroup
		if code := srv.Do(t, op, "GET", "/api/v1/migrations/orders/mismatches", nil, &gs); code != 200 || len(gs) != 1 || gs[0].Count != 10 || gs[0].Share != 1 || len(gs[0].Samples) != 1 {
			t.Fatalf("mismatches: %d %+v", code, gs)
		}
		// The gates pass now: promote.
		if code := srv.Do(t, op, "PUT", "/api/v1/migrations/orders/rollout", change(cutover.ModeShadow, cutover.ModeReverseShadow, 10, m.Version), &m); code != 200 || m.Rollout.Treatment != cutover.ModeReverseShadow {
			t.Fatalf("promotion with evidence: %d %+v", code, m)
		}
		var ms []api.Migration
		if code := srv.Do(t, sdk, "GET", "/api/v1/migrations", nil, &ms); code != 200 || len(ms) != 1 || ms[0].Version != 3 {
			t.Fatalf("list: %d %+v", code, ms)
		}
		// A verify report is recorded in the history.
		var vc api.Change
		if code := srv.Do(t, op, "POST", "/api/v1/migrations/orders/verifications", api.VerifyReport{Identical: true, OldRows: 5, NewRows: 5, StartedAt: time.Now().UTC(), FinishedAt: time.Now().UTC()}, &vc); code != 201 || vc.Kind != "verify" {
			t.Fatalf("verification: %d %+v", code, vc)
		}
	})
}

// sse reads server-sent events.
type sse struct {
	resp *http.Response
	r    *bufio.Reader
}

type event struct {
	id, name string
	data     api.RolloutEvent
}

func watch(t *testing.T, srv *servertest.Server, token, query, lastID string) *sse {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/watch"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("watch: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sse{resp: resp, r: bufio.NewReader(resp.Body)}
	t.Cleanup(func() { resp.Body.Close() })
	return s
}

// next returns the next event, skipping comments; it fails the test if
// none arrives within 10s.
func (s *sse) next(t *testing.T) event {
	t.Helper()
	type result struct {
		ev  event
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var ev event
		for {
			line, err := s.r.ReadString('\n')
			if err != nil {
				ch <- result{err: err}
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if ev.name != "" {
					ch <- result{ev: ev}
					return
				}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(line[6:]), &ev.data); err != nil {
					ch <- result{err: err}
					return
				}
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("reading the watch stream: %v", r.err)
		}
		return r.ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return event{}
	}
}

func TestWatch(t *testing.T) {
	backends(t, func(t *testing.T, opts ...servertest.Option) {
		srv := servertest.Start(t, append(opts, servertest.WithHeartbeat(50*time.Millisecond))...)
		srv.CreateMigration(t, api.CreateMigration{Name: "orders", Gates: &api.Gates{Disabled: true}})
		srv.CreateMigration(t, api.CreateMigration{Name: "billing"})
		sdk, op := srv.Token(t, api.ScopeSDK), srv.Token(t, api.ScopeOperator)

		all := watch(t, srv, sdk, "", "")
		orders := watch(t, srv, sdk, "?migration=orders", "")
		// The current rollouts first, in change order.
		e1, e2 := all.next(t), all.next(t)
		if e1.name != "rollout" || e1.data.Migration != "orders" || e2.data.Migration != "billing" || e1.id != strconv.FormatInt(e1.data.ChangeID, 10) {
			t.Fatalf("snapshot %+v %+v", e1, e2)
		}
		if e := orders.next(t); e.data.Migration != "orders" || e.data.Version != 1 {
			t.Fatalf("filtered snapshot %+v", e)
		}
		// A change arrives.
		var m api.Migration
		srv.Do(t, op, "PUT", "/api/v1/migrations/orders/rollout", change(cutover.ModeShadow, cutover.ModeShadow, 0, 1), &m)
		e := orders.next(t)
		if e.data.Version != 2 || e.data.Rollout.Mode != cutover.ModeShadow {
			t.Fatalf("change event %+v", e)
		}
		if got := all.next(t); got.id != e.id {
			t.Fatalf("unfiltered watcher got %+v, want %+v", got, e)
		}
		lastID := e.id
		orders.resp.Body.Close()

		// While away: two changes of orders and one of billing.
		srv.Do(t, op, "PUT", "/api/v1/migrations/orders/rollout", change(cutover.ModeShadow, cutover.ModeReverseShadow, 10, 2), &m)
		srv.Do(t, op, "PUT", "/api/v1/migrations/billing/rollout", change(cutover.ModeShadow, cutover.ModeShadow, 0, 1), nil)
		srv.Do(t, op, "PUT", "/api/v1/migrations/orders/rollout", change(cutover.ModeShadow, cutover.ModeReverseShadow, 50, 3), &m)

		resumed := watch(t, srv, sdk, "?migration=orders", lastID)
		a, b := resumed.next(t), resumed.next(t)
		if a.data.Version != 3 || b.data.Version != 4 || b.data.Rollout.Percent != 50 {
			t.Fatalf("resumed with %+v then %+v, want versions 3 and 4", a, b)
		}
		srv.Do(t, op, "PUT", "/api/v1/migrations/orders/rollout", change(cutover.ModeShadow, cutover.ModeReverseShadow, 60, 4), &m)
		if c := resumed.next(t); c.data.Version != 5 {
			t.Fatalf("live after resume: %+v", c)
		}
		// Shutdown ends the streams.
		srv.Stop(t)
		if _, err := io.Copy(io.Discard, resumed.r); err != nil && !strings.Contains(err.Error(), "EOF") {
			t.Logf("stream ended with %v", err)
		}
	})
}

func TestMetricsAndReady(t *testing.T) {
	srv := servertest.Start(t)
	srv.CreateMigration(t, api.CreateMigration{Name: "orders"})
	if code, _, _ := raw(t, srv, "", "GET", "/readyz", ""); code != 200 {
		t.Fatalf("readyz: %d", code)
	}
	raw(t, srv, "", "GET", "/api/v1/migrations/orders", "")
	// /metrics over HTTP, as Prometheus scrapes it: route and code labels
	// from the requests above, every result at zero from the start.
	if err := testutil.ScrapeAndCompare(srv.URL+"/metrics", strings.NewReader(`
# HELP cutover_report_batches_total Report batches received, by result (accepted, duplicate).
# TYPE cutover_report_batches_total counter
cutover_report_batches_total{result="accepted"} 0
cutover_report_batches_total{result="duplicate"} 0
# HELP cutover_guard_rollbacks_total Automatic rollbacks to shadow made by the guard.
# TYPE cutover_guard_rollbacks_total counter
cutover_guard_rollbacks_total 0
`), "cutover_report_batches_total", "cutover_guard_rollbacks_total"); err != nil {
		t.Error(err)
	}
	m := srv.App().Service().Metrics()
	for _, c := range []struct {
		route, code string
	}{{"POST /api/v1/migrations", "201"}, {"GET /api/v1/migrations/{name}", "401"}, {"GET /readyz", "200"}} {
		if n := testutil.ToFloat64(m.Requests.WithLabelValues(c.route, c.code)); n != 1 {
			t.Errorf("requests %s %s: %v, want 1", c.route, c.code, n)
		}
	}
	// The Go runtime's and the process's collectors share the registry.
	for _, name := range []string{"go_goroutines", "process_open_fds"} {
		if n, err := testutil.GatherAndCount(m.Registry, name); err != nil || n != 1 {
			t.Errorf("%s: %d series (%v), want 1", name, n, err)
		}
	}
	// Each server has its own registry: another one counts from zero.
	other := servertest.Start(t)
	if n := testutil.ToFloat64(other.App().Service().Metrics().Requests.WithLabelValues("POST /api/v1/migrations", "201")); n != 0 {
		t.Errorf("a second server counts %v creations it never served", n)
	}
}

func TestDocsListEveryRoute(t *testing.T) {
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatalf("the API reference: %v", err)
	}
	srv := servertest.Start(t)
	for _, r := range srv.App().Handler().Routes() {
		if !bytes.Contains(doc, []byte("`"+r.Pattern+"`")) {
			t.Errorf("docs/api.md does not document `%s` (%s)", r.Pattern, r.Summary)
		}
		if r.Scope != "" && !bytes.Contains(doc, []byte(fmt.Sprintf("`%s` — scope `%s`", r.Pattern, r.Scope))) {
			t.Errorf("docs/api.md does not give the scope of `%s` as `%s`", r.Pattern, r.Scope)
		}
	}
	_ = context.Background
}

func TestFallbackServesPagesOutsideTheAPI(t *testing.T) {
	srv := servertest.Start(t, servertest.WithUI(func(*server.Service, *slog.Logger) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page "+r.URL.Path) })
	}))
	resp, err := http.Get(srv.URL + "/migrations/orders")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "page /migrations/orders" {
		t.Fatalf("fallback answered %q", body)
	}
	if code, e, _ := raw(t, srv, "", "GET", "/api/v1/nothing", ""); code != 404 || e.Code != api.CodeNotFound {
		t.Fatalf("unknown API route with a UI: %d %+v", code, e)
	}
}

// TestTokenListAndRevoke: admins list tokens (never their secrets) and
// revoke one by its ID; the revoked token is refused from then on; the last
// admin token stays unless the server has one from its environment.
func TestTokenListAndRevoke(t *testing.T) {
	backends(t, func(t *testing.T, opts ...servertest.Option) {
		srv := servertest.Start(t, opts...)
		var tok api.Token
		if code := srv.Do(t, srv.AdminToken, "POST", "/api/v1/tokens", api.CreateToken{Name: "ci", Scope: api.ScopeOperator}, &tok); code != 201 || len(tok.ID) != 12 {
			t.Fatalf("creating a token: %d %+v", code, tok)
		}
		var list []api.Token
		if code := srv.Do(t, srv.AdminToken, "GET", "/api/v1/tokens", nil, &list); code != 200 || len(list) != 2 {
			t.Fatalf("listing: %d %+v", code, list)
		}
		var admin api.Token
		for _, l := range list {
			if l.Secret != "" {
				t.Errorf("the list shows a secret: %+v", l)
			}
			if l.Scope == api.ScopeAdmin {
				admin = l
			}
		}
		if list[1].ID != tok.ID || list[1].Name != "ci" {
			t.Errorf("the newest token, last: %+v, want %s", list[1], tok.ID)
		}
		if code, _, _ := raw(t, srv, tok.Secret, "GET", "/api/v1/tokens", ""); code != 403 {
			t.Errorf("an operator listing tokens: %d", code)
		}
		for _, tc := range []struct {
			id          string
			status      int
			code, field string
		}{
			{"3f9a", 400, api.CodeInvalid, "id"},         // too short
			{"zzzzzzzzzzzz", 400, api.CodeInvalid, "id"}, // not hex
			{"000000000000", 404, api.CodeNotFound, ""},
			{admin.ID, 409, api.CodeConflict, ""}, // the last admin token
		} {
			code, e, _ := raw(t, srv, srv.AdminToken, "DELETE", "/api/v1/tokens/"+tc.id, "")
			if code != tc.status || e.Code != tc.code || e.Field != tc.field {
				t.Errorf("revoking %q: %d %+v, want %d %s field %q", tc.id, code, e, tc.status, tc.code, tc.field)
			}
		}
		var revoked api.Token
		if code := srv.Do(t, srv.AdminToken, "DELETE", "/api/v1/tokens/"+tok.ID[:8], nil, &revoked); code != 200 || revoked.ID != tok.ID || revoked.Secret != "" {
			t.Fatalf("revoking by 8 digits of the ID: %d %+v", code, revoked)
		}
		if code, e, _ := raw(t, srv, tok.Secret, "GET", "/api/v1/migrations", ""); code != 401 {
			t.Errorf("the revoked token: %d %+v, want 401", code, e)
		}
		if code, _, _ := raw(t, srv, srv.AdminToken, "DELETE", "/api/v1/tokens/"+tok.ID, ""); code != 404 {
			t.Errorf("revoking twice: %d, want 404", code)
		}

		// With an administrator token from the environment, the last
		// stored one may go.
		srv2 := servertest.Start(t, append(opts, servertest.WithAdminToken("s3cret-from-env"))...)
		var made api.Token
		if code := srv2.Do(t, "s3cret-from-env", "POST", "/api/v1/tokens", api.CreateToken{Name: "only admin", Scope: api.ScopeAdmin}, &made); code != 201 {
			t.Fatalf("creating an admin token: %d", code)
		}
		if code, e, _ := raw(t, srv2, "s3cret-from-env", "DELETE", "/api/v1/tokens/"+made.ID, ""); code != 200 {
			t.Errorf("revoking the last stored admin token beside CUTOVER_ADMIN_TOKEN: %d %+v", code, e)
		}
	})
}

// TestWatchEndsWhenTokenRevoked: an open watch stream whose token is
// revoked ends at its next heartbeat, and reconnecting is refused.
func TestWatchEndsWhenTokenRevoked(t *testing.T) {
	srv := servertest.Start(t, servertest.WithHeartbeat(5*time.Millisecond))
	srv.CreateMigration(t, api.CreateMigration{Name: "orders"})
	var tok api.Token
	if code := srv.Do(t, srv.AdminToken, "POST", "/api/v1/tokens", api.CreateToken{Name: "svc", Scope: api.ScopeSDK}, &tok); code != 201 {
		t.Fatalf("creating a token: %d", code)
	}
	s := watch(t, srv, tok.Secret, "", "")
	if ev := s.next(t); ev.data.Migration != "orders" {
		t.Fatalf("first event: %+v", ev)
	}
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, s.r) // returns when the server ends the stream
		ended <- err
	}()
	if code := srv.Do(t, srv.AdminToken, "DELETE", "/api/v1/tokens/"+tok.ID, nil, nil); code != 200 {
		t.Fatalf("revoking: %d", code)
	}
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("the stream broke instead of ending: %v", err)
		}
	case <-time.After(10 * time.Second): // a guard against a hung test only
		t.Fatal("the stream of a revoked token is still open")
	}
	if code, _, _ := raw(t, srv, tok.Secret, "GET", "/api/v1/watch", ""); code != 401 {
		t.Fatalf("reconnecting with the revoked token: %d", code)
	}
}

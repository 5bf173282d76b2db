package client_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/client"
	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/server/servertest"
)

// testTimeout bounds every wait on a channel: a deadline for a hung test,
// never a threshold the behaviour is judged by.
const testTimeout = 20 * time.Second

func newClient(t *testing.T, url, token string) *client.Client {
	t.Helper()
	c, err := client.New(url, token, client.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// createMigration creates a migration with the gates off, so tests can
// move it freely.
func createMigration(t *testing.T, admin *client.Client, name string) *api.Migration {
	t.Helper()
	m, err := admin.CreateMigration(t.Context(), api.CreateMigration{Name: name, Gates: &api.Gates{Disabled: true}})
	if err != nil {
		t.Fatalf("creating migration %s: %v", name, err)
	}
	return m
}

func setMode(t *testing.T, op *client.Client, name string, r cutover.Rollout) *api.Migration {
	t.Helper()
	cur, err := op.Migration(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := op.SetRollout(t.Context(), name, api.RolloutChange{
		Mode: r.Mode, Treatment: r.Treatment, Percent: r.Percent, Overrides: r.Overrides,
		Reason: "test", Version: cur.Version, Force: true,
	})
	if err != nil {
		t.Fatalf("setting %s to %v: %v", name, r, err)
	}
	return m
}

// subscribe returns the channel of the rollouts delivered to a
// subscription of the source.
func subscribe(t *testing.T, s *client.Source, name string) <-chan cutover.Rollout {
	t.Helper()
	ch := make(chan cutover.Rollout, 100)
	stop, err := s.Subscribe(name, func(r cutover.Rollout) { ch <- r })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return ch
}

// waitFor reads rollouts until one equals want.
func waitFor(t *testing.T, ch <-chan cutover.Rollout, want cutover.Rollout) {
	t.Helper()
	timeout := time.NewTimer(testTimeout)
	defer timeout.Stop()
	for {
		select {
		case r := <-ch:
			if r.Equal(want) {
				return
			}
		case <-timeout.C:
			t.Fatalf("rollout %v never arrived", want)
		}
	}
}

var (
	shadow        = cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeShadow}
	reverseShadow = cutover.Rollout{Mode: cutover.ModeReverseShadow, Treatment: cutover.ModeReverseShadow}
	canary        = cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeReverseShadow, Percent: 10,
		Overrides: map[string]cutover.Mode{"tenant-1": cutover.ModeNew}}
	oldMode = cutover.Rollout{}
)

func fastSource(cache string) client.SourceOptions {
	return client.SourceOptions{CacheFile: cache, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
}

func TestSourceReceivesChanges(t *testing.T) {
	srv := servertest.Start(t)
	admin := newClient(t, srv.URL, srv.AdminToken)
	createMigration(t, admin, "orders")
	op := newClient(t, srv.URL, srv.Token(t, api.ScopeOperator))
	sdk := newClient(t, srv.URL, srv.Token(t, api.ScopeSDK))

	s := sdk.Source(fastSource(""))
	defer s.Close()
	ch := subscribe(t, s, "orders")
	waitFor(t, ch, oldMode)
	if st := s.Status(); !st.Connected || st.Connects != 1 {
		t.Errorf("status %+v, want connected once", st)
	}

	setMode(t, op, "orders", shadow)
	waitFor(t, ch, shadow)
	setMode(t, op, "orders", canary)
	waitFor(t, ch, canary)

	// A migration created after the stream opened is followed too.
	createMigration(t, admin, "later")
	ch2 := subscribe(t, s, "later")
	waitFor(t, ch2, oldMode)
	setMode(t, op, "later", shadow)
	waitFor(t, ch2, shadow)
}

func TestSourceDrivesAMigration(t *testing.T) {
	srv := servertest.Start(t)
	admin := newClient(t, srv.URL, srv.AdminToken)
	createMigration(t, admin, "orders")
	op := newClient(t, srv.URL, srv.Token(t, api.ScopeOperator))
	sdk := newClient(t, srv.URL, srv.Token(t, api.ScopeSDK))

	changed := make(chan client.SourceStatus, 100)
	opts := fastSource("")
	opts.OnStatus = func(st client.SourceStatus) { changed <- st }
	s := sdk.Source(opts)
	defer s.Close()
	m, err := cutover.New(cutover.Config{Name: "orders", Source: s})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	setMode(t, op, "orders", reverseShadow)
	// Wait for the change through the source's own view, then check the
	// migration (update runs before the source records the next event).
	ch := subscribe(t, s, "orders")
	waitFor(t, ch, reverseShadow)
	if got := m.ModeFor("any-key"); got != cutover.ModeReverseShadow {
		t.Errorf("migration mode %v, want reverse-shadow", got)
	}
}

func TestSourceReconnectsAfterDrop(t *testing.T) {
	srv := servertest.Start(t)
	admin := newClient(t, srv.URL, srv.AdminToken)
	createMigration(t, admin, "orders")
	op := newClient(t, srv.URL, srv.Token(t, api.ScopeOperator))

	proxy := startTCPProxy(t, hostOf(t, srv.URL))
	sdk := newClient(t, proxy.URL(), srv.Token(t, api.ScopeSDK))
	s := sdk.Source(fastSource(""))
	defer s.Close()
	ch := subscribe(t, s, "orders")
	waitFor(t, ch, oldMode)

	for i, r := range []cutover.Rollout{shadow, canary, reverseShadow} {
		proxy.cut()
		// The change is made while the stream may be down; it arrives
		// either live or on resuming.
		setMode(t, op, "orders", r)
		waitFor(t, ch, r)
		if st := s.Status(); st.Connects < 2 && i == 0 {
			t.Logf("change %d arrived before the drop was noticed (status %+v)", i, st)
		}
	}
	if st := s.Status(); st.LastError == nil {
		t.Errorf("status %+v: the drops left no error", st)
	}
}

func TestSourceSurvivesServerRestartAndColdStartsFromCache(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "rollouts.json")
	srv := servertest.Start(t)
	admin := newClient(t, srv.URL, srv.AdminToken)
	createMigration(t, admin, "orders")
	op := newClient(t, srv.URL, srv.Token(t, api.ScopeOperator))
	sdkToken := srv.Token(t, api.ScopeSDK)
	setMode(t, op, "orders", canary)

	proxy := startTCPProxy(t, hostOf(t, srv.URL))
	sdk := newClient(t, proxy.URL(), sdkToken)
	s := sdk.Source(fastSource(cache))
	ch := subscribe(t, s, "orders")
	waitFor(t, ch, canary)

	// The server goes away: the source keeps the rollout.
	srv.Stop(t)
	proxy.cut()
	if r, _, ok := s.Rollout("orders"); !ok || !r.Equal(canary) {
		t.Errorf("after the server went away: %v %v", r, ok)
	}
	s.Close()

	// A cold start with the server down takes the cached rollout.
	s2 := sdk.Source(fastSource(cache))
	defer s2.Close()
	m, err := cutover.New(cutover.Config{Name: "orders", Source: s2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	if got := m.Rollout(); !got.Equal(canary) {
		t.Errorf("cold start without the server: %v, want the cached %v", got, canary)
	}
	if got := m.ModeFor("tenant-1"); got != cutover.ModeNew {
		t.Errorf("override from the cache: %v", got)
	}
}

func TestSourceFollowsARestartedServer(t *testing.T) {
	data := t.TempDir()
	srv := servertest.Start(t, servertest.WithDataDir(data))
	admin := newClient(t, srv.URL, srv.AdminToken)
	createMigration(t, admin, "orders")
	sdkToken := srv.Token(t, api.ScopeSDK)

	proxy := startTCPProxy(t, hostOf(t, srv.URL))
	sdk := newClient(t, proxy.URL(), sdkToken)
	s := sdk.Source(fastSource(""))
	defer s.Close()
	ch := subscribe(t, s, "orders")
	waitFor(t, ch, oldMode)

	// Restart: a new process on the same data, on another port behind the
	// same address.
	srv.Stop(t)
	srv2 := servertest.Start(t, servertest.WithDataDir(data))
	proxy.setBackend(hostOf(t, srv2.URL))
	proxy.cut()
	op := newClient(t, srv2.URL, srv2.Token(t, api.ScopeOperator))
	setMode(t, op, "orders", shadow)
	waitFor(t, ch, shadow)
	setMode(t, op, "orders", canary)
	waitFor(t, ch, canary)
}

// testLogger logs to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// lossyProxy forwards requests to a real server; while lose is set it
// forwards a report and then answers 502, as if the acknowledgement was
// lost on the way back.
type lossyProxy struct {
	*httptest.Server
	lose     atomic.Bool
	reports  atomic.Int64
	batchIDs chan string
}

func startLossyProxy(t *testing.T, backend string) *lossyProxy {
	t.Helper()
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	p := &lossyProxy{batchIDs: make(chan string, 100)}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/reports" {
			rp.ServeHTTP(w, r)
			return
		}
		if !p.lose.Load() {
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			if rec.Code == http.StatusOK {
				select {
				case p.batchIDs <- rec.Body.String():
				default:
				}
			}
			return
		}
		p.reports.Add(1)
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			t.Errorf("the server refused the batch: %d %s", rec.Code, rec.Body)
		}
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	t.Cleanup(p.Close)
	return p
}

func TestReporterBatchesArriveAndRetriesCountOnce(t *testing.T) {
	srv := servertest.Start(t)
	admin := newClient(t, srv.URL, srv.AdminToken)
	createMigration(t, admin, "orders")
	op := newClient(t, srv.URL, srv.Token(t, api.ScopeOperator))
	setMode(t, op, "orders", shadow)

	proxy := startLossyProxy(t, srv.URL)
	sdk := newClient(t, proxy.URL, srv.Token(t, api.ScopeSDK))
	rep := sdk.Reporter(client.ReporterOptions{FlushInterval: time.Hour, Instance: "test-1"})
	m, err := cutover.New(cutover.Config{
		Name:    "orders",
		Rollout: shadow,
		Sinks:   []cutover.Sink{rep},
	})
	if err != nil {
		t.Fatal(err)
	}
	type order struct{ ID, Price int }
	reader := &cutover.Reader[int, order]{
		Migration: m, Operation: "getOrder",
		Old: func(_ context.Context, id int) (order, error) { return order{id, 100}, nil },
		New: func(_ context.Context, id int) (order, error) {
			if id%4 == 0 {
				return order{id, 101}, nil // a mismatch at .Price
			}
			if id%10 == 1 {
				return order{}, errors.New("new store timeout")
			}
			return order{id, 100}, nil
		},
	}
	const calls = 100
	for i := range calls {
		if _, err := reader.Read(t.Context(), "k"+string(rune('a'+i%26)), i); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	// The first send reaches the server but its answer is lost.
	proxy.lose.Store(true)
	if err := rep.Flush(t.Context()); err == nil {
		t.Fatal("a flush whose answer was lost succeeded")
	}
	if st := rep.Stats(); st.Pending != 1 || st.Retries != 1 {
		t.Fatalf("after the lost answer: %+v", st)
	}
	// The retry sends the same batch again; the server knows it.
	proxy.lose.Store(false)
	if err := rep.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := rep.Stats()
	if st.Sent != 1 || st.Duplicates != 1 || st.Pending != 0 || st.Observed != calls || st.DroppedBatches != 0 {
		t.Errorf("reporter stats %+v", st)
	}

	stats, err := op.Stats(t.Context(), "orders", client.StatsQuery{Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, n := range stats.Counts {
		total += n
	}
	wantMismatch, wantError := int64(25), int64(10)
	if total != calls || stats.Counts[cutover.OutcomeMismatch] != wantMismatch || stats.Counts[cutover.OutcomeError] != wantError {
		t.Errorf("server counts %v (total %d), want %d calls counted once: %d mismatches, %d errors",
			stats.Counts, total, calls, wantMismatch, wantError)
	}
	if stats.Latency.Old.P50 <= 0 && stats.Latency.New.P50 <= 0 {
		t.Logf("latencies %+v (calls this fast may all land in the zero bin)", stats.Latency)
	}
	groups, err := op.Mismatches(t.Context(), "orders", client.StatsQuery{Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var price *api.MismatchGroup
	for i := range groups {
		if groups[i].Signature == ".Price" {
			price = &groups[i]
		}
	}
	if price == nil || price.Count != wantMismatch || len(price.Samples) == 0 {
		t.Fatalf("mismatch groups %+v, want .Price with %d and samples", groups, wantMismatch)
	}
	if d := price.Samples[0].Diffs; len(d) != 1 || d[0] != (diff.Difference{Path: ".Price", Old: "100", New: "101"}) {
		t.Errorf("sample diffs %+v", d)
	}
}

func TestReportSameBatchTwice(t *testing.T) {
	srv := servertest.Start(t)
	admin := newClient(t, srv.URL, srv.AdminToken)
	createMigration(t, admin, "orders")
	sdk := newClient(t, srv.URL, srv.Token(t, api.ScopeSDK))
	now := time.Now().UTC()
	b := &api.ReportBatch{BatchID: "batch-1", Instance: "i", Aggregates: []api.Aggregate{{
		Migration: "orders", Operation: "get", Kind: "read", Mode: cutover.ModeShadow, Start: now, End: now,
		Counts: map[cutover.Outcome]int64{cutover.OutcomeMatch: 7},
	}}}
	for i, wantDup := range []bool{false, true} {
		ack, err := sdk.Report(t.Context(), b)
		if err != nil {
			t.Fatal(err)
		}
		if ack.Duplicate != wantDup || ack.BatchID != "batch-1" {
			t.Errorf("send %d: ack %+v", i, ack)
		}
	}
}

func TestAPIErrors(t *testing.T) {
	srv := servertest.Start(t)
	admin := newClient(t, srv.URL, srv.AdminToken)
	m, err := admin.CreateMigration(t.Context(), api.CreateMigration{Name: "gated"})
	if err != nil {
		t.Fatal(err)
	}
	op := newClient(t, srv.URL, srv.Token(t, api.ScopeOperator))
	sdk := newClient(t, srv.URL, srv.Token(t, api.ScopeSDK))
	ctx := t.Context()

	// old → shadow needs no evidence; shadow → reverse-shadow does.
	m, err = op.SetRollout(ctx, "gated", api.RolloutChange{Mode: cutover.ModeShadow, Treatment: cutover.ModeShadow, Reason: "start", Version: m.Version})
	if err != nil {
		t.Fatalf("old → shadow: %v", err)
	}
	_, err = op.SetRollout(ctx, "gated", api.RolloutChange{Mode: cutover.ModeReverseShadow, Treatment: cutover.ModeReverseShadow, Reason: "go", Version: m.Version})
	var ae *client.APIError
	if !errors.Is(err, client.ErrGateRefused) || !errors.As(err, &ae) || ae.Gate == nil || ae.Gate.Pass || len(ae.Gate.Criteria) == 0 {
		t.Fatalf("promotion without evidence: %v (%+v)", err, ae)
	}
	if errors.Is(err, client.ErrConflict) {
		t.Error("a gate refusal matches ErrConflict")
	}

	_, err = op.SetRollout(ctx, "gated", api.RolloutChange{Mode: cutover.ModeOld, Treatment: cutover.ModeOld, Reason: "back", Version: m.Version - 1})
	if !errors.Is(err, client.ErrConflict) || !errors.As(err, &ae) || ae.CurrentVersion != m.Version {
		t.Errorf("stale version: %v (%+v), want a conflict naming version %d", err, ae, m.Version)
	}
	_, err = op.SetRollout(ctx, "gated", api.RolloutChange{Mode: cutover.ModeNew, Treatment: cutover.ModeNew, Reason: "jump", Version: m.Version})
	if !errors.Is(err, client.ErrTransition) && !errors.Is(err, client.ErrGateRefused) {
		t.Errorf("a jump without force: %v", err)
	}
	if _, err := op.Migration(ctx, "nope"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("unknown migration: %v", err)
	}
	if _, err := sdk.SetRollout(ctx, "gated", api.RolloutChange{Reason: "x", Version: m.Version}); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("sdk token changing a rollout: %v", err)
	}
	bad := newClient(t, srv.URL, "not-a-token")
	if _, err := bad.Migrations(ctx); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("unknown token: %v", err)
	}
	if _, err := op.CreateToken(ctx, api.CreateToken{Name: "x", Scope: api.ScopeSDK}); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("operator creating a token: %v", err)
	}
	tok, err := admin.CreateToken(ctx, api.CreateToken{Name: "svc", Scope: api.ScopeSDK})
	if err != nil || tok.Secret == "" || tok.Scope != api.ScopeSDK {
		t.Fatalf("creating a token: %+v %v", tok, err)
	}
	if _, err := newClient(t, srv.URL, tok.Secret).Migrations(ctx); err != nil {
		t.Errorf("the new token does not work: %v", err)
	}
	hist, err := op.History(ctx, "gated")
	if err != nil || len(hist) < 2 {
		t.Errorf("history %+v %v", hist, err)
	}
}

func TestSourceDropsASilentStream(t *testing.T) {
	srv := servertest.Start(t, servertest.WithHeartbeat(time.Hour))
	admin := newClient(t, srv.URL, srv.AdminToken)
	createMigration(t, admin, "orders")
	sdk := newClient(t, srv.URL, srv.Token(t, api.ScopeSDK))

	statuses := make(chan client.SourceStatus, 100)
	opts := fastSource("")
	opts.IdleTimeout = 20 * time.Millisecond
	opts.OnStatus = func(st client.SourceStatus) {
		select {
		case statuses <- st:
		default:
		}
	}
	s := sdk.Source(opts)
	defer s.Close()
	subscribe(t, s, "orders")
	timeout := time.NewTimer(testTimeout)
	defer timeout.Stop()
	for {
		select {
		case st := <-statuses:
			if st.Connects >= 3 {
				if got := s.Status().LastError; got == nil || !strings.Contains(got.Error(), "silent") {
					t.Errorf("last error %v, want the silence named", got)
				}
				return
			}
		case <-timeout.C:
			t.Fatal("a silent stream was never reopened")
		}
	}
}

func TestReporterFlushesOnItsInterval(t *testing.T) {
	srv := servertest.Start(t)
	admin := newClient(t, srv.URL, srv.AdminToken)
	createMigration(t, admin, "orders")
	op := newClient(t, srv.URL, srv.Token(t, api.ScopeOperator))

	proxy := startLossyProxy(t, srv.URL)
	sdk := newClient(t, proxy.URL, srv.Token(t, api.ScopeSDK))
	rep := sdk.Reporter(client.ReporterOptions{FlushInterval: 10 * time.Millisecond})
	defer rep.Close(context.Background())
	rep.Observe(t.Context(), &cutover.Observation{Migration: "orders", Operation: "get", Mode: cutover.ModeShadow,
		Outcome: cutover.OutcomeMatch, Old: cutover.Side{Ran: true}, New: cutover.Side{Ran: true}, Time: time.Now()})

	// No Flush call: the reporter's own timer sends the batch.
	select {
	case <-proxy.batchIDs:
	case <-time.After(testTimeout):
		t.Fatal("no batch arrived")
	}
	stats, err := op.Stats(t.Context(), "orders", client.StatsQuery{Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Counts[cutover.OutcomeMatch] != 1 {
		t.Errorf("server counts %v, want the one match", stats.Counts)
	}
}

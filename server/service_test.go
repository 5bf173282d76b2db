package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/server"
	"github.com/cutover/cutover/server/sqlite"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable time source.
type clock struct {
	mu sync.Mutex // protects t
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newService(t *testing.T, cfg server.Config) (*server.Service, *clock) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "cutover.db"))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	cfg.Store = store
	cfg.Now = clk.Now
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	svc, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.Start()
	t.Cleanup(func() {
		svc.Close()
		store.Close()
	})
	return svc, clk
}

func codeOf(t *testing.T, err error) *server.Error {
	t.Helper()
	var e *server.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a *server.Error", err)
	}
	return e
}

func rollout(mode, treatment cutover.Mode, percent float64) api.RolloutChange {
	return api.RolloutChange{Mode: mode, Treatment: treatment, Percent: percent, Reason: "test"}
}

// set changes the rollout at the migration's current version.
func set(t *testing.T, svc *server.Service, name string, ch api.RolloutChange) (api.Migration, error) {
	t.Helper()
	m, err := svc.Migration(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	ch.Version = m.Version
	m, _, err = svc.SetRollout(context.Background(), "tester", name, ch)
	return m, err
}

// report ingests one aggregate of calls made in mode.
func report(t *testing.T, svc *server.Service, at time.Time, name string, mode cutover.Mode, counts map[cutover.Outcome]int64, newErrors int64, groups ...api.Group) {
	t.Helper()
	_, err := svc.Ingest(context.Background(), api.ReportBatch{
		BatchID: fmt.Sprintf("b-%d-%s", time.Now().UnixNano(), name), Instance: "test",
		Aggregates: []api.Aggregate{{Migration: name, Operation: "get", Kind: "read", Mode: mode, Start: at, End: at.Add(time.Second),
			Counts: counts, NewErrors: newErrors, Groups: groups}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWilson(t *testing.T) {
	for _, tc := range []struct {
		k, n         int64
		lower, upper float64
	}{
		{0, 0, 0, 1},
		{5, 100, 0.021543, 0.111752},
		{0, 1000, 0, 0.003827},
		{50, 100, 0.403832, 0.596168},
		{10, 10, 0.722467, 1},
	} {
		r := server.Wilson(tc.k, tc.n)
		if math.Abs(r.Lower-tc.lower) > 1e-5 || math.Abs(r.Upper-tc.upper) > 1e-5 || r.N != tc.n {
			t.Errorf("Wilson(%d, %d) = [%f, %f], want [%f, %f]", tc.k, tc.n, r.Lower, r.Upper, tc.lower, tc.upper)
		}
	}
}

func TestCreateMigration(t *testing.T) {
	svc, _ := newService(t, server.Config{})
	ctx := context.Background()
	m, err := svc.CreateMigration(ctx, "admin", api.CreateMigration{Name: "orders", Gates: &api.Gates{MinComparisons: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || m.Gates.MinComparisons != 5 || m.Gates.MaxMismatchRate != server.DefaultGates().MaxMismatchRate || m.Guard != server.DefaultGuard() {
		t.Fatalf("created %+v: want min comparisons 5 and defaults elsewhere", m)
	}
	for _, tc := range []struct {
		req   api.CreateMigration
		field string
	}{
		{api.CreateMigration{Name: "bad name"}, "name"},
		{api.CreateMigration{Name: ""}, "name"},
		{api.CreateMigration{Name: "x", Gates: &api.Gates{MaxMismatchRate: 2}}, "gates.max_mismatch_rate"},
		{api.CreateMigration{Name: "x", Guard: &api.Guard{Webhook: "ftp://x"}}, "guard.webhook"},
	} {
		_, err := svc.CreateMigration(ctx, "admin", tc.req)
		if e := codeOf(t, err); e.Code != api.CodeInvalid || e.Field != tc.field {
			t.Errorf("%+v: %v (field %q), want invalid %s", tc.req, err, e.Field, tc.field)
		}
	}
	_, err = svc.CreateMigration(ctx, "admin", api.CreateMigration{Name: "orders"})
	if e := codeOf(t, err); e.Code != api.CodeConflict {
		t.Fatalf("duplicate name: %v", err)
	}
}

func TestTransitions(t *testing.T) {
	svc, _ := newService(t, server.Config{Gates: &api.Gates{Disabled: true}})
	ctx := context.Background()
	if _, err := svc.CreateMigration(ctx, "admin", api.CreateMigration{Name: "orders", Gates: &api.Gates{Disabled: true}}); err != nil {
		t.Fatal(err)
	}
	// A jump without force.
	_, err := set(t, svc, "orders", rollout(cutover.ModeReverseShadow, cutover.ModeReverseShadow, 0))
	if e := codeOf(t, err); e.Code != api.CodeTransition {
		t.Fatalf("old → reverse-shadow: %v, want a transition error", err)
	}
	// A treatment two steps from the control.
	_, err = set(t, svc, "orders", rollout(cutover.ModeOld, cutover.ModeReverseShadow, 10))
	if e := codeOf(t, err); e.Code != api.CodeTransition || e.Field != "mode" && e.Field != "treatment" {
		t.Fatalf("old + 10%% reverse-shadow: %v", err)
	}
	// No reason.
	ch := rollout(cutover.ModeShadow, cutover.ModeShadow, 0)
	ch.Reason = "  "
	_, err = set(t, svc, "orders", ch)
	if e := codeOf(t, err); e.Code != api.CodeInvalid || e.Field != "reason" {
		t.Fatalf("no reason: %v", err)
	}
	// Invalid percent names the field.
	_, err = set(t, svc, "orders", rollout(cutover.ModeShadow, cutover.ModeShadow, 100.5))
	if e := codeOf(t, err); e.Code != api.CodeInvalid || e.Field != "percent" {
		t.Fatalf("percent 100.5: %v (field %q)", err, e.Field)
	}
	// A forced jump with a reason is allowed and audited as forced.
	ch = rollout(cutover.ModeReverseShadow, cutover.ModeReverseShadow, 0)
	ch.Force = true
	m, err := set(t, svc, "orders", ch)
	if err != nil || m.Version != 2 {
		t.Fatalf("forced jump: %+v, %v", m, err)
	}
	// A stale version is a conflict carrying the current version.
	ch = rollout(cutover.ModeShadow, cutover.ModeShadow, 0)
	ch.Version = 1
	_, _, err = svc.SetRollout(ctx, "tester", "orders", ch)
	if e := codeOf(t, err); e.Code != api.CodeConflict || e.CurrentVersion != 2 {
		t.Fatalf("stale version: %v (current %d)", err, e.CurrentVersion)
	}
	// Back one step.
	if _, err := set(t, svc, "orders", rollout(cutover.ModeShadow, cutover.ModeShadow, 0)); err != nil {
		t.Fatal(err)
	}
	h, err := svc.History(ctx, "orders", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 || h[0].Kind != "created" || !h[1].Forced || h[1].Actor != "tester" || h[2].From.Mode != cutover.ModeReverseShadow || h[2].Forced {
		t.Fatalf("history %+v", h)
	}
	_, _, err = svc.SetRollout(ctx, "tester", "nope", rollout(cutover.ModeShadow, cutover.ModeShadow, 0))
	if e := codeOf(t, err); e.Code != api.CodeInvalid {
		// version 0 is checked first
		t.Fatalf("version 0: %v", err)
	}
	ch = rollout(cutover.ModeShadow, cutover.ModeShadow, 0)
	ch.Version = 1
	_, _, err = svc.SetRollout(ctx, "tester", "nope", ch)
	if e := codeOf(t, err); e.Code != api.CodeNotFound {
		t.Fatalf("unknown migration: %v", err)
	}
}

func criterion(st *api.GateStatus, name string) api.GateCriterion {
	for _, c := range st.Criteria {
		if c.Criterion == name {
			return c
		}
	}
	return api.GateCriterion{Criterion: "missing " + name}
}

func TestGates(t *testing.T) {
	svc, clk := newService(t, server.Config{})
	ctx := context.Background()
	if _, err := svc.CreateMigration(ctx, "admin", api.CreateMigration{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	// old → shadow needs no evidence: nothing is compared in old.
	if _, err := set(t, svc, "orders", rollout(cutover.ModeShadow, cutover.ModeShadow, 0)); err != nil {
		t.Fatalf("old → shadow: %v", err)
	}
	clk.Advance(time.Minute)

	// shadow → reverse-shadow without evidence is refused, with figures.
	_, err := set(t, svc, "orders", rollout(cutover.ModeShadow, cutover.ModeReverseShadow, 10))
	e := codeOf(t, err)
	if e.Code != api.CodeGateRefused || e.Gate == nil || e.Gate.Pass {
		t.Fatalf("promotion without evidence: %v", err)
	}
	c := criterion(e.Gate, "min_comparisons")
	if c.Pass || c.Threshold != 1000 || c.Measured != 0 || !strings.Contains(c.Message, "needs 1000 more") {
		t.Fatalf("min_comparisons %+v", c)
	}
	c = criterion(e.Gate, "min_time_at_full")
	if c.Pass || c.Threshold != 600 || c.Measured != 60 {
		t.Fatalf("min_time_at_full %+v", c)
	}
	if !strings.Contains(e.Message, "min_comparisons") {
		t.Fatalf("message %q does not name the criterion", e.Message)
	}

	// Evidence with too many mismatches: the upper bound is measured.
	report(t, svc, clk.Now(), "orders", cutover.ModeShadow, map[cutover.Outcome]int64{cutover.OutcomeMatch: 1990, cutover.OutcomeMismatch: 10}, 0)
	clk.Advance(10 * time.Minute)
	_, err = set(t, svc, "orders", rollout(cutover.ModeShadow, cutover.ModeReverseShadow, 10))
	e = codeOf(t, err)
	if e.Code != api.CodeGateRefused {
		t.Fatalf("promotion with 0.5%% mismatches: %v", err)
	}
	mm := criterion(e.Gate, "max_mismatch_rate")
	want := server.Wilson(10, 2000).Upper
	if mm.Pass || mm.Threshold != 0.001 || math.Abs(mm.Measured-want) > 1e-12 {
		t.Fatalf("max_mismatch_rate %+v, want measured %v", mm, want)
	}
	if e.Gate.Criteria[0].Pass {
		t.Fatalf("failing criteria must come first: %+v", e.Gate.Criteria)
	}
	for _, name := range []string{"min_comparisons", "min_time_at_full", "max_new_error_rate"} {
		if c := criterion(e.Gate, name); !c.Pass {
			t.Fatalf("%s should pass: %+v", name, c)
		}
	}

	// A clean migration passes.
	if _, err := svc.CreateMigration(ctx, "admin", api.CreateMigration{Name: "clean"}); err != nil {
		t.Fatal(err)
	}
	if _, err := set(t, svc, "clean", rollout(cutover.ModeShadow, cutover.ModeShadow, 0)); err != nil {
		t.Fatal(err)
	}
	report(t, svc, clk.Now(), "clean", cutover.ModeShadow, map[cutover.Outcome]int64{cutover.OutcomeMatch: 5000}, 0)
	clk.Advance(11 * time.Minute)
	m, err := set(t, svc, "clean", rollout(cutover.ModeShadow, cutover.ModeReverseShadow, 10))
	if err != nil {
		t.Fatalf("promotion with evidence: %v", err)
	}
	// Ramping within the same furthest mode is not gated; the next forward
	// move is judged on reverse-shadow's own evidence.
	if _, err := set(t, svc, "clean", rollout(cutover.ModeShadow, cutover.ModeReverseShadow, 100)); err != nil {
		t.Fatalf("ramp: %v", err)
	}
	_, err = set(t, svc, "clean", rollout(cutover.ModeReverseShadow, cutover.ModeNew, 1))
	if e := codeOf(t, err); e.Code != api.CodeGateRefused || criterion(e.Gate, "min_comparisons").Measured != 0 {
		t.Fatalf("reverse-shadow → new without reverse-shadow evidence: %v", err)
	}
	// Force bypasses the gates.
	ch := rollout(cutover.ModeReverseShadow, cutover.ModeNew, 1)
	ch.Force = true
	if _, err := set(t, svc, "clean", ch); err != nil {
		t.Fatalf("forced promotion: %v", err)
	}
	_ = m

	// verify_within: a recent identical verify report is required.
	if _, err := svc.CreateMigration(ctx, "admin", api.CreateMigration{Name: "verified", Gates: &api.Gates{
		MinComparisons: 1, MinTimeAtFull: api.Duration(time.Second), VerifyWithin: api.Duration(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	set(t, svc, "verified", rollout(cutover.ModeShadow, cutover.ModeShadow, 0))
	report(t, svc, clk.Now(), "verified", cutover.ModeShadow, map[cutover.Outcome]int64{cutover.OutcomeMatch: 5000}, 0)
	clk.Advance(time.Minute)
	_, err = set(t, svc, "verified", rollout(cutover.ModeReverseShadow, cutover.ModeReverseShadow, 0))
	if e := codeOf(t, err); e.Code != api.CodeGateRefused || criterion(e.Gate, "verify_within").Pass {
		t.Fatalf("without a verify report: %v", err)
	}
	if _, err := svc.AddVerification(ctx, "op", "verified", api.VerifyReport{Identical: true, StartedAt: clk.Now().Add(-time.Minute), FinishedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := set(t, svc, "verified", rollout(cutover.ModeReverseShadow, cutover.ModeReverseShadow, 0)); err != nil {
		t.Fatalf("with a verify report: %v", err)
	}
}

func sketchBytes(t *testing.T, vals ...float64) []byte {
	s := api.NewSketch()
	for _, v := range vals {
		s.Add(v)
	}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStats(t *testing.T) {
	svc, clk := newService(t, server.Config{})
	ctx := context.Background()
	if _, err := svc.CreateMigration(ctx, "admin", api.CreateMigration{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	start := clk.Now()
	// Two instances, two minutes: old takes 1..100 ms, new 2..200 ms.
	var oldA, oldB, newA, newB []float64
	for i := 1; i <= 100; i++ {
		if i%2 == 0 {
			oldA, newA = append(oldA, float64(i)/1000), append(newA, float64(2*i)/1000)
		} else {
			oldB, newB = append(oldB, float64(i)/1000), append(newB, float64(2*i)/1000)
		}
	}
	for i, part := range [][2][]float64{{oldA, newA}, {oldB, newB}} {
		at := start.Add(time.Duration(i) * time.Minute)
		_, err := svc.Ingest(ctx, api.ReportBatch{BatchID: fmt.Sprint("b", i), Aggregates: []api.Aggregate{{
			Migration: "orders", Operation: "get", Kind: "read", Mode: cutover.ModeShadow, Start: at, End: at.Add(30 * time.Second),
			Counts:    map[cutover.Outcome]int64{cutover.OutcomeMatch: 45, cutover.OutcomeMismatch: 5, cutover.OutcomeShed: 3},
			OldErrors: 1, NewErrors: 2,
			OldLatency: sketchBytes(t, part[0]...), NewLatency: sketchBytes(t, part[1]...),
		}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2 * time.Minute)
	st, err := svc.Stats(ctx, "orders", time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if st.Compared != 100 || st.Counts[cutover.OutcomeMatch] != 90 || st.Counts[cutover.OutcomeShed] != 6 {
		t.Fatalf("counts %v compared %d", st.Counts, st.Compared)
	}
	if want := server.Wilson(10, 100); st.MismatchRate != want {
		t.Fatalf("mismatch rate %+v, want %+v", st.MismatchRate, want)
	}
	if want := server.Wilson(4, 100); st.NewErrorRate != want {
		t.Fatalf("new error rate %+v, want %+v", st.NewErrorRate, want)
	}
	within := func(got, want float64) bool { return math.Abs(got-want) <= 0.011*want }
	// The true quantiles of 1..100 ms at ranks q*(n-1): p50 is the 50th
	// value (50ms), p95 the 95th, p99 the 99th.
	if l := st.Latency.Old; !within(l.P50, 0.050) || !within(l.P95, 0.095) || !within(l.P99, 0.099) {
		t.Fatalf("old latency %+v, want 50/95/99 ms within 1%%", l)
	}
	if l := st.Latency.New; !within(l.P50, 0.100) || !within(l.P99, 0.198) {
		t.Fatalf("new latency %+v, want p50 100ms, p99 198ms within 1%%", l)
	}
	if len(st.Series) != 60 {
		t.Fatalf("%d points, want 60", len(st.Series))
	}
	var nonEmpty []api.StatsPoint
	for _, p := range st.Series {
		if p.Compared > 0 {
			nonEmpty = append(nonEmpty, p)
		}
	}
	if len(nonEmpty) != 2 || nonEmpty[0].MatchRate != 0.9 || !nonEmpty[0].Time.Equal(start) || nonEmpty[1].Old.P50 == 0 {
		t.Fatalf("series points %+v", nonEmpty)
	}
	if st.Gates == nil || !st.Gates.Pass || len(st.Gates.Criteria) != 0 { // in old nothing is judged
		t.Fatalf("gates %+v", st.Gates)
	}
	// A window that ends before the reports sees nothing.
	clk.Advance(time.Hour)
	st, _ = svc.Stats(ctx, "orders", 10*time.Minute, 0)
	if st.Compared != 0 || st.MismatchRate.Upper != 1 {
		t.Fatalf("empty window: %+v", st)
	}
	if _, err := svc.Stats(ctx, "orders", time.Hour, time.Second); codeOf(t, err).Field != "step" {
		t.Fatalf("step 1s: %v", err)
	}
}

func TestMismatchGroups(t *testing.T) {
	svc, clk := newService(t, server.Config{MaxSamples: 3})
	ctx := context.Background()
	if _, err := svc.CreateMigration(ctx, "admin", api.CreateMigration{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 4; b++ {
		var samples []api.Sample
		for i := 0; i < 2; i++ {
			samples = append(samples, api.Sample{Key: fmt.Sprint("key", b*2+i), Time: clk.Now().Add(time.Duration(b*2+i) * time.Second)})
		}
		report(t, svc, clk.Now(), "orders", cutover.ModeShadow, map[cutover.Outcome]int64{cutover.OutcomeMismatch: 9, cutover.OutcomeError: 1}, 1,
			api.Group{Signature: ".Items[*].Price", Outcome: cutover.OutcomeMismatch, Count: 9, Samples: samples},
			api.Group{Signature: "error:new", Outcome: cutover.OutcomeError, Count: 1})
	}
	gs, err := svc.Mismatches(ctx, "orders", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 || gs[0].Signature != ".Items[*].Price" || gs[0].Count != 36 || gs[0].Share != 0.9 {
		t.Fatalf("groups %+v", gs)
	}
	if len(gs[0].Samples) != 3 || gs[0].Samples[2].Key != "key7" {
		t.Fatalf("samples %+v: want the newest 3", gs[0].Samples)
	}
	if gs[1].Samples == nil {
		t.Fatal("samples of a group without any must be an empty list, not null")
	}
	if _, err := svc.Mismatches(ctx, "nope", 0); codeOf(t, err).Code != api.CodeNotFound {
		t.Fatalf("unknown migration: %v", err)
	}
}

func TestIngestIdempotentAndUnknown(t *testing.T) {
	svc, clk := newService(t, server.Config{})
	ctx := context.Background()
	svc.CreateMigration(ctx, "admin", api.CreateMigration{Name: "orders"})
	b := api.ReportBatch{BatchID: "same", Aggregates: []api.Aggregate{
		{Migration: "orders", Mode: cutover.ModeShadow, Start: clk.Now(), Counts: map[cutover.Outcome]int64{cutover.OutcomeMatch: 7}},
		{Migration: "ghost", Mode: cutover.ModeShadow, Start: clk.Now(), Counts: map[cutover.Outcome]int64{cutover.OutcomeMatch: 7}},
	}}
	ack, err := svc.Ingest(ctx, b)
	if err != nil || ack.Duplicate || len(ack.UnknownMigrations) != 1 || ack.UnknownMigrations[0] != "ghost" {
		t.Fatalf("first: %+v %v", ack, err)
	}
	ack, err = svc.Ingest(ctx, b)
	if err != nil || !ack.Duplicate {
		t.Fatalf("retry: %+v %v", ack, err)
	}
	st, _ := svc.Stats(ctx, "orders", time.Hour, 0)
	if st.Counts[cutover.OutcomeMatch] != 7 {
		t.Fatalf("counted %d matches, want 7 (once)", st.Counts[cutover.OutcomeMatch])
	}
	for _, tc := range []struct {
		b     api.ReportBatch
		field string
	}{
		{api.ReportBatch{}, "batch_id"},
		{api.ReportBatch{BatchID: "x", Aggregates: []api.Aggregate{{Migration: "orders", Mode: 9, Start: clk.Now()}}}, "aggregates[0].mode"},
		{api.ReportBatch{BatchID: "x", Aggregates: []api.Aggregate{{Migration: "orders"}}}, "aggregates[0].start"},
		{api.ReportBatch{BatchID: "x", Aggregates: []api.Aggregate{{Migration: "orders", Start: clk.Now(), NewLatency: []byte{1, 2, 3}}}}, "aggregates[0].new_latency"},
	} {
		_, err := svc.Ingest(ctx, tc.b)
		if e := codeOf(t, err); e.Code != api.CodeInvalid || e.Field != tc.field {
			t.Errorf("%+v: %v (field %q), want %s", tc.b, err, e.Field, tc.field)
		}
	}
}

// webhook is a real HTTP server on loopback that records notifications.
type webhook struct {
	*httptest.Server
	notes chan api.GuardNotification
	fail  int // answer 500 to this many requests first
	mu    sync.Mutex
}

func newWebhook(t *testing.T, fail int) *webhook {
	w := &webhook{notes: make(chan api.GuardNotification, 10), fail: fail}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		failing := w.fail > 0
		w.fail--
		w.mu.Unlock()
		if failing {
			http.Error(rw, "not now", http.StatusInternalServerError)
			return
		}
		var n api.GuardNotification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		w.notes <- n
	}))
	t.Cleanup(w.Close)
	return w
}

func TestGuardRollsBack(t *testing.T) {
	hook := newWebhook(t, 2) // two failures, then success: retries work
	svc, clk := newService(t, server.Config{Webhook: server.WebhookConfig{Backoff: time.Millisecond}})
	ctx := context.Background()
	_, err := svc.CreateMigration(ctx, "admin", api.CreateMigration{Name: "orders", Gates: &api.Gates{Disabled: true},
		Guard: &api.Guard{Window: api.Duration(5 * time.Minute), MinSamples: 100, MaxMismatchRate: 0.05, MaxNewErrorRate: 0.05, Webhook: hook.URL}})
	if err != nil {
		t.Fatal(err)
	}
	set(t, svc, "orders", rollout(cutover.ModeShadow, cutover.ModeShadow, 0))
	// Mismatches in shadow are not the guard's business.
	report(t, svc, clk.Now(), "orders", cutover.ModeShadow, map[cutover.Outcome]int64{cutover.OutcomeMismatch: 500}, 0)
	set(t, svc, "orders", rollout(cutover.ModeShadow, cutover.ModeReverseShadow, 50))
	if cs, err := svc.Check(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("Check with no reverse-shadow evidence: %v %v", cs, err)
	}
	clk.Advance(time.Minute)
	// Too few samples: no action.
	report(t, svc, clk.Now(), "orders", cutover.ModeReverseShadow, map[cutover.Outcome]int64{cutover.OutcomeMatch: 50, cutover.OutcomeMismatch: 40}, 0)
	if cs, _ := svc.Check(ctx); len(cs) != 0 {
		t.Fatalf("Check under min samples acted: %+v", cs)
	}
	report(t, svc, clk.Now(), "orders", cutover.ModeReverseShadow, map[cutover.Outcome]int64{cutover.OutcomeMatch: 100}, 0)
	sub := svc.Subscribe()
	defer sub.Cancel()
	cs, err := svc.Check(ctx)
	if err != nil || len(cs) != 1 {
		t.Fatalf("Check: %+v %v, want one rollback", cs, err)
	}
	c := cs[0]
	if !c.Automatic || c.Actor != server.GuardActor || c.To.Mode != cutover.ModeShadow || c.To.Percent != 0 ||
		c.Figures["compared"] != 190 || c.Figures["mismatches"] != 40 || math.Abs(c.Figures["mismatch_rate"]-40.0/190) > 1e-12 ||
		!strings.Contains(c.Reason, "mismatch rate 21.05%") {
		t.Fatalf("rollback change %+v", c)
	}
	m, _ := svc.Migration(ctx, "orders")
	if m.Rollout.Mode != cutover.ModeShadow || m.Rollout.Percent != 0 {
		t.Fatalf("rollout after the guard: %v", m.Rollout)
	}
	h, _ := svc.History(ctx, "orders", 0, 1)
	if len(h) != 1 || h[0].ID != c.ID || !h[0].Automatic || h[0].Figures["mismatches"] != 40 {
		t.Fatalf("audited change %+v", h)
	}
	select {
	case got := <-sub.C:
		if got.ID != c.ID {
			t.Fatalf("watchers got change %d, want %d", got.ID, c.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the rollback was not published to watchers")
	}
	select {
	case n := <-hook.notes:
		if n.Migration != "orders" || n.ChangeID != c.ID || n.Figures["mismatches"] != 40 || n.To.Mode != cutover.ModeShadow {
			t.Fatalf("notification %+v", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the webhook got no notification")
	}
	// Rolled back, the migration is no longer watched.
	if cs, _ := svc.Check(ctx); len(cs) != 0 {
		t.Fatalf("second Check acted again: %+v", cs)
	}
}

func TestGuardNewWhileOldRuns(t *testing.T) {
	svc, clk := newService(t, server.Config{})
	ctx := context.Background()
	svc.CreateMigration(ctx, "admin", api.CreateMigration{Name: "orders", Gates: &api.Gates{Disabled: true}})
	set(t, svc, "orders", rollout(cutover.ModeShadow, cutover.ModeShadow, 0))
	set(t, svc, "orders", rollout(cutover.ModeReverseShadow, cutover.ModeReverseShadow, 0))
	set(t, svc, "orders", rollout(cutover.ModeReverseShadow, cutover.ModeNew, 50))
	clk.Advance(time.Minute)
	// New fails a tenth of the calls where it is compared.
	report(t, svc, clk.Now(), "orders", cutover.ModeReverseShadow, map[cutover.Outcome]int64{cutover.OutcomeMatch: 180, cutover.OutcomeFallback: 20}, 20)
	cs, err := svc.Check(ctx)
	if err != nil || len(cs) != 1 || !cs[0].Forced || cs[0].Figures["new_error_rate"] != 0.1 || !strings.Contains(cs[0].Reason, "new-side error rate") {
		t.Fatalf("Check: %+v %v", cs, err)
	}
}

func TestDeadWebhookDoesNotBlock(t *testing.T) {
	release := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer stuck.Close()
	defer close(release)
	results := make(chan error, 10)
	svc, clk := newService(t, server.Config{Webhook: server.WebhookConfig{QueueSize: 1, MaxAttempts: 1, DrainTimeout: time.Millisecond,
		OnResult: func(_ string, _ api.GuardNotification, err error) { results <- err }}})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		name := fmt.Sprint("m", i)
		svc.CreateMigration(ctx, "admin", api.CreateMigration{Name: name, Gates: &api.Gates{Disabled: true},
			Guard: &api.Guard{MinSamples: 10, Webhook: stuck.URL}})
		set(t, svc, name, rollout(cutover.ModeShadow, cutover.ModeShadow, 0))
		set(t, svc, name, rollout(cutover.ModeReverseShadow, cutover.ModeReverseShadow, 0))
	}
	clk.Advance(time.Minute)
	for i := 0; i < 3; i++ {
		report(t, svc, clk.Now(), fmt.Sprint("m", i), cutover.ModeReverseShadow, map[cutover.Outcome]int64{cutover.OutcomeMismatch: 100}, 0)
	}
	done := make(chan []api.Change)
	go func() {
		cs, _ := svc.Check(ctx)
		done <- cs
	}()
	select {
	case cs := <-done:
		if len(cs) != 3 {
			t.Fatalf("%d rollbacks, want 3", len(cs))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Check blocked on a webhook that does not answer")
	}
	// One notification is stuck in delivery, one queued; the third was
	// dropped and counted.
	if got := testutil.ToFloat64(svc.Metrics().Webhooks.WithLabelValues("dropped")); got < 1 {
		t.Fatalf("dropped notifications: %v, want at least 1", got)
	}
}

func TestCloseDeliversQueuedNotifications(t *testing.T) {
	hook := newWebhook(t, 1)
	svc, clk := newService(t, server.Config{Webhook: server.WebhookConfig{Backoff: time.Millisecond}})
	ctx := context.Background()
	svc.CreateMigration(ctx, "admin", api.CreateMigration{Name: "orders", Gates: &api.Gates{Disabled: true},
		Guard: &api.Guard{MinSamples: 10, Webhook: hook.URL}})
	set(t, svc, "orders", rollout(cutover.ModeShadow, cutover.ModeShadow, 0))
	set(t, svc, "orders", rollout(cutover.ModeReverseShadow, cutover.ModeReverseShadow, 0))
	clk.Advance(time.Minute)
	report(t, svc, clk.Now(), "orders", cutover.ModeReverseShadow, map[cutover.Outcome]int64{cutover.OutcomeMismatch: 50}, 0)
	if cs, err := svc.Check(ctx); err != nil || len(cs) != 1 {
		t.Fatalf("Check: %v %v", cs, err)
	}
	svc.Close() // the notification is queued, or failing once: Close delivers it
	select {
	case n := <-hook.notes:
		if n.Migration != "orders" {
			t.Fatalf("notification %+v", n)
		}
	default:
		t.Fatal("Close returned without delivering the queued notification")
	}
}

func TestSamplesAreBounded(t *testing.T) {
	svc, clk := newService(t, server.Config{})
	ctx := context.Background()
	svc.CreateMigration(ctx, "admin", api.CreateMigration{Name: "orders"})
	var diffs []diff.Difference
	for i := 0; i < 30; i++ {
		diffs = append(diffs, diff.Difference{Path: fmt.Sprintf(".Items[%d]", i), Old: strings.Repeat("é", 400), New: "x"})
	}
	report(t, svc, clk.Now(), "orders", cutover.ModeShadow, map[cutover.Outcome]int64{cutover.OutcomeMismatch: 1}, 0,
		api.Group{Signature: ".Items[*]", Outcome: cutover.OutcomeMismatch, Count: 1,
			Samples: []api.Sample{{Key: strings.Repeat("k", 2000), Time: clk.Now(), Diffs: diffs}}})
	gs, err := svc.Mismatches(ctx, "orders", 0)
	if err != nil {
		t.Fatal(err)
	}
	s := gs[0].Samples[0]
	if len(s.Key) > 520 || len(s.Diffs) != 20 || len(s.Diffs[0].Old) > 520 || !utf8.ValidString(s.Diffs[0].Old) {
		t.Fatalf("stored sample: key %d bytes, %d diffs, old value %d bytes (valid UTF-8: %v)", len(s.Key), len(s.Diffs), len(s.Diffs[0].Old), utf8.ValidString(s.Diffs[0].Old))
	}
}

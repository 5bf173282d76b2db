// Package storetest is the conformance suite of server.Store: every
// adapter (sqlite, postgres) runs the same tests through [Run].
package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/server"
)

// Run runs the suite; open returns a fresh, empty store for each subtest
// (closed by the suite).
func Run(t *testing.T, open func(t *testing.T) server.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s server.Store)
	}{
		{"Migrations", testMigrations},
		{"Update", testUpdate},
		{"Changes", testChanges},
		{"Ingest", testIngest},
		{"ConcurrentIngest", testConcurrentIngest},
		{"Groups", testGroups},
		{"Tokens", testTokens},
		{"Verifications", testVerifications},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func migration(name string) server.Migration {
	return server.Migration{
		Migration: api.Migration{
			Name: name, Description: "test " + name, Version: 1,
			Rollout: cutover.Rollout{Mode: cutover.ModeOld},
			Gates:   server.DefaultGates(), Guard: server.DefaultGuard(),
			FullSince: t0, CreatedAt: t0, UpdatedAt: t0,
		},
		EvidenceSince: t0,
	}
}

func created(name string) api.Change {
	return api.Change{Migration: name, Version: 1, Actor: "tester", To: cutover.Rollout{Mode: cutover.ModeOld}, Reason: "created", Kind: "created", Time: t0}
}

func mustCreate(t *testing.T, s server.Store, name string) api.Change {
	t.Helper()
	c, err := s.CreateMigration(context.Background(), migration(name), created(name))
	if err != nil {
		t.Fatalf("CreateMigration(%s): %v", name, err)
	}
	return c
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want code %s", code)
	}
	if got := server.ErrorCode(err); got != code {
		t.Fatalf("error %v has code %s, want %s", err, got, code)
	}
}

func testMigrations(t *testing.T, s server.Store) {
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	c := mustCreate(t, s, "orders")
	if c.ID <= 0 || c.Kind != "created" {
		t.Fatalf("created change %+v", c)
	}
	mustCreate(t, s, "billing")
	_, err := s.CreateMigration(ctx, migration("orders"), created("orders"))
	wantCode(t, err, api.CodeConflict)

	m, err := s.Migration(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	want := migration("orders")
	if m.Name != want.Name || m.Description != want.Description || m.Version != 1 || !m.FullSince.Equal(t0) ||
		!m.EvidenceSince.Equal(t0) || !m.CreatedAt.Equal(t0) || m.Gates != want.Gates || m.Guard != want.Guard {
		t.Fatalf("stored %+v\nwant %+v", m, want)
	}
	_, err = s.Migration(ctx, "nope")
	wantCode(t, err, api.CodeNotFound)

	ms, err := s.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Name != "billing" || ms[1].Name != "orders" {
		t.Fatalf("Migrations = %v, want billing and orders by name", ms)
	}
}

func testUpdate(t *testing.T, s server.Store) {
	ctx := context.Background()
	c1 := mustCreate(t, s, "orders")
	m, _ := s.Migration(ctx, "orders")
	to := cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeReverseShadow, Percent: 12.5, Overrides: map[string]cutover.Mode{"tenant-1": cutover.ModeNew}}
	from := m.Rollout
	m.Rollout, m.Version, m.FullSince = to, 2, time.Time{}
	change := api.Change{Migration: "orders", Version: 2, Actor: "op", From: from, To: to, Reason: "ramp", Forced: true,
		Automatic: true, Figures: map[string]float64{"mismatch_rate": 0.25}, Kind: "rollout", Time: t0.Add(time.Minute)}
	c2, err := s.UpdateMigration(ctx, m, 1, change)
	if err != nil {
		t.Fatal(err)
	}
	if c2.ID <= c1.ID {
		t.Fatalf("change id %d not after %d", c2.ID, c1.ID)
	}
	got, _ := s.Migration(ctx, "orders")
	if got.Version != 2 || !got.Rollout.Equal(to) || !got.FullSince.IsZero() {
		t.Fatalf("after update: %+v", got)
	}
	// A stale version is refused with the current one.
	m.Version = 3
	_, err = s.UpdateMigration(ctx, m, 1, change)
	wantCode(t, err, api.CodeConflict)
	if e := err.(*server.Error); e.CurrentVersion != 2 {
		t.Fatalf("CurrentVersion = %d, want 2", e.CurrentVersion)
	}
	ghost := migration("ghost")
	_, err = s.UpdateMigration(ctx, ghost, 1, change)
	wantCode(t, err, api.CodeNotFound)

	rc, err := s.Change(ctx, c2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Actor != "op" || !rc.Forced || !rc.Automatic || rc.Figures["mismatch_rate"] != 0.25 || !rc.To.Equal(to) ||
		!rc.From.Equal(from) || rc.Reason != "ramp" || !rc.Time.Equal(change.Time) || rc.Version != 2 || rc.Kind != "rollout" {
		t.Fatalf("stored change %+v", rc)
	}
	_, err = s.Change(ctx, c2.ID+1000)
	wantCode(t, err, api.CodeNotFound)
}

func testChanges(t *testing.T, s server.Store) {
	ctx := context.Background()
	mustCreate(t, s, "a")
	mustCreate(t, s, "b")
	for i := 2; i <= 4; i++ {
		for _, name := range []string{"a", "b"} {
			m, _ := s.Migration(ctx, name)
			m.Version = int64(i)
			if _, err := s.UpdateMigration(ctx, m, int64(i-1), api.Change{Migration: name, Version: int64(i), Actor: "x", Reason: fmt.Sprint(i), Kind: "rollout", Time: t0}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.AddVerification(ctx, "a", api.VerifyReport{Identical: true, FinishedAt: t0}, api.Change{Migration: "a", Version: 4, Kind: "verify", Time: t0}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Changes(ctx, server.ChangeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 9 {
		t.Fatalf("%d changes, want 9", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Fatalf("changes not in id order: %v", all)
		}
	}
	a, _ := s.Changes(ctx, server.ChangeFilter{Migrations: []string{"a"}, Kinds: []string{"created", "rollout"}})
	if len(a) != 4 || a[0].Kind != "created" || a[3].Version != 4 {
		t.Fatalf("a's rollout changes: %+v", a)
	}
	after, _ := s.Changes(ctx, server.ChangeFilter{AfterID: all[5].ID})
	if len(after) != 3 || after[0].ID != all[6].ID {
		t.Fatalf("after %d: %+v", all[5].ID, after)
	}
	newest, _ := s.Changes(ctx, server.ChangeFilter{Migrations: []string{"b"}, Limit: 2, Newest: true})
	if len(newest) != 2 || newest[0].Version != 3 || newest[1].Version != 4 {
		t.Fatalf("newest 2 of b: %+v", newest)
	}
	oldest, _ := s.Changes(ctx, server.ChangeFilter{Migrations: []string{"b", "a"}, Limit: 2})
	if len(oldest) != 2 || oldest[0].ID != all[0].ID {
		t.Fatalf("oldest 2: %+v", oldest)
	}
}

func sketch(vals ...float64) *api.Sketch {
	s := api.NewSketch()
	for _, v := range vals {
		s.Add(v)
	}
	return s
}

func delta(name string, minute time.Time, mode cutover.Mode, match, mismatch int64, oldLat, newLat []float64) server.BucketDelta {
	d := server.BucketDelta{Migration: name, StatsBucket: server.StatsBucket{Minute: minute, Mode: mode, OldErrors: 1, NewErrors: 2,
		OldLatency: sketch(oldLat...), NewLatency: sketch(newLat...)}}
	d.Counts[cutover.OutcomeMatch] = match
	d.Counts[cutover.OutcomeMismatch] = mismatch
	return d
}

func testIngest(t *testing.T, s server.Store) {
	ctx := context.Background()
	mustCreate(t, s, "orders")
	d1 := delta("orders", t0, cutover.ModeShadow, 10, 1, []float64{0.01, 0.02}, []float64{0.03})
	d2 := delta("orders", t0.Add(time.Minute), cutover.ModeShadow, 5, 0, nil, []float64{1})
	dup, err := s.Ingest(ctx, "batch-1", "i1", t0, []server.BucketDelta{d1, d2}, nil, 5)
	if err != nil || dup {
		t.Fatalf("first Ingest: dup=%v err=%v", dup, err)
	}
	dup, err = s.Ingest(ctx, "batch-1", "i1", t0, []server.BucketDelta{d1, d2}, nil, 5)
	if err != nil || !dup {
		t.Fatalf("retried Ingest: dup=%v err=%v, want a duplicate", dup, err)
	}
	d3 := delta("orders", t0, cutover.ModeShadow, 1, 1, []float64{0.5}, nil)
	d4 := delta("orders", t0, cutover.ModeReverseShadow, 7, 0, nil, nil)
	if dup, err := s.Ingest(ctx, "batch-2", "i2", t0, []server.BucketDelta{d3, d4}, nil, 5); err != nil || dup {
		t.Fatalf("second batch: dup=%v err=%v", dup, err)
	}
	bs, err := s.Buckets(ctx, "orders", t0, t0.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 3 {
		t.Fatalf("%d buckets, want 3: %+v", len(bs), bs)
	}
	b := bs[0]
	if !b.Minute.Equal(t0) || b.Mode != cutover.ModeShadow || b.Counts[cutover.OutcomeMatch] != 11 || b.Counts[cutover.OutcomeMismatch] != 2 ||
		b.OldErrors != 2 || b.NewErrors != 4 || b.OldLatency.Count() != 3 || b.NewLatency.Count() != 1 {
		t.Fatalf("merged bucket %+v (old latency %v values, new %v)", b, b.OldLatency.Count(), b.NewLatency.Count())
	}
	if q := b.OldLatency.Quantile(1); q < 0.49 || q > 0.51 {
		t.Fatalf("max old latency %v, want 0.5 within 1%%", q)
	}
	if bs[1].Mode != cutover.ModeReverseShadow || bs[1].Counts[cutover.OutcomeMatch] != 7 {
		t.Fatalf("reverse-shadow bucket %+v", bs[1])
	}
	if bs[2].Counts[cutover.OutcomeMatch] != 5 || bs[2].NewLatency.Count() != 1 {
		t.Fatalf("second minute %+v", bs[2])
	}
	only, _ := s.Buckets(ctx, "orders", t0.Add(time.Minute), t0.Add(2*time.Minute))
	if len(only) != 1 {
		t.Fatalf("window [t0+1m, t0+2m): %d buckets, want 1", len(only))
	}
}

func testConcurrentIngest(t *testing.T, s server.Store) {
	ctx := context.Background()
	mustCreate(t, s, "orders")
	const writers, batches = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches*2)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				d := delta("orders", t0, cutover.ModeShadow, 1, 0, []float64{0.1}, nil)
				g := server.GroupDelta{Migration: "orders", Signature: ".Price", Outcome: cutover.OutcomeMismatch, Count: 1, FirstSeen: t0, LastSeen: t0}
				id := fmt.Sprintf("w%d-b%d", w, b)
				// Each batch is sent twice, as a retry would.
				for range 2 {
					if _, err := s.Ingest(ctx, id, "i", t0, []server.BucketDelta{d}, []server.GroupDelta{g}, 5); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The same batch from every writer at once is counted once.
	var dups sync.WaitGroup
	var fresh atomic.Int64
	for w := 0; w < writers; w++ {
		dups.Add(1)
		go func() {
			defer dups.Done()
			d := delta("orders", t0, cutover.ModeShadow, 1, 0, []float64{0.1}, nil)
			dup, err := s.Ingest(ctx, "shared", "i", t0, []server.BucketDelta{d}, nil, 5)
			if err != nil {
				t.Error(err)
			}
			if !dup {
				fresh.Add(1)
			}
		}()
	}
	dups.Wait()
	if n := fresh.Load(); n != 1 {
		t.Fatalf("a batch sent by %d writers at once was new %d times, want once", writers, n)
	}
	bs, _ := s.Buckets(ctx, "orders", t0, t0.Add(time.Minute))
	if len(bs) != 1 || bs[0].Counts[cutover.OutcomeMatch] != writers*batches+1 || bs[0].OldLatency.Count() != writers*batches+1 {
		t.Fatalf("after concurrent ingest: %+v", bs)
	}
	gs, _ := s.Groups(ctx, "orders", time.Time{})
	if len(gs) != 1 || gs[0].Count != writers*batches {
		t.Fatalf("groups after concurrent ingest: %+v", gs)
	}
}

func testGroups(t *testing.T, s server.Store) {
	ctx := context.Background()
	mustCreate(t, s, "orders")
	sample := func(i int) api.Sample {
		return api.Sample{Key: fmt.Sprint("k", i), Time: t0.Add(time.Duration(i) * time.Second), NewError: "e"}
	}
	for b := 0; b < 3; b++ {
		g := server.GroupDelta{Migration: "orders", Signature: ".Items[*].Price", Outcome: cutover.OutcomeMismatch, Count: 10,
			FirstSeen: t0.Add(time.Duration(b) * time.Minute), LastSeen: t0.Add(time.Duration(b)*time.Minute + 30*time.Second)}
		for i := 0; i < 4; i++ {
			g.Samples = append(g.Samples, sample(b*4+i))
		}
		other := server.GroupDelta{Migration: "orders", Signature: "error:new", Outcome: cutover.OutcomeError, Count: 1, FirstSeen: t0, LastSeen: t0}
		if _, err := s.Ingest(ctx, fmt.Sprint("g", b), "i", t0, nil, []server.GroupDelta{g, other}, 5); err != nil {
			t.Fatal(err)
		}
	}
	gs, err := s.Groups(ctx, "orders", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 {
		t.Fatalf("%d groups, want 2", len(gs))
	}
	g := gs[0]
	if g.Signature != ".Items[*].Price" || g.Count != 30 || !g.FirstSeen.Equal(t0) || !g.LastSeen.Equal(t0.Add(2*time.Minute+30*time.Second)) {
		t.Fatalf("largest group %+v", g)
	}
	if len(g.Samples) != 5 || g.Samples[4].Key != "k11" || g.Samples[0].Key != "k7" {
		t.Fatalf("samples %+v, want the newest 5 (k7..k11)", g.Samples)
	}
	if gs[1].Outcome != cutover.OutcomeError || gs[1].Count != 3 {
		t.Fatalf("error group %+v", gs[1])
	}
	recent, _ := s.Groups(ctx, "orders", t0.Add(time.Minute))
	if len(recent) != 1 {
		t.Fatalf("groups seen since t0+1m: %+v", recent)
	}
}

func testTokens(t *testing.T, s server.Store) {
	ctx := context.Background()
	if n, err := s.CountTokens(ctx, api.ScopeAdmin); err != nil || n != 0 {
		t.Fatalf("CountTokens on an empty store: %d, %v", n, err)
	}
	tok := server.TokenRecord{Hash: "abc123", Name: "ci", Scope: api.ScopeOperator, CreatedAt: t0}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.TokenByHash(ctx, "abc123")
	if err != nil || got != tok {
		t.Fatalf("TokenByHash = %+v, %v; want %+v", got, err, tok)
	}
	_, err = s.TokenByHash(ctx, "nope")
	wantCode(t, err, api.CodeNotFound)
	if n, _ := s.CountTokens(ctx, api.ScopeOperator); n != 1 {
		t.Fatalf("CountTokens(operator) = %d, want 1", n)
	}
	// Several servers making the first admin token at once make one.
	var wg sync.WaitGroup
	var made atomic.Int64
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.CreateFirstToken(ctx, server.TokenRecord{Hash: fmt.Sprint("first", i), Name: "initial", Scope: api.ScopeAdmin, CreatedAt: t0})
			if err != nil {
				t.Error(err)
			}
			if ok {
				made.Add(1)
			}
		}()
	}
	wg.Wait()
	if n, _ := s.CountTokens(ctx, api.ScopeAdmin); n != 1 || made.Load() != 1 {
		t.Fatalf("%d admin tokens, %d reported made; want 1", n, made.Load())
	}

	// Listing, oldest first; deleting.
	later := server.TokenRecord{Hash: "def456", Name: "second admin", Scope: api.ScopeAdmin, CreatedAt: t0.Add(time.Hour)}
	if err := s.CreateToken(ctx, later); err != nil {
		t.Fatal(err)
	}
	all, err := s.Tokens(ctx)
	if err != nil || len(all) != 3 || all[2] != later {
		t.Fatalf("Tokens = %+v, %v; want 3, the newest last", all, err)
	}
	_, err = s.DeleteToken(ctx, "nope", true)
	wantCode(t, err, api.CodeNotFound)
	if got, err := s.DeleteToken(ctx, "abc123", true); err != nil || got != tok {
		t.Fatalf("DeleteToken = %+v, %v; want %+v", got, err, tok)
	}
	_, err = s.TokenByHash(ctx, "abc123")
	wantCode(t, err, api.CodeNotFound)
	// Two admin tokens: one may go, not the last, unless asked.
	if _, err := s.DeleteToken(ctx, "def456", true); err != nil {
		t.Fatal(err)
	}
	first := all[0].Hash
	if all[0].Scope != api.ScopeAdmin {
		first = all[1].Hash
	}
	_, err = s.DeleteToken(ctx, first, true)
	wantCode(t, err, api.CodeConflict)
	if _, err := s.DeleteToken(ctx, first, false); err != nil {
		t.Fatal(err)
	}
	if all, err := s.Tokens(ctx); err != nil || len(all) != 0 {
		t.Fatalf("Tokens after deleting all = %+v, %v", all, err)
	}
}

func testVerifications(t *testing.T, s server.Store) {
	ctx := context.Background()
	mustCreate(t, s, "orders")
	if _, ok, err := s.LatestVerification(ctx, "orders"); ok || err != nil {
		t.Fatalf("LatestVerification with none: ok=%v err=%v", ok, err)
	}
	for i, identical := range []bool{true, false} {
		r := api.VerifyReport{Identical: identical, OldRows: 10, NewRows: 10, StartedAt: t0, FinishedAt: t0.Add(time.Duration(i+1) * time.Minute)}
		c, err := s.AddVerification(ctx, "orders", r, api.Change{Migration: "orders", Version: 1, Kind: "verify", Reason: "verify", Time: r.FinishedAt})
		if err != nil || c.ID == 0 {
			t.Fatalf("AddVerification: %+v %v", c, err)
		}
	}
	r, ok, err := s.LatestVerification(ctx, "orders")
	if err != nil || !ok || r.Identical || !r.FinishedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("latest verification %+v ok=%v err=%v", r, ok, err)
	}
}

package app_test

import (
	"bufio"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/internal/testenv"
	"github.com/cutover/cutover/server/app"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func startReplica(t *testing.T, db string) *app.App {
	t.Helper()
	a, err := app.Open(context.Background(), app.Config{Listen: "127.0.0.1:0", DB: db, AdminToken: "admin-secret",
		GuardInterval: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	return a
}

// waitFor polls cond until it holds, failing the test after 15s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 15s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReplicasOnPostgres(t *testing.T) {
	db := testenv.PostgresURL(t)
	a, b := startReplica(t, db), startReplica(t, db)

	// A watcher of b sees a change made through a.
	resp, err := post(http.DefaultClient, a.URL()+"/api/v1/migrations", "admin-secret", api.CreateMigration{Name: "orders", Gates: &api.Gates{Disabled: true}})
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create through a: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", b.URL()+"/api/v1/watch?migration=orders", nil)
	req.Header.Set("Authorization", "Bearer admin-secret")
	wresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer wresp.Body.Close()
	events := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(wresp.Body)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "data: ") {
				events <- l
			}
		}
		close(events)
	}()
	if l := <-events; !strings.Contains(l, `"version":1`) {
		t.Fatalf("snapshot through b: %s", l)
	}
	sent := time.Now()
	m, _, err := a.Service().SetRollout(context.Background(), "op", "orders", api.RolloutChange{Mode: cutover.ModeShadow, Treatment: cutover.ModeShadow, Reason: "through a", Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-events:
		if !strings.Contains(l, `"version":2`) || !strings.Contains(l, `"mode":"shadow"`) {
			t.Fatalf("event through b: %s", l)
		}
		t.Logf("the change through a reached b's watcher in %v", time.Since(sent))
	case <-time.After(10 * time.Second):
		t.Fatalf("the change (version %d) through a never reached b's watcher", m.Version)
	}

	// The guard runs on one replica at a time, and moves when it stops.
	checks := func(x *app.App) float64 { return testutil.ToFloat64(x.Service().Metrics().GuardChecks) }
	waitFor(t, "a guard round on either replica", func() bool { return checks(a)+checks(b) > 0 })
	leader, follower := a, b
	if checks(b) > 0 {
		leader, follower = b, a
	}
	base := checks(leader)
	waitFor(t, "20 more rounds on the leader", func() bool { return checks(leader) >= base+20 })
	if n := checks(follower); n != 0 {
		t.Fatalf("the follower ran %v guard rounds while the leader held the lock", n)
	}
	leader.Shutdown(context.Background())
	waitFor(t, "the follower to take the guard over", func() bool { return checks(follower) > 0 })
}

package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/client"
	"github.com/cutover/cutover/examples/orders"
	"github.com/cutover/cutover/internal/testenv"
	"github.com/cutover/cutover/server/servertest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// service is a running orders-service.
type service struct {
	url    string
	cancel context.CancelFunc
	done   chan error
	out    *testenv.SyncBuffer
	http   *http.Client
}

func start(t *testing.T, env map[string]string, args ...string) *service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &service{cancel: cancel, done: make(chan error, 1), out: &testenv.SyncBuffer{},
		http: &http.Client{Transport: &http.Transport{}}}
	ready := make(chan string, 1)
	args = append([]string{"--listen", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "orders.db"), "--seed", "200", "--log-level", "error"}, args...)
	go func() {
		s.done <- run(ctx, args, func(k string) string { return env[k] }, s.out, s.out, func(addr string) { ready <- addr })
	}()
	select {
	case addr := <-ready:
		s.url = "http://" + addr
	case err := <-s.done:
		cancel()
		t.Fatalf("orders-service did not start: %v\n%s", err, s.out)
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop sends the equivalent of SIGINT and waits for a clean exit.
func (s *service) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	if err := <-s.done; err != nil {
		t.Errorf("orders-service exited with %v\n%s", err, s.out)
	}
	s.http.CloseIdleConnections()
	if !strings.Contains(s.out.String(), "orders-service stopped") {
		t.Errorf("no clean stop in the output:\n%s", s.out)
	}
}

func (s *service) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := s.http.Get(s.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// waitMetric polls /metrics until a line starting with prefix contains all
// of parts. It gives up when the test's deadline (or a minute) is near.
func (s *service) waitMetric(t *testing.T, prefix string, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	if d, ok := t.Deadline(); ok && d.Before(deadline) {
		deadline = d.Add(-5 * time.Second)
	}
	var last string
	for {
		_, body := s.get(t, "/metrics")
		last = body
		sc := bufio.NewScanner(strings.NewReader(body))
	lines:
		for sc.Scan() {
			l := sc.Text()
			if !strings.HasPrefix(l, prefix) {
				continue
			}
			for _, p := range parts {
				if !strings.Contains(l, p) {
					continue lines
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s line with %q in /metrics:\n%s", prefix, parts, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeRollouts(t *testing.T, path, mode string) {
	t.Helper()
	tmp := path + ".tmp"
	body := `{"migrations": {"` + orders.MigrationName + `": {"mode": "` + mode + `"}}}`
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // as an editor saves
		t.Fatal(err)
	}
}

func TestRolloutFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rollouts.json")
	writeRollouts(t, file, "shadow")
	s := start(t, nil, "--rollout-file", file)

	code, body := s.get(t, "/orders/1/customer")
	if code != http.StatusOK || !strings.HasPrefix(body, "cust-") {
		t.Fatalf("GET /orders/1/customer = %d %q", code, body)
	}
	if code, _ := s.get(t, "/orders/999999/customer"); code != http.StatusNotFound {
		t.Errorf("an unknown order answers %d, want 404", code)
	}
	resp, err := s.http.Post(s.url+"/orders", "application/json",
		strings.NewReader(`{"id": 100001, "customer_id": "cust-0042", "amount_cents": 1999}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /orders = %d", resp.StatusCode)
	}
	if code, body := s.get(t, "/orders/100001/customer"); code != http.StatusOK || strings.TrimSpace(body) != "cust-0042" {
		t.Fatalf("the created order reads %d %q", code, body)
	}

	// Shadow compared the reads, off the caller's path.
	s.waitMetric(t, "cutover_comparisons_total", `operation="getCustomerID"`, `outcome="match"`)
	s.waitMetric(t, "cutover_mode_info", `mode="shadow"`)

	// The file is watched: a new mode takes effect without a restart.
	writeRollouts(t, file, "reverse-shadow")
	s.waitMetric(t, "cutover_mode_info", `mode="reverse-shadow"`)
	if code, body := s.get(t, "/orders/100001/customer"); code != http.StatusOK || strings.TrimSpace(body) != "cust-0042" {
		t.Fatalf("in reverse-shadow the created order reads %d %q", code, body)
	}
	s.stop(t)
}

func TestStaticModeAndBadFlags(t *testing.T) {
	s := start(t, nil, "--mode", "new")
	if code, body := s.get(t, "/orders/2/customer"); code != http.StatusOK && code != http.StatusNotFound {
		t.Fatalf("GET in new = %d %q", code, body)
	}
	s.waitMetric(t, "cutover_mode_info", `mode="new"`)
	s.stop(t)

	var out strings.Builder
	err := run(context.Background(), []string{"--server", "http://127.0.0.1:1", "--rollout-file", "x.json"}, func(string) string { return "" }, &out, &out, nil)
	if err == nil || !strings.Contains(err.Error(), "choose one") {
		t.Errorf("--server with --rollout-file: %v", err)
	}
	err = run(context.Background(), []string{"-h"}, func(string) string { return "" }, &out, &out, nil)
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestControlPlane(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	srv.CreateMigration(t, api.CreateMigration{Name: orders.MigrationName})
	admin, err := client.New(srv.URL, srv.AdminToken, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.CloseIdleConnections()
	if _, err := admin.SetRollout(ctx, orders.MigrationName, api.RolloutChange{
		Mode: cutover.ModeShadow, Treatment: cutover.ModeShadow, Reason: "start comparing", Version: 1,
	}); err != nil {
		t.Fatal(err)
	}
	sdk := srv.Token(t, api.ScopeSDK)

	// The server and token come from the environment, as in production.
	s := start(t, map[string]string{"CUTOVER_SERVER": srv.URL, "CUTOVER_TOKEN": sdk},
		"--cache-file", filepath.Join(t.TempDir(), "rollouts.cache.json"))
	s.waitMetric(t, "cutover_mode_info", `mode="shadow"`)
	for id := 1; id <= 50; id++ {
		s.get(t, "/orders/"+strconv.Itoa(id)+"/customer")
	}
	s.waitMetric(t, "cutover_comparisons_total", `outcome="match"`)
	// Stopping closes the migration, then the reporter, which sends the
	// evidence: the server has it once the service has exited.
	s.stop(t)
	st, err := admin.Stats(ctx, orders.MigrationName, client.StatsQuery{Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if st.Compared < 50 {
		t.Errorf("the server counted %d compared calls, want at least 50", st.Compared)
	}
}

package app_test

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
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/internal/testenv"
	"github.com/cutover/cutover/server/app"
	"github.com/cutover/cutover/server/sqlite"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func post(client *http.Client, url, token string, body any) (*http.Response, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return client.Do(req)
}

func batch(id string) api.ReportBatch {
	return api.ReportBatch{BatchID: id, Instance: "t", Aggregates: []api.Aggregate{{
		Migration: "orders", Operation: "get", Kind: "read", Mode: cutover.ModeShadow, Start: time.Now().UTC(),
		Counts: map[cutover.Outcome]int64{cutover.OutcomeMatch: 1}}}}
}

// ingestUntilDown sends batches from several goroutines until the server
// stops answering, and returns the ids it acknowledged.
func ingestUntilDown(t *testing.T, base, token, prefix string, started chan<- struct{}) []string {
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	var once sync.Once
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("%s-w%d-%d", prefix, w, i)
				resp, err := post(client, base+"/api/v1/reports", token, batch(id))
				if err != nil {
					return
				}
				var ack api.ReportAck
				json.NewDecoder(resp.Body).Decode(&ack)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return
				}
				if ack.Duplicate {
					t.Errorf("batch %s was new but answered as a duplicate", id)
				}
				mu.Lock()
				acked = append(acked, id)
				n := len(acked)
				mu.Unlock()
				if n >= 40 {
					once.Do(func() { close(started) })
				}
			}
		}()
	}
	wg.Wait()
	once.Do(func() { close(started) })
	return acked
}

// checkAcked reopens the database and checks every acknowledged batch is
// in it (a retry is a duplicate).
func checkAcked(t *testing.T, path string, acked []string) {
	t.Helper()
	if len(acked) == 0 {
		t.Fatal("no batch was acknowledged")
	}
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range acked {
		dup, err := s.Ingest(context.Background(), id, "check", time.Now(), nil, nil, 5)
		if err != nil {
			t.Fatal(err)
		}
		if !dup {
			t.Fatalf("acknowledged batch %s is not in the database", id)
		}
	}
	t.Logf("%d acknowledged batches all present", len(acked))
}

func TestGracefulShutdownKeepsAcknowledgedWrites(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.Open(ctx, app.Config{Listen: "127.0.0.1:0", DataDir: dir, AdminToken: "admin-secret",
		GuardInterval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if a.AdminSecret != "" {
		t.Fatal("an admin token was generated although CUTOVER_ADMIN_TOKEN was given")
	}
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()
	resp, err := post(http.DefaultClient, a.URL()+"/api/v1/migrations", "admin-secret", api.CreateMigration{Name: "orders"})
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v %v", resp, err)
	}
	resp.Body.Close()
	// A watch stream must not hold the shutdown up.
	req, _ := http.NewRequest("GET", a.URL()+"/api/v1/watch", nil)
	req.Header.Set("Authorization", "Bearer admin-secret")
	watchResp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer watchResp.Body.Close()

	started := make(chan struct{})
	done := make(chan []string)
	go func() { done <- ingestUntilDown(t, a.URL(), "admin-secret", "graceful", started) }()
	<-started
	cancel() // as SIGTERM does
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("shutdown took over 30s")
	}
	acked := <-done
	io.Copy(io.Discard, watchResp.Body) // ended by the shutdown
	checkAcked(t, filepath.Join(dir, app.DatabaseFile), acked)
}

func buildCutover(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the cutover binary")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build cutover with")
	}
	bin := filepath.Join(t.TempDir(), "cutover")
	out, err := exec.Command(gobin, "build", "-o", bin, "github.com/cutover/cutover/cmd/cutover").CombinedOutput()
	if err != nil {
		t.Fatalf("building cutover: %v\n%s", err, out)
	}
	return bin
}

var listeningRE = regexp.MustCompile(`listening on (http://\S+)`)
var adminRE = regexp.MustCompile(`admin token \(shown once\): (\S+)`)

// startServe runs `cutover serve` and returns its URL and first admin
// token, read from its output.
func startServe(t *testing.T, bin string, args ...string) (*exec.Cmd, string, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "CUTOVER_ADMIN_TOKEN=")
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var url, token string
	timeout := time.After(30 * time.Second)
	for url == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("cutover serve exited before listening: %s", stderr.String())
			}
			if m := adminRE.FindStringSubmatch(l); m != nil {
				token = m[1]
			}
			if m := listeningRE.FindStringSubmatch(l); m != nil {
				url = m[1]
			}
		case <-timeout:
			t.Fatalf("cutover serve did not say it listens within 30s: %s", stderr.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	return cmd, url, token
}

func TestServeCommand(t *testing.T) {
	bin := buildCutover(t)
	dir := t.TempDir()

	// SIGTERM: graceful, exit status 0, no acknowledged batch lost.
	cmd, url, token := startServe(t, bin, "--data", dir)
	if !strings.HasPrefix(token, "cutover_") {
		t.Fatalf("first start printed no admin token (%q)", token)
	}
	resp, err := http.Get(url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(url + "/")
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("the dashboard at /: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = post(http.DefaultClient, url+"/api/v1/migrations", token, api.CreateMigration{Name: "orders"})
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v %v", resp, err)
	}
	resp.Body.Close()
	started := make(chan struct{})
	done := make(chan []string)
	go func() { done <- ingestUntilDown(t, url, token, "sigterm", started) }()
	<-started
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("cutover serve after SIGTERM: %v", err)
	}
	checkAcked(t, filepath.Join(dir, app.DatabaseFile), <-done)

	// A second start on the same data prints no new admin token, and the
	// first still works.
	cmd, url, again := startServe(t, bin, "--data", dir)
	if again != "" {
		t.Fatalf("second start printed another admin token")
	}
	// SIGKILL mid-ingest: still no acknowledged batch lost.
	started = make(chan struct{})
	go func() { done <- ingestUntilDown(t, url, token, "sigkill", started) }()
	<-started
	cmd.Process.Kill()
	cmd.Wait()
	checkAcked(t, filepath.Join(dir, app.DatabaseFile), <-done)
}

// guardChecks reads cutover_guard_checks_total from a server's /metrics;
// -1 if the server does not answer.
func guardChecks(url string) float64 {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var v float64
		if n, _ := fmt.Sscanf(sc.Text(), "cutover_guard_checks_total %g", &v); n == 1 {
			return v
		}
	}
	return -1
}

func TestServeReplicasGuardFailover(t *testing.T) {
	db := testenv.PostgresURL(t)
	bin := buildCutover(t)
	a, urlA, _ := startServe(t, bin, "--db", db, "--guard-interval", "20ms", "--dashboard=false")
	b, urlB, _ := startServe(t, bin, "--db", db, "--guard-interval", "20ms", "--dashboard=false")
	waitFor(t, "a guard round on either replica", func() bool { return guardChecks(urlA)+guardChecks(urlB) > 0 })
	leader, follower, followerURL := a, b, urlB
	if guardChecks(urlB) > 0 {
		leader, follower, followerURL = b, a, urlA
	}
	if n := guardChecks(followerURL); n != 0 {
		t.Fatalf("both replicas run the guard (follower: %v rounds)", n)
	}
	leader.Process.Kill() // dies: its database session ends, and the lock with it
	leader.Wait()
	waitFor(t, "the surviving replica to take the guard over", func() bool { return guardChecks(followerURL) > 0 })
	follower.Process.Signal(syscall.SIGTERM)
	if err := follower.Wait(); err != nil {
		t.Fatalf("the survivor after SIGTERM: %v", err)
	}
}

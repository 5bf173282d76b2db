package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/internal/testenv"
	"github.com/cutover/cutover/proxy"
	"go.uber.org/goleak"
)

// proxyWait only guards against a hung test; no test depends on its length.
const proxyWait = 30 * time.Second

// testUpstream answers every request with its name, and counts them.
type testUpstream struct {
	*httptest.Server
	hits atomic.Int64
}

func startUpstream(t *testing.T, name string) *testUpstream {
	t.Helper()
	u := &testUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"side": "`+name+`"}`)
	}))
	t.Cleanup(u.Close)
	return u
}

// verifyNoLeaks checks, when the test ends, that no goroutine it started
// remains. Call it first, so that it runs after every other cleanup.
func verifyNoLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// proxyRun is `cutover proxy` running in-process, on a context the test
// cancels as SIGINT would.
type proxyRun struct {
	cancel          context.CancelFunc
	done            chan int // the exit code
	stdout, stderr  *testenv.SyncBuffer
	url, metricsURL string
	code            int
	stopped         bool
}

var (
	proxyListening = regexp.MustCompile(`proxy listening on (http://\S+)`)
	metricsOn      = regexp.MustCompile(`metrics on (http://\S+)/metrics`)
)

// startProxyCommand runs `cutover proxy args…` and waits until it listens.
func startProxyCommand(t *testing.T, vars map[string]string, args ...string) *proxyRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &proxyRun{cancel: cancel, done: make(chan int, 1), stdout: new(testenv.SyncBuffer), stderr: new(testenv.SyncBuffer)}
	e := &env{stdout: p.stdout, stderr: p.stderr, getenv: func(k string) string { return vars[k] }}
	go func() { p.done <- runMain(ctx, e, append([]string{"proxy"}, args...)) }()
	t.Cleanup(func() { p.stop(t) })
	deadline := time.Now().Add(proxyWait)
	for {
		out := p.stdout.String()
		if m := proxyListening.FindStringSubmatch(out); m != nil {
			p.url = m[1]
			if m := metricsOn.FindStringSubmatch(out); m != nil {
				p.metricsURL = m[1]
			}
			return p
		}
		select {
		case code := <-p.done:
			p.stopped, p.code = true, code
			t.Fatalf("cutover proxy exited %d before listening\nstdout: %s\nstderr: %s", code, out, p.stderr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("cutover proxy did not listen\nstdout: %s\nstderr: %s", out, p.stderr)
		}
	}
}

// stop cancels the command's context and returns its exit code, once it
// has shut down (requests, secondaries, observations, reports).
func (p *proxyRun) stop(t *testing.T) int {
	t.Helper()
	if p.stopped {
		return p.code
	}
	p.cancel()
	select {
	case p.code = <-p.done:
		p.stopped = true
	case <-time.After(proxyWait):
		t.Fatalf("cutover proxy did not shut down\nstderr: %s", p.stderr)
	}
	return p.code
}

// get sends a GET with the sticky key and returns the status and body.
func get(t *testing.T, c *http.Client, url, userID string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if userID != "" {
		req.Header.Set("X-User-Id", userID)
	}
	resp, err := c.Do(req)
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

// eventually polls cond until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(proxyWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	// As editors do: a temporary file renamed over the real one.
	if err := os.WriteFile(path+".tmp", []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// TestProxyCommand runs `cutover proxy` between two upstreams, its rollout
// from a rollout file: the right side answers, /metrics and /healthz
// answer, and an edit of the file moves the traffic.
func TestProxyCommand(t *testing.T) {
	verifyNoLeaks(t)
	old, new := startUpstream(t, "old"), startUpstream(t, "new")
	dir := t.TempDir()
	rollouts := filepath.Join(dir, "rollouts.json")
	writeFile(t, rollouts, `{"migrations": {"orders": {"mode": "reverse-shadow"}}}`)
	config := filepath.Join(dir, "proxy.json")
	writeFile(t, config, `{"routes": [{"name": "getOrder", "pattern": "GET /orders/{id}"}]}`)
	p := startProxyCommand(t, nil, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--migration", "orders", "--old", old.URL, "--new", new.URL, "--key", "header:X-User-Id",
		"--config", config, "--rollout-file", rollouts)
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()

	// Reverse-shadow: new answers, old is compared beside it.
	if code, body := get(t, c, p.url+"/orders/1", "u-1"); code != 200 || body != `{"side": "new"}` {
		t.Fatalf("reverse-shadow answered %d %s, want new's answer", code, body)
	}
	eventually(t, "old's secondary request", func() bool { return old.hits.Load() == 1 })

	// /metrics is client_golang's exposition of the proxy's registry.
	var metrics string
	eventually(t, "the mismatch in /metrics", func() bool {
		_, metrics = get(t, c, p.metricsURL+"/metrics", "")
		return strings.Contains(metrics, `cutover_proxy_outcomes_total{migration="orders",operation="getOrder",outcome="mismatch"} 1`)
	})
	for _, want := range []string{
		`cutover_proxy_requests_total{migration="orders",mode="reverse-shadow"} 1`,
		`cutover_rollout_file_reloads_total{path="` + rollouts + `"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, metrics)
		}
	}
	if code, body := get(t, c, p.metricsURL+"/healthz", ""); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}

	// An edit of the rollout file moves every key back to old: no more
	// secondary requests either.
	writeFile(t, rollouts, `{"migrations": {"orders": {"mode": "old"}}}`)
	eventually(t, "the move to old", func() bool {
		_, body := get(t, c, p.url+"/orders/1", "u-1")
		return body == `{"side": "old"}`
	})
	newHits := new.hits.Load()
	if _, body := get(t, c, p.url+"/orders/2", "u-2"); body != `{"side": "old"}` || new.hits.Load() != newHits {
		t.Errorf("old mode: answered %s, new got %d more requests", body, new.hits.Load()-newHits)
	}
	// A bad edit keeps the last good rollout.
	writeFile(t, rollouts, `{"migrations": {"orders": {"mode": "sideways"}}}`)
	eventually(t, "the reload error", func() bool { return strings.Contains(p.stderr.String(), "sideways") })
	if _, body := get(t, c, p.url+"/orders/3", "u-3"); body != `{"side": "old"}` {
		t.Errorf("after a bad rollout file: %s", body)
	}

	c.CloseIdleConnections()
	if code := p.stop(t); code != exitOK {
		t.Errorf("exit code %d after shutdown\nstderr: %s", code, p.stderr)
	}
	if !strings.Contains(p.stdout.String(), "shutting down") {
		t.Errorf("stdout: %s", p.stdout)
	}
}

// TestProxyCommandRefusesBadFiles: a bad configuration or rollout file at
// start is exit 2, naming the file, line and field.
func TestProxyCommandRefusesBadFiles(t *testing.T) {
	verifyNoLeaks(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "proxy.json")
	writeFile(t, config, `{
  "migration": "orders",
  "old": "http://127.0.0.1:1",
  "new": "http://127.0.0.1:2",
  "limits": {
    "shadow_timeout": "soon"
  }
}`)
	code, _, stderr := runCLI(t, nil, "proxy", "--listen", "127.0.0.1:0", "--config", config)
	if code != exitError || !strings.Contains(stderr, "proxy.json:6: limits.shadow_timeout") {
		t.Errorf("bad --config: exit %d, stderr %s", code, stderr)
	}

	rollouts := filepath.Join(dir, "rollouts.json")
	writeFile(t, rollouts, "{\"migrations\": {\n  \"orders\": {\"mode\": \"shadow\", \"percnt\": 5}}}")
	code, _, stderr = runCLI(t, nil, "proxy", "--listen", "127.0.0.1:0", "--migration", "orders",
		"--old", "http://127.0.0.1:1", "--new", "http://127.0.0.1:2", "--rollout-file", rollouts)
	if code != exitError || !strings.Contains(stderr, "rollouts.json:2:") || !strings.Contains(stderr, "percnt") {
		t.Errorf("bad --rollout-file: exit %d, stderr %s", code, stderr)
	}
}

// TestProxyCommandWithServer: `cutover proxy --server --token` follows the
// control plane's rollout, and its comparisons reach the server's stats
// once it has shut down and flushed its reports.
func TestProxyCommandWithServer(t *testing.T) {
	srv := startCLIServer(t)
	m := srv.CreateMigration(t, api.CreateMigration{Name: "orders"})
	old, new := startUpstream(t, "old"), startUpstream(t, "new")
	p := startProxyCommand(t, map[string]string{"CUTOVER_TOKEN": srv.Token(t, api.ScopeSDK)},
		"--listen", "127.0.0.1:0", "--server", srv.URL,
		"--migration", "orders", "--old", old.URL, "--new", new.URL, "--key", "header:X-User-Id")
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()

	// The migration starts at old.
	if _, body := get(t, c, p.url+"/orders/1", "u-1"); body != `{"side": "old"}` || new.hits.Load() != 0 {
		t.Fatalf("at old: answered %s, new got %d requests", body, new.hits.Load())
	}

	var changed api.Migration
	if code := srv.Do(t, srv.op["CUTOVER_TOKEN"], "PUT", "/api/v1/migrations/orders/rollout",
		api.RolloutChange{Mode: cutover.ModeShadow, Treatment: cutover.ModeShadow, Reason: "compare", Version: m.Version},
		&changed); code != http.StatusOK {
		t.Fatalf("setting shadow: %d", code)
	}
	// The watch stream brings shadow: new gets the requests too, old still
	// answers.
	eventually(t, "the proxy to follow shadow", func() bool {
		_, body := get(t, c, p.url+"/orders/1", "u-1")
		if body != `{"side": "old"}` {
			t.Fatalf("in shadow, answered %s", body)
		}
		return new.hits.Load() > 0
	})
	for i := 0; i < 5; i++ {
		get(t, c, p.url+"/orders/2", "u-2")
	}
	c.CloseIdleConnections()
	if code := p.stop(t); code != exitOK {
		t.Fatalf("exit code %d after shutdown\nstderr: %s", code, p.stderr)
	}
	// Shutdown waited for the secondaries: in shadow, each request new got
	// is one comparison.
	compared := new.hits.Load()
	var st api.Stats
	if code := srv.Do(t, srv.op["CUTOVER_TOKEN"], "GET", "/api/v1/migrations/orders/stats", nil, &st); code != http.StatusOK {
		t.Fatalf("stats: %d", code)
	}
	if st.Compared != compared || st.Counts[cutover.OutcomeMismatch] != compared {
		t.Errorf("the server's stats: %d compared, counts %v; the proxy compared %d (all mismatches)\nstderr: %s",
			st.Compared, st.Counts, compared, p.stderr)
	}
}

// TestProxyCommandGCPercent: `cutover proxy` runs the collector at
// proxy.GCPercent unless GOGC or --gc-percent says otherwise, and gives the
// process its setting back when it returns.
func TestProxyCommandGCPercent(t *testing.T) {
	verifyNoLeaks(t)
	gcPercent := func() int {
		v := debug.SetGCPercent(100)
		debug.SetGCPercent(v)
		return v
	}
	before := gcPercent()
	old, new := startUpstream(t, "old"), startUpstream(t, "new")
	args := []string{"--listen", "127.0.0.1:0", "--migration", "orders", "--old", old.URL, "--new", new.URL, "--mode", "shadow"}
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		want int
	}{
		{"default", nil, nil, proxy.GCPercent},
		{"GOGC set", map[string]string{"GOGC": "150"}, nil, before},
		{"flag", map[string]string{"GOGC": "150"}, []string{"--gc-percent", "250"}, 250},
	} {
		p := startProxyCommand(t, tc.vars, append(args, tc.args...)...)
		if got := gcPercent(); got != tc.want {
			t.Errorf("%s: GC percent %d while serving, want %d", tc.name, got, tc.want)
		}
		if code := p.stop(t); code != exitOK {
			t.Fatalf("%s: exit code %d\nstderr: %s", tc.name, code, p.stderr)
		}
		if got := gcPercent(); got != before {
			t.Errorf("%s: GC percent %d after the command returned, want %d back", tc.name, got, before)
		}
	}
	code, _, stderr := runCLI(t, nil, append([]string{"proxy", "--gc-percent", "0"}, args...)...)
	if code != exitError || !strings.Contains(stderr, "--gc-percent 0") {
		t.Errorf("--gc-percent 0: exit %d, stderr %s", code, stderr)
	}
}

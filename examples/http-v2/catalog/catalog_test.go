package catalog_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/examples/http-v2/catalog"
	"github.com/cutover/cutover/internal/testenv"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func getJSON(t *testing.T, c *http.Client, url string, v any) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v: %s", url, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

func TestShapes(t *testing.T) {
	v1 := httptest.NewServer(catalog.V1())
	defer v1.Close()
	v2 := httptest.NewServer(catalog.V2(catalog.V2Options{}))
	defer v2.Close()
	compat := httptest.NewServer(catalog.V2(catalog.V2Options{V1Compat: true}))
	defer compat.Close()
	c := &http.Client{}

	var old catalog.V1Product
	getJSON(t, c, v1.URL+"/products/p-1", &old)
	if old.Name != "Espresso" || old.Price != "2.50" {
		t.Errorf("v1 = %+v", old)
	}
	var native catalog.V2Product
	getJSON(t, c, v2.URL+"/products/p-1", &native)
	if native.Title != "Espresso" || native.Price.AmountCents != 250 {
		t.Errorf("v2 = %+v", native)
	}
	var rendered catalog.V1Product
	getJSON(t, c, compat.URL+"/products/p-1", &rendered)
	if rendered.Name != "Espresso" || rendered.Price != "2.5" {
		t.Errorf("v2 --v1-compat = %+v (the deliberate bug renders 2.50 as 2.5)", rendered)
	}
	getJSON(t, c, compat.URL+"/v2/products/p-1", &native)
	if code, _ := getJSON(t, c, v1.URL+"/products/nope", nil); code != http.StatusNotFound {
		t.Errorf("unknown product: %d", code)
	}
}

// process is a running example program.
type process struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *testenv.SyncBuffer
	done   chan struct{}
}

// startProcess runs bin and returns once it has printed a line matching
// want, with the line's first submatch (an address).
func startProcess(t *testing.T, want *regexp.Regexp, bin string, args ...string) (*process, string) {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), lines: make(chan string, 100), stderr: &testenv.SyncBuffer{}, done: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { p.stop(t) })
	for l := range p.lines {
		if m := want.FindStringSubmatch(l); m != nil {
			return p, m[1]
		}
	}
	t.Fatalf("%s %v exited without printing %s:\n%s", filepath.Base(bin), args, want, p.stderr)
	return nil, ""
}

// stop sends SIGINT, as Ctrl-C does, and checks a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	defer close(p.done)
	_ = p.cmd.Process.Signal(os.Interrupt)
	for range p.lines { // drain until the program closes its stdout
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("%s: %v\n%s", p.cmd.Path, err, p.stderr)
	}
}

// TestProxyBetweenV1AndV2 does what README.md shows: V1, V2 with its V1
// rendering, and `cutover proxy` in shadow between them, then a move to
// reverse-shadow by editing the rollout file.
func TestProxyBetweenV1AndV2(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three programs")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(os.PathSeparator), "./cmd/cutover", "./examples/http-v2/catalog-v1", "./examples/http-v2/catalog-v2")
	build.Dir = filepath.Join("..", "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	listening := regexp.MustCompile(`listening on (http://\S+)`)
	_, v1 := startProcess(t, listening, filepath.Join(bin, "catalog-v1"), "--listen", "127.0.0.1:0")
	_, v2 := startProcess(t, listening, filepath.Join(bin, "catalog-v2"), "--listen", "127.0.0.1:0", "--v1-compat")

	rollout := filepath.Join(t.TempDir(), "rollout.json")
	if err := os.WriteFile(rollout, []byte(`{"migrations": {"catalog-v2": {"mode": "shadow"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	proxy, metricsURL := startProcess(t, regexp.MustCompile(`metrics on (http://\S+)`), filepath.Join(bin, "cutover"), "proxy",
		"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--config", filepath.Join("..", "proxy.json"), "--old", v1, "--new", v2,
		"--rollout-file", rollout)
	var proxyURL string
	for l := range proxy.lines {
		if m := listening.FindStringSubmatch(l); m != nil {
			proxyURL = m[1]
			break
		}
	}
	if proxyURL == "" {
		t.Fatalf("the proxy did not say where it listens:\n%s", proxy.stderr)
	}

	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	// Shadow: callers get V1's answers, V2's are compared beside them.
	for id := 1; id <= 10; id++ {
		var p catalog.V1Product
		if code, body := getJSON(t, c, proxyURL+"/products/p-"+strconv.Itoa(id), &p); code != http.StatusOK {
			t.Fatalf("through the proxy: %d %s", code, body)
		}
		want := catalog.Products["p-"+strconv.Itoa(id)]
		if p.Price != formatV1(want.PriceCents) {
			t.Errorf("shadow answered p-%d with price %q, want V1's %q", id, p.Price, formatV1(want.PriceCents))
		}
	}
	// Four prices end in a zero (2.50, 3.00, 4.20, 1.00): V2 renders them
	// differently. The comparison runs after the answer, so wait for it.
	match, mismatch := waitOutcomes(t, c, metricsURL, 10)
	if match != 6 || mismatch != 4 {
		t.Errorf("outcomes: %d match, %d mismatch; want 6 and 4", match, mismatch)
	}
	if log := proxy.stderr.String(); !strings.Contains(log, "body.price") {
		t.Errorf("the proxy's log names no body.price mismatch:\n%s", log)
	}

	// Every key to reverse-shadow: V2 answers now, with no restart.
	if err := os.WriteFile(rollout+".tmp", []byte(`{"migrations": {"catalog-v2": {"mode": "reverse-shadow"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(rollout+".tmp", rollout); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var p catalog.V1Product
		getJSON(t, c, proxyURL+"/products/p-1", &p)
		if p.Price == "2.5" { // V2's rendering
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the proxy did not move to reverse-shadow:\n%s", proxy.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	proxy.stop(t)
}

func formatV1(cents int64) string {
	return strconv.FormatInt(cents/100, 10) + "." + strconv.FormatInt(cents%100/10, 10) + strconv.FormatInt(cents%10, 10)
}

// outcomeLine reads the getProduct route's outcomes: the route comes from
// proxy.json, so a count under "other" would mean the file was not used.
var outcomeLine = regexp.MustCompile(`^cutover_proxy_outcomes_total\{[^}]*operation="getProduct"[^}]*outcome="(match|mismatch)"[^}]*\} (\d+)`)

// waitOutcomes polls the proxy's metrics until n requests were compared.
func waitOutcomes(t *testing.T, c *http.Client, metricsURL string, n int) (match, mismatch int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		_, body := getJSON(t, c, metricsURL, nil)
		match, mismatch = 0, 0
		for _, l := range strings.Split(body, "\n") {
			if m := outcomeLine.FindStringSubmatch(l); m != nil {
				v, _ := strconv.Atoi(m[2])
				if m[1] == "match" {
					match += v
				} else {
					mismatch += v
				}
			}
		}
		if match+mismatch >= n {
			return match, mismatch
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests compared:\n%s", match+mismatch, n, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

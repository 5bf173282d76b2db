package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cutover/cutover/api"
)

// TestDemoEndToEnd runs the demo binary as a user would: it starts, the
// printed URL answers with the printed token, traffic produces comparisons
// once `cutover set` moves to shadow, mismatch groups appear, and SIGINT
// exits 0 with the temporary data removed.
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demo binary")
	}
	bin := filepath.Join(t.TempDir(), "cutover")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "demo", "--listen", "127.0.0.1:0", "--rate", "200", "--orders", "2000")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	t.Cleanup(func() {
		if !exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})

	// Read the guide: URL, token, data directory.
	var url, token, dataDir string
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && (url == "" || token == "" || dataDir == "") {
		f := strings.Fields(lines.Text())
		switch {
		case len(f) >= 4 && f[0] == "dashboard":
			url = f[3]
		case len(f) >= 3 && f[0] == "sign-in":
			token = f[2]
		case len(f) >= 2 && f[0] == "data":
			dataDir = f[1]
		}
	}
	if url == "" || token == "" || dataDir == "" {
		t.Fatalf("the guide lacks the URL, token or data directory: %q %q %q", url, token, dataDir)
	}
	go func() {
		for lines.Scan() { // keep the pipe drained
		}
	}()
	resp, err := http.Get(url + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	// The dashboard answers, and the printed token signs in: the overview
	// lists the example migration.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	page := func(resp *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	form := page(browser.Get(url + "/signin"))
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(form)
	if csrf == nil {
		t.Fatalf("the sign-in page has no csrf field:\n%s", form)
	}
	req, _ := http.NewRequest("POST", url+"/signin", strings.NewReader(neturl.Values{"token": {token}, "csrf": {csrf[1]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", url)
	if overview := page(browser.Do(req)); !strings.Contains(overview, "orders-customer-id") {
		t.Fatalf("after signing in, the overview does not list the migration:\n%s", overview)
	}

	vars := map[string]string{"CUTOVER_SERVER": url, "CUTOVER_TOKEN": token}
	if code, out, errOut := runCLI(t, vars, "status"); code != exitOK || !strings.Contains(out, "orders-customer-id") {
		t.Fatalf("cutover status: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, vars, "set", "orders-customer-id", "--mode", "shadow", "--reason", "demo test"); code != exitOK {
		t.Fatalf("cutover set: exit %d\n%s%s", code, out, errOut)
	}

	// Traffic now compares; the reporter flushes every 2 s. The deadline
	// only turns a hang into a failure.
	get := func(path string, out any) {
		req, _ := http.NewRequest("GET", url+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		var st api.Stats
		var groups []api.MismatchGroup
		get("/api/v1/migrations/orders-customer-id/stats?window=1h", &st)
		get("/api/v1/migrations/orders-customer-id/mismatches", &groups)
		if st.Compared >= 50 && len(groups) > 0 {
			t.Logf("compared %d; mismatch groups %d, largest %q × %d", st.Compared, len(groups), groups[0].Signature, groups[0].Count)
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no comparisons or mismatch groups after shadow: %+v, %+v", st, groups)
		case <-time.After(500 * time.Millisecond):
		}
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	exited = true
	if err != nil {
		t.Fatalf("demo exited with %v after SIGINT; want 0", err)
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("temporary data %s still exists after exit (%v)", dataDir, err)
	}
}

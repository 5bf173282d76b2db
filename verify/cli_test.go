package verify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/internal/testenv"
	"github.com/cutover/cutover/server/servertest"
)

// The command is tested end to end: built, run, its exit code and output
// read, as scripts use it.
var (
	buildOnce sync.Once
	cliDir    string
	cliBinary string
	buildErr  error
	buildOut  []byte
)

func cutoverBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		// The rule of internal/testenv: a test that cannot find a tool it
		// needs fails in CI, and skips elsewhere.
		msg := "no go tool on PATH to build cmd/cutover"
		if testenv.InCI() {
			t.Fatal(msg + " (CI=true: failing instead of skipping)")
		}
		t.Skip(msg)
	}
	buildOnce.Do(func() {
		cliDir, buildErr = os.MkdirTemp("", "cutover-verify-cli")
		if buildErr != nil {
			return
		}
		cliBinary = filepath.Join(cliDir, "cutover")
		buildOut, buildErr = exec.Command(goTool, "build", "-o", cliBinary, "../cmd/cutover").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("building cmd/cutover: %v\n%s", buildErr, buildOut)
	}
	return cliBinary
}

func runCLI(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(cutoverBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestCommand(t *testing.T) {
	old, same, changed := newSQLite(t), newSQLite(t), newSQLite(t)
	rows := genRows(500, false)
	old.fill(t, "t", rows, false)
	same.fill(t, "t", rows, false)
	changed.fill(t, "t", rows, false)
	changed.exec(t, "DELETE FROM t WHERE id = ?", rows[5].key)
	changed.exec(t, "UPDATE t SET amount = amount + 1 WHERE id = ?", rows[7].key)
	args := func(newURL string, more ...string) []string {
		return append([]string{"verify", "--old-db", old.url, "--old-query", testQuery, "--new-db", newURL, "--new-query", testQuery}, more...)
	}

	t.Run("identical", func(t *testing.T) {
		out, errOut, code := runCLI(t, nil, args(same.url)...)
		if code != 0 || !strings.Contains(out, "IDENTICAL: 500 rows in old, 500 in new") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
	})
	t.Run("different", func(t *testing.T) {
		out, errOut, code := runCLI(t, nil, args(changed.url)...)
		if code != 1 || !strings.Contains(out, "DIFFERENT") || !strings.Contains(out, "missing in new") ||
			!strings.Contains(out, ".amount") || !strings.Contains(errOut, "1 missing in new, 0 extra in new, 1 differing") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
	})
	t.Run("json", func(t *testing.T) {
		out, errOut, code := runCLI(t, nil, args(changed.url, "--json", "--limit", "1")...)
		if code != 1 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		var r Result
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if r.Identical || r.Missing != 1 || r.Differing != 1 || len(r.Differences) != 1 || r.Differences[0].Key != "38" ||
			len(r.Signatures) != 1 || r.Signatures[0].Signature != ".amount" {
			t.Fatalf("%s", out)
		}
	})
	t.Run("env and table shorthand", func(t *testing.T) {
		out, errOut, code := runCLI(t, []string{"CUTOVER_OLD_DB=" + old.url, "CUTOVER_NEW_DB=" + same.url},
			"verify", "--old-table", "t", "--old-key", "id", "--old-columns", "name,amount", "--new-table", "t", "--new-key", "id", "--new-columns", "name, amount")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
	})
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no new db", []string{"verify", "--old-db", old.url, "--old-query", testQuery}, "--new-db is missing"},
		{"bad precision", args(same.url, "--time-precision", "1ns"), "whole number of microseconds"},
		{"report without migration", args(same.url, "--report"), "--report needs --migration"},
		{"database error", args("sqlite:///nonexistent.db"), "new source"},
		{"sql error", args(same.url, "--where", "nonsense ="), "syntax error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, c.args...)
			if code != 2 || !strings.Contains(errOut, c.want) {
				t.Fatalf("exit %d, want 2 with %q\n%s\n%s", code, c.want, out, errOut)
			}
		})
	}
}

func TestCommandReport(t *testing.T) {
	old, changed := newSQLite(t), newSQLite(t)
	rows := genRows(100, false)
	old.fill(t, "t", rows, false)
	changed.fill(t, "t", rows[1:], false)

	var mu sync.Mutex
	var got []api.VerifyReport
	var paths, auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var rep api.VerifyReport
		if err := api.Decode(body, &rep); err != nil {
			w.WriteHeader(400)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, rep)
		paths = append(paths, r.Method+" "+r.URL.Path)
		auths = append(auths, r.Header.Get("Authorization"))
		if strings.Contains(r.URL.Path, "/nosuch/") {
			w.WriteHeader(404)
			io.WriteString(w, `{"error":{"code":"not_found","message":"no migration named nosuch"}}`)
			return
		}
		w.WriteHeader(201)
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()

	base := []string{"verify", "--old-db", old.url, "--old-query", testQuery, "--new-db", changed.url, "--new-query", testQuery, "--report", "--server", srv.URL}
	out, errOut, code := runCLI(t, []string{"CUTOVER_TOKEN=secret"}, append(base, "--migration", "orders", "--json")...)
	if code != 1 || !strings.Contains(out, `"reported": true`) {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	mu.Lock()
	if len(got) != 1 || paths[0] != "POST /api/v1/migrations/orders/verifications" || auths[0] != "Bearer secret" ||
		got[0].Identical || got[0].Missing != 1 || got[0].OldRows != 100 || got[0].NewRows != 99 ||
		got[0].FinishedAt.Before(got[0].StartedAt) || len(got[0].Signatures) != 1 || got[0].Signatures[0] != "missing_in_new" {
		t.Fatalf("server got %v %v %+v", paths, auths, got)
	}
	mu.Unlock()

	_, errOut, code = runCLI(t, nil, append(base, "--migration", "nosuch")...)
	if code != 2 || !strings.Contains(errOut, "no migration named nosuch") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
}

// TestCommandReportToControlPlane reports to a real control plane and
// checks that the report counts as the verify_within gate's evidence.
func TestCommandReportToControlPlane(t *testing.T) {
	srv := servertest.Start(t)
	srv.CreateMigration(t, api.CreateMigration{Name: "orders", Gates: &api.Gates{VerifyWithin: api.Duration(24 * time.Hour)}})
	token := srv.Token(t, api.ScopeOperator)
	old, same := newSQLite(t), newSQLite(t)
	rows := genRows(200, false)
	old.fill(t, "t", rows, false)
	same.fill(t, "t", rows, false)
	out, errOut, code := runCLI(t, []string{"CUTOVER_TOKEN=" + token, "CUTOVER_SERVER=" + srv.URL},
		"verify", "--old-db", old.url, "--old-query", testQuery, "--new-db", same.url, "--new-query", testQuery, "--report", "--migration", "orders")
	if code != 0 || !strings.Contains(out, "reported to the control plane") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var history []api.Change
	if status := srv.Do(t, token, "GET", "/api/v1/migrations/orders/history", nil, &history); status != 200 {
		t.Fatalf("history: %d", status)
	}
	found := false
	for _, c := range history {
		found = found || c.Kind == "verify"
	}
	if !found {
		t.Fatalf("no verify change in the history: %+v", history)
	}
	var stats api.Stats
	if status := srv.Do(t, token, "GET", "/api/v1/migrations/orders/stats?window=1h", nil, &stats); status != 200 || stats.Gates == nil {
		t.Fatalf("stats: %d %+v", status, stats)
	}
	for _, c := range stats.Gates.Criteria {
		if c.Criterion == "verify_within" && !c.Pass {
			t.Errorf("verify_within gate: %+v", c)
		}
	}
	// An sdk token may not report.
	_, errOut, code = runCLI(t, []string{"CUTOVER_TOKEN=" + srv.Token(t, api.ScopeSDK), "CUTOVER_SERVER=" + srv.URL},
		"verify", "--old-db", old.url, "--old-query", testQuery, "--new-db", same.url, "--new-query", testQuery, "--report", "--migration", "orders")
	if code != 2 || !strings.Contains(errOut, "403") {
		t.Fatalf("sdk token: exit %d\n%s", code, errOut)
	}
}

package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// runCLI runs a command in-process with the given environment variables
// and returns its exit code and output.
func runCLI(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, getenv: func(k string) string { return vars[k] }}
	code = runMain(context.Background(), e, args)
	return code, out.String(), errOut.String()
}

func deadServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestRemoteCommandsUsage(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"set"}, "needs the migration's name"},
		{[]string{"set", "orders"}, "needs the mode"},
		{[]string{"set", "orders", "--mode", "sideways", "--reason", "x"}, `--mode "sideways"`},
		{[]string{"set", "orders", "shadow"}, "needs --reason"},
		{[]string{"set", "orders", "shadow", "--percent", "10", "--reason", "x"}, "--percent needs --treatment"},
		{[]string{"set", "orders", "shadow", "--treatment", "new", "--reason", "x"}, "--treatment needs --percent"},
		{[]string{"set", "orders", "shadow", "--mode", "new", "--reason", "x"}, "given twice"},
		{[]string{"set", "orders", "--mode", "shadow", "--treatment", "new", "--percent", "101", "--reason", "x"}, "percent"},
		{[]string{"history"}, "exactly one migration name"},
		{[]string{"status", "a", "b"}, "at most one migration name"},
		{[]string{"token"}, "needs a subcommand"},
		{[]string{"token", "create"}, `--scope ""`},
		{[]string{"token", "create", "--scope", "root"}, `--scope "root"`},
		{[]string{"status", "--bogus"}, "flag provided but not defined"},
	}
	for _, c := range cases {
		vars := map[string]string{"CUTOVER_SERVER": deadServer(t)}
		code, _, stderr := runCLI(t, vars, c.args...)
		if code != exitError || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, exitError, c.want)
		}
	}
}

func TestRemoteCommandsUnreachable(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	url := deadServer(t)
	for _, args := range [][]string{
		{"status"},
		{"status", "orders"},
		{"history", "orders"},
		{"set", "orders", "--mode", "shadow", "--reason", "x"},
		{"token", "create", "--scope", "sdk"},
	} {
		code, _, stderr := runCLI(t, map[string]string{"CUTOVER_SERVER": url, "CUTOVER_TOKEN": "t"}, args...)
		want := "cannot reach the server at " + url + ": is `cutover serve` running?"
		if code != exitError || !strings.Contains(stderr, want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", args, code, stderr, want)
		}
	}
	// --server wins over the environment.
	code, _, stderr := runCLI(t, map[string]string{"CUTOVER_SERVER": "http://example.invalid"}, "status", "--server", url)
	if code != exitError || !strings.Contains(stderr, url) {
		t.Errorf("--server: exit %d, stderr %q", code, stderr)
	}
}

func TestParseArgsInterspersed(t *testing.T) {
	e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
	fs := newFlagSet(e, &command{name: "x"})
	mode := fs.String("mode", "", "")
	force := fs.Bool("force", false, "")
	pos, err := parseArgs(fs, []string{"orders", "--mode", "shadow", "extra", "--force", "--", "--not-a-flag"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pos, ",") != "orders,extra,--not-a-flag" || *mode != "shadow" || !*force {
		t.Errorf("pos %q mode %q force %v", pos, *mode, *force)
	}
}

func TestFormatting(t *testing.T) {
	for in, want := range map[float64]string{10: "10%", 99.87: "99.87%", 0.5: "0.5%", 100: "100%", 12.345: "12.35%"} {
		if got := formatPercent(in); got != want {
			t.Errorf("formatPercent(%v) = %q, want %q", in, got, want)
		}
	}
	if got := formatSeconds(0.0012345); got != "1.23ms" {
		t.Errorf("formatSeconds = %q", got)
	}
	if got := formatCriterionValue("max_mismatch_rate", 0.001); got != "0.1%" {
		t.Errorf("rate criterion = %q", got)
	}
	for d, want := range map[time.Duration]string{time.Hour: "1h", 15 * time.Minute: "15m", 90 * time.Minute: "1h30m", 90 * time.Second: "1m30s", 0: "0s"} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
	if got := formatCriterionValue("min_time_at_full", 3600); got != "1h" {
		t.Errorf("time criterion = %q", got)
	}
	if got := formatCriterionValue("min_comparisons", 1000); got != "1000" {
		t.Errorf("count criterion = %q", got)
	}
}

package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/client"
	"github.com/cutover/cutover/server/servertest"
	"go.uber.org/goleak"
)

// cliServer is a real server and the environment of a CLI that talks to it.
type cliServer struct {
	*servertest.Server
	op, admin map[string]string
}

func startCLIServer(t *testing.T) *cliServer {
	t.Helper()
	// Registered first, so it runs last: after the server has stopped.
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections() // servertest's own requests
		goleak.VerifyNone(t, ignore)
	})
	srv := servertest.Start(t)
	return &cliServer{
		Server: srv,
		op:     map[string]string{"CUTOVER_SERVER": srv.URL, "CUTOVER_TOKEN": srv.Token(t, api.ScopeOperator)},
		admin:  map[string]string{"CUTOVER_SERVER": srv.URL, "CUTOVER_TOKEN": srv.AdminToken},
	}
}

func (s *cliServer) mustRun(t *testing.T, vars map[string]string, args ...string) string {
	t.Helper()
	code, stdout, stderr := runCLI(t, vars, args...)
	if code != exitOK {
		t.Fatalf("cutover %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

func TestCLIAgainstServer(t *testing.T) {
	srv := startCLIServer(t)
	srv.CreateMigration(t, api.CreateMigration{Name: "orders", Description: "orders → pendingPayments"})
	srv.CreateMigration(t, api.CreateMigration{Name: "users", Gates: &api.Gates{Disabled: true}})

	// status lists both, at old.
	out := srv.mustRun(t, srv.op, "status")
	for _, want := range []string{"NAME", "orders", "users", "old", "off"} {
		if !strings.Contains(out, want) {
			t.Errorf("status table lacks %q:\n%s", want, out)
		}
	}

	// set: the mode as an argument or a flag, the version read first.
	out = srv.mustRun(t, srv.op, "set", "orders", "shadow", "--reason", "start comparing")
	if !strings.Contains(out, "old → shadow") {
		t.Errorf("set printed %q", out)
	}
	srv.mustRun(t, srv.op, "set", "users", "--mode", "shadow", "--reason", "compare")
	out = srv.mustRun(t, srv.op, "set", "users", "--mode", "shadow", "--treatment", "reverse-shadow", "--percent", "12.5", "--reason", "canary", "--json")
	var m api.Migration
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("set --json: %v\n%s", err, out)
	}
	want := cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeReverseShadow, Percent: 12.5}
	if !m.Rollout.Equal(want) {
		t.Errorf("set --json rollout %v, want %v", m.Rollout, want)
	}

	// A promotion without evidence is refused by the gates: exit 1, with
	// the criteria, thresholds and measured values.
	code, _, stderr := runCLI(t, srv.op, "set", "orders", "--mode", "reverse-shadow", "--reason", "looks fine")
	if code != exitFailure || !strings.Contains(stderr, "refused") || !strings.Contains(stderr, "min_comparisons") ||
		!strings.Contains(stderr, "THRESHOLD") || !strings.Contains(stderr, "MEASURED") {
		t.Errorf("gate refusal: exit %d, stderr:\n%s", code, stderr)
	}
	// A stale version: exit 1, saying what to do.
	code, _, stderr = runCLI(t, srv.op, "set", "orders", "--mode", "old", "--reason", "back", "--version", "1")
	if code != exitFailure || !strings.Contains(stderr, "changed meanwhile") {
		t.Errorf("stale version: exit %d, stderr:\n%s", code, stderr)
	}
	// A jump without force: exit 1; with force it goes through.
	code, _, stderr = runCLI(t, srv.op, "set", "users", "--mode", "new", "--reason", "jump")
	if code != exitFailure {
		t.Errorf("jump without force: exit %d, stderr:\n%s", code, stderr)
	}
	srv.mustRun(t, srv.op, "set", "users", "--mode", "new", "--reason", "jump, tested elsewhere", "--force")

	// status NAME shows the detail; --json the same data.
	out = srv.mustRun(t, srv.op, "status", "orders")
	for _, want := range []string{"migration", "orders", "rollout", "shadow", "promotion gates", "min_comparisons"} {
		if !strings.Contains(out, want) {
			t.Errorf("status orders lacks %q:\n%s", want, out)
		}
	}
	out = srv.mustRun(t, srv.op, "status", "orders", "--json")
	var st migrationStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Migration.Name != "orders" || st.Stats == nil {
		t.Errorf("status --json: %v\n%s", err, out)
	}
	code, _, stderr = runCLI(t, srv.op, "status", "nope")
	if code != exitError || !strings.Contains(stderr, `no migration named "nope"`) {
		t.Errorf("unknown migration: exit %d, stderr %s", code, stderr)
	}

	// history lists the changes with their reasons, oldest first.
	out = srv.mustRun(t, srv.op, "history", "users")
	iCanary, iJump := strings.Index(out, "canary"), strings.Index(out, "jump, tested elsewhere")
	if iCanary < 0 || iJump < iCanary || !strings.Contains(out, "forced") {
		t.Errorf("history:\n%s", out)
	}
	out = srv.mustRun(t, srv.op, "history", "users", "--json", "--limit", "1")
	var hist []api.Change
	if err := json.Unmarshal([]byte(out), &hist); err != nil || len(hist) != 1 || !hist[0].Forced {
		t.Errorf("history --json --limit 1: %v %+v", err, hist)
	}

	// token create needs admin; the secret it prints works.
	code, _, stderr = runCLI(t, srv.op, "token", "create", "--scope", "sdk")
	if code != exitError || !strings.Contains(stderr, "403") {
		t.Errorf("token create with an operator token: exit %d, stderr %s", code, stderr)
	}
	out = srv.mustRun(t, srv.admin, "token", "create", "--scope", "operator", "--name", "alice")
	secret := strings.TrimSpace(out)
	if secret == "" || strings.Contains(secret, "\n") {
		t.Fatalf("token create printed %q, want the secret alone", out)
	}
	srv.mustRun(t, map[string]string{"CUTOVER_SERVER": srv.URL}, "status", "--token", secret)
	out = srv.mustRun(t, srv.admin, "token", "create", "--scope", "sdk", "--json")
	var tok api.Token
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Secret == "" || tok.Scope != api.ScopeSDK {
		t.Errorf("token create --json: %v %+v", err, tok)
	}

	// token list shows IDs, scopes and names, never secrets; token revoke
	// takes an ID, and the revoked secret stops working.
	out = srv.mustRun(t, srv.admin, "token", "list")
	if !strings.Contains(out, "ID  ") || !strings.Contains(out, tok.ID) || !strings.Contains(out, "alice") || strings.Contains(out, secret) {
		t.Errorf("token list:\n%s", out)
	}
	var listed []api.Token
	if err := json.Unmarshal([]byte(srv.mustRun(t, srv.admin, "token", "list", "--json")), &listed); err != nil || len(listed) < 3 {
		t.Errorf("token list --json: %v %+v", err, listed)
	}
	var aliceID string
	for _, l := range listed {
		if l.Name == "alice" {
			aliceID = l.ID
		}
	}
	out = srv.mustRun(t, srv.admin, "token", "revoke", aliceID)
	if !strings.Contains(out, "revoked operator token "+aliceID+` "alice"`) {
		t.Errorf("token revoke: %q", out)
	}
	code, _, stderr = runCLI(t, map[string]string{"CUTOVER_SERVER": srv.URL}, "status", "--token", secret)
	if code != exitError || !strings.Contains(stderr, "401") {
		t.Errorf("status with a revoked token: exit %d, stderr %s", code, stderr)
	}
	code, _, stderr = runCLI(t, srv.admin, "token", "revoke", "abc")
	if code != exitError || !strings.Contains(stderr, "id") {
		t.Errorf("token revoke abc: exit %d, stderr %s", code, stderr)
	}
	code, _, stderr = runCLI(t, srv.admin, "token", "revoke")
	if code != exitError || !strings.Contains(stderr, "one token ID") {
		t.Errorf("token revoke without an ID: exit %d, stderr %s", code, stderr)
	}

	// A bad or missing token says how to fix it.
	for _, vars := range []map[string]string{
		{"CUTOVER_SERVER": srv.URL, "CUTOVER_TOKEN": "wrong"},
		{"CUTOVER_SERVER": srv.URL},
	} {
		code, _, stderr = runCLI(t, vars, "status")
		if code != exitError || !strings.Contains(stderr, "401: the token is missing or invalid: set --token or CUTOVER_TOKEN") {
			t.Errorf("bad token: exit %d, stderr %s", code, stderr)
		}
	}
}

func TestCLIStatusShowsEvidence(t *testing.T) {
	srv := startCLIServer(t)
	srv.CreateMigration(t, api.CreateMigration{Name: "orders"})
	srv.mustRun(t, srv.op, "set", "orders", "shadow", "--reason", "compare")
	now := time.Now().UTC()
	c, err := client.New(srv.URL, srv.Token(t, api.ScopeSDK), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	_, err = c.Report(t.Context(), &api.ReportBatch{BatchID: "b1", Instance: "i", Aggregates: []api.Aggregate{{
		Migration: "orders", Operation: "get", Kind: "read", Mode: cutover.ModeShadow, Start: now, End: now,
		Counts: map[cutover.Outcome]int64{cutover.OutcomeMatch: 990, cutover.OutcomeMismatch: 10},
		Groups: []api.Group{{Signature: ".Items[*].Price", Outcome: cutover.OutcomeMismatch, Count: 10}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	out := srv.mustRun(t, srv.op, "status")
	if !strings.Contains(out, "99%") || !strings.Contains(out, "1000") {
		t.Errorf("status table without the match rate:\n%s", out)
	}
	out = srv.mustRun(t, srv.op, "status", "orders")
	for _, want := range []string{"compared", "1000", "99%", ".Items[*].Price", "mismatch rate"} {
		if !strings.Contains(out, want) {
			t.Errorf("status orders lacks %q:\n%s", want, out)
		}
	}
}

package main

import (
	"strings"
	"testing"
)

func TestCreateCommand(t *testing.T) {
	s := startCLIServer(t)
	out := s.mustRun(t, s.admin, "create", "orders-customer-id", "--description", "orders → pendingPayments")
	if !strings.Contains(out, "created orders-customer-id at old") {
		t.Errorf("create output = %q", out)
	}
	if code, _, stderr := runCLI(t, s.admin, "create", "orders-customer-id"); code != exitFailure || !strings.Contains(stderr, "exists") {
		t.Errorf("creating it again: exit %d, %q; want exit %d saying it exists", code, stderr, exitFailure)
	}
	if code, _, stderr := runCLI(t, s.op, "create", "other"); code != exitError || !strings.Contains(stderr, "403") {
		t.Errorf("with an operator token: exit %d, %q; want 403", code, stderr)
	}
	if code, _, stderr := runCLI(t, s.admin, "create", "Bad Name!"); code != exitError || !strings.Contains(stderr, "name") {
		t.Errorf("bad name: exit %d, %q; want the name field named", code, stderr)
	}
	if code, out, _ := runCLI(t, s.op, "status"); code != exitOK || !strings.Contains(out, "orders-customer-id") {
		t.Errorf("status after create: exit %d, %q", code, out)
	}
}

// Package testenv gives tests the real services they need — a PostgreSQL
// database, a Chromium binary — the way scripts/test provides them.
//
// A test that needs a service it cannot find fails when the environment
// variable CI is "true" (so CI never passes by skipping), and skips
// otherwise, saying how to get the service.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// InCI reports whether the tests run in CI, where nothing may be skipped.
func InCI() bool { return os.Getenv("CI") == "true" }

// missing fails (in CI) or skips the test for a service it cannot find.
func missing(tb testing.TB, what string) {
	tb.Helper()
	msg := what + " is not available: run the tests with `bash scripts/test`, which installs and starts it"
	if InCI() {
		tb.Fatal(msg + " (CI=true: failing instead of skipping)")
	}
	tb.Skip(msg)
}

// PostgresURL returns the URL of a fresh, empty PostgreSQL database made for
// this test on the server named by CUTOVER_TEST_POSTGRES, and drops it when
// the test ends.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv("CUTOVER_TEST_POSTGRES")
	if admin == "" {
		missing(tb, "PostgreSQL (CUTOVER_TEST_POSTGRES)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		if InCI() {
			tb.Fatalf("connecting to CUTOVER_TEST_POSTGRES: %v", err)
		}
		tb.Skipf("connecting to CUTOVER_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "cutover_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("creating test database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Logf("dropping test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Logf("dropping test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("CUTOVER_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Chromium returns the path of a Chromium binary: CUTOVER_TEST_CHROMIUM, or
// chromium on PATH.
func Chromium(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("CUTOVER_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(tb, "Chromium")
	return ""
}

// Describe is a one-line summary of the services found, for test logs.
func Describe() string {
	return fmt.Sprintf("postgres=%v chromium=%q ci=%v",
		os.Getenv("CUTOVER_TEST_POSTGRES") != "", os.Getenv("CUTOVER_TEST_CHROMIUM"), InCI())
}

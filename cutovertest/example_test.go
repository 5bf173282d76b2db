package cutovertest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/cutovertest"
)

type customer struct {
	ID    string
	Email string
}

func legacyLookup(_ context.Context, id string) (customer, error) {
	return customer{ID: id, Email: "Ada@example.com"}, nil
}

func newLookup(_ context.Context, id string) (customer, error) {
	return customer{ID: id, Email: "ada@example.com"}, nil // the new store lowercases
}

// testCustomerLookup is what a test in your suite looks like; in a
// _test.go file it would be func TestCustomerLookup(t *testing.T).
func testCustomerLookup(t testing.TB) {
	m := cutovertest.New(t, "customers-v2")
	r := &cutover.Reader[string, customer]{Migration: m, Operation: "getCustomer",
		Old: legacyLookup, New: newLookup}
	for _, id := range []string{"c-1"} {
		if _, err := r.Read(context.Background(), id, id); err != nil {
			t.Fatal(err)
		}
	}
	// When the test ends, cutovertest drains the migration: new's answer
	// differs from old's, so the test fails with the differing path.
}

// Example_inTest runs testCustomerLookup with a stand-in for *testing.T that
// prints failures instead of recording them, to show the message.
func Example_inTest() {
	t := &printingTB{}
	testCustomerLookup(t)
	t.end()
	// Output:
	// FAIL: cutover: customers-v2: mismatch in shadow read "getCustomer" for key "c-1" (signature .Email): old != new at
	// 	.Email: "Ada@example.com" != "ada@example.com"
}

// printingTB prints failures; only the methods cutovertest uses are
// implemented.
type printingTB struct {
	testing.TB
	cleanups []func()
}

func (t *printingTB) Helper()                   {}
func (t *printingTB) Cleanup(f func())          { t.cleanups = append(t.cleanups, f) }
func (t *printingTB) Logf(string, ...any)       {}
func (t *printingTB) Fatal(args ...any)         { fmt.Println(append([]any{"FATAL:"}, args...)...) }
func (t *printingTB) Fatalf(f string, a ...any) { fmt.Printf("FATAL: "+f+"\n", a...) }
func (t *printingTB) Errorf(f string, a ...any) {
	fmt.Println("FAIL:", strings.TrimSpace(fmt.Sprintf(f, a...)))
}

func (t *printingTB) end() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

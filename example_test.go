package cutover_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/cutover/cutover"
)

// A value moves from the orders table to pendingPayments: read both, serve
// the old one, and see where they differ.
func ExampleRead() {
	rec := &cutover.Recorder{}
	m, _ := cutover.New(cutover.Config{
		Name:    "orders-customer-id",
		Rollout: cutover.Rollout{Mode: cutover.ModeShadow},
		Sinks:   []cutover.Sink{rec},
	})
	ctx := context.Background()

	customerID, err := cutover.Read(ctx, m, "getCustomerID", "order-17",
		func(ctx context.Context) (string, error) { return "cust-42", nil }, // SELECT customer_id FROM orders
		func(ctx context.Context) (string, error) { return "cust-43", nil }, // SELECT customer_id FROM pendingPayments
	)
	fmt.Println(customerID, err)

	m.Close(ctx) // waits for the shadow side and the sinks
	for _, o := range rec.Observations() {
		fmt.Println(o.Outcome, o.Key, o.Diffs[0])
	}
	// Output:
	// cust-42 <nil>
	// mismatch order-17 (root): "cust-42" != "cust-43"
}

type order struct {
	ID         int
	CustomerID string
}

// A Reader is built once per operation; its calls allocate no closures.
func ExampleReader() {
	m, _ := cutover.New(cutover.Config{
		Name:    "orders-customer-id",
		Rollout: cutover.Rollout{Mode: cutover.ModeReverseShadow},
	})
	defer m.Close(context.Background())

	getOrder := &cutover.Reader[int, order]{
		Migration: m,
		Operation: "getOrder",
		Old:       func(ctx context.Context, id int) (order, error) { return order{id, "cust-42"}, nil },
		New: func(ctx context.Context, id int) (order, error) {
			return order{}, errors.New("pendingPayments: timeout")
		},
	}
	// In reverse-shadow the caller gets new's result, or old's when new fails.
	o, err := getOrder.Read(context.Background(), "order-17", 17)
	fmt.Println(o, err)
	// Output:
	// {17 cust-42} <nil>
}

// Writes go to the authoritative store first; a failed second write is a
// divergence, recorded with its key and never returned.
func ExampleWriter() {
	m, _ := cutover.New(cutover.Config{
		Name:    "orders-customer-id",
		Rollout: cutover.Rollout{Mode: cutover.ModeShadow},
		OnDivergence: func(ctx context.Context, o *cutover.Observation) {
			fmt.Println("repair later:", o.Key, o.New.Err)
		},
	})
	defer m.Close(context.Background())

	setCustomer := &cutover.Writer[string, bool]{
		Migration: m,
		Operation: "setCustomerID",
		Old:       func(ctx context.Context, id string) (bool, error) { return true, nil },
		New: func(ctx context.Context, id string) (bool, error) {
			return false, errors.New("pendingPayments is read-only")
		},
	}
	ok, err := setCustomer.Write(context.Background(), "order-17", "cust-42")
	fmt.Println(ok, err)
	// Output:
	// repair later: order-17 pendingPayments is read-only
	// true <nil>
}

// A control/treatment rollout: 10% of keys in reverse-shadow, the rest in
// shadow, one test tenant pinned to new.
func ExampleRollout_ModeFor() {
	r := cutover.Rollout{
		Mode:      cutover.ModeShadow,
		Treatment: cutover.ModeReverseShadow,
		Percent:   10,
		Overrides: map[string]cutover.Mode{"tenant-test": cutover.ModeNew},
	}
	fmt.Println(r)
	fmt.Println(r.ModeFor("orders-customer-id", "tenant-test"))
	fmt.Println(cutover.Bucket("orders-customer-id", "order-1") < 1000 == (r.ModeFor("orders-customer-id", "order-1") == cutover.ModeReverseShadow))
	// Output:
	// shadow, 10% reverse-shadow, overrides tenant-test=new
	// new
	// true
}

func ExampleParseMode() {
	m, err := cutover.ParseMode("Reverse-Shadow")
	fmt.Println(m, err)
	_, err = cutover.ParseMode("canary")
	fmt.Println(err)
	fmt.Println(cutover.CheckTransition(cutover.ModeShadow, cutover.ModeNew, false))
	// Output:
	// reverse-shadow <nil>
	// invalid mode "canary": want one of old, shadow, reverse-shadow, new
	// transition skips a mode: shadow → new moves 2 steps; go through reverse-shadow first, or force it with a reason
}

package verify_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cutover/cutover/verify"
	_ "modernc.org/sqlite"
)

func Example() {
	dir, _ := os.MkdirTemp("", "verify-example")
	defer os.RemoveAll(dir)
	// Two SQLite files: orders, and its copy pendingPayments, which lost an
	// order and changed a customer.
	mk := func(name string, stmts ...string) string {
		path := filepath.Join(dir, name)
		db, err := sql.Open("sqlite", path)
		if err != nil {
			log.Fatal(err)
		}
		defer db.Close()
		for _, s := range stmts {
			if _, err := db.Exec(s); err != nil {
				log.Fatal(err)
			}
		}
		return "sqlite://" + path
	}
	old := mk("old.db",
		"CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, total REAL)",
		"INSERT INTO orders VALUES (1, 10, 9.99), (2, 11, 5.00), (3, 12, 7.50)")
	new := mk("new.db",
		"CREATE TABLE pending_payments (order_id INTEGER PRIMARY KEY, customer_id INTEGER, total REAL)",
		"INSERT INTO pending_payments VALUES (1, 10, 9.99), (3, 13, 7.50)")

	r, err := verify.Compare(context.Background(),
		verify.Source{URL: old, Query: "SELECT id, customer_id, total FROM orders"},
		verify.Source{URL: new, Query: "SELECT order_id, customer_id, total FROM pending_payments"},
		verify.Options{FloatPrecision: 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("identical=%v old=%d new=%d missing=%d differing=%d\n", r.Identical, r.OldRows, r.NewRows, r.Missing, r.Differing)
	for _, d := range r.Differences {
		fmt.Println(d.Key, d.Kind, d.Diffs)
	}
	// Output:
	// identical=false old=3 new=2 missing=1 differing=1
	// 2 missing_in_new []
	// 3 differing [.customer_id: "12" != "13"]
}

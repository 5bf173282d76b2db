// Package orders is cutover's example migration, the classic data-source
// move: charging a customer needs an order's customer ID, which the old code
// reads from the orders table and the new code from the pendingPayments
// table. Both are real SQLite tables.
//
// The service reads through a [cutover.Reader] and creates orders through a
// [cutover.Writer], so the same code runs in every mode; the mode comes from
// the migration's rollout. Seed plants a few deliberate inconsistencies (a
// stale customer ID, a missing row) so that shadow mode finds real
// mismatches.
package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"

	"github.com/cutover/cutover"
	_ "modernc.org/sqlite" // the embedded SQLite driver, no cgo
)

// MigrationName is the example migration's name.
const MigrationName = "orders-customer-id"

// Schema creates the two tables: the legacy source and the new one.
const Schema = `
CREATE TABLE IF NOT EXISTS orders (
	id          INTEGER PRIMARY KEY,
	customer_id TEXT NOT NULL,
	amount_cents INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pendingPayments (
	order_id    INTEGER PRIMARY KEY,
	customer_id TEXT NOT NULL
);`

// Open opens (creating if needed) the SQLite database at path and its
// tables. Use ":memory:" only with a single connection.
func Open(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("orders: opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	if _, err := db.Exec(Schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("orders: creating tables in %s: %w", path, err)
	}
	return db, nil
}

// Seed inserts n orders into both tables. About staleShare of them get a
// different customer ID in pendingPayments, and about missingShare have no
// pendingPayments row at all: the inconsistencies shadow mode should find.
// It returns the number of each kind planted.
func Seed(ctx context.Context, db *sql.DB, n int, staleShare, missingShare float64, rng *rand.Rand) (stale, missing int, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	for i := 1; i <= n; i++ {
		cust := fmt.Sprintf("cust-%04d", rng.IntN(1000))
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO orders(id, customer_id, amount_cents) VALUES (?, ?, ?)`,
			i, cust, 100+rng.IntN(10000)); err != nil {
			return 0, 0, fmt.Errorf("orders: seeding: %w", err)
		}
		switch r := rng.Float64(); {
		case r < missingShare:
			missing++
			continue
		case r < missingShare+staleShare:
			stale++
			cust = fmt.Sprintf("cust-%04d", rng.IntN(1000)+1000) // a stale copy
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO pendingPayments(order_id, customer_id) VALUES (?, ?)`,
			i, cust); err != nil {
			return 0, 0, fmt.Errorf("orders: seeding: %w", err)
		}
	}
	return stale, missing, tx.Commit()
}

// ErrNotFound is returned for an order that a table does not have.
var ErrNotFound = errors.New("order not found")

// NewOrder is the input of a write.
type NewOrder struct {
	ID          int64
	CustomerID  string
	AmountCents int64
}

// Service is the example service: it charges customers, and needs each
// order's customer ID to do it.
type Service struct {
	DB *sql.DB
	// FailNew, when set, makes every new-side call fail: the demo's fault
	// injection, to show fallback and the guard's rollback.
	FailNew atomic.Bool

	customerID *cutover.Reader[int64, string]
	create     *cutover.Writer[NewOrder, struct{}]
}

// NewService wires the reads and writes of db through migration m.
func NewService(db *sql.DB, m *cutover.Migration) *Service {
	s := &Service{DB: db}
	s.customerID = &cutover.Reader[int64, string]{
		Migration: m,
		Operation: "getCustomerID",
		Old:       s.customerIDFromOrders,
		New:       s.customerIDFromPendingPayments,
	}
	s.create = &cutover.Writer[NewOrder, struct{}]{
		Migration: m,
		Operation: "createOrder",
		Old:       s.insertOrder,
		New:       s.insertPendingPayment,
	}
	return s
}

// CustomerID returns the customer of an order, read in the migration's mode.
func (s *Service) CustomerID(ctx context.Context, orderID int64) (string, error) {
	return s.customerID.Read(ctx, fmt.Sprint("order-", orderID), orderID)
}

// CreateOrder writes a new order to the store(s) the migration's mode asks
// for, authoritative store first.
func (s *Service) CreateOrder(ctx context.Context, o NewOrder) error {
	_, err := s.create.Write(ctx, fmt.Sprint("order-", o.ID), o)
	return err
}

func (s *Service) customerIDFromOrders(ctx context.Context, id int64) (string, error) {
	var c string
	err := s.DB.QueryRowContext(ctx, `SELECT customer_id FROM orders WHERE id = ?`, id).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("orders %d: %w", id, ErrNotFound)
	}
	return c, err
}

func (s *Service) customerIDFromPendingPayments(ctx context.Context, id int64) (string, error) {
	if s.FailNew.Load() {
		return "", errors.New("pendingPayments: injected fault")
	}
	var c string
	err := s.DB.QueryRowContext(ctx, `SELECT customer_id FROM pendingPayments WHERE order_id = ?`, id).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("pendingPayments %d: %w", id, ErrNotFound)
	}
	return c, err
}

func (s *Service) insertOrder(ctx context.Context, o NewOrder) (struct{}, error) {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO orders(id, customer_id, amount_cents) VALUES (?, ?, ?)`,
		o.ID, o.CustomerID, o.AmountCents)
	return struct{}{}, err
}

func (s *Service) insertPendingPayment(ctx context.Context, o NewOrder) (struct{}, error) {
	if s.FailNew.Load() {
		return struct{}{}, errors.New("pendingPayments: injected fault")
	}
	_, err := s.DB.ExecContext(ctx, `INSERT INTO pendingPayments(order_id, customer_id) VALUES (?, ?)`,
		o.ID, o.CustomerID)
	return struct{}{}, err
}

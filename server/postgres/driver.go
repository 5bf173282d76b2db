package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A minimal database/sql driver over pgx.Conn. pgx's own (pgx/v5/stdlib)
// imports pgxpool, whose dependency github.com/jackc/puddle/v2 is not in
// this module's go.sum; database/sql gives the pooling, and this file the
// few methods the shared SQL needs.

type connector struct{ cfg *pgx.ConnConfig }

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, c.cfg.Copy())
	if err != nil {
		return nil, err
	}
	return &pgConn{c: conn}, nil
}

func (c connector) Driver() driver.Driver { return pgDriver{} }

type pgDriver struct{}

func (pgDriver) Open(name string) (driver.Conn, error) {
	cfg, err := pgx.ParseConfig(name)
	if err != nil {
		return nil, err
	}
	return connector{cfg}.Connect(context.Background())
}

type pgConn struct{ c *pgx.Conn }

var (
	_ driver.ExecerContext      = (*pgConn)(nil)
	_ driver.QueryerContext     = (*pgConn)(nil)
	_ driver.ConnBeginTx        = (*pgConn)(nil)
	_ driver.Pinger             = (*pgConn)(nil)
	_ driver.Validator          = (*pgConn)(nil)
	_ driver.NamedValueChecker  = (*pgConn)(nil)
	_ driver.ConnPrepareContext = (*pgConn)(nil)
)

func (c *pgConn) Prepare(query string) (driver.Stmt, error) {
	return &pgStmt{c: c, q: query}, nil
}

func (c *pgConn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	return &pgStmt{c: c, q: query}, nil
}

func (c *pgConn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.c.Close(ctx)
}

func (c *pgConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *pgConn) BeginTx(ctx context.Context, _ driver.TxOptions) (driver.Tx, error) {
	tx, err := c.c.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return pgTx{tx}, nil
}

func (c *pgConn) Ping(ctx context.Context) error {
	if c.c.IsClosed() {
		return driver.ErrBadConn
	}
	return c.c.Ping(ctx)
}

func (c *pgConn) IsValid() bool { return !c.c.IsClosed() }

// CheckNamedValue lets every value through: pgx encodes Go values itself.
func (c *pgConn) CheckNamedValue(*driver.NamedValue) error { return nil }

func args(named []driver.NamedValue) []any {
	a := make([]any, len(named))
	for i, n := range named {
		a[i] = n.Value
	}
	return a
}

func (c *pgConn) ExecContext(ctx context.Context, query string, named []driver.NamedValue) (driver.Result, error) {
	tag, err := c.c.Exec(ctx, query, args(named)...)
	if err != nil {
		return nil, badConn(c, err)
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

func (c *pgConn) QueryContext(ctx context.Context, query string, named []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.c.Query(ctx, query, args(named)...)
	if err != nil {
		return nil, badConn(c, err)
	}
	return &pgRows{r: rows}, nil
}

// badConn tells database/sql to drop a connection that died.
func badConn(c *pgConn, err error) error {
	if c.c.IsClosed() && !errors.Is(err, driver.ErrBadConn) {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) {
			return errors.Join(driver.ErrBadConn, err)
		}
	}
	return err
}

type pgStmt struct {
	c *pgConn
	q string
}

func (s *pgStmt) Close() error  { return nil }
func (s *pgStmt) NumInput() int { return -1 }
func (s *pgStmt) Exec(a []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), toNamed(a))
}
func (s *pgStmt) Query(a []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), toNamed(a))
}
func (s *pgStmt) ExecContext(ctx context.Context, a []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.q, a)
}
func (s *pgStmt) QueryContext(ctx context.Context, a []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.q, a)
}

func toNamed(a []driver.Value) []driver.NamedValue {
	n := make([]driver.NamedValue, len(a))
	for i, v := range a {
		n[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return n
}

type pgTx struct{ tx pgx.Tx }

func (t pgTx) Commit() error   { return t.tx.Commit(context.Background()) }
func (t pgTx) Rollback() error { return t.tx.Rollback(context.Background()) }

type pgRows struct{ r pgx.Rows }

func (r *pgRows) Columns() []string {
	fds := r.r.FieldDescriptions()
	cols := make([]string, len(fds))
	for i, fd := range fds {
		cols[i] = fd.Name
	}
	return cols
}

func (r *pgRows) Close() error {
	r.r.Close()
	return r.r.Err()
}

func (r *pgRows) Next(dest []driver.Value) error {
	if !r.r.Next() {
		if err := r.r.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	vals, err := r.r.Values()
	if err != nil {
		return err
	}
	for i, v := range vals {
		switch x := v.(type) {
		case int16:
			dest[i] = int64(x)
		case int32:
			dest[i] = int64(x)
		case float32:
			dest[i] = float64(x)
		default:
			dest[i] = v
		}
	}
	return nil
}

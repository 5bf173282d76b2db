// Package postgres is the control plane's storage for several replicas: a
// server.Store in PostgreSQL (github.com/jackc/pgx/v5).
//
// Besides the store, it gives the replicas what they need to act as one:
// every committed change is announced with NOTIFY on the channel
// "cutover_changes" (payload: the change id), which [Store.ListenChanges]
// follows on a dedicated connection, so a change made through one replica
// reaches the watchers of all of them; and the guard runs on the replica
// holding a session-level advisory lock ([Store.GuardLeader]), which moves
// to another replica when the holder's connection dies.
//
// The SQL is shared with the sqlite adapter, so the pool is database/sql
// over pgx's own driver (github.com/jackc/pgx/v5/stdlib); LISTEN and the
// lock use dedicated pgx connections, outside the pool, because each holds
// session state (the LISTEN, the lock) for as long as it lives. The schema
// migrations in schema/ are embedded and applied at Open under a
// transaction-level advisory lock, so replicas starting together migrate
// once.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"sync"
	"time"

	"github.com/cutover/cutover/server/internal/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed schema/*.sql
var schema embed.FS

// Channel is the NOTIFY channel of committed changes.
const Channel = "cutover_changes"

// guardLockKey is the advisory lock key of the guard ("cutover" in ASCII,
// as a number).
const guardLockKey = 0x637574_6f766572

// migrateLockKey serialises schema migrations across replicas.
const migrateLockKey = guardLockKey + 1

// Store is a server.Store in PostgreSQL.
type Store struct {
	*sqlstore.Store
	url string

	mu        sync.Mutex // protects lockConn
	lockConn  *pgx.Conn  // holds the guard lock while this replica leads
	closeOnce sync.Once
}

// Open connects to the database at url (postgres://...) and brings its
// schema up to date.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	sub, _ := fs.Sub(schema, "schema")
	if err := sqlstore.Migrate(ctx, db, sub, "SELECT pg_advisory_xact_lock("+strconv.FormatInt(migrateLockKey, 10)+")"); err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{url: url}
	s.Store = sqlstore.New(db, db, sqlstore.Dialect{
		Lock:          "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(migrateLockKey, 10) + ")",
		LockIsolation: sql.LevelReadCommitted,
		AfterChange: func(ctx context.Context, tx *sql.Tx, id int64) error {
			_, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, Channel, strconv.FormatInt(id, 10))
			return err
		},
	})
	return s, nil
}

// SchemaVersion returns the highest schema migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	return sqlstore.SchemaVersion(ctx, s.Writer())
}

// ListenChanges implements server.ChangeNotifier: once LISTEN is in place
// it calls ready, then fn with the id of every change committed by any
// replica until ctx ends.
func (s *Store) ListenChanges(ctx context.Context, ready func(), fn func(id int64)) error {
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	ready()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		id, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil {
			continue
		}
		fn(id)
	}
}

// GuardLeader implements server.GuardLocker with a session-level advisory
// lock held on a dedicated connection.
func (s *Store) GuardLeader(ctx context.Context) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lockConn != nil {
		// Still ours as long as the session lives.
		if err := s.lockConn.Ping(ctx); err == nil {
			return true, nil
		}
		s.dropLockLocked()
	}
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return false, err
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(guardLockKey)).Scan(&ok); err != nil {
		conn.Close(context.Background())
		return false, err
	}
	if !ok {
		conn.Close(context.Background())
		return false, nil
	}
	s.lockConn = conn
	return true, nil
}

func (s *Store) dropLockLocked() {
	if s.lockConn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.lockConn.Close(ctx) // closing the session releases the lock
		s.lockConn = nil
	}
}

// ReleaseGuard implements server.GuardLocker.
func (s *Store) ReleaseGuard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropLockLocked()
}

// Close releases the guard lock and closes the pool.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.ReleaseGuard()
		err = s.Store.Close()
	})
	if err != nil && errors.Is(err, sql.ErrConnDone) {
		return nil
	}
	return err
}

// Package sqlite is the embedded storage of the control plane: a
// server.Store in one SQLite file (modernc.org/sqlite, no cgo), the
// default of `cutover serve`.
//
// The database runs in WAL mode with synchronous=FULL, so a write the
// server acknowledged survives a crash of the process or of the machine;
// writes go through one connection (SQLite has one writer; BEGIN
// IMMEDIATE avoids lock upgrades), reads through a small pool of their
// own. Report batches that arrive together are committed in one
// transaction (group commit), each acknowledged only once committed. The schema is versioned: the migrations in schema/ are embedded and
// applied at Open.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/cutover/cutover/server/internal/sqlstore"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed schema/*.sql
var schema embed.FS

// Store is a server.Store in a SQLite file.
type Store struct {
	*sqlstore.Store
	path string
}

// Open opens (creating it if needed) the database file at path and brings
// its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating the data directory: %w", err)
		}
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	sub, _ := fs.Sub(schema, "schema")
	if err := sqlstore.Migrate(ctx, w, sub, ""); err != nil {
		w.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	return &Store{Store: sqlstore.New(w, r, sqlstore.Dialect{GroupCommit: true}), path: path}, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// SchemaVersion returns the highest schema migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	return sqlstore.SchemaVersion(ctx, s.Writer())
}

// Close checkpoints the write-ahead log into the database file and closes
// it.
func (s *Store) Close() error {
	_, _ = s.Writer().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return s.Store.Close()
}

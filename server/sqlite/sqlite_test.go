package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cutover/cutover/server"
	"github.com/cutover/cutover/server/sqlite"
	"github.com/cutover/cutover/server/storetest"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) server.Store {
		return open(t, filepath.Join(t.TempDir(), "cutover.db"))
	})
}

func TestSchemaMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "cutover.db")
	s := open(t, path)
	v, err := s.SchemaVersion(context.Background())
	if err != nil || v != 1 {
		t.Fatalf("schema version %d, %v; want 1", v, err)
	}
	s.Close()
	s = open(t, path) // applying again must be a no-op
	defer s.Close()
	if v, _ := s.SchemaVersion(context.Background()); v != 1 {
		t.Fatalf("schema version after reopening %d", v)
	}
}

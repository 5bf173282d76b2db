package verify

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/testenv"
	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if cliDir != "" {
		os.RemoveAll(cliDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testDB is a database made by a test, with a way to run statements on it.
type testDB struct {
	engine string // "sqlite" or "postgres"
	url    string
	exec   func(t testing.TB, q string, args ...any)
	// load inserts rows into table t (the testRow columns).
	load func(t testing.TB, table string, rows []testRow)
}

// newSQLite makes a SQLite file in the test's directory.
func newSQLite(t testing.TB) *testDB {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("db-%d.sqlite", time.Now().UnixNano()))
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	d := &testDB{engine: "sqlite", url: "sqlite://" + path}
	d.exec = func(t testing.TB, q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("sqlite: %s: %v", q, err)
		}
	}
	d.load = func(t testing.TB, table string, rows []testRow) {
		t.Helper()
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		st, err := tx.Prepare("INSERT INTO " + table + " VALUES (?, ?, ?, ?, ?, ?, ?)")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			var name any
			if r.name != nil {
				name = *r.name
			}
			ok := int64(0)
			if r.ok {
				ok = 1
			}
			// SQLite keeps timestamps as text and uuids as text, here in
			// the untidy forms found in the wild.
			ref := "  " + strings.ToUpper(r.ref) + " "
			if _, err := st.Exec(r.key, name, r.amount, r.price, r.at.UTC().Format("2006-01-02 15:04:05.999999"), ok, ref); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// factory makes test databases. Creating a PostgreSQL database takes a
// while, so a factory makes one, lazily, for its whole test, and gives each
// testDB its own schema in it.
type factory struct {
	top    testing.TB
	pgURL  string
	schema int
}

func newFactory(t testing.TB) *factory { return &factory{top: t} }

func (f *factory) make(t testing.TB, engine string) *testDB {
	t.Helper()
	if engine == "sqlite" {
		return newSQLite(t)
	}
	if f.pgURL == "" {
		if os.Getenv("CUTOVER_TEST_POSTGRES") == "" {
			// Skip (or, in CI, fail) this test, not the parent that owns
			// the database.
			testenv.PostgresURL(t)
		}
		f.pgURL = testenv.PostgresURL(f.top)
	}
	f.schema++
	name := fmt.Sprintf("s%d", f.schema)
	admin, err := pgx.Connect(context.Background(), f.pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(context.Background(), "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	return newPostgresAt(t, f.pgURL+"&search_path="+name)
}

// newPostgres makes a fresh PostgreSQL database.
func newPostgres(t testing.TB) *testDB {
	t.Helper()
	return newPostgresAt(t, testenv.PostgresURL(t))
}

func newPostgresAt(t testing.TB, url string) *testDB {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	d := &testDB{engine: "postgres", url: url}
	d.exec = func(t testing.TB, q string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			t.Fatalf("postgres: %s: %v", q, err)
		}
	}
	d.load = func(t testing.TB, table string, rows []testRow) {
		t.Helper()
		src := make([][]any, len(rows))
		for i, r := range rows {
			var name any
			if r.name != nil {
				name = *r.name
			}
			src[i] = []any{r.key, name, r.amount, r.price, r.at, r.ok, r.ref}
		}
		_, err := conn.CopyFrom(ctx, pgx.Identifier{table}, []string{"id", "name", "amount", "price", "at", "ok", "ref"}, pgx.CopyFromRows(src))
		if err != nil {
			t.Fatalf("postgres: copy into %s: %v", table, err)
		}
	}
	return d
}

// testRow is a row of the test table.
type testRow struct {
	key    any // int64 or string
	name   *string
	amount float64
	price  float64
	at     time.Time
	ok     bool
	ref    string
}

// create makes table t with an integer or a string key.
func (d *testDB) create(t testing.TB, table string, stringKey bool) {
	t.Helper()
	switch d.engine {
	case "sqlite":
		key := "id INTEGER PRIMARY KEY"
		if stringKey {
			key = "id TEXT PRIMARY KEY"
		}
		d.exec(t, "CREATE TABLE "+table+" ("+key+", name TEXT, amount REAL, price NUMERIC, at TIMESTAMP, ok BOOLEAN, ref TEXT)")
	case "postgres":
		key := "id bigint PRIMARY KEY"
		if stringKey {
			key = "id text PRIMARY KEY"
		}
		d.exec(t, "CREATE TABLE "+table+" ("+key+", name text, amount double precision, price numeric(12,2), at timestamptz, ok boolean, ref uuid)")
	}
}

// param is the n-th placeholder in d's dialect.
func (d *testDB) param(n int) string {
	if d.engine == "postgres" {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

var testBase = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// genRows makes n rows with keys that have gaps (every 7th number), NULLs,
// empty strings, fractions and microsecond timestamps.
func genRows(n int, stringKey bool) []testRow {
	rows := make([]testRow, n)
	for i := range rows {
		var key any = int64(i*7 + 3)
		if stringKey {
			key = fmt.Sprintf("k%07d", i*7+3)
		}
		var name *string
		switch {
		case i%50 == 0: // NULL
		case i%51 == 0:
			s := ""
			name = &s
		default:
			s := fmt.Sprintf("name-%d é'\\", i)
			name = &s
		}
		rows[i] = testRow{
			key:    key,
			name:   name,
			amount: float64(i) / 3,
			price:  float64(i%1000) + 0.25,
			at:     testBase.Add(time.Duration(i) * 1234567 * time.Microsecond),
			ok:     i%2 == 0,
			ref:    fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i*31),
		}
	}
	return rows
}

// fill creates table and loads rows into it.
// filledPair makes two databases of one engine whose table t holds the
// same n generated rows (integer keys).
func (f *factory) filledPair(t testing.TB, engine string, n int) (old, new *testDB, rows []testRow) {
	t.Helper()
	old, new = f.make(t, engine), f.make(t, engine)
	rows = genRows(n, false)
	old.fill(t, "t", rows, false)
	new.fill(t, "t", rows, false)
	return old, new, rows
}

func (d *testDB) fill(t testing.TB, table string, rows []testRow, stringKey bool) {
	t.Helper()
	d.create(t, table, stringKey)
	d.load(t, table, rows)
}

const testQuery = "SELECT id, name, amount, price, at, ok, ref FROM t"

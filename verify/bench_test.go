package verify

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/testenv"
	"github.com/jackc/pgx/v5"
)

// BenchmarkVerify compares two generated tables of CUTOVER_VERIFY_ROWS rows
// (skipped when unset, so that the default test run stays fast), on
// PostgreSQL and on SQLite: identical data, then data with 0.1% of the rows
// changed. Each sub-benchmark reports rows/s (rows of one side per second),
// x_count, its time over the time of a plain count(*) on both tables, and
// x_read, its time over that of the cheapest query that reads every
// compared value of both (readAll).
// CUTOVER_VERIFY_THRESHOLD sets Options.Threshold; CUTOVER_VERIFY_ENGINES
// ("postgres" or "sqlite") runs one engine only; CUTOVER_VERIFY_CANONICAL=1
// hashes canonical text, as between SQLite and PostgreSQL, instead of the
// raw rows two sides of one engine use.
//
//	CUTOVER_VERIFY_ROWS=1000000 CUTOVER_TEST_POSTGRES=postgres://… \
//	  go test -run '^$' -bench BenchmarkVerify -benchtime 1x -timeout 2h ./verify
func BenchmarkVerify(b *testing.B) {
	rows, _ := strconv.Atoi(os.Getenv("CUTOVER_VERIFY_ROWS"))
	if rows <= 0 {
		b.Skip("set CUTOVER_VERIFY_ROWS (such as 1000000) to run the big verify benchmark")
	}
	engines := os.Getenv("CUTOVER_VERIFY_ENGINES") // "postgres", "sqlite" or both (empty)
	if os.Getenv("CUTOVER_VERIFY_CANONICAL") == "1" {
		forceCanonical = true
		defer func() { forceCanonical = false }()
	}
	b.Run("postgres", func(b *testing.B) {
		if engines != "" && !strings.Contains(engines, "postgres") {
			b.Skip("CUTOVER_VERIFY_ENGINES leaves PostgreSQL out")
		}
		url := testenv.PostgresURL(b)
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		exec := func(q string) {
			if _, err := conn.Exec(ctx, q); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
		start := time.Now()
		for _, t := range []string{"a", "b"} {
			exec(`CREATE TABLE ` + t + ` AS SELECT i::bigint AS id, md5(i::text) AS name, i / 3.0::float8 AS amount,
				((i % 100000) + 0.25)::numeric(12,2) AS price, timestamptz '2024-01-01' + i * interval '1.001 second' AS at,
				i % 2 = 0 AS ok FROM generate_series(1, ` + strconv.Itoa(rows) + `) AS i`)
			exec(`ALTER TABLE ` + t + ` ADD PRIMARY KEY (id)`)
			exec(`VACUUM ANALYZE ` + t)
		}
		b.Logf("generated 2 × %d rows in %v", rows, time.Since(start).Round(time.Millisecond))
		scan := func(b *testing.B, what string) {
			for _, t := range []string{"a", "b"} {
				var n int64
				if err := conn.QueryRow(ctx, "SELECT "+what+" FROM "+t).Scan(&n); err != nil || n != int64(rows) {
					b.Fatalf("%s %s: %d %v", what, t, n, err)
				}
			}
		}
		benchVerify(b, url, url, scan, func() {
			exec(`UPDATE b SET name = 'changed' WHERE id % 1000 = 0`)
			exec(`VACUUM ANALYZE b`)
		}, rows)
	})
	b.Run("sqlite", func(b *testing.B) {
		if engines != "" && !strings.Contains(engines, "sqlite") {
			b.Skip("CUTOVER_VERIFY_ENGINES leaves SQLite out")
		}
		dir := b.TempDir()
		start := time.Now()
		var urls [2]string
		var dbs [2]*sql.DB
		for i, name := range []string{"a", "b"} {
			path := filepath.Join(dir, name+".db")
			// No WAL: a verify of a file whose pages still sit in a huge
			// WAL would measure the WAL index, not the table.
			db, err := sql.Open("sqlite", path+"?_pragma=synchronous(off)")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			for _, q := range []string{
				`CREATE TABLE ` + name + ` (id INTEGER PRIMARY KEY, name TEXT, amount REAL, price NUMERIC, at TIMESTAMP, ok BOOLEAN)`,
				`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ` + strconv.Itoa(rows) + `)
				 INSERT INTO ` + name + ` SELECT i, printf('%032x', i * 2654435761), i / 3.0, (i % 100000) + 0.25,
				   strftime('%Y-%m-%d %H:%M:%f', 1704067200 + i * 1.001, 'unixepoch'), i % 2 = 0 FROM s`,
			} {
				if _, err := db.Exec(q); err != nil {
					b.Fatalf("%s: %v", q, err)
				}
			}
			urls[i], dbs[i] = "sqlite://"+path, db
		}
		b.Logf("generated 2 × %d rows in %v", rows, time.Since(start).Round(time.Millisecond))
		scan := func(b *testing.B, what string) {
			for i, db := range dbs {
				var n int64
				if err := db.QueryRow("SELECT " + what + " FROM " + []string{"a", "b"}[i]).Scan(&n); err != nil || n != int64(rows) {
					b.Fatalf("%s: %d %v", what, n, err)
				}
			}
		}
		benchVerify(b, urls[0], urls[1], scan, func() {
			if _, err := dbs[1].Exec(`UPDATE b SET name = 'changed' WHERE id % 1000 = 0`); err != nil {
				b.Fatal(err)
			}
		}, rows)
	})
}

// readAll is the cheapest query that reads every compared value of a
// table (count(x) reads x to see whether it is NULL), where count(*) reads
// none: SQLite counts the cells of the table's b-tree pages, PostgreSQL
// only checks each row's visibility. A checksum cannot cost less than
// readAll.
const readAll = "count(*) + count(name) + count(amount) + count(price) + count(at) + count(ok) - 5 * count(*)"

// benchVerify times count(*), readAll, verify of identical tables a and b,
// and, after change, verify of the changed tables. scan runs one select
// list on both tables, each of which must give the number of rows.
func benchVerify(b *testing.B, oldURL, newURL string, scan func(b *testing.B, what string), change func(), rows int) {
	var countTime, readTime time.Duration
	for _, q := range []struct {
		name, what string
		took       *time.Duration
	}{{"count", "count(*)", &countTime}, {"read", readAll, &readTime}} {
		b.Run(q.name, func(b *testing.B) {
			start := time.Now()
			for range b.N {
				scan(b, q.what)
			}
			*q.took = time.Since(start) / time.Duration(b.N)
			b.ReportMetric(float64(2*rows)/q.took.Seconds(), "rows/s")
		})
	}
	opts := Options{}
	if t, _ := strconv.Atoi(os.Getenv("CUTOVER_VERIFY_THRESHOLD")); t > 0 {
		opts.Threshold = t // to try other thresholds
	}
	run := func(b *testing.B, wantDiffering int64) {
		start := time.Now()
		var r *Result
		for range b.N {
			var err error
			r, err = Compare(context.Background(),
				Source{URL: oldURL, Query: "SELECT id, name, amount, price, at, ok FROM a"},
				Source{URL: newURL, Query: "SELECT id, name, amount, price, at, ok FROM b"}, opts)
			if err != nil {
				b.Fatal(err)
			}
		}
		took := time.Since(start) / time.Duration(b.N)
		if r.Differing != wantDiffering || r.Missing != 0 || r.Extra != 0 {
			b.Fatalf("got %d differing (want %d), %d missing, %d extra", r.Differing, wantDiffering, r.Missing, r.Extra)
		}
		b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
		b.ReportMetric(took.Seconds()/countTime.Seconds(), "x_count")
		b.ReportMetric(took.Seconds()/readTime.Seconds(), "x_read")
		b.ReportMetric(float64(r.Queries), "queries")
		b.ReportMetric(float64(r.RowsFetched), "fetched")
		b.Logf("%d rows: %v (count(*) of both: %v, reading every value: %v), %d queries, %d rows fetched",
			rows, took.Round(time.Millisecond), countTime.Round(time.Millisecond), readTime.Round(time.Millisecond), r.Queries, r.RowsFetched)
	}
	b.Run("identical", func(b *testing.B) { run(b, 0) })
	change()
	b.Run("diff0.1%", func(b *testing.B) { run(b, int64(rows/1000)) })
}

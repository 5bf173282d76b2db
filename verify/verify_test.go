package verify

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// pairs are the engine combinations every comparison test runs on.
var pairs = [][2]string{{"sqlite", "sqlite"}, {"postgres", "postgres"}, {"sqlite", "postgres"}, {"postgres", "sqlite"}}

// small options force several levels of bisection on a few thousand rows.
var small = Options{ChunkRows: 500, Threshold: 40, Factor: 4, Limit: 100}

func compare(t *testing.T, old, new *testDB, opts Options) *Result {
	t.Helper()
	r, err := Compare(context.Background(), Source{URL: old.url, Query: testQuery}, Source{URL: new.url, Query: testQuery}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestIdentical(t *testing.T) {
	f := newFactory(t)
	for _, stringKey := range []bool{false, true} {
		for _, pair := range pairs {
			t.Run(fmt.Sprintf("%s-%s/stringKey=%v", pair[0], pair[1], stringKey), func(t *testing.T) {
				old, new := f.make(t, pair[0]), f.make(t, pair[1])
				rows := genRows(3000, stringKey)
				old.fill(t, "t", rows, stringKey)
				new.fill(t, "t", rows, stringKey)
				for _, opts := range []Options{{}, small} {
					r := compare(t, old, new, opts)
					if !r.Identical || r.OldRows != 3000 || r.NewRows != 3000 || r.RowsFetched != 0 {
						t.Errorf("options %+v: got %+v, want identical with 3000 rows a side and nothing fetched", opts, r)
					}
				}
			})
		}
	}
}

// planted is a difference a test makes in new, and what verify must say.
type planted struct {
	key  int // index of the row in genRows
	kind Kind
	path string // the differing column, for Differing
}

func TestPlantedDifferences(t *testing.T) {
	f := newFactory(t)
	for _, stringKey := range []bool{false, true} {
		for _, pair := range pairs {
			t.Run(fmt.Sprintf("%s-%s/stringKey=%v", pair[0], pair[1], stringKey), func(t *testing.T) {
				testPlanted(t, f, pair, stringKey)
			})
		}
	}
}

func testPlanted(t *testing.T, f *factory, pair [2]string, stringKey bool) {
	old, new := f.make(t, pair[0]), f.make(t, pair[1])
	rows := genRows(3000, stringKey)
	old.fill(t, "t", rows, stringKey)
	new.fill(t, "t", rows, stringKey)
	key := func(i int) any { return rows[i].key }
	p := new.param
	set := func(d *testDB, col string, i int, v any) {
		d.exec(t, fmt.Sprintf("UPDATE t SET %s = %s WHERE id = %s", col, d.param(1), d.param(2)), v, key(i))
	}
	timeText := func(d *testDB, at time.Time) any {
		if d.engine == "sqlite" {
			return at.UTC().Format("2006-01-02 15:04:05.999999")
		}
		return at
	}

	// Missing in new.
	new.exec(t, "DELETE FROM t WHERE id = "+p(1), key(10))
	// Extra in new: a key beyond old's range, and one in a gap.
	extra := genRows(3002, stringKey)
	new.load(t, "t", []testRow{extra[3001]})
	gap := extra[1500]
	if stringKey {
		gap.key = fmt.Sprintf("k%07d", 1500*7+5)
	} else {
		gap.key = int64(1500*7 + 5)
	}
	new.load(t, "t", []testRow{gap})
	// A changed value.
	set(new, "name", 20, "changed")
	// NULL in old, empty string in new (row 100 has a NULL name).
	if rows[100].name != nil {
		t.Fatal("row 100 should have a NULL name")
	}
	set(new, "name", 100, "")
	// An empty string in old, NULL in new (row 102 = 51*2 has "").
	new.exec(t, "UPDATE t SET name = NULL WHERE id = "+p(1), key(102))
	// A float within the declared precision (9 places) and one outside.
	set(new, "amount", 30, rows[30].amount+1e-12)
	set(new, "amount", 40, rows[40].amount+1e-6)
	// Timestamps: within a millisecond, and a millisecond apart.
	for _, d := range []*testDB{old, new} {
		set(d, "at", 50, timeText(d, testBase.Add(100200*time.Microsecond)))
		set(d, "at", 60, timeText(d, testBase.Add(100200*time.Microsecond)))
	}
	set(new, "at", 50, timeText(new, testBase.Add(100700*time.Microsecond)))
	set(new, "at", 60, timeText(new, testBase.Add(101200*time.Microsecond)))

	want := []RowDifference{
		{Key: keyStr(key(10)), Kind: MissingInNew},
		{Key: keyStr(key(20)), Kind: Differing, Diffs: nil},
		{Key: keyStr(key(40)), Kind: Differing},
		{Key: keyStr(key(60)), Kind: Differing},
		{Key: keyStr(key(100)), Kind: Differing},
		{Key: keyStr(key(102)), Kind: Differing},
		{Key: keyStr(gap.key), Kind: ExtraInNew},
		{Key: keyStr(extra[3001].key), Kind: ExtraInNew},
	}
	paths := map[string]string{
		keyStr(key(20)): ".name", keyStr(key(40)): ".amount", keyStr(key(60)): ".at",
		keyStr(key(100)): ".name", keyStr(key(102)): ".name",
	}
	for _, opts := range []Options{{TimePrecision: time.Millisecond, Limit: 100}, withTime(small, time.Millisecond)} {
		r := compare(t, old, new, opts)
		if r.Identical || r.Missing != 1 || r.Extra != 2 || r.Differing != 5 || r.OldRows != 3000 || r.NewRows != 3001 {
			t.Errorf("options %+v: counts: got %+v", opts, r)
		}
		var got []RowDifference
		for _, d := range r.Differences {
			var ps []string
			for _, x := range d.Diffs {
				ps = append(ps, x.Path)
			}
			if d.Kind == Differing && (len(ps) != 1 || ps[0] != paths[d.Key]) {
				t.Errorf("key %s: differing columns %v, want %s (%v)", d.Key, ps, paths[d.Key], d.Diffs)
			}
			got = append(got, RowDifference{Key: d.Key, Kind: d.Kind})
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("options %+v:\ngot  %v\nwant %v", opts, got, want)
		}
		sigs := map[string]int64{}
		for _, s := range r.Signatures {
			sigs[s.Signature] = s.Count
		}
		if want := map[string]int64{".name": 3, ".amount": 1, ".at": 1}; !reflect.DeepEqual(sigs, want) {
			t.Errorf("signatures %v, want %v", sigs, want)
		}
		// NULL is shown as NULL, the empty string as "", a float rounded
		// to the precision.
		for _, d := range r.Differences {
			if d.Key == keyStr(key(100)) && (d.Diffs[0].Old != "NULL" || d.Diffs[0].New != `""`) {
				t.Errorf("NULL vs empty string shown as %v", d.Diffs[0])
			}
			if d.Key == keyStr(key(40)) && (d.Diffs[0].Old != `"13.333333333"` || d.Diffs[0].New != `"13.333334333"`) {
				t.Errorf("40/3 against 40/3 + 1e-6 shown as %v", d.Diffs[0])
			}
		}
	}
	// At the default precision (1µs), the timestamps within a millisecond
	// differ too; at 2 decimal places, the float outside 9 places does not.
	r := compare(t, old, new, Options{FloatPrecision: 2})
	if r.Differing != 5 {
		t.Errorf("at 1µs and 2 places: %d differing, want 5 (%v)", r.Differing, r.Differences)
	}
	for _, d := range r.Differences {
		if d.Key == keyStr(key(40)) {
			t.Errorf("amount within 2 places reported: %v", d)
		}
	}
}

func withTime(o Options, d time.Duration) Options {
	o.TimePrecision = d
	return o
}

func keyStr(k any) string { return fmt.Sprint(k) }

func TestLimitKeepsSmallestKeys(t *testing.T) {
	old, new := newSQLite(t), newSQLite(t)
	rows := genRows(2000, false)
	old.fill(t, "t", rows, false)
	new.fill(t, "t", rows[:1000], false) // the last 1000 rows are missing
	r := compare(t, old, new, Options{Limit: 5, ChunkRows: 300, Threshold: 20, Factor: 3})
	if r.Missing != 1000 || len(r.Differences) != 5 {
		t.Fatalf("got %d missing and %d listed, want 1000 and 5", r.Missing, len(r.Differences))
	}
	for i, d := range r.Differences {
		if want := keyStr(rows[1000+i].key); d.Key != want {
			t.Errorf("difference %d: key %s, want %s", i, d.Key, want)
		}
	}
	rep := r.Report()
	if rep.Identical || rep.Missing != 1000 || rep.OldRows != 2000 || rep.NewRows != 1000 || !reflect.DeepEqual(rep.Signatures, []string{"missing_in_new"}) {
		t.Errorf("report %+v", rep)
	}
}

func TestEmptyAndDisjoint(t *testing.T) {
	f := newFactory(t)
	for _, pair := range [][2]string{{"sqlite", "sqlite"}, {"sqlite", "postgres"}} {
		t.Run(pair[0]+"-"+pair[1], func(t *testing.T) {
			old, new := f.make(t, pair[0]), f.make(t, pair[1])
			old.create(t, "t", false)
			new.create(t, "t", false)
			r := compare(t, old, new, small)
			if !r.Identical || r.OldRows != 0 {
				t.Fatalf("two empty tables: %+v", r)
			}
			// Old and new hold different halves.
			rows := genRows(1000, false)
			old.load(t, "t", rows[:500])
			new.load(t, "t", rows[500:])
			r = compare(t, old, new, small)
			if r.Missing != 500 || r.Extra != 500 || r.Differing != 0 {
				t.Fatalf("disjoint halves: %+v", r)
			}
		})
	}
}

func TestWhereAndShorthand(t *testing.T) {
	old, new := newSQLite(t), newPostgres(t)
	rows := genRows(1000, false)
	old.fill(t, "t", rows, false)
	new.fill(t, "t", rows, false)
	new.exec(t, "UPDATE t SET name = 'recent' WHERE id = $1", rows[999].key)
	src := func(d *testDB) Source {
		return Source{URL: d.url, Table: "t", Key: "id", Columns: []string{"name", "amount", "price", "at", "ok", "ref"}}
	}
	r, err := Compare(context.Background(), src(old), src(new), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Differing != 1 {
		t.Fatalf("without a filter: %+v", r)
	}
	r, err = Compare(context.Background(), src(old), src(new), Options{Where: fmt.Sprintf("id < %d", rows[999].key)})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Identical || r.OldRows != 999 {
		t.Fatalf("with a filter: %+v", r)
	}
	// The filter also applies to a query's output.
	r, err = Compare(context.Background(), Source{URL: old.url, Query: testQuery}, Source{URL: new.url, Query: testQuery}, Options{Where: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Identical || r.OldRows != 500 {
		t.Fatalf("filtering on a boolean output column: %+v", r)
	}
}

func TestDifferentQueriesAndNames(t *testing.T) {
	// The example: old = orders(id, customer_id), new =
	// pendingPayments(order_id, customer_id).
	old, new := newSQLite(t), newPostgres(t)
	old.exec(t, "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, status TEXT)")
	new.exec(t, `CREATE TABLE "pendingPayments" (order_id bigint PRIMARY KEY, customer_id bigint)`)
	for i := 1; i <= 200; i++ {
		old.exec(t, "INSERT INTO orders VALUES (?, ?, ?)", i*3, i%17, "pending")
		if i != 77 {
			new.exec(t, `INSERT INTO "pendingPayments" VALUES ($1, $2)`, i*3, i%17)
		}
	}
	r, err := Compare(context.Background(),
		Source{URL: old.url, Query: "SELECT id, customer_id FROM orders WHERE status = 'pending'"},
		Source{URL: new.url, Query: `SELECT order_id, customer_id FROM "pendingPayments"`}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Missing != 1 || r.Differences[0].Key != "231" || r.Columns[1] != "customer_id" {
		t.Fatalf("%+v", r)
	}
}

func TestErrors(t *testing.T) {
	old := newSQLite(t)
	old.fill(t, "t", genRows(10, false), false)
	ctx := context.Background()
	cases := []struct {
		name     string
		old, new Source
		opts     Options
		want     string
	}{
		{"unknown scheme", Source{URL: "mysql://x", Query: "SELECT 1"}, Source{URL: old.url, Query: testQuery}, Options{}, "is not supported"},
		{"missing file", Source{URL: "sqlite:///nonexistent/x.db", Query: "SELECT 1"}, Source{URL: old.url, Query: testQuery}, Options{}, "no such file"},
		{"no query", Source{URL: old.url}, Source{URL: old.url, Query: testQuery}, Options{}, "no query"},
		{"column count", Source{URL: old.url, Query: "SELECT id, name FROM t"}, Source{URL: old.url, Query: testQuery}, Options{}, "compared by position"},
		{"key types", Source{URL: old.url, Query: "SELECT CAST(id AS TEXT) AS id FROM t"}, Source{URL: old.url, Query: "SELECT id FROM t"}, Options{}, "cast one of them"},
		{"bad SQL", Source{URL: old.url, Query: "SELEKT"}, Source{URL: old.url, Query: testQuery}, Options{}, "old query"},
		{"time precision", Source{URL: old.url, Query: testQuery}, Source{URL: old.url, Query: testQuery}, Options{TimePrecision: time.Nanosecond}, "microseconds"},
		{"bad table name", Source{URL: old.url, Table: "t; DROP TABLE t", Key: "id"}, Source{URL: old.url, Query: testQuery}, Options{}, "plain SQL name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compare(ctx, c.old, c.new, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestReadOnly(t *testing.T) {
	f := newFactory(t)
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			d := f.make(t, engine)
			d.fill(t, "t", genRows(10, false), false)
			// A query that writes is refused by the database.
			q := "DELETE FROM t RETURNING id, name, amount, price, at, ok, ref"
			if engine == "postgres" {
				q = "WITH del AS (DELETE FROM t RETURNING *) SELECT id, name, amount, price, at, ok, ref FROM del"
			}
			_, err := Compare(context.Background(), Source{URL: d.url, Query: q}, Source{URL: d.url, Query: testQuery}, Options{})
			if err == nil {
				t.Fatal("a writing query ran")
			}
			r, err := Compare(context.Background(), Source{URL: d.url, Query: testQuery}, Source{URL: d.url, Query: testQuery}, Options{})
			if err != nil || r.OldRows != 10 {
				t.Fatalf("after: %v %+v", err, r)
			}
		})
	}
}

func TestProgressAndCancel(t *testing.T) {
	old, new := newSQLite(t), newSQLite(t)
	rows := genRows(2000, false)
	old.fill(t, "t", rows, false)
	new.fill(t, "t", rows, false)
	var fractions []float64
	opts := small
	opts.Progress = func(p Progress) { fractions = append(fractions, p.Fraction) }
	compare(t, old, new, opts)
	if len(fractions) == 0 || !sort.Float64sAreSorted(fractions) || fractions[len(fractions)-1] < 0.999 {
		t.Fatalf("progress fractions %v", fractions)
	}

	ctx, cancel := context.WithCancel(context.Background())
	opts.Progress = func(Progress) { cancel() }
	_, err := Compare(ctx, Source{URL: old.url, Query: testQuery}, Source{URL: new.url, Query: testQuery}, opts)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("after cancel: %v", err)
	}
}

func TestMD5Hash(t *testing.T) {
	forceMD5 = true
	defer func() { forceMD5 = false }()
	f := newFactory(t)
	old, new := f.make(t, "sqlite"), f.make(t, "postgres")
	rows := genRows(2000, false)
	old.fill(t, "t", rows, false)
	new.fill(t, "t", rows, false)
	if r := compare(t, old, new, small); !r.Identical || r.OldRows != 2000 {
		t.Fatalf("identical with md5: %+v", r)
	}
	new.exec(t, "UPDATE t SET price = price + 1 WHERE id = $1", rows[1234].key)
	r := compare(t, old, new, small)
	if r.Differing != 1 || r.Differences[0].Key != keyStr(rows[1234].key) || r.Differences[0].Diffs[0].Path != ".price" {
		t.Fatalf("one change with md5: %+v", r)
	}
}

// TestTypesAcrossEngines compares SQLite's loose storage with PostgreSQL's
// types: a uuid key, dates, bytes, booleans, decimals held as text, Unix
// seconds against a timestamp without time zone.
func TestTypesAcrossEngines(t *testing.T) {
	lite, pg := newSQLite(t), newPostgres(t)
	lite.exec(t, "CREATE TABLE x (id TEXT PRIMARY KEY, d DATE, b BLOB, ok BOOLEAN, n NUMERIC, i INTEGER, ts TIMESTAMP, s TEXT)")
	pg.exec(t, "CREATE TABLE x (id uuid PRIMARY KEY, d date, b bytea, ok boolean, n numeric, i bigint, ts timestamp, s varchar(20))")
	for i := range 300 {
		id := fmt.Sprintf("%08x-1111-4000-8000-%012x", i*2654435761%4294967296, i)
		ts := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 37 * time.Hour)
		var n any = fmt.Sprintf("%d.50", i) // "12.50" as text in SQLite
		if i%7 == 0 {
			n = nil
		}
		lite.exec(t, "INSERT INTO x VALUES (?, ?, ?, ?, ?, ?, ?, ?)", id, ts.Format(time.DateOnly), []byte{byte(i), 0, 255}, i%3 == 0, n, int64(i)*1e12, ts.Unix(), fmt.Sprint("s", i))
		pg.exec(t, "INSERT INTO x VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, $8)", id, ts.Truncate(24*time.Hour), []byte{byte(i), 0, 255}, i%3 == 0, n, int64(i)*1e12, ts, fmt.Sprint("s", i))
	}
	q := "SELECT id, d, b, ok, n, i, ts, s FROM x"
	for _, pair := range [][2]*testDB{{lite, pg}, {pg, lite}} {
		r, err := Compare(context.Background(), Source{URL: pair[0].url, Query: q}, Source{URL: pair[1].url, Query: q}, Options{ChunkRows: 50, Threshold: 5, Factor: 3})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Identical || r.OldRows != 300 {
			t.Fatalf("%s → %s: %+v", pair[0].engine, pair[1].engine, r)
		}
	}
	pg.exec(t, "UPDATE x SET b = '\\x0000ff' WHERE i = 5e12")
	r, err := Compare(context.Background(), Source{URL: lite.url, Query: q}, Source{URL: pg.url, Query: q}, Options{ChunkRows: 50, Threshold: 5, Factor: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.Differing != 1 || r.Differences[0].Diffs[0].String() != `.b: "0500ff" != "0000ff"` {
		t.Fatalf("%+v", r)
	}
}

// TestPlantedDifferencesCanonical runs the planted differences between two
// sides of one engine with canonical hashes, as between two engines: the
// path the raw hashes of same-engine pairs otherwise skip.
func TestPlantedDifferencesCanonical(t *testing.T) {
	forceCanonical = true
	defer func() { forceCanonical = false }()
	f := newFactory(t)
	for _, pair := range [][2]string{{"sqlite", "sqlite"}, {"postgres", "postgres"}} {
		t.Run(pair[0]+"-"+pair[1], func(t *testing.T) { testPlanted(t, f, pair, false) })
	}
}

// TestStorageOnlyDifferences: between two sides of one engine, raw row
// hashes differ where storage differs (a float apart by less than the
// precision, a decimal stored as text against a float, numeric scale) while
// the canonical values are equal. Such rows are never reported, whether a
// few or every row of a range differs so, and the rows that really differ
// among them are.
func TestStorageOnlyDifferences(t *testing.T) {
	f := newFactory(t)
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			old, new, rows := f.filledPair(t, engine, 3000)
			// Every row: within the 9 places.
			new.exec(t, "UPDATE t SET amount = amount + 1e-12")
			if engine == "sqlite" {
				// Decimals as text on one side, as numbers on the other.
				new.exec(t, "UPDATE t SET price = CAST(price AS TEXT) || '0' WHERE id % 3 = 0")
			} else {
				new.exec(t, "ALTER TABLE t ALTER COLUMN price TYPE numeric(14,4)")
			}
			for _, opts := range []Options{{}, small} {
				r := compare(t, old, new, opts)
				if !r.Identical || r.OldRows != 3000 || r.NewRows != 3000 {
					t.Errorf("options %+v: storage-only differences: %+v", opts, r)
				}
			}
			new.exec(t, "UPDATE t SET name = 'changed' WHERE id = "+new.param(1), rows[1234].key)
			new.exec(t, "UPDATE t SET amount = amount + 1 WHERE id = "+new.param(1), rows[2345].key)
			for _, opts := range []Options{{}, small} {
				r := compare(t, old, new, opts)
				if r.Differing != 2 || r.Missing != 0 || r.Extra != 0 || len(r.Differences) != 2 ||
					r.Differences[0].Key != keyStr(rows[1234].key) || r.Differences[1].Key != keyStr(rows[2345].key) {
					t.Errorf("options %+v: two real differences among storage-only ones: %+v", opts, r)
				}
			}
		})
	}
}

// TestSQLiteRowHashesOutOfOrder: SQLite hands a range's row hashes over in
// the order it read the rows, here not the keys' (no index on the key,
// rows inserted shuffled), and in one blob or, past maxHashBlob, row by row.
func TestSQLiteRowHashesOutOfOrder(t *testing.T) {
	f := newFactory(t)
	for _, pair := range [][2]string{{"sqlite", "sqlite"}, {"sqlite", "postgres"}} {
		for _, blob := range []int{64 << 20, 100} {
			t.Run(fmt.Sprintf("%s-%s/blob=%d", pair[0], pair[1], blob), func(t *testing.T) {
				defer func(old int) { maxHashBlob = old }(maxHashBlob)
				maxHashBlob = blob
				old, new := f.make(t, pair[0]), f.make(t, pair[1])
				for i, d := range []*testDB{old, new} {
					d.exec(t, "CREATE TABLE u (id BIGINT, name TEXT)")
					for j := range 1000 {
						k := (j * 7919) % 1000 // every key once, shuffled
						if i == 1 && k == 500 {
							continue // missing in new
						}
						name := fmt.Sprint("n", k)
						if i == 1 && k == 321 {
							name = "changed"
						}
						d.exec(t, "INSERT INTO u VALUES ("+d.param(1)+", "+d.param(2)+")", k, name)
					}
				}
				for _, opts := range []Options{{}, {ChunkRows: 200, Threshold: 50, Factor: 2}} {
					r, err := Compare(context.Background(), Source{URL: old.url, Query: "SELECT id, name FROM u"}, Source{URL: new.url, Query: "SELECT id, name FROM u"}, opts)
					if err != nil {
						t.Fatal(err)
					}
					if r.Missing != 1 || r.Differing != 1 || r.Extra != 0 || len(r.Differences) != 2 ||
						r.Differences[0].Key != "321" || r.Differences[1].Key != "500" {
						t.Errorf("options %+v: %+v", opts, r)
					}
				}
			})
		}
	}
}

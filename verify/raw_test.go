package verify

import (
	"context"
	"slices"
	"testing"
)

// TestRawHashesSeeEveryDifference plants, between two sides of one engine
// (where rows are hashed raw), the differences that a careless row encoding
// would hash alike: a NULL moving between two adjacent columns, NULL against
// 'N', 'NULL' and the empty string, and text that moves across a column
// boundary, with or without a comma or what looks like a type tag. Every
// one must be found; the control row must not be.
func TestRawHashesSeeEveryDifference(t *testing.T) {
	f := newFactory(t)
	type row struct {
		id   int64
		a, b any // integers or NULL
		s, u any // text or NULL
	}
	oldRows := []row{
		{1, int64(1), nil, "x", "y"},
		{2, int64(2), int64(2), nil, "y"},
		{3, int64(3), int64(3), nil, "y"},
		{4, int64(4), int64(4), "", "y"},
		{5, int64(5), int64(5), "a,b", "c"},
		{6, int64(6), int64(6), "ab", "c"},
		{7, int64(7), int64(7), "same", "same"},
		{8, int64(8), int64(8), "asb", "c"},
	}
	newRows := []row{
		{1, nil, int64(1), "x", "y"},
		{2, int64(2), int64(2), "N", "y"},
		{3, int64(3), int64(3), "NULL", "y"},
		{4, int64(4), int64(4), nil, "y"},
		{5, int64(5), int64(5), "a", "b,c"},
		{6, int64(6), int64(6), "a", "bc"},
		{7, int64(7), int64(7), "same", "same"},
		{8, int64(8), int64(8), "a", "bsc"}, // text that looks like an encoding's tags
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			old, new := f.make(t, engine), f.make(t, engine)
			for i, d := range []*testDB{old, new} {
				d.exec(t, "CREATE TABLE r (id BIGINT PRIMARY KEY, a BIGINT, b BIGINT, s TEXT, u TEXT)")
				for _, r := range [][]row{oldRows, newRows}[i] {
					d.exec(t, "INSERT INTO r VALUES ("+d.param(1)+", "+d.param(2)+", "+d.param(3)+", "+d.param(4)+", "+d.param(5)+")",
						r.id, r.a, r.b, r.s, r.u)
				}
			}
			r := compareQuery(t, old, new, "SELECT id, a, b, s, u FROM r")
			var keys []string
			for _, d := range r.Differences {
				keys = append(keys, d.Key)
			}
			if want := []string{"1", "2", "3", "4", "5", "6", "8"}; r.Differing != 7 || !slices.Equal(keys, want) {
				t.Errorf("differing %d, keys %v; want %v", r.Differing, keys, want)
			}
		})
	}
}

// TestRawHashesSQLiteStorageClass: in a column without a declared type,
// SQLite keeps text and a blob of the same bytes apart, and so must the
// raw hash.
func TestRawHashesSQLiteStorageClass(t *testing.T) {
	old, new := sqlitePair(t, "CREATE TABLE r (id INTEGER PRIMARY KEY, v)",
		"INSERT INTO r VALUES (1, 'abc'), (2, 'same')", "INSERT INTO r VALUES (1, x'616263'), (2, 'same')")
	r := compareQuery(t, old, new, "SELECT id, v FROM r")
	if r.Differing != 1 || len(r.Differences) != 1 || r.Differences[0].Key != "1" {
		t.Errorf("text against a blob of its bytes: %+v", r)
	}
}

// TestRawModeAndItsFallback: between two sides of one engine, equal rows
// are settled by raw hashes, and rows that differ only in storage are first
// suspects (their raw hashes differ: fetched), then cleared canonically;
// once most suspects of a range proved storage-only, the later ranges are
// hashed canonically from the start, so they cost no fetch at all.
func TestRawModeAndItsFallback(t *testing.T) {
	f := newFactory(t)
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			old, new, _ := f.filledPair(t, engine, 3000)
			// Sequential ranges of 500 rows (keys are 7 apart), each
			// compared by row hashes at once: the first one decides the
			// mode of the rest.
			opts := Options{ChunkRows: 3500, Threshold: 3500, Concurrency: 1}
			// Raw: a few storage-only rows are fetched and cleared.
			new.exec(t, "UPDATE t SET amount = amount + 1e-12 WHERE id < 100")
			r := compare(t, old, new, opts)
			if !r.Identical || r.RowsFetched == 0 {
				t.Fatalf("a few storage-only differences: %+v; want identical, by raw hashes (rows fetched)", r)
			}
			// Every row storage-only: the first range falls back to
			// canonical row hashes (1,000 fetched by raw and 1,000 by
			// canonical hash, at most, for its 500 rows a side), the five
			// others are settled by canonical checksums.
			new.exec(t, "UPDATE t SET amount = amount + 1e-12")
			r = compare(t, old, new, opts)
			if !r.Identical || r.RowsFetched == 0 || r.RowsFetched > 2000 {
				t.Errorf("every row storage-only: %+v; want identical with at most 2,000 rows fetched (one range)", r)
			}
		})
	}
}

// TestSuspectNotFetchedIsReported: a row whose hashes differ is reported
// even when its values cannot be read back by key on one side — here an
// untyped SQLite key stored as an integer on one side and as text on the
// other, which a range reads alike but `k IN ('5')` matches on one side
// only.
func TestSuspectNotFetchedIsReported(t *testing.T) {
	old, new := sqlitePair(t, "CREATE TABLE r (id, v TEXT)",
		"INSERT INTO r VALUES ('4', 'same'), (5, 'a')", "INSERT INTO r VALUES ('4', 'same'), ('5', 'b')")
	r := compareQuery(t, old, new, "SELECT id, v FROM r")
	if r.Identical || r.Differing != 1 || len(r.Differences) != 1 || r.Differences[0].Key != "5" {
		t.Errorf("a differing row that one side cannot fetch by key: %+v", r)
	}
}

// sqlitePair makes two SQLite databases with one schema and their own rows.
func sqlitePair(t *testing.T, create, oldInsert, newInsert string) (old, new *testDB) {
	t.Helper()
	old, new = newSQLite(t), newSQLite(t)
	for _, d := range []struct {
		db     *testDB
		insert string
	}{{old, oldInsert}, {new, newInsert}} {
		d.db.exec(t, create)
		d.db.exec(t, d.insert)
	}
	return old, new
}

// compareQuery compares the same query on two databases, with the default
// options.
func compareQuery(t *testing.T, old, new *testDB, q string) *Result {
	t.Helper()
	r, err := Compare(context.Background(), Source{URL: old.url, Query: q}, Source{URL: new.url, Query: q}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

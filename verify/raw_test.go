package verify

import (
	"context"
	"fmt"
	"maps"
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

// TestRawHashesPostgresTypes: two PostgreSQL sides hash each value with its
// type's own hash function, so the test plants what such hashes could
// miss: bigints whose halves fold to the same 32 bits (5 against 2^32+4,
// as a value and as a key; 0 against 2^32), timestamps that would fold
// alike, NULL against the values hashed to the seed (0.0, numeric NaN,
// ±Infinity), NaN against Infinity, values swapped between two rows of a column
// (a plain sum of per-column hashes would not change), values swapped
// between two columns of a row, case in a column whose collation ignores
// it, intervals that the type calls equal ('1 day', '24 hours') but whose
// text differs, and a microsecond. What the canonical comparison calls
// equal must stay equal: -0 and 0, NaN and NaN, 1.5 and 1.50, jsonb
// spacing.
func TestRawHashesPostgresTypes(t *testing.T) {
	old, new := newPostgres(t), newPostgres(t)
	for _, d := range []*testDB{old, new} {
		d.exec(t, `CREATE COLLATION cutover_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`)
	}
	create := `CREATE TABLE r (id bigint PRIMARY KEY, i8 bigint, a int4, b int4, s text COLLATE cutover_ci, v varchar(10),
		f8 float8, f4 float4, n numeric, ok bool, ts timestamp, tz timestamptz, d date, iv interval, j jsonb, by bytea, u uuid, n2 numeric, n3 numeric)`
	base := `(%d, 5, 1, 2, 'x', 'v', 1.5, 1.5, 1.5, true, '2024-01-01 10:00:00', '2024-01-01 10:00:00+00', '2024-01-01', '1 day', '{"a": 1}', '\x01', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1.5, 1.5)`
	row := func(id int) string { return fmt.Sprintf(base, id) }
	for _, d := range []*testDB{old, new} {
		d.exec(t, create)
		for id := 1; id <= 45; id++ {
			d.exec(t, "INSERT INTO r VALUES "+row(id))
		}
	}
	old.exec(t, `UPDATE r SET s = 'p' WHERE id = 3`)
	old.exec(t, `UPDATE r SET s = 'q' WHERE id = 4`)
	new.exec(t, `UPDATE r SET s = 'q' WHERE id = 3`) // 3 and 4 swap their s
	new.exec(t, `UPDATE r SET s = 'p' WHERE id = 4`)
	for _, change := range []string{
		`UPDATE r SET i8 = 4294967300 WHERE id = 2`, // folds as 5 does
		`UPDATE r SET a = 2, b = 1 WHERE id = 5`,    // swapped columns
		`UPDATE r SET s = 'X' WHERE id = 6`,         // case only
		`UPDATE r SET iv = '24 hours' WHERE id = 7`,
		`UPDATE r SET ts = ts + interval '1 microsecond' WHERE id = 8`,
		`UPDATE r SET tz = tz - interval '1 microsecond' WHERE id = 9`,
		`UPDATE r SET f8 = 'NaN' WHERE id = 10`,
		`UPDATE r SET ok = NULL WHERE id = 11`,
		`UPDATE r SET v = 'v ' WHERE id = 12`,
		`UPDATE r SET by = '\x0100' WHERE id = 13`,
		`UPDATE r SET d = 'infinity' WHERE id = 14`,
		// Equal to the canonical comparison: never reported.
		`UPDATE r SET f8 = '-0', f4 = '-0' WHERE id = 15`,
		`UPDATE r SET n = 1.50 WHERE id = 16`,
		`UPDATE r SET j = '{"a":1}' WHERE id = 17`,
	} {
		new.exec(t, change)
	}
	old.exec(t, `UPDATE r SET f8 = 0, f4 = 0 WHERE id = 15`)
	// Values that some hash functions hash to their seed, or that fold
	// alike with their high half: each against NULL or its twin.
	for _, c := range []struct {
		id       int
		old, new string
	}{
		{30, "f8 = NULL", "f8 = 0"},
		{31, "f4 = NULL", "f4 = 0"},
		{32, "n = NULL", "n = 0"},
		{33, "n = 'NaN'", "n = 'Infinity'"},
		{34, "n = 'Infinity'", "n = '-Infinity'"},
		{35, "n = NULL, n2 = 0, n3 = NULL", "n = 0, n2 = 0, n3 = 0"},
		{36, "i8 = 0", "i8 = 4294967296"},
		{37, "i8 = -1", "i8 = -4294967297"},
		{38, "i8 = 4294967299", "i8 = 8589934595"},
		{39, "ts = '2000-01-01 00:00:00'", "ts = timestamp '2000-01-01 00:00:00' + interval '4294.967297 seconds'"},
		{40, "tz = '2000-01-01 00:00:00+00'", "tz = timestamptz '2000-01-01 00:00:00+00' + interval '4294.967297 seconds'"},
		{41, "n = 'NaN'", "n = NULL"},
	} {
		old.exec(t, fmt.Sprintf("UPDATE r SET %s WHERE id = %d", c.old, c.id))
		new.exec(t, fmt.Sprintf("UPDATE r SET %s WHERE id = %d", c.new, c.id))
	}
	// A key only in old and one only in new whose halves fold alike
	// (2^32 + 101: 101 xor 1 = 100), in rows otherwise equal.
	old.exec(t, "INSERT INTO r VALUES "+row(100))
	new.exec(t, "INSERT INTO r VALUES "+row(4294967397))
	want := map[string]Kind{"2": Differing, "3": Differing, "4": Differing, "5": Differing, "6": Differing, "7": Differing,
		"8": Differing, "9": Differing, "10": Differing, "11": Differing, "12": Differing, "13": Differing, "14": Differing,
		"30": Differing, "31": Differing, "32": Differing, "33": Differing, "34": Differing, "35": Differing, "36": Differing,
		"37": Differing, "38": Differing, "39": Differing, "40": Differing, "41": Differing,
		"100": MissingInNew, "4294967397": ExtraInNew}
	// By row hashes at once (the default threshold), and by range
	// checksums split down to single rows, where only sums are compared.
	for _, threshold := range []int{0, 1} {
		r, err := Compare(context.Background(), Source{URL: old.url, Query: "SELECT * FROM r"}, Source{URL: new.url, Query: "SELECT * FROM r"},
			Options{Limit: 100, Threshold: threshold, Factor: 2})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]Kind{}
		for _, d := range r.Differences {
			got[d.Key] = d.Kind
		}
		if !maps.Equal(got, want) {
			t.Errorf("threshold %d: got %v\nwant %v", threshold, got, want)
		}
	}
}

// TestDirectRowHashes: once most first ranges hold differences, the rest
// are compared by row hashes without a checksum first, and a key space that
// turns identical goes back to checksums. With one connection the order of
// ranges, and so the number of queries, is fixed: 30 ranges of 100 rows.
func TestDirectRowHashes(t *testing.T) {
	f := newFactory(t)
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			old, new, _ := f.filledPair(t, engine, 3000)
			opts := Options{ChunkRows: 700, Threshold: 700, Concurrency: 1, Limit: -1}
			// Every tenth row differs, so every range does: 8 ranges by
			// checksum, row hashes and values (6 queries), 22 by row
			// hashes and values (4), plus the key bounds (2).
			new.exec(t, "UPDATE t SET name = 'changed' WHERE id % 70 = 3")
			r := compare(t, old, new, opts)
			if r.Differing != 300 || r.Queries != 2+8*6+22*4 {
				t.Errorf("every range differs: %d differing in %d queries; want 300 in %d", r.Differing, r.Queries, 2+8*6+22*4)
			}
			// Only the first half differs: 8 ranges by checksum, 7 at once
			// with differences, then 6 identical ones at once (row hashes
			// only) until fewer than 3 in 4 differed (15 of 21), and the
			// last 9 by checksum alone.
			old, new, _ = f.filledPair(t, engine, 3000)
			new.exec(t, "UPDATE t SET name = 'changed' WHERE id % 70 = 3 AND id < 10500")
			r = compare(t, old, new, opts)
			want := 2 + 8*6 + 7*4 + 6*2 + 9*2
			if r.Differing != 150 || r.Queries != int64(want) {
				t.Errorf("the first half differs: %d differing in %d queries; want 150 in %d", r.Differing, r.Queries, want)
			}
		})
	}
}

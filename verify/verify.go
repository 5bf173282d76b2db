package verify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/diff"
)

// Defaults of [Options].
const (
	DefaultFloatPrecision = 9
	DefaultConcurrency    = 4
	DefaultChunkRows      = 100_000
	DefaultThreshold      = 100_000
	DefaultFactor         = 16
	DefaultLimit          = 20
)

// maxDepth bounds bisection: below it a differing range is compared row by
// row whatever its size (only reached with duplicate keys or a key
// distribution that defeats splitting).
const maxDepth = 40

// Source is one side of a comparison: a database and the rows to compare.
type Source struct {
	// URL names the database: sqlite:///path/file.db (opened read-only) or
	// postgres://user@host:port/db?sslmode=… (postgresql:// too).
	URL string
	// Query selects the rows. Its first column is the key (an integer or a
	// string, unique); the other columns are compared by position with the
	// other side's. Column names are taken from the old side for reports.
	Query string
	// Table, Key and Columns are a shorthand used when Query is empty:
	// SELECT Key, Columns… FROM Table. With the shorthand, Options.Where is
	// placed inside the query and may use any column of the table.
	Table   string
	Key     string
	Columns []string
}

// Options tune a comparison. The zero value uses the defaults.
type Options struct {
	// FloatPrecision is the number of decimal places to which decimals and
	// floats are rounded before they are compared: with 2, 1.004 equals
	// 1.001 and differs from 1.006. Decimals round half away from zero;
	// floats compared with floats round in binary, half to even (package
	// doc), so a float that is a half in decimal (1.005, really
	// 1.00499999999999989…) may round either way, but alike on both sides.
	// Zero means DefaultFloatPrecision (9).
	FloatPrecision int
	// TimePrecision truncates timestamps (in UTC; those without a time zone
	// are taken as UTC) before they are compared. A whole number of
	// microseconds; zero means 1µs, PostgreSQL's own precision.
	TimePrecision time.Duration
	// Where is a SQL condition applied to both sides: rows still changing
	// ("updated_at < now() - interval '1 minute'") are left out. With
	// Source.Query it filters the query's output columns; with the table
	// shorthand, any column of the table.
	Where string
	// Concurrency bounds the queries running at once on each database.
	// Zero means DefaultConcurrency (4). A SQLite source runs one query at
	// a time, on one connection, so that all of them see one snapshot.
	Concurrency int
	// ChunkRows is the number of rows the first ranges hold (exactly, for
	// string keys; at most, for dense integer keys), so that no checksum
	// query runs long. Zero means DefaultChunkRows (100,000).
	ChunkRows int
	// Threshold is the row count at or below which a differing range is
	// compared row by row instead of being split again: each row's key and
	// hash are fetched (a few bytes a row), then the values of the keys
	// whose hashes differ. Zero means DefaultThreshold (100,000, the
	// default ChunkRows): fetching a range's row hashes costs about what
	// checksumming its parts does, so a differing first range is compared
	// at once rather than hashed a second time by its parts.
	Threshold int
	// Factor is how many parts a differing range is split into. Zero
	// means DefaultFactor (16).
	Factor int
	// Limit bounds Result.Differences (the counts are always complete):
	// the rows with the smallest keys are kept. Zero means DefaultLimit
	// (20); negative keeps none.
	Limit int
	// Progress, if set, is called after each range is settled, never
	// concurrently.
	Progress func(Progress)
}

// Progress is how far a comparison has come.
type Progress struct {
	// Fraction of the key space settled, from 0 to 1.
	Fraction float64
	// OldRows and NewRows are the rows settled so far on each side.
	OldRows, NewRows int64
	// Differences found so far.
	Differences int64
}

// Kind says how a row differs.
type Kind string

// Kinds of [RowDifference].
const (
	MissingInNew Kind = "missing_in_new" // the key is only in old
	ExtraInNew   Kind = "extra_in_new"   // the key is only in new
	Differing    Kind = "differing"      // the key is in both, with other values
)

// RowDifference is one key whose rows differ.
type RowDifference struct {
	Key  string `json:"key"`
	Kind Kind   `json:"kind"`
	// Diffs lists the differing columns of a Differing row (".total:
	// "10.000000000" != "11.000000000"), values in canonical form, NULL
	// shown as NULL.
	Diffs []diff.Difference `json:"diffs,omitempty"`
}

// SignatureCount is how many differing rows share one signature: the set of
// columns that differ, as [diff.Signature] writes it (".status .total").
type SignatureCount struct {
	Signature string `json:"signature"`
	Count     int64  `json:"count"`
}

// Result is what a comparison found.
type Result struct {
	// Identical is true when every key is on both sides with equal values.
	Identical bool `json:"identical"`
	// OldRows and NewRows count the rows of each side.
	OldRows int64 `json:"old_rows"`
	NewRows int64 `json:"new_rows"`
	// Missing counts keys only in old, Extra keys only in new, Differing
	// keys in both with different values.
	Missing   int64 `json:"missing_in_new"`
	Extra     int64 `json:"extra_in_new"`
	Differing int64 `json:"differing"`
	// Signatures group the differing rows by the columns that differ,
	// largest group first.
	Signatures []SignatureCount `json:"signatures,omitempty"`
	// Differences are the first differing keys (by key order), at most
	// Options.Limit of them.
	Differences []RowDifference `json:"differences,omitempty"`
	// Columns are the compared columns, key first, named as in old.
	Columns []string `json:"columns"`
	// Queries counts the queries run on both sides; RowsFetched the rows
	// brought over to be compared one by one (as a key and a hash, and,
	// when the hashes differ, again with their values).
	Queries     int64     `json:"queries"`
	RowsFetched int64     `json:"rows_fetched"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"`
}

// Report is the result as the control plane stores it.
func (r *Result) Report() api.VerifyReport {
	sigs := make([]string, 0, len(r.Signatures)+2)
	if r.Missing > 0 {
		sigs = append(sigs, string(MissingInNew))
	}
	if r.Extra > 0 {
		sigs = append(sigs, string(ExtraInNew))
	}
	for _, s := range r.Signatures {
		sigs = append(sigs, s.Signature)
	}
	return api.VerifyReport{
		Identical:  r.Identical,
		OldRows:    r.OldRows,
		NewRows:    r.NewRows,
		Missing:    r.Missing,
		Extra:      r.Extra,
		Differing:  r.Differing,
		Signatures: sigs,
		StartedAt:  r.StartedAt.UTC(),
		FinishedAt: r.FinishedAt.UTC(),
	}
}

// Compare proves that old and new hold the same rows, or lists how they
// differ. Both databases are only read: SQLite files are opened read-only,
// PostgreSQL runs every query in one read-only repeatable-read snapshot
// shared by its connections.
//
// Ranges of keys are checksummed inside each database (a count and a sum of
// row hashes); only ranges whose count or checksum differ are split again,
// down to Options.Threshold rows, where each row's key and hash are fetched
// and compared, and then the values of the keys whose hashes differ.
// Identical data therefore costs about one scan of each side.
func Compare(ctx context.Context, old, new Source, opts Options) (*Result, error) {
	o, norm, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	started := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var sides [2]backend
	var errs [2]error
	var wg sync.WaitGroup
	for i, s := range []Source{old, new} {
		name := [2]string{"old", "new"}[i]
		wg.Go(func() {
			q, err := s.query(o.Where)
			if err == nil {
				sides[i], err = openBackend(ctx, s.URL, q, o.Concurrency)
			}
			if err != nil {
				errs[i] = fmt.Errorf("verify: %s source: %w", name, err)
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, b := range sides {
			if b != nil {
				b.close()
			}
		}
	}()
	if err := errors.Join(errs[0], errs[1]); err != nil {
		return nil, err
	}

	e := &engine{old: sides[0], new: sides[1], opts: o, norm: norm}
	if err := e.describe(ctx); err != nil {
		return nil, err
	}
	if err := e.run(ctx); err != nil {
		return nil, err
	}
	r := e.result()
	r.StartedAt, r.FinishedAt = started, time.Now()
	return r, nil
}

func (o Options) withDefaults() (Options, normalizer, error) {
	if o.FloatPrecision == 0 {
		o.FloatPrecision = DefaultFloatPrecision
	}
	if o.FloatPrecision < 0 || o.FloatPrecision > 100 {
		return o, normalizer{}, fmt.Errorf("verify: float precision %d is out of range: give a number of decimal places from 1 to 100", o.FloatPrecision)
	}
	micros, err := checkTimePrecision(o.TimePrecision)
	if err != nil {
		return o, normalizer{}, err
	}
	for _, f := range []struct {
		v    *int
		def  int
		name string
	}{
		{&o.Concurrency, DefaultConcurrency, "concurrency"},
		{&o.ChunkRows, DefaultChunkRows, "chunk rows"},
		{&o.Threshold, DefaultThreshold, "threshold"},
		{&o.Factor, DefaultFactor, "factor"},
	} {
		if *f.v == 0 {
			*f.v = f.def
		}
		if *f.v < 0 {
			return o, normalizer{}, fmt.Errorf("verify: %s %d is negative: give a positive number, or 0 for the default %d", f.name, *f.v, f.def)
		}
	}
	if o.Factor < 2 {
		return o, normalizer{}, fmt.Errorf("verify: factor %d cannot split a range: give 2 or more", o.Factor)
	}
	if o.Limit == 0 {
		o.Limit = DefaultLimit
	}
	return o, normalizer{places: o.FloatPrecision, micros: micros}, nil
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$|^"[^"]+"(\."[^"]+")?$`)

// query is the SQL of s with where applied.
func (s Source) query(where string) (string, error) {
	where = strings.TrimSpace(where)
	if q := strings.TrimRight(strings.TrimSpace(s.Query), "; \t\n"); q != "" {
		if s.Table != "" {
			return "", errors.New("both a query and a table are given: use one")
		}
		if where != "" {
			q = "SELECT * FROM (" + q + ") AS cutover_where WHERE " + where
		}
		return q, nil
	}
	if s.Table == "" || s.Key == "" {
		return "", errors.New("no query: give a query whose first column is the key, or a table and its key column")
	}
	for _, id := range append([]string{s.Table, s.Key}, s.Columns...) {
		if !identRE.MatchString(strings.TrimSpace(id)) {
			return "", fmt.Errorf("%q is not a plain SQL name (table, schema.table or column): use a query for anything else", id)
		}
	}
	cols := append([]string{s.Key}, s.Columns...)
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + s.Table
	if where != "" {
		q += " WHERE " + where
	}
	return q, nil
}

// keyVal is a key: an integer or a string, as the key kind says.
type keyVal struct {
	i int64
	s string
}

// segment is a range of keys, [lo, hi); an absent bound is unbounded.
type segment struct {
	lo, hi       keyVal
	hasLo, hasHi bool
}

// summary is a range's checksum on one side.
type summary struct {
	count    int64
	sum      uint64
	min, max int64 // integer keys only, when count > 0
}

// keyHash is a row's key and hash.
type keyHash struct {
	key keyVal
	h   uint64
}

// fetchBatch bounds the keys of one fetchKeys query.
const fetchBatch = 500

// value is a canonical value; ok is false for NULL.
type value struct {
	s  string
	ok bool
}

// row is a fetched row: its key and canonical values.
type row struct {
	key  keyVal
	vals []value
}

// column describes a result column of one side.
type column struct {
	name string
	kind kind // what the type suggests
	pg   bool // the side is PostgreSQL
	oid  uint32
	// typmod is PostgreSQL's type modifier (a numeric's precision and
	// scale, a varchar's length); -1 for none.
	typmod int32
	decl   string
}

// backend is one opened side.
type backend interface {
	// describe lists the query's columns, key first.
	describe(ctx context.Context) ([]column, error)
	// keyIsInt reports whether the key holds integers (SQLite may need to
	// look at a value when the type is not declared).
	keyIsInt(ctx context.Context, c column) (bool, error)
	// hashAgrees reports whether the side can hash rows with pgHash.
	hashAgrees(ctx context.Context) (bool, error)
	// prepare builds the queries for the chosen kinds (kinds[0] is the
	// key's: kindInt or kindText).
	prepare(kinds []kind, n normalizer)
	bounds(ctx context.Context) (min, max int64, ok bool, err error)
	checksum(ctx context.Context, s segment, mode hashMode) (summary, error)
	// splitKeys returns every step-th key of the range, in order.
	splitKeys(ctx context.Context, s segment, step int64) ([]keyVal, error)
	// hashes returns each row's key and hash in the range, in key order.
	hashes(ctx context.Context, s segment, mode hashMode) ([]keyHash, error)
	// fetchKeys returns the rows with the given keys, in key order.
	fetchKeys(ctx context.Context, keys []keyVal) ([]row, error)
	close()
}

// hashMode says what a row hash is made of.
type hashMode int

const (
	// canonical hashes the row's canonical text (package doc): equal on
	// both engines for equal data, whatever the types and storage.
	canonical hashMode = iota
	// raw hashes the row as its engine holds it (PostgreSQL: each value by
	// its type's hash function, pgRawHash; SQLite: each value's storage
	// class and bytes). It is only comparable between two sides of one
	// engine with the same column types (rawComparable), and much
	// cheaper: no rounding, no parsing, no text.
	// Raw-equal rows are canonically equal, so a raw checksum that agrees
	// settles a range; one that differs may differ only in storage (1.5
	// against 1.50, or floats apart by less than the precision), so rows
	// whose raw hashes differ are compared by their canonical values
	// before anything is reported.
	raw
)

// rawComparable reports whether old and new can be compared by raw row
// hashes: both SQLite, or both PostgreSQL with the same column types and
// type modifiers, and hash functions that agree with pgHash (PostgreSQL 11
// or later, on a little-endian machine: two servers that agree with it
// agree with each other).
func rawComparable(old, new backend, n normalizer) bool {
	switch a := old.(type) {
	case *sqliteBackend:
		_, ok := new.(*sqliteBackend)
		return ok && !forceCanonical
	case *pgBackend:
		b, ok := new.(*pgBackend)
		if !ok || len(a.cols) != len(b.cols) || forceCanonical || !n.lookup3 {
			return false
		}
		for i := range a.cols {
			// The modifier too: numeric(10,2) and numeric(14,4) write
			// equal values differently, every row.
			if a.cols[i].oid != b.cols[i].oid || a.cols[i].typmod != b.cols[i].typmod {
				return false
			}
		}
		return true
	}
	return false
}

// forceCanonical makes every comparison hash canonical text, as between
// two engines; for tests.
var forceCanonical = false

// forceMD5 makes every comparison hash rows with md5, as with a server
// whose hashtextextended differs from pgHash; for tests.
var forceMD5 = false

// engine runs one comparison.
type engine struct {
	old, new backend
	opts     Options
	norm     normalizer
	// mode is the hashMode of checksums and first row hashes: raw when the
	// sides allow it, until storage-only differences show to be common.
	mode    atomic.Int32
	intKey  bool
	names   []string
	kinds   []kind // of each column, the key's first
	queries atomic.Int64
	fetched atomic.Int64
	// smallFirst says that every first range holds at most ChunkRows rows
	// a side: true for integer keys (unique, and ranges at most ChunkRows
	// wide) unless sparse keys made the ranges wider.
	smallFirst bool
	// firstSettled and firstDiffered count the first ranges settled, and
	// those of them that held a difference (see direct).
	firstSettled, firstDiffered atomic.Int64

	mu       sync.Mutex // protects the fields below
	res      Result
	sigs     map[string]int64
	diffs    []keptDifference // sorted by key, at most opts.Limit
	fraction float64
}

// describe reads both sides' columns, checks that they pair up, and
// prepares the queries.
func (e *engine) describe(ctx context.Context) error {
	var cols [2][]column
	for i, b := range []backend{e.old, e.new} {
		c, err := b.describe(ctx)
		if err != nil {
			return fmt.Errorf("verify: %s query: %w", [2]string{"old", "new"}[i], err)
		}
		if len(c) == 0 {
			return fmt.Errorf("verify: %s query has no columns: its first column must be the key", [2]string{"old", "new"}[i])
		}
		cols[i] = c
	}
	if len(cols[0]) != len(cols[1]) {
		return fmt.Errorf("verify: the old query has %d columns and the new one %d: each query's first column is the key and the others are compared by position, so give both the same columns", len(cols[0]), len(cols[1]))
	}
	var ints [2]bool
	for i, b := range []backend{e.old, e.new} {
		v, err := b.keyIsInt(ctx, cols[i][0])
		if err != nil {
			return fmt.Errorf("verify: %s key: %w", [2]string{"old", "new"}[i], err)
		}
		ints[i] = v
	}
	if ints[0] != ints[1] {
		kindOf := func(b bool) string {
			if b {
				return "integers"
			}
			return "strings"
		}
		return fmt.Errorf("verify: the old key holds %s and the new key %s: cast one of them in its query (CAST(id AS TEXT) or CAST(id AS BIGINT)) so that both order the same way", kindOf(ints[0]), kindOf(ints[1]))
	}
	e.intKey = ints[0]
	kinds := make([]kind, len(cols[0]))
	kinds[0] = kindText
	if e.intKey {
		kinds[0] = kindInt
	}
	for i := 1; i < len(kinds); i++ {
		a, b := cols[0][i], cols[1][i]
		kinds[i] = mergeKinds(a.kind, a.pg, b.kind, b.pg)
	}
	e.kinds = kinds
	e.names = make([]string, len(cols[0]))
	for i, c := range cols[0] {
		e.names[i] = c.name
	}
	e.norm.lookup3 = !forceMD5
	for _, b := range []backend{e.old, e.new} {
		ok, err := b.hashAgrees(ctx)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		e.norm.lookup3 = e.norm.lookup3 && ok
	}
	e.old.prepare(kinds, e.norm)
	e.new.prepare(kinds, e.norm)
	if rawComparable(e.old, e.new, e.norm) {
		e.mode.Store(int32(raw))
	}
	e.sigs = map[string]int64{}
	e.res.Columns = e.names
	return nil
}

// job is a range to settle; weight is its share of the whole key space.
type job struct {
	seg    segment
	depth  int
	weight float64
}

// run settles the whole key space with a pool of workers working through
// a stack of ranges (depth first, so that memory stays small).
func (e *engine) run(parent context.Context) error {
	first, err := e.firstSegments(parent)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		stack   []job // guarded by mu
		pending int   // jobs pushed and not yet done; guarded by mu
		failure error // guarded by mu
	)
	w := 1.0 / float64(len(first))
	for i := len(first) - 1; i >= 0; i-- {
		stack = append(stack, job{seg: first[i], weight: w})
	}
	pending = len(stack)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if failure == nil {
			failure = ctx.Err()
		}
		cond.Broadcast()
	})
	defer stop()

	var wg sync.WaitGroup
	for range e.opts.Concurrency {
		wg.Go(func() {
			for {
				mu.Lock()
				for len(stack) == 0 && pending > 0 && failure == nil {
					cond.Wait()
				}
				if failure != nil || pending == 0 {
					mu.Unlock()
					return
				}
				j := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				mu.Unlock()

				children, err := e.settle(ctx, j)

				mu.Lock()
				if err != nil && failure == nil {
					failure = err
					cancel()
				}
				for i := len(children) - 1; i >= 0; i-- {
					stack = append(stack, children[i])
				}
				pending += len(children) - 1
				cond.Broadcast()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := parent.Err(); err != nil {
		return fmt.Errorf("verify: interrupted: %w", err)
	}
	return failure
}

// firstSegments splits the key space into ranges of about ChunkRows rows.
func (e *engine) firstSegments(ctx context.Context) ([]segment, error) {
	if e.intKey {
		type bounds struct {
			mn, mx int64
			ok     bool
		}
		both, err := onBoth(e, "key bounds", func(b backend) (bounds, error) {
			mn, mx, ok, err := b.bounds(ctx)
			return bounds{mn, mx, ok}, err
		})
		if err != nil {
			return nil, err
		}
		var lo, hi int64
		found := false
		for _, s := range both {
			if !s.ok {
				continue
			}
			if !found || s.mn < lo {
				lo = s.mn
			}
			if !found || s.mx > hi {
				hi = s.mx
			}
			found = true
		}
		all := segment{}
		if !found {
			return []segment{all}, nil
		}
		span := uint64(hi) - uint64(lo)
		parts := span/uint64(e.opts.ChunkRows) + 1
		if min := uint64(e.opts.Concurrency); parts < min && span/uint64(e.opts.Threshold) >= min {
			parts = min // enough ranges to keep every connection busy
		}
		e.smallFirst = parts <= 100_000
		if parts > 100_000 {
			parts = 100_000 // sparse keys: ranges hold more rows, queries stay few
		}
		return splitInts(all, lo, hi, int(parts)), nil
	}
	// String keys: every ChunkRows-th key of old (or of new, if old is
	// empty). New may hold any number of rows between two of old's keys,
	// so these ranges are not known to be small (smallFirst stays false).
	for _, b := range []backend{e.old, e.new} {
		keys, err := b.splitKeys(ctx, segment{}, int64(e.opts.ChunkRows))
		e.queries.Add(1)
		if err != nil {
			return nil, fmt.Errorf("verify: splitting the key space: %w", err)
		}
		if len(keys) > 0 {
			return splitAt(segment{}, keys), nil
		}
	}
	return []segment{{}}, nil
}

// splitInts splits s, whose keys lie in [lo, hi], into at most parts
// ranges of equal width. The outer bounds of s are kept.
func splitInts(s segment, lo, hi int64, parts int) []segment {
	span := uint64(hi) - uint64(lo)
	if parts < 2 || span == 0 {
		return []segment{s}
	}
	if uint64(parts) > span+1 {
		parts = int(span + 1)
	}
	step := span/uint64(parts) + 1
	var keys []keyVal
	for i := uint64(1); i < uint64(parts); i++ {
		off := i * step
		if off > span || off/step != i {
			break
		}
		keys = append(keys, keyVal{i: int64(uint64(lo) + off)})
	}
	return splitAt(s, keys)
}

// splitAt cuts s at the given increasing keys.
func splitAt(s segment, keys []keyVal) []segment {
	out := make([]segment, 0, len(keys)+1)
	cur := s
	for _, k := range keys {
		left := cur
		left.hi, left.hasHi = k, true
		out = append(out, left)
		cur.lo, cur.hasLo = k, true
	}
	return append(out, cur)
}

// settle checksums a range on both sides and either accepts it, compares
// its rows, or returns its parts.
func (e *engine) settle(ctx context.Context, j job) ([]job, error) {
	if j.depth == 0 && e.direct() {
		found, err := e.compareRows(ctx, j)
		e.countFirst(j, found > 0)
		return nil, err
	}
	mode := hashMode(e.mode.Load()) // one for both sides, should it change meanwhile
	sums, err := onBoth(e, "checksum", func(b backend) (summary, error) { return b.checksum(ctx, j.seg, mode) })
	if err != nil {
		return nil, err
	}
	o, n := sums[0], sums[1]
	differs := o.count != n.count || o.sum != n.sum
	e.countFirst(j, differs)
	if !differs {
		e.settled(j.weight, o.count, n.count, nil)
		return nil, nil
	}
	biggest := max(o.count, n.count)
	if biggest > int64(e.opts.Threshold) && j.depth < maxDepth {
		parts, err := e.split(ctx, j.seg, o, n)
		if err != nil {
			return nil, err
		}
		if len(parts) > 1 {
			children := make([]job, len(parts))
			for i, p := range parts {
				children[i] = job{seg: p, depth: j.depth + 1, weight: j.weight / float64(len(parts))}
			}
			return children, nil
		}
	}
	_, err = e.compareRows(ctx, j)
	return nil, err
}

// countFirst counts j, if it is a first range, for direct.
func (e *engine) countFirst(j job, differed bool) {
	if j.depth != 0 {
		return
	}
	e.firstSettled.Add(1)
	if differed {
		e.firstDiffered.Add(1)
	}
}

// direct reports whether first ranges should be compared by row hashes at
// once, without checksums first: when they are small enough (at most
// Threshold rows) and at least 3 in 4 of the first 8 or more settled held
// a difference. Differences spread over the whole key space (every
// thousandth row) make every range differ: its checksums would only
// double the cost of its row hashes. The estimate keeps learning from the
// ranges compared directly, so that a key space that turns identical
// goes back to checksums.
func (e *engine) direct() bool {
	if !e.smallFirst || e.opts.ChunkRows > e.opts.Threshold {
		return false
	}
	settled, differed := e.firstSettled.Load(), e.firstDiffered.Load()
	return settled >= 8 && 4*differed >= 3*settled
}

// split cuts a differing range into about Factor parts.
func (e *engine) split(ctx context.Context, s segment, o, n summary) ([]segment, error) {
	if e.intKey {
		var lo, hi int64
		first := true
		for _, x := range []summary{o, n} {
			if x.count == 0 {
				continue
			}
			if first || x.min < lo {
				lo = x.min
			}
			if first || x.max > hi {
				hi = x.max
			}
			first = false
		}
		return splitInts(s, lo, hi, e.opts.Factor), nil
	}
	b, count := e.old, o.count
	if n.count > o.count {
		b, count = e.new, n.count
	}
	step := (count + int64(e.opts.Factor) - 1) / int64(e.opts.Factor)
	keys, err := b.splitKeys(ctx, s, step)
	e.queries.Add(1)
	if err != nil {
		return nil, fmt.Errorf("verify: splitting a range: %w", err)
	}
	return splitAt(s, keys), nil
}

// onBoth runs f on the old side here and on the new side concurrently,
// counts the two queries, and returns the results, old first, or the sides'
// errors (see sideErrors).
func onBoth[T any](e *engine, what string, f func(backend) (T, error)) ([2]T, error) {
	var res [2]T
	var errs [2]error
	var wg sync.WaitGroup
	wg.Go(func() { res[1], errs[1] = f(e.new) })
	res[0], errs[0] = f(e.old)
	wg.Wait()
	e.queries.Add(2)
	return res, sideErrors(what, errs)
}

// sideErrors names the side of failed queries.
func sideErrors(what string, errs [2]error) error {
	var out []error
	for i, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			out = append(out, fmt.Errorf("verify: %s side, %s: %w", [2]string{"old", "new"}[i], what, err))
		} else if err != nil {
			out = append(out, err)
		}
	}
	return errors.Join(out...)
}

// compareRows compares a range row by row: it fetches each row's key and
// hash from both sides, which finds the missing and extra keys, and then
// fetches the values of the keys whose hashes differ only.
func (e *engine) compareRows(ctx context.Context, j job) (differences int, err error) {
	mode := hashMode(e.mode.Load())
	hs, err := e.rowHashes(ctx, j, mode)
	if err != nil {
		return 0, err
	}
	found, suspects := e.mergeHashes(hs)
	rawSuspects, equal := len(suspects), 0 // equal: suspects whose values proved equal
	if mode == raw && len(suspects) > fetchBatch && 4*len(suspects) > max(len(hs[0]), len(hs[1])) {
		// Many rows differ in storage: canonical hashes cost less than
		// fetching all their values, and leave the rows that really differ.
		if hs, err = e.rowHashes(ctx, j, canonical); err != nil {
			return 0, err
		}
		found, suspects = e.mergeHashes(hs)
		equal = rawSuspects - len(suspects)
	}
	for len(suspects) > 0 {
		batch := suspects[:min(len(suspects), fetchBatch)]
		suspects = suspects[len(batch):]
		rows, err := onBoth(e, "fetching rows", func(b backend) ([]row, error) { return b.fetchKeys(ctx, batch) })
		if err != nil {
			return 0, err
		}
		e.fetched.Add(int64(len(rows[0]) + len(rows[1])))
		diffs, eq := e.compareFetched(batch, rows)
		found, equal = append(found, diffs...), equal+eq
	}
	if mode == raw && equal >= minStorageOnly && 2*equal > rawSuspects {
		// Most suspects differed in storage only (a column's scale, float
		// noise): such rows are in the other ranges too, where raw hashes
		// would cost this second pass again. Hash canonically from now on.
		e.mode.Store(int32(canonical))
	}
	e.settled(j.weight, int64(len(hs[0])), int64(len(hs[1])), found)
	return len(found), nil
}

// compareFetched compares the rows fetched for a batch of suspects (keys
// in order) and counts those whose values are equal. A suspect that either
// side did not return by its key is reported too: its hashes differed, and
// a row that cannot be read back is no proof of equality (an untyped SQLite
// key stored as an integer on one side and as text on the other is listed
// alike by a range, but matched by `k IN (…)` on one side only).
func (e *engine) compareFetched(batch []keyVal, rows [2][]row) (found []keptDifference, equal int) {
	ra, rb := rows[0], rows[1]
	for _, k := range batch {
		for len(ra) > 0 && e.cmpKey(ra[0].key, k) < 0 {
			ra = ra[1:]
		}
		for len(rb) > 0 && e.cmpKey(rb[0].key, k) < 0 {
			rb = rb[1:]
		}
		oldHas := len(ra) > 0 && e.cmpKey(ra[0].key, k) == 0
		newHas := len(rb) > 0 && e.cmpKey(rb[0].key, k) == 0
		var d []diff.Difference
		switch {
		case oldHas && newHas:
			d = e.diffRow(ra[0], rb[0])
		default:
			d = []diff.Difference{{Path: unreadPath, Old: readBack(oldHas), New: readBack(newHas)}}
		}
		if d == nil {
			equal++
		} else {
			found = append(found, keptDifference{k, RowDifference{Key: e.keyString(k), Kind: Differing, Diffs: d}})
		}
	}
	return found, equal
}

// unreadPath is the path of the difference of a row whose hashes differ
// but whose values one side did not return by key.
const unreadPath = "(row)"

func readBack(ok bool) string {
	if ok {
		return "read back by its key"
	}
	return "not found by its key"
}

// minStorageOnly is how many rows of a range must prove to differ in
// storage only, and be most of its suspects, before the comparison turns to
// canonical hashes: a handful of such rows costs less than a canonical pass.
const minStorageOnly = 100

// rowHashes fetches the key and hash of every row of j's range on both sides.
func (e *engine) rowHashes(ctx context.Context, j job, mode hashMode) ([2][]keyHash, error) {
	hs, err := onBoth(e, "fetching row hashes", func(b backend) ([]keyHash, error) { return b.hashes(ctx, j.seg, mode) })
	e.fetched.Add(int64(len(hs[0]) + len(hs[1])))
	return hs, err
}

// mergeHashes merges two sides' key-ordered row hashes: the keys of one
// side only are differences; the keys whose hashes differ are suspects,
// whose values are to be compared.
func (e *engine) mergeHashes(hs [2][]keyHash) (found []keptDifference, suspects []keyVal) {
	a, b := hs[0], hs[1]
	for len(a) > 0 || len(b) > 0 {
		var c int
		switch {
		case len(a) == 0:
			c = 1
		case len(b) == 0:
			c = -1
		default:
			c = e.cmpKey(a[0].key, b[0].key)
		}
		switch {
		case c < 0:
			found = append(found, keptDifference{a[0].key, RowDifference{Key: e.keyString(a[0].key), Kind: MissingInNew}})
			a = a[1:]
		case c > 0:
			found = append(found, keptDifference{b[0].key, RowDifference{Key: e.keyString(b[0].key), Kind: ExtraInNew}})
			b = b[1:]
		default:
			if a[0].h != b[0].h {
				suspects = append(suspects, a[0].key)
			}
			a, b = a[1:], b[1:]
		}
	}
	return found, suspects
}

func (e *engine) cmpKey(a, b keyVal) int { return compareKeys(e.intKey, a, b) }

// compareKeys orders two keys as both engines do: integers by value,
// strings by bytes.
func compareKeys(intKey bool, a, b keyVal) int {
	if intKey {
		return cmp.Compare(a.i, b.i)
	}
	return strings.Compare(a.s, b.s)
}

func (e *engine) keyString(k keyVal) string {
	if e.intKey {
		return fmt.Sprint(k.i)
	}
	return k.s
}

// diffRow lists the differing columns of two rows with the same key.
func (e *engine) diffRow(a, b row) []diff.Difference {
	var out []diff.Difference
	for i := range a.vals {
		x, y := a.vals[i], b.vals[i]
		if x == y {
			continue
		}
		k := e.kinds[i+1]
		out = append(out, diff.Difference{Path: "." + e.names[i+1], Old: e.showValue(k, x), New: e.showValue(k, y)})
	}
	return out
}

// showValue is a canonical value as a difference shows it.
func (e *engine) showValue(k kind, v value) string {
	if !v.ok {
		return "NULL"
	}
	if k == kindFloat {
		return fmt.Sprintf("%q", e.norm.showFloat(v.s))
	}
	return fmt.Sprintf("%q", v.s)
}

// settled records a settled range.
func (e *engine) settled(weight float64, oldRows, newRows int64, found []keptDifference) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.res.OldRows += oldRows
	e.res.NewRows += newRows
	e.fraction += weight
	for _, f := range found {
		d := f.d
		switch d.Kind {
		case MissingInNew:
			e.res.Missing++
		case ExtraInNew:
			e.res.Extra++
		case Differing:
			e.res.Differing++
			e.sigs[diff.Signature(d.Diffs)]++
		}
		e.keep(f.key, d)
	}
	if e.opts.Progress != nil {
		e.opts.Progress(Progress{
			Fraction:    min(e.fraction, 1),
			OldRows:     e.res.OldRows,
			NewRows:     e.res.NewRows,
			Differences: e.res.Missing + e.res.Extra + e.res.Differing,
		})
	}
}

// keptDifference is a difference with its key, for ordering.
type keptDifference struct {
	key keyVal
	d   RowDifference
}

// keep inserts d into the bounded, key-ordered list of differences.
func (e *engine) keep(k keyVal, d RowDifference) {
	if e.opts.Limit < 0 {
		return
	}
	i := sort.Search(len(e.diffs), func(i int) bool { return e.cmpKey(k, e.diffs[i].key) < 0 })
	if i >= e.opts.Limit {
		return
	}
	e.diffs = append(e.diffs, keptDifference{})
	copy(e.diffs[i+1:], e.diffs[i:])
	e.diffs[i] = keptDifference{key: k, d: d}
	if len(e.diffs) > e.opts.Limit {
		e.diffs = e.diffs[:e.opts.Limit]
	}
}

func (e *engine) result() *Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.res
	r.Identical = r.Missing == 0 && r.Extra == 0 && r.Differing == 0
	for s, n := range e.sigs {
		r.Signatures = append(r.Signatures, SignatureCount{Signature: s, Count: n})
	}
	sort.Slice(r.Signatures, func(i, j int) bool {
		a, b := r.Signatures[i], r.Signatures[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Signature < b.Signature
	})
	for _, d := range e.diffs {
		r.Differences = append(r.Differences, d.d)
	}
	r.Queries = e.queries.Load()
	r.RowsFetched = e.fetched.Load()
	return &r
}

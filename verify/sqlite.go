package verify

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"modernc.org/sqlite"
)

// SQLite has no md5 (nor PostgreSQL's hash): verify registers an aggregate
// and a function on the modernc driver, for every connection it opens
// afterwards, under names no one else uses:
//
//	cutover_checksum(spec, key, values…)  sum of row hashes modulo 2^64
//	cutover_hashes(spec, key, values…)    every row's key and hash, as a blob
//	cutover_rowhash(spec, key, values…)   one row's hash
//
// spec is "places;micros;hash;kinds", one kind letter per compared column;
// hash is j (lookup3) or m (md5), followed by r for raw row hashes. In the
// canonical mode it computes exactly what the PostgreSQL SQL computes; in
// the raw mode, a hash of the values as SQLite stores them, which only
// another SQLite side computes (see hashMode).
var registerOnce = sync.OnceValue(func() error {
	err := sqlite.RegisterFunction("cutover_rowhash", &sqlite.FunctionImpl{
		NArgs:         -1,
		Deterministic: true,
		VolatileArgs:  true, // read during the call only, as in the aggregate
		Scalar: func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			// Called once per row of a hashes query: reuse a row buffer.
			a := rowHashers.Get().(*checksumAgg)
			defer rowHashers.Put(a)
			a.sp, a.sum = nil, 0 // the spec may be another comparison's
			if err := a.Step(nil, args); err != nil {
				return nil, err
			}
			return int64(a.sum), nil
		},
	})
	if err != nil {
		return err
	}
	err = sqlite.RegisterFunction("cutover_hashes", &sqlite.FunctionImpl{
		NArgs:         -1,
		Deterministic: true,
		VolatileArgs:  true, // copied into the blob during Step
		MakeAggregate: func(sqlite.FunctionContext) (sqlite.AggregateFunction, error) {
			return &hashesAgg{}, nil
		},
	})
	if err != nil {
		return err
	}
	return sqlite.RegisterFunction("cutover_checksum", &sqlite.FunctionImpl{
		NArgs:         -1,
		Deterministic: true,
		// Arguments are only read during Step (canonValue's result is
		// copied into the hash buffer at once), so SQLite's own memory
		// may be handed over without a copy.
		VolatileArgs: true,
		MakeAggregate: func(sqlite.FunctionContext) (sqlite.AggregateFunction, error) {
			return &checksumAgg{}, nil
		},
	})
})

// rowHashers recycles cutover_rowhash's row buffers.
var rowHashers = sync.Pool{New: func() any { return new(checksumAgg) }}

// spec is a parsed cutover_* spec argument.
type spec struct {
	norm  normalizer
	kinds []kind
	raw   bool // hash the stored values (appendRaw), not canonical text
}

var specs sync.Map // string → *spec

func specString(n normalizer, kinds []kind, mode hashMode) string {
	b := make([]byte, len(kinds))
	for i, k := range kinds {
		b[i] = byte(k)
	}
	hash := "m"
	if n.lookup3 {
		hash = "j"
	}
	if mode == raw {
		hash += "r"
	}
	return fmt.Sprintf("%d;%d;%s;%s", n.places, n.micros, hash, b)
}

func parseSpec(v driver.Value) (*spec, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return nil, fmt.Errorf("cutover: bad spec %v", v)
	}
	if sp, ok := specs.Load(s); ok {
		return sp.(*spec), nil
	}
	s = strings.Clone(s) // the argument may live in SQLite's memory
	parts := strings.SplitN(s, ";", 4)
	if len(parts) != 4 {
		return nil, fmt.Errorf("cutover: bad spec %q", s)
	}
	places, err1 := strconv.Atoi(parts[0])
	micros, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("cutover: bad spec %q: %w", s, err)
	}
	sp := &spec{norm: normalizer{places: places, micros: micros, lookup3: strings.HasPrefix(parts[2], "j")}, raw: strings.HasSuffix(parts[2], "r")}
	for i := 0; i < len(parts[3]); i++ {
		sp.kinds = append(sp.kinds, kind(parts[3][i]))
	}
	specs.Store(s, sp)
	return sp, nil
}

// checksumAgg is cutover_checksum: args are spec, key, values….
type checksumAgg struct {
	sp  *spec
	h   rowHasher
	sum uint64
}

func (a *checksumAgg) Step(_ *sqlite.FunctionContext, args []driver.Value) error {
	if a.sp == nil {
		sp, err := parseSpec(args[0])
		if err != nil {
			return err
		}
		if len(sp.kinds) != len(args)-2 {
			return fmt.Errorf("cutover_checksum: spec has %d kinds for %d values", len(sp.kinds), len(args)-2)
		}
		a.sp = sp
		a.h.lookup3 = sp.norm.lookup3
	}
	// The row text is built in place (appendCanon is canonValue and
	// quote_nullable without allocating): this runs once per row.
	var buf []byte
	if a.sp.raw {
		buf = a.h.buf[:0]
		for _, v := range args[1:] {
			buf = appendRaw(buf, v)
		}
	} else {
		buf = appendKey(a.h.buf[:0], args[1])
		for i, v := range args[2:] {
			buf = a.sp.norm.appendCanon(append(buf, ','), a.sp.kinds[i], v)
		}
	}
	a.h.buf = buf
	a.sum += a.h.sum()
	return nil
}

func (a *checksumAgg) WindowInverse(*sqlite.FunctionContext, []driver.Value) error {
	return errors.New("cutover_checksum cannot be used as a window function")
}

func (a *checksumAgg) WindowValue(*sqlite.FunctionContext) (driver.Value, error) {
	return int64(a.sum), nil
}

func (a *checksumAgg) Final(*sqlite.FunctionContext) {}

// maxHashBlob bounds cutover_hashes' blob; a range with more rows is
// fetched row by row (cutover_rowhash) instead.
var maxHashBlob = 64 << 20 // a variable for tests

// hashesAgg is cutover_hashes: every row's key ('i' and 8 bytes, or 's',
// a length and the text) and hash (8 bytes), in one blob. Handing over the
// row hashes of a range as one value spares database/sql's per-row work,
// which costs more than the hash itself.
type hashesAgg struct {
	row  checksumAgg
	out  []byte
	full bool // the blob outgrew maxHashBlob: the result is NULL
}

func (a *hashesAgg) Step(ctx *sqlite.FunctionContext, args []driver.Value) error {
	if a.full {
		return nil
	}
	a.row.sum = 0
	if err := a.row.Step(ctx, args); err != nil {
		return err
	}
	if k, ok := args[1].(int64); ok {
		a.out = binary.LittleEndian.AppendUint64(append(a.out, 'i'), uint64(k))
	} else {
		s, _ := keyText(args[1])
		a.out = append(binary.AppendUvarint(append(a.out, 's'), uint64(len(s))), s...)
	}
	a.out = binary.LittleEndian.AppendUint64(a.out, a.row.sum)
	if len(a.out) > maxHashBlob {
		a.full, a.out = true, nil
	}
	return nil
}

func (a *hashesAgg) WindowInverse(*sqlite.FunctionContext, []driver.Value) error {
	return errors.New("cutover_hashes cannot be used as a window function")
}

func (a *hashesAgg) WindowValue(*sqlite.FunctionContext) (driver.Value, error) {
	if a.full {
		return nil, nil
	}
	return a.out, nil
}

func (a *hashesAgg) Final(*sqlite.FunctionContext) {}

// sqliteBackend reads one SQLite query on a single read-only connection in
// one read transaction: one snapshot, one query at a time.
type sqliteBackend struct {
	query string
	db    *sql.DB

	mu    sync.Mutex // protects tx and stmts: a connection runs one statement at a time
	tx    *sql.Tx
	stmts map[string]*sql.Stmt // prepared once per SQL text

	cols   []column
	intKey bool
	kinds  []kind // of the compared columns
	norm   normalizer

	cte      string
	keyCmp   string
	sumSQL   [2]string // by hashMode
	hashSel  [2]string // by hashMode
	hashAgg  [2]string // by hashMode
	fetchSel string
}

func openSQLite(ctx context.Context, path, query string) (*sqliteBackend, error) {
	if err := registerOnce(); err != nil {
		return nil, fmt.Errorf("registering SQLite functions: %w", err)
	}
	if path == "" {
		return nil, errors.New("the SQLite URL has no path: give sqlite:///path/file.db")
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("opening SQLite database: %w (give sqlite:///absolute/path/file.db)", err)
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: "mode=ro&_pragma=query_only(1)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("opening SQLite database %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("opening SQLite database %s: %w", path, err)
	}
	return &sqliteBackend{query: query, db: db, tx: tx}, nil
}

func (b *sqliteBackend) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, st := range b.stmts {
		_ = st.Close()
	}
	if b.tx != nil {
		_ = b.tx.Rollback()
		b.tx = nil
	}
	_ = b.db.Close()
}

// rows runs a query, prepared once, and calls f for each row, holding the
// connection.
func (b *sqliteBackend) rows(ctx context.Context, q string, args []any, f func(*sql.Rows) error) error {
	return b.runQuery(ctx, q, args, true, f)
}

// runQuery is rows, keeping the prepared statement only if keep is set.
func (b *sqliteBackend) runQuery(ctx context.Context, q string, args []any, keep bool, f func(*sql.Rows) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	st, ok := b.stmts[q]
	if !ok {
		var err error
		if st, err = b.tx.PrepareContext(ctx, q); err != nil {
			return err
		}
		if keep {
			if b.stmts == nil {
				b.stmts = map[string]*sql.Stmt{}
			}
			b.stmts[q] = st
		} else {
			defer st.Close()
		}
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (b *sqliteBackend) describe(ctx context.Context) ([]column, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rows, err := b.tx.QueryContext(ctx, "SELECT * FROM ("+b.query+") LIMIT 0")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	for _, t := range types {
		b.cols = append(b.cols, column{name: t.Name(), kind: sqliteKind(t.DatabaseTypeName()), decl: t.DatabaseTypeName()})
	}
	return b.cols, rows.Err()
}

func (b *sqliteBackend) hashAgrees(context.Context) (bool, error) { return true, nil }

func (b *sqliteBackend) keyIsInt(ctx context.Context, c column) (bool, error) {
	switch {
	case c.kind == kindInt:
		b.intKey = true
	case c.kind != kindAuto:
		b.intKey = false
	default:
		// An expression: look at a value.
		names := []string{"k"}
		for i := 1; i < len(b.cols); i++ {
			names = append(names, "c"+strconv.Itoa(i))
		}
		var typ string
		err := b.rows(ctx, "WITH cutover_s("+strings.Join(names, ", ")+") AS ("+b.query+") SELECT typeof(k) FROM cutover_s WHERE k IS NOT NULL LIMIT 1", nil,
			func(r *sql.Rows) error { return r.Scan(&typ) })
		if err != nil {
			return false, err
		}
		b.intKey = typ == "integer"
	}
	return b.intKey, nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (b *sqliteBackend) prepare(kinds []kind, n normalizer) {
	names := []string{"k"}
	for i := 1; i < len(kinds); i++ {
		names = append(names, "c"+strconv.Itoa(i))
	}
	b.cte = "WITH cutover_s(" + strings.Join(names, ", ") + ") AS (" + b.query + ") "
	b.keyCmp = "cutover_s.k"
	if !b.intKey {
		b.keyCmp = "cutover_s.k COLLATE BINARY"
	}
	b.kinds, b.norm = kinds[1:], n
	sel := []string{"k"}
	for i := 1; i < len(kinds); i++ {
		// Unary plus leaves the value as it is stored but hides the
		// declared type, so that the driver hands over what the
		// checksum saw (not a time.Time parsed from a DATETIME's text).
		sel = append(sel, "+"+names[i])
	}
	for _, mode := range []hashMode{canonical, raw} {
		args := append([]string{quoteLiteral(specString(n, kinds[1:], mode))}, names...)
		b.sumSQL[mode] = "count(*), coalesce(cutover_checksum(" + strings.Join(args, ", ") + "), 0), min(k), max(k)"
		b.hashSel[mode] = "k, cutover_rowhash(" + strings.Join(args, ", ") + ")"
		b.hashAgg[mode] = "count(*), cutover_hashes(" + strings.Join(args, ", ") + ")"
	}
	b.fetchSel = strings.Join(sel, ", ")
}

func (b *sqliteBackend) where(s segment) (string, []any) {
	var conds []string
	var args []any
	arg := func(k keyVal) any {
		if b.intKey {
			return k.i
		}
		return k.s
	}
	if s.hasLo {
		conds = append(conds, b.keyCmp+" >= ?")
		args = append(args, arg(s.lo))
	}
	if s.hasHi {
		conds = append(conds, b.keyCmp+" < ?")
		args = append(args, arg(s.hi))
	}
	if len(conds) == 0 {
		// A NULL key is no key: ranges leave such rows out, and so must
		// the whole.
		return " WHERE cutover_s.k IS NOT NULL", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func (b *sqliteBackend) bounds(ctx context.Context) (mn, mx int64, ok bool, err error) {
	// One aggregate a subquery: SQLite answers a lone min() or max() from
	// the table's b-tree, and both at once by reading every row.
	err = b.rows(ctx, "SELECT ("+b.cte+"SELECT min(k) FROM cutover_s), ("+b.cte+"SELECT max(k) FROM cutover_s)", nil, func(r *sql.Rows) error {
		var lo, hi sql.NullInt64
		if err := r.Scan(&lo, &hi); err != nil {
			return err
		}
		mn, mx, ok = lo.Int64, hi.Int64, lo.Valid && hi.Valid
		return nil
	})
	return mn, mx, ok, err
}

func (b *sqliteBackend) checksum(ctx context.Context, s segment, mode hashMode) (summary, error) {
	var out summary
	w, args := b.where(s)
	err := b.rows(ctx, b.cte+"SELECT "+b.sumSQL[mode]+" FROM cutover_s"+w, args, func(r *sql.Rows) error {
		var sum int64
		var lo, hi any
		if err := r.Scan(&out.count, &sum, &lo, &hi); err != nil {
			return err
		}
		out.sum = uint64(sum)
		if l, ok := lo.(int64); ok {
			out.min = l
		}
		if h, ok := hi.(int64); ok {
			out.max = h
		}
		return nil
	})
	return out, err
}

func (b *sqliteBackend) splitKeys(ctx context.Context, s segment, step int64) ([]keyVal, error) {
	w, args := b.where(s)
	args = append(args, step)
	q := b.cte + "SELECT k FROM (SELECT k, row_number() OVER (ORDER BY " + b.keyCmp + ") AS cutover_rn FROM cutover_s" + w + ") WHERE cutover_rn % ? = 0 ORDER BY cutover_rn"
	var keys []keyVal
	err := b.rows(ctx, q, args, func(r *sql.Rows) error {
		k, err := b.scanKey(r, nil)
		keys = append(keys, k)
		return err
	})
	return keys, err
}

// scanKey scans a row whose first column is the key and whose others go
// to rest.
func (b *sqliteBackend) scanKey(r *sql.Rows, rest []any) (keyVal, error) {
	var raw any
	if err := r.Scan(append([]any{&raw}, rest...)...); err != nil {
		return keyVal{}, err
	}
	if b.intKey {
		i, ok := raw.(int64)
		if !ok {
			return keyVal{}, fmt.Errorf("the key %v is not an integer: every key of an integer key column must be one", raw)
		}
		return keyVal{i: i}, nil
	}
	s, _ := keyText(raw)
	return keyVal{s: s}, nil
}

func (b *sqliteBackend) hashes(ctx context.Context, s segment, mode hashMode) ([]keyHash, error) {
	w, args := b.where(s)
	var n int64
	var blob []byte
	err := b.rows(ctx, b.cte+"SELECT "+b.hashAgg[mode]+" FROM cutover_s"+w, args, func(r *sql.Rows) error { return r.Scan(&n, &blob) })
	if err != nil {
		return nil, err
	}
	if n > 0 && blob == nil {
		return b.hashesByRow(ctx, s, mode) // too many rows for one blob
	}
	out := make([]keyHash, 0, n)
	for len(blob) > 0 {
		var kh keyHash
		switch tag := blob[0]; {
		case tag == 'i' && len(blob) >= 9:
			i := int64(binary.LittleEndian.Uint64(blob[1:]))
			if b.intKey {
				kh.key.i = i
			} else {
				kh.key.s = strconv.FormatInt(i, 10)
			}
			blob = blob[9:]
		case tag == 's':
			l, w := binary.Uvarint(blob[1:])
			if w <= 0 || uint64(len(blob)-1-w) < l {
				return nil, errors.New("cutover_hashes: bad blob")
			}
			kh.key.s = string(blob[1+w : 1+w+int(l)])
			if b.intKey {
				return nil, fmt.Errorf("the key %q is not an integer: every key of an integer key column must be one", kh.key.s)
			}
			blob = blob[1+w+int(l):]
		default:
			return nil, errors.New("cutover_hashes: bad blob")
		}
		if len(blob) < 8 {
			return nil, errors.New("cutover_hashes: bad blob")
		}
		kh.h = binary.LittleEndian.Uint64(blob)
		blob = blob[8:]
		out = append(out, kh)
	}
	// The rows come in the order SQLite read them, by key when it used the
	// key's index, which it does not promise.
	byKey := func(x, y keyHash) int { return compareKeys(b.intKey, x.key, y.key) }
	if !slices.IsSortedFunc(out, byKey) {
		slices.SortStableFunc(out, byKey)
	}
	return out, nil
}

// hashesByRow is hashes, one result row per row.
func (b *sqliteBackend) hashesByRow(ctx context.Context, s segment, mode hashMode) ([]keyHash, error) {
	w, args := b.where(s)
	var out []keyHash
	err := b.rows(ctx, b.cte+"SELECT "+b.hashSel[mode]+" FROM cutover_s"+w+" ORDER BY "+b.keyCmp, args, func(r *sql.Rows) error {
		var h int64
		k, err := b.scanKey(r, []any{&h})
		out = append(out, keyHash{key: k, h: uint64(h)})
		return err
	})
	return out, err
}

func (b *sqliteBackend) fetchKeys(ctx context.Context, keys []keyVal) ([]row, error) {
	args := make([]any, len(keys))
	for i, k := range keys {
		if b.intKey {
			args[i] = k.i
		} else {
			args[i] = k.s
		}
	}
	marks := strings.Repeat("?, ", len(keys))
	q := b.cte + "SELECT " + b.fetchSel + " FROM cutover_s WHERE " + b.keyCmp + " IN (" + marks[:len(marks)-2] + ") ORDER BY " + b.keyCmp
	n := len(b.cols) - 1
	var out []row
	err := b.runQuery(ctx, q, args, false, func(r *sql.Rows) error {
		raw := make([]any, n)
		dest := make([]any, n)
		for i := range raw {
			dest[i] = &raw[i]
		}
		k, err := b.scanKey(r, dest)
		if err != nil {
			return err
		}
		rw := row{key: k, vals: make([]value, n)}
		for i, v := range raw {
			s, ok := b.norm.canonValue(b.kinds[i], v)
			rw.vals[i] = value{s: s, ok: ok}
		}
		out = append(out, rw)
		return nil
	})
	return out, err
}

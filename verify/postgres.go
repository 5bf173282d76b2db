package verify

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// openBackend opens the database named by url for reading query.
func openBackend(ctx context.Context, url, query string, concurrency int) (backend, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		b, err := openPostgres(ctx, url, query, concurrency)
		if err != nil {
			return nil, err
		}
		return b, nil
	case strings.HasPrefix(url, "sqlite://"):
		b, err := openSQLite(ctx, strings.TrimPrefix(url, "sqlite://"), query)
		if err != nil {
			return nil, err
		}
		return b, nil
	case url == "":
		return nil, errors.New("no database URL: give sqlite:///path/file.db or postgres://user@host/db")
	}
	return nil, fmt.Errorf("database URL %q is not supported: give sqlite:///path/file.db or postgres://user@host/db", redactURL(url))
}

// redactURL hides a password in a URL for error messages.
func redactURL(u string) string {
	if at := strings.LastIndex(u, "@"); at > 0 {
		if scheme := strings.Index(u, "://"); scheme >= 0 && scheme < at {
			creds := u[scheme+3 : at]
			if user, _, ok := strings.Cut(creds, ":"); ok {
				return u[:scheme+3] + user + ":xxxxx" + u[at:]
			}
		}
	}
	return u
}

// pgBackend reads one PostgreSQL query through a fixed set of connections,
// all in read-only repeatable-read transactions on one exported snapshot.
type pgBackend struct {
	query string
	conns chan *pgx.Conn // idle connections; its capacity bounds concurrency
	all   []*pgx.Conn

	cols   []column
	keyOID uint32

	// Built by prepare.
	from     string    // " FROM (query) AS cutover_s(k, c1, …)"
	keyCmp   string    // the key as compared in ranges and ORDER BY
	keyParam string    // a parameter's cast
	sumSQL   [2]string // the select list of a checksum, by hashMode
	hashSel  [2]string // the select list of a hashes query, by hashMode
	fetchSel string    // the select list of a fetch
	keyArray string    // the array type of key parameters
}

func openPostgres(ctx context.Context, url, query string, concurrency int) (*pgBackend, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("reading the PostgreSQL URL %s: %w", redactURL(url), err)
	}
	// Settings that make the canonical text independent of the server's.
	cfg.RuntimeParams["timezone"] = "UTC"
	cfg.RuntimeParams["datestyle"] = "ISO, YMD"
	// Floats as text are exact (shortest round-trip text from PostgreSQL
	// 12, 17 digits before): raw row hashes rely on a value's text naming
	// one value.
	cfg.RuntimeParams["extra_float_digits"] = "3"
	// The text of intervals and byte strings depends on these; pinned, two
	// servers with other defaults write equal values alike.
	cfg.RuntimeParams["intervalstyle"] = "postgres"
	cfg.RuntimeParams["bytea_output"] = "hex"
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "cutover verify"
	}
	b := &pgBackend{query: query, conns: make(chan *pgx.Conn, concurrency)}
	fail := func(err error) (*pgBackend, error) {
		b.close()
		return nil, err
	}
	var snapshot string
	for i := range concurrency {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return fail(fmt.Errorf("connecting to PostgreSQL at %s: %w", redactURL(url), err))
		}
		b.all = append(b.all, c)
		if _, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
			return fail(fmt.Errorf("starting a read-only transaction: %w", err))
		}
		if i == 0 {
			// Share the first transaction's snapshot so that every
			// connection sees the same data. A server that cannot export
			// one (a standby before PostgreSQL 10) gives each its own.
			if err := c.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snapshot); err != nil {
				snapshot = ""
				if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
					return fail(err)
				}
				if _, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
					return fail(fmt.Errorf("starting a read-only transaction: %w", err))
				}
			}
		} else if snapshot != "" {
			if _, err := c.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+snapshot+"'"); err != nil {
				return fail(fmt.Errorf("sharing the snapshot: %w", err))
			}
		}
		b.conns <- c
	}
	return b, nil
}

func (b *pgBackend) close() {
	for _, c := range b.all {
		c.Close(context.Background())
	}
	b.all = nil
}

// with runs f on an idle connection, waiting for one.
func (b *pgBackend) with(ctx context.Context, f func(*pgx.Conn) error) error {
	var c *pgx.Conn
	select {
	case c = <-b.conns:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { b.conns <- c }()
	return f(c)
}

func (b *pgBackend) describe(ctx context.Context) ([]column, error) {
	err := b.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, "SELECT * FROM ("+b.query+") AS cutover_q LIMIT 0")
		if err != nil {
			return err
		}
		fields := rows.FieldDescriptions()
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, f := range fields {
			b.cols = append(b.cols, column{name: f.Name, kind: pgKind(f.DataTypeOID), pg: true, oid: f.DataTypeOID, typmod: f.TypeModifier})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b.cols, nil
}

// hashAgrees reports whether the server's hashtextextended is pgHash (it
// is not on a big-endian server, nor before PostgreSQL 11).
func (b *pgBackend) hashAgrees(ctx context.Context) (bool, error) {
	agrees := true
	err := b.with(ctx, func(c *pgx.Conn) error {
		// A savepoint, so that a missing function does not abort the
		// snapshot's transaction.
		if _, err := c.Exec(ctx, "SAVEPOINT cutover_hash"); err != nil {
			return err
		}
		rows, err := c.Query(ctx, "SELECT hashtextextended(x, 0) FROM unnest($1::text[]) AS x", hashSelfTestInputs)
		if err == nil {
			i := 0
			for rows.Next() {
				var h int64
				if err := rows.Scan(&h); err != nil || i >= len(hashSelfTestInputs) || uint64(h) != pgHash([]byte(hashSelfTestInputs[i])) {
					agrees = false
				}
				i++
			}
			rows.Close()
			if rows.Err() != nil || i != len(hashSelfTestInputs) {
				agrees = false
			}
		} else {
			agrees = false
		}
		_, err = c.Exec(ctx, "ROLLBACK TO SAVEPOINT cutover_hash")
		return err
	})
	return agrees, err
}

func (b *pgBackend) keyIsInt(ctx context.Context, c column) (bool, error) {
	b.keyOID = c.oid
	switch c.oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID:
		return true, nil
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.UUIDOID:
		return false, nil
	}
	return false, fmt.Errorf("the key column %q has a type (oid %d) that cannot be ranged: cast it to bigint or text in the query", c.name, c.oid)
}

// pgKind is the kind a PostgreSQL type suggests.
func pgKind(oid uint32) kind {
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID:
		return kindInt
	case pgtype.Float8OID:
		return kindFloat
	case pgtype.Float4OID, pgtype.NumericOID:
		// float4 goes through numeric's 6 digits, as documented.
		return kindNum
	case pgtype.BoolOID:
		return kindBool
	case pgtype.TimestampOID, pgtype.TimestamptzOID:
		return kindTime
	case pgtype.DateOID:
		return kindDate
	case pgtype.UUIDOID:
		return kindUUID
	case pgtype.ByteaOID:
		return kindBytes
	}
	return kindText
}

// pgCanon is the SQL for the canonical text of expression x, of PostgreSQL
// type oid, as a column of kind k. It must agree with canonValue.
func pgCanon(k kind, oid uint32, x string, n normalizer) string {
	own := pgKind(oid)
	switch k {
	case kindInt:
		return x + "::text"
	case kindNum:
		if own == kindNum || own == kindInt || own == kindFloat {
			return fmt.Sprintf("round(%s::numeric, %d)::text", x, n.places)
		}
	case kindFloat:
		if own == kindFloat {
			// appendFloat's arithmetic: a float8 multiplication and rint
			// are IEEE's, as Go's, and the literals parse back to Go's
			// doubles. The limit is tested first, so that the product
			// never overflows (PostgreSQL would raise an error).
			scale, limit := n.floatScale()
			return fmt.Sprintf("CASE WHEN abs(%[1]s) < %[2]s::float8 THEN round(%[1]s * %[3]s::float8)::int8::text ELSE round(%[1]s::numeric, %[4]d)::text END",
				x, strconv.FormatFloat(limit, 'g', -1, 64), strconv.FormatFloat(scale, 'g', -1, 64), n.places)
		}
		return fmt.Sprintf("round(%s::numeric, %d)::text", x, n.places)
	case kindBool:
		if own == kindBool {
			return x + "::int::text"
		}
		return x + "::text"
	case kindTime:
		if own == kindTime || own == kindDate {
			// date_part's float8 is several times faster than extract's
			// numeric, and exact to the microsecond within ±285 years of
			// 1970 (2^53 µs).
			us := fmt.Sprintf("round(date_part('epoch', %s::timestamp%s) * 1000000)::int8", x, map[bool]string{true: "tz", false: ""}[oid == pgtype.TimestamptzOID])
			if n.micros == 1 {
				return us + "::text"
			}
			// Floor division: int8 division truncates toward zero.
			return fmt.Sprintf("((%s / %d - (%s %% %d < 0)::int) * %d)::text", us, n.micros, us, n.micros, n.micros)
		}
	case kindDate:
		if own == kindTime || own == kindDate {
			return x + "::date::text"
		}
	case kindUUID:
		if own == kindUUID {
			return x + "::text"
		}
		return "lower(btrim(" + x + "::text))"
	case kindBytes:
		if own == kindBytes {
			return "encode(" + x + ", 'hex')"
		}
		return "encode(convert_to(" + x + "::text, 'UTF8'), 'hex')"
	}
	return x + "::text"
}

// pgRawHash is the SQL for a 64-bit hash of expression x, of PostgreSQL
// type oid, at position pos of a raw row: the type's own hash function
// where it hashes exactly what the type's equality compares and that is
// no coarser than the canonical text (raw-equal values are canonically
// equal), the hash of the value's binary or text form otherwise (exact for
// every type, floats included with extra_float_digits 3).
//
// Each position has seeds and a NULL hash of its own (rawSeed), large
// random-looking numbers: values swapped between columns change the row,
// and NULL hashes like no value. Small ones would not do: some functions
// return their seed for special values (hashfloat8extended for ±0,
// hash_numeric_extended for NaN and ±Infinity), so NULL hashed to the seed
// would equal 0.
//
// Hashing values in their binary form spares the text conversion that
// dominated the raw checksum: on a table of integers, text, floats,
// numerics, timestamps and booleans the row hash costs 2 to 3 times less.
func pgRawHash(oid uint32, x string, pos int) string {
	seed, seed2, null := rawSeed(pos, 0), rawSeed(pos, 1), rawSeed(pos, 2)
	call := func(fn, arg, seed string) string { return fn + "(" + arg + ", " + seed + ")" }
	var h string
	switch oid {
	case pgtype.Int2OID:
		h = call("hashint2extended", x, seed)
	case pgtype.Int4OID:
		h = call("hashint4extended", x, seed)
	case pgtype.Int8OID:
		// hashint8extended folds 64 bits to 32 (5 and 2^32+4 hash
		// alike): the high half, hashed with a seed of its own, tells
		// them apart.
		h = call("hashint8extended", x, seed) + " # " + call("hashint4extended", "("+x+" >> 32)::int4", seed2)
	case pgtype.OIDOID:
		h = call("hashoidextended", x, seed)
	case pgtype.BoolOID:
		h = call("hashint4extended", x+"::int4", seed)
	case pgtype.Float4OID:
		// -0 and 0 hash alike, as do all NaNs: so do their canonical texts.
		h = call("hashfloat4extended", x, seed)
	case pgtype.Float8OID:
		h = call("hashfloat8extended", x, seed)
	case pgtype.NumericOID:
		// 1.5 and 1.50 hash alike: they round alike too. NaN, Infinity
		// and -Infinity all hash to the seed: those are told apart by
		// their text.
		h = "coalesce(nullif(" + call("hash_numeric_extended", x, seed) + ", " + seed + "), " + call("hashtextextended", x+"::text", seed2) + ")"
	case pgtype.TextOID, pgtype.VarcharOID:
		// Collation C: bytes, even in a column whose collation calls 'a'
		// and 'A' equal.
		h = call("hashtextextended", x+` COLLATE "C"`, seed)
	case pgtype.UUIDOID:
		h = call("uuid_hash_extended", x, seed)
	case pgtype.TimestampOID, pgtype.TimestamptzOID, pgtype.DateOID:
		// Their hash functions fold 64 bits of microseconds to 32; their
		// binary form (8 bytes, 4 for a date) as hex is exact, and
		// cheaper than their text or a time zone conversion.
		send := map[uint32]string{pgtype.TimestampOID: "timestamp_send", pgtype.TimestamptzOID: "timestamptz_send", pgtype.DateOID: "date_send"}[oid]
		h = call("hashtextextended", send+"("+x+")::text", seed)
	default:
		h = call("hashtextextended", x+`::text COLLATE "C"`, seed)
	}
	return "coalesce(" + h + ", " + null + ")"
}

// rawSeed is the i-th constant of position pos in a raw row hash, as SQL:
// splitmix64's output, so that positions and constants share no pattern.
func rawSeed(pos, i int) string {
	z := uint64(pos*3+i+1) * 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return "(" + strconv.FormatInt(int64(z), 10) + ")::int8"
}

func (b *pgBackend) prepare(kinds []kind, n normalizer) {
	names := []string{"k"}
	for i := 1; i < len(kinds); i++ {
		names = append(names, "c"+strconv.Itoa(i))
	}
	// A subquery, not a WITH: PostgreSQL inlines both, but answers min(k)
	// and max(k) from an index only through a subquery.
	b.from = " FROM (" + b.query + ") AS cutover_s(" + strings.Join(names, ", ") + ")"
	// Qualified, so that ORDER BY never means a text output column.
	b.keyCmp, b.keyParam = "cutover_s.k", ""
	switch b.keyOID {
	case pgtype.UUIDOID:
		b.keyParam = "::uuid"
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID:
		// Byte order, the same as SQLite's and Go's, whatever the
		// database's collation.
		b.keyCmp = `cutover_s.k COLLATE "C"`
	}
	parts := []string{"quote_nullable(k::text)"}
	rawParts := []string{pgRawHash(b.cols[0].oid, "k", 0)}
	sel := []string{"k::text"}
	for i := 1; i < len(kinds); i++ {
		canon := pgCanon(kinds[i], b.cols[i].oid, names[i], n)
		parts = append(parts, "quote_nullable("+canon+")")
		rawParts = append(rawParts, pgRawHash(b.cols[i].oid, names[i], i))
		sel = append(sel, canon)
	}
	mm := "NULL::int8, NULL::int8"
	if kinds[0] == kindInt {
		mm = "min(k)::int8, max(k)::int8"
	}
	canonRow := "concat_ws(',', " + strings.Join(parts, ", ") + ")"
	hashes := [2]string{
		canonical: "('x' || left(md5(" + canonRow + "), 16))::bit(64)::int8",
		// The values' hashes are combined by xor, then mixed (through
		// float8, 53 bits) so that the sum of a range is no sum of
		// per-column sums: a value moved from one row to another changes it.
		raw: "hashfloat8extended((" + strings.Join(rawParts, " # ") + ")::float8, 0)",
	}
	if n.lookup3 {
		hashes[canonical] = "hashtextextended(" + canonRow + ", 0)"
	}
	for mode, hash := range hashes {
		b.sumSQL[mode] = "count(*), coalesce(sum(" + hash + "), 0)::text, " + mm
		b.hashSel[mode] = "k::text, " + hash
		if kinds[0] == kindInt {
			b.hashSel[mode] = "k::int8, " + hash // no text to parse
		}
	}
	b.keyArray = "::int8[]"
	switch b.keyOID {
	case pgtype.UUIDOID:
		b.keyArray = "::uuid[]"
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID:
		b.keyArray = "::text[]"
	}
	b.fetchSel = strings.Join(sel, ", ")
}

// where is the range condition of s and its arguments, numbered from $1.
func (b *pgBackend) where(s segment, intKey bool) (string, []any) {
	var conds []string
	var args []any
	arg := func(k keyVal) any {
		if intKey {
			return k.i
		}
		return k.s
	}
	if s.hasLo {
		args = append(args, arg(s.lo))
		conds = append(conds, fmt.Sprintf("%s >= $%d%s", b.keyCmp, len(args), b.keyParam))
	}
	if s.hasHi {
		args = append(args, arg(s.hi))
		conds = append(conds, fmt.Sprintf("%s < $%d%s", b.keyCmp, len(args), b.keyParam))
	}
	if len(conds) == 0 {
		// A NULL key is no key: ranges leave such rows out, and so must
		// the whole.
		return " WHERE cutover_s.k IS NOT NULL", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func (b *pgBackend) intKey() bool {
	switch b.keyOID {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID:
		return true
	}
	return false
}

func (b *pgBackend) bounds(ctx context.Context) (mn, mx int64, ok bool, err error) {
	err = b.with(ctx, func(c *pgx.Conn) error {
		var lo, hi *int64
		if err := c.QueryRow(ctx, "SELECT min(k)::int8, max(k)::int8"+b.from).Scan(&lo, &hi); err != nil {
			return err
		}
		if lo != nil && hi != nil {
			mn, mx, ok = *lo, *hi, true
		}
		return nil
	})
	return mn, mx, ok, err
}

var mod64 = new(big.Int).SetUint64(^uint64(0))

func (b *pgBackend) checksum(ctx context.Context, s segment, mode hashMode) (summary, error) {
	var out summary
	err := b.with(ctx, func(c *pgx.Conn) error {
		w, args := b.where(s, b.intKey())
		var sum string
		var lo, hi *int64
		if err := c.QueryRow(ctx, "SELECT "+b.sumSQL[mode]+b.from+w, args...).Scan(&out.count, &sum, &lo, &hi); err != nil {
			return err
		}
		v, ok := new(big.Int).SetString(sum, 10)
		if !ok {
			return fmt.Errorf("unexpected checksum %q", sum)
		}
		out.sum = v.And(v, mod64).Uint64() // the sum modulo 2^64, as SQLite's
		if lo != nil && hi != nil {
			out.min, out.max = *lo, *hi
		}
		return nil
	})
	return out, err
}

func (b *pgBackend) splitKeys(ctx context.Context, s segment, step int64) ([]keyVal, error) {
	var keys []keyVal
	err := b.with(ctx, func(c *pgx.Conn) error {
		w, args := b.where(s, b.intKey())
		args = append(args, step)
		q := fmt.Sprintf("SELECT cutover_key FROM (SELECT k::text AS cutover_key, row_number() OVER (ORDER BY %s) AS cutover_rn%s%s) AS t WHERE cutover_rn %% $%d = 0 ORDER BY cutover_rn",
			b.keyCmp, b.from, w, len(args))
		rows, err := c.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k keyVal
			if b.intKey() {
				var s string
				if err := rows.Scan(&s); err != nil {
					return err
				}
				k.i, _ = strconv.ParseInt(s, 10, 64)
			} else if err := rows.Scan(&k.s); err != nil {
				return err
			}
			keys = append(keys, k)
		}
		return rows.Err()
	})
	return keys, err
}

func (b *pgBackend) hashes(ctx context.Context, s segment, mode hashMode) ([]keyHash, error) {
	var out []keyHash
	err := b.with(ctx, func(c *pgx.Conn) error {
		w, args := b.where(s, b.intKey())
		rows, err := c.Query(ctx, "SELECT "+b.hashSel[mode]+b.from+w+" ORDER BY "+b.keyCmp, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var kh keyHash
			var h int64
			var err error
			if b.intKey() {
				err = rows.Scan(&kh.key.i, &h)
			} else {
				err = rows.Scan(&kh.key.s, &h)
			}
			if err != nil {
				return err
			}
			kh.h = uint64(h)
			out = append(out, kh)
		}
		return rows.Err()
	})
	return out, err
}

func (b *pgBackend) parseKey(s string) (keyVal, error) {
	if !b.intKey() {
		return keyVal{s: s}, nil
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return keyVal{}, fmt.Errorf("reading a key: %w", err)
	}
	return keyVal{i: i}, nil
}

func (b *pgBackend) fetchKeys(ctx context.Context, keys []keyVal) ([]row, error) {
	var arg any
	if b.intKey() {
		ints := make([]int64, len(keys))
		for i, k := range keys {
			ints[i] = k.i
		}
		arg = ints
	} else {
		strs := make([]string, len(keys))
		for i, k := range keys {
			strs[i] = k.s
		}
		arg = strs
	}
	var out []row
	err := b.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, "SELECT "+b.fetchSel+b.from+" WHERE cutover_s.k = ANY($1"+b.keyArray+") ORDER BY "+b.keyCmp, arg)
		if err != nil {
			return err
		}
		defer rows.Close()
		n := len(b.cols) - 1
		for rows.Next() {
			// Every column is text, whose binary form is its bytes.
			raw := rows.RawValues()
			k, err := b.parseKey(string(raw[0]))
			if err != nil {
				return err
			}
			r := row{key: k, vals: make([]value, n)}
			for i := range n {
				if v := raw[i+1]; v != nil {
					r.vals[i] = value{s: string(v), ok: true}
				}
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

package verify

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// kind is how a compared column is normalised before hashing. Both sides
// of a column pair use the same kind, so that equal data gives equal
// canonical text whatever the engine: PostgreSQL builds the text in SQL,
// SQLite in Go (canonValue), and the tests hold the two to the same output.
type kind byte

const (
	kindAuto  kind = 'a' // SQLite expression of unknown type: by storage class
	kindInt   kind = 'i' // integers: decimal text
	kindNum   kind = 'n' // decimals and floats: rounded to FloatPrecision places
	kindFloat kind = 'f' // binary floats on both sides: x·10^places, rounded in float64 (floatScale)
	kindBool  kind = 'b' // "1" or "0"
	kindTime  kind = 't' // microseconds since 1970 UTC, floored to TimePrecision
	kindDate  kind = 'd' // YYYY-MM-DD
	kindUUID  kind = 'u' // lowercase, trimmed
	kindBytes kind = 'x' // lowercase hex
	kindText  kind = 's' // text as it is
)

func (k kind) String() string {
	switch k {
	case kindAuto:
		return "auto"
	case kindInt:
		return "integer"
	case kindNum:
		return "number"
	case kindFloat:
		return "float"
	case kindBool:
		return "boolean"
	case kindTime:
		return "timestamp"
	case kindDate:
		return "date"
	case kindUUID:
		return "uuid"
	case kindBytes:
		return "bytes"
	case kindText:
		return "text"
	}
	return "kind(" + string(rune(k)) + ")"
}

// mergeKinds decides the kind of a column pair from the kinds each side's
// type suggests. A PostgreSQL side's kind wins over a SQLite side's (its
// SQL can only produce the canonical text of its own type; SQLite's Go
// function can convert anything); between equals, the wider kind wins.
func mergeKinds(a kind, aPG bool, b kind, bPG bool) kind {
	switch {
	case a == b:
		return a
	case a == kindAuto:
		return b
	case b == kindAuto:
		return a
	case aPG && !bPG:
		return a
	case bPG && !aPG:
		return b
	}
	pair := func(x, y kind) bool { return (a == x && b == y) || (a == y && b == x) }
	switch {
	case pair(kindInt, kindNum), pair(kindFloat, kindNum), pair(kindFloat, kindInt):
		return kindNum // decimal rounding, exact for decimals
	case pair(kindInt, kindBool):
		return kindBool
	case pair(kindDate, kindTime):
		return kindTime
	case pair(kindUUID, kindText):
		return kindUUID
	case pair(kindTime, kindText), pair(kindDate, kindText), pair(kindBytes, kindText), pair(kindNum, kindText), pair(kindFloat, kindText), pair(kindInt, kindText):
		if aPG {
			return kindText
		}
		// SQLite keeps most values as text; the typed side says what they mean.
		if a == kindText {
			return b
		}
		return a
	}
	return kindText
}

// sqliteKind maps a SQLite declared column type to a kind, following
// SQLite's affinity rules, refined by common type names.
func sqliteKind(decl string) kind {
	t := strings.ToUpper(decl)
	switch {
	case t == "":
		return kindAuto
	case strings.Contains(t, "BOOL"):
		return kindBool
	case strings.Contains(t, "TIMESTAMP"), strings.Contains(t, "DATETIME"):
		return kindTime
	case strings.Contains(t, "DATE"):
		return kindDate
	case strings.Contains(t, "UUID"):
		return kindUUID
	case strings.Contains(t, "INT"):
		return kindInt
	case strings.Contains(t, "CHAR"), strings.Contains(t, "CLOB"), strings.Contains(t, "TEXT"), strings.Contains(t, "JSON"):
		return kindText
	case strings.Contains(t, "BLOB"):
		return kindBytes
	case strings.Contains(t, "REAL"), strings.Contains(t, "FLOA"), strings.Contains(t, "DOUB"):
		return kindFloat
	case strings.Contains(t, "DEC"), strings.Contains(t, "NUM"):
		return kindNum
	}
	return kindAuto
}

// normalizer holds the declared precisions and the row hash.
type normalizer struct {
	places int   // decimal places of numbers
	micros int64 // time precision in microseconds, >= 1
	// lookup3 hashes rows with pgHash (PostgreSQL's hashtextextended)
	// instead of md5.
	lookup3 bool
}

// canonValue is the canonical text of v, a value as SQLite hands it over
// (nil, int64, float64, string or []byte), for a column of kind k. ok is
// false for NULL. It must agree with the PostgreSQL expression pgCanon
// builds for the same kind.
func (n normalizer) canonValue(k kind, v any) (s string, ok bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case int64:
		switch k {
		case kindNum:
			return roundDecimal(strconv.FormatInt(x, 10), n.places), true
		case kindFloat:
			return string(n.appendFloat(nil, float64(x))), true
		case kindTime:
			return n.canonTime(time.Unix(x, 0)), true
		case kindDate:
			return time.Unix(x, 0).UTC().Format(time.DateOnly), true
		case kindAuto, kindBytes:
			if k == kindBytes {
				return hex.EncodeToString([]byte(strconv.FormatInt(x, 10))), true
			}
		}
		return strconv.FormatInt(x, 10), true
	case float64:
		switch k {
		case kindInt, kindBool:
			if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
				return strconv.FormatInt(int64(x), 10), true
			}
			return n.canonFloat(x), true
		case kindTime:
			sec, frac := math.Modf(x)
			return n.canonTime(time.Unix(int64(sec), int64(math.Round(frac*1e9)))), true
		case kindText:
			return strconv.FormatFloat(x, 'g', -1, 64), true
		case kindFloat:
			return string(n.appendFloat(nil, x)), true
		}
		return n.canonFloat(x), true
	case []byte:
		if k == kindBytes || k == kindAuto {
			return hex.EncodeToString(x), true
		}
		if k == kindUUID && len(x) == 16 {
			return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16]), true
		}
		return n.canonValue(k, string(x))
	case string:
		switch k {
		case kindInt:
			if i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
				return strconv.FormatInt(i, 10), true
			}
		case kindNum:
			if isDecimal(strings.TrimSpace(x)) {
				return roundDecimal(strings.TrimSpace(x), n.places), true
			}
		case kindFloat:
			if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
				return string(n.appendFloat(nil, f)), true
			}
		case kindBool:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "1", "t", "true", "y", "yes", "on":
				return "1", true
			case "0", "f", "false", "n", "no", "off":
				return "0", true
			}
		case kindTime:
			if t, ok := parseTime(x); ok {
				return n.canonTime(t), true
			}
		case kindDate:
			if t, ok := parseTime(x); ok {
				return t.UTC().Format(time.DateOnly), true
			}
		case kindUUID:
			return strings.ToLower(strings.TrimSpace(x)), true
		case kindBytes:
			return hex.EncodeToString([]byte(x)), true
		}
		return x, true
	case bool:
		if x {
			return "1", true
		}
		return "0", true
	case time.Time:
		if k == kindDate {
			return x.UTC().Format(time.DateOnly), true
		}
		return n.canonTime(x), true
	}
	return fmt.Sprint(v), true
}

// canonFloat rounds f the way PostgreSQL's round(f::numeric, places) does:
// float8 becomes numeric through 15 significant digits (%.15g), which is
// then rounded half away from zero.
func (n normalizer) canonFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return roundDecimal(strconv.FormatFloat(f, 'e', 14, 64), n.places)
}

// floatScale gives the arithmetic of kindFloat: a float x with
// |x| < limit is x·scale rounded half to even, in float64 (exact: no
// decimal text, the same on both sides because both hold the same double
// and PostgreSQL's float8 arithmetic is IEEE's); limit keeps the result
// within 2^53, where integers are exact. Other floats (and NaN, ±Inf) take
// canonFloat's decimal rounding. PostgreSQL is given scale and limit as
// literals that parse back to the same doubles (pgCanon).
func (n normalizer) floatScale() (scale, limit float64) {
	scale = math.Pow10(n.places)
	return scale, 1 << 53 / scale
}

// appendFloat appends the canonical text of f for kindFloat: the integer
// x·10^places, or canonFloat's decimal text (which holds a '.', or is NaN
// or ±Infinity, so the two never meet).
func (n normalizer) appendFloat(dst []byte, f float64) []byte {
	scale, limit := n.floatScale()
	if math.Abs(f) < limit {
		return strconv.AppendInt(dst, int64(math.RoundToEven(f*scale)), 10)
	}
	return append(dst, n.canonFloat(f)...)
}

// showFloat is how a kindFloat canonical text is shown in a difference:
// the scaled integer as a decimal again (33333 with 2 places: 333.33).
func (n normalizer) showFloat(s string) string {
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil || i == math.MinInt64 {
		return s // decimal text already
	}
	neg := i < 0
	digits := strconv.FormatInt(max(i, -i), 10)
	if len(digits) <= n.places {
		digits = strings.Repeat("0", n.places-len(digits)+1) + digits
	}
	out := digits[:len(digits)-n.places] + "." + digits[len(digits)-n.places:]
	if neg {
		out = "-" + out
	}
	return out
}

// canonTime is t in microseconds since 1970 UTC, floored to the precision.
func (n normalizer) canonTime(t time.Time) string {
	return strconv.FormatInt(n.timeMicros(t), 10)
}

// timeMicros is t in microseconds since 1970 UTC, floored to the precision.
func (n normalizer) timeMicros(t time.Time) int64 {
	us := t.UnixMicro()
	if n.micros > 1 {
		q := us / n.micros
		if us%n.micros != 0 && us < 0 {
			q--
		}
		us = q * n.micros
	}
	return us
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999-07",
	"2006-01-02T15:04:05.999999999-07",
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	time.DateOnly,
}

// parseTime reads the text forms of timestamps found in SQLite databases.
// A time without an offset is UTC.
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if t, ok := parseISOTime(s); ok {
		return t, true
	}
	if i := strings.Index(s, " m="); i > 0 { // time.Time.String's monotonic reading
		s = s[:i]
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseISOTime is a fast path of parseTime for the usual form,
// YYYY-MM-DD[( |T)HH:MM[:SS[.fraction]]][Z|±HH[:MM]|±HHMM], without the
// cost of trying layouts one after another.
func parseISOTime(s string) (time.Time, bool) {
	num := func(from, n int) (int, bool) {
		if from+n > len(s) {
			return 0, false
		}
		v := 0
		for i := from; i < from+n; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > 31 {
		return time.Time{}, false
	}
	var hour, minute, sec, nsec int
	i := 10
	if i < len(s) && (s[i] == ' ' || s[i] == 'T') && i+6 <= len(s) && s[i+3] == ':' {
		var ok bool
		if hour, ok = num(i+1, 2); !ok || hour > 23 {
			return time.Time{}, false
		}
		if minute, ok = num(i+4, 2); !ok || minute > 59 {
			return time.Time{}, false
		}
		i += 6
		if i < len(s) && s[i] == ':' {
			if sec, ok = num(i+1, 2); !ok || sec > 59 {
				return time.Time{}, false
			}
			i += 3
			if i < len(s) && s[i] == '.' {
				i++
				digits := 0
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					if digits < 9 {
						nsec = nsec*10 + int(s[i]-'0')
						digits++
					}
					i++
				}
				if digits == 0 {
					return time.Time{}, false
				}
				for ; digits < 9; digits++ {
					nsec *= 10
				}
			}
		}
	}
	offset := 0
	rest := s[i:]
	if strings.HasPrefix(rest, " ") && len(rest) > 1 && (rest[1] == '+' || rest[1] == '-') {
		rest = rest[1:]
	}
	switch {
	case rest == "":
	case rest == "Z" || rest == "z":
	case rest[0] == '+' || rest[0] == '-':
		sign := 1
		if rest[0] == '-' {
			sign = -1
		}
		z := strings.ReplaceAll(rest[1:], ":", "")
		if len(z) != 2 && len(z) != 4 {
			return time.Time{}, false
		}
		h, ok := 0, true
		m := 0
		for j := 0; j < len(z); j++ {
			if z[j] < '0' || z[j] > '9' {
				ok = false
			}
		}
		if !ok {
			return time.Time{}, false
		}
		h = int(z[0]-'0')*10 + int(z[1]-'0')
		if len(z) == 4 {
			m = int(z[2]-'0')*10 + int(z[3]-'0')
		}
		offset = sign * (h*3600 + m*60)
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day {
		return time.Time{}, false // February 30th
	}
	return t.Add(-time.Duration(offset) * time.Second), true
}

// isDecimal reports whether s is a number roundDecimal can read:
// [+-]digits[.digits][e[+-]digits].
func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	if s[0] == '+' || s[0] == '-' {
		i++
	}
	digits := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// roundDecimal rounds the decimal number s (as accepted by isDecimal) half
// away from zero to places decimal places and formats it with exactly that
// many, like PostgreSQL's round(numeric, places)::text. Zero has no sign.
func roundDecimal(s string, places int) string {
	return string(appendRoundDecimal(nil, s, places))
}

// appendRoundDecimal appends roundDecimal(s, places) to dst. It does not
// allocate for numbers of up to 64 digits (every float, and the usual
// decimal), which keeps the checksum's per-row work off the heap.
func appendRoundDecimal[S string | []byte](dst []byte, s S, places int) []byte {
	whole := s
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	exp := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 'e' || s[i] == 'E' {
			e, ok := atoi(s[i+1:])
			if !ok {
				return append(dst, whole...)
			}
			exp = e
			s = s[:i]
			break
		}
	}
	var arr [64]byte
	digs := arr[:0]
	point := -1 // digits before the decimal point
	for i := 0; i < len(s); i++ {
		if s[i] == '.' && point < 0 {
			point = len(digs)
			continue
		}
		digs = append(digs, s[i])
	}
	if point < 0 {
		point = len(digs)
	}
	point += exp
	// Drop leading zeros.
	for len(digs) > 0 && digs[0] == '0' {
		digs = digs[1:]
		point--
	}
	keep := point + places
	switch {
	case keep < 0:
		digs = nil
	case keep < len(digs):
		up := digs[keep] >= '5'
		digs = digs[:keep]
		if up {
			i := len(digs) - 1
			for ; i >= 0; i-- {
				if digs[i] == '9' {
					digs[i] = '0'
					continue
				}
				digs[i]++
				break
			}
			if i < 0 {
				// Every digit carried: 99.9 became 00.0, which is 100.0,
				// one more digit before the point.
				if len(digs) == 0 {
					digs = append(digs, '1')
				} else {
					digs[0] = '1'
					digs = append(digs, '0')
				}
				point++
			}
		}
	}
	zero := true
	for _, d := range digs {
		if d != '0' {
			zero = false
			break
		}
	}
	if neg && !zero {
		dst = append(dst, '-')
	}
	digit := func(i int) byte { // the digit at position i from the start, 0-padded
		if i >= 0 && i < len(digs) {
			return digs[i]
		}
		return '0'
	}
	if point <= 0 {
		dst = append(dst, '0')
	} else {
		for i := 0; i < point; i++ {
			dst = append(dst, digit(i))
		}
	}
	if places > 0 {
		dst = append(dst, '.')
		for i := point; i < point+places; i++ {
			dst = append(dst, digit(i))
		}
	}
	return dst
}

// maxExponent bounds the exponent of a decimal's text, as PostgreSQL's
// numeric input does (NUMERIC_MAX_PRECISION): a larger one is no number
// PostgreSQL holds, and would expand to as many digits.
const maxExponent = 1000

// atoi is strconv.Atoi for an exponent of at most maxExponent, without
// converting s to a string.
func atoi[S string | []byte](s S) (int, bool) {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) == 0 {
		return 0, false
	}
	for len(s) > 1 && s[0] == '0' {
		s = s[1:] // "e0000000001" is e1
	}
	if len(s) > 4 {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	if v > maxExponent {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// appendCanon appends the canonical text of v for a column of kind k to
// dst, quoted as appendQuoteNullable quotes it: exactly
// appendQuoteNullable(dst, n.canonValue(k, v)). It is the per-row path of
// the SQLite checksum, so the values it meets most (integers, floats,
// decimal and timestamp text, text) are written straight into dst without
// an allocation; the rest go through canonValue.
func (n normalizer) appendCanon(dst []byte, k kind, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "NULL"...)
	case int64:
		switch k {
		case kindNum:
			var buf [24]byte
			dst = append(dst, '\'')
			return append(appendRoundDecimal(dst, strconv.AppendInt(buf[:0], x, 10), n.places), '\'')
		case kindFloat:
			return append(n.appendFloat(append(dst, '\''), float64(x)), '\'')
		case kindTime, kindDate, kindBytes:
		default:
			dst = append(dst, '\'')
			return append(strconv.AppendInt(dst, x, 10), '\'')
		}
	case float64:
		switch k {
		case kindInt, kindBool, kindTime, kindText:
		case kindFloat:
			return append(n.appendFloat(append(dst, '\''), x), '\'')
		default:
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				var buf [32]byte
				dst = append(dst, '\'')
				return append(appendRoundDecimal(dst, strconv.AppendFloat(buf[:0], x, 'e', 14, 64), n.places), '\'')
			}
		}
	case string:
		switch k {
		case kindNum:
			if t := strings.TrimSpace(x); isDecimal(t) {
				dst = append(dst, '\'')
				return append(appendRoundDecimal(dst, t, n.places), '\'')
			}
		case kindTime:
			if t, ok := parseTime(x); ok {
				dst = append(dst, '\'')
				return append(strconv.AppendInt(dst, n.timeMicros(t), 10), '\'')
			}
		case kindText, kindAuto:
			return appendQuoteNullable(dst, x, true)
		}
	}
	s, ok := n.canonValue(k, v)
	return appendQuoteNullable(dst, s, ok)
}

// appendKey appends the quoted canonical text of a key value as SQLite
// returns it: appendQuoteNullable(dst, keyText(v)).
func appendKey(dst []byte, v any) []byte {
	switch x := v.(type) {
	case int64:
		dst = append(dst, '\'')
		return append(strconv.AppendInt(dst, x, 10), '\'')
	case string:
		return appendQuoteNullable(dst, x, true)
	}
	s, ok := keyText(v)
	return appendQuoteNullable(dst, s, ok)
}

// rowHasher builds the text PostgreSQL hashes for a row,
// concat_ws(',', quote_nullable(key), quote_nullable(c1), ...), and hashes it
// the same way: with hashtextextended(text, 0) when lookup3 is set, else
// the first 8 bytes of its md5 as a big-endian int64.
type rowHasher struct {
	buf     []byte
	lookup3 bool
}

// sum is the row's hash.
func (h *rowHasher) sum() uint64 {
	if h.lookup3 {
		return pgHash(h.buf)
	}
	d := md5.Sum(h.buf)
	return binary.BigEndian.Uint64(d[:8])
}

// appendQuoteNullable is PostgreSQL's quote_nullable: NULL unquoted, other
// values in single quotes with ' and \ doubled, and an E prefix when there
// is a backslash. It makes the row text unambiguous: NULL differs from
// 'NULL' and from ”.
func appendQuoteNullable(b []byte, s string, ok bool) []byte {
	if !ok {
		return append(b, "NULL"...)
	}
	if strings.IndexByte(s, '\\') >= 0 {
		b = append(b, 'E')
	}
	b = append(b, '\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\'' || c == '\\' {
			b = append(b, c)
		}
		b = append(b, c)
	}
	return append(b, '\'')
}

// appendRaw appends v, a value as SQLite hands it over, as it is stored:
// its storage class and its bytes, lengths before strings, so that the
// row's bytes name one row. Two raw-equal values are one value, so their
// canonical texts are equal too, whatever the kind.
func appendRaw(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, 'n')
	case int64:
		return binary.LittleEndian.AppendUint64(append(dst, 'i'), uint64(x))
	case float64:
		return binary.LittleEndian.AppendUint64(append(dst, 'f'), math.Float64bits(x))
	case string:
		return append(binary.AppendUvarint(append(dst, 's'), uint64(len(x))), x...)
	case []byte:
		return append(binary.AppendUvarint(append(dst, 'b'), uint64(len(x))), x...)
	}
	s := fmt.Sprintf("%T %v", v, v) // not handed over by SQLite
	return append(binary.AppendUvarint(append(dst, 'o'), uint64(len(s))), s...)
}

// keyText is the canonical text of a key value as SQLite returns it.
func keyText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return fmt.Sprint(v), true
}

// checkTimePrecision validates a time precision and returns it in
// microseconds.
func checkTimePrecision(d time.Duration) (int64, error) {
	if d == 0 {
		return 1, nil
	}
	if d < time.Microsecond || d%time.Microsecond != 0 {
		return 0, fmt.Errorf("verify: time precision %v is not a whole number of microseconds (PostgreSQL keeps microseconds): use 1µs, 1ms, 1s or another multiple of 1µs", d)
	}
	return int64(d / time.Microsecond), nil
}

package verify

import (
	"database/sql/driver"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRoundDecimal(t *testing.T) {
	for _, c := range []struct {
		in     string
		places int
		want   string
	}{
		{"0", 2, "0.00"},
		{"1.5", 3, "1.500"},
		{"1.005", 2, "1.01"}, // half away from zero
		{"-1.005", 2, "-1.01"},
		{"-0.0001", 2, "0.00"}, // no negative zero
		{"999.995", 2, "1000.00"},
		{"1.23456789012346e+20", 2, "123456789012346000000.00"},
		{"1e-05", 9, "0.000010000"},
		{"5e-10", 9, "0.000000001"},
		{"4.9e-10", 9, "0.000000000"},
		{"123", 1, "123.0"},
		{"0.000", 3, "0.000"},
		{"+7.25", 1, "7.3"},
		// Exponent fields as strconv.Atoi and PostgreSQL's numeric read
		// them, leading zeros included; beyond PostgreSQL's ±1000 the text
		// is kept as it is, sign and all, not expanded.
		{"1e0000000001", 9, "10.000000000"},
		{"1.5e-0000000003", 9, "0.001500000"},
		{"-1E+0002", 0, "-100"},
		{"1e1000", 0, "1" + strings.Repeat("0", 1000)},
		{"1e1001", 2, "1e1001"},
		{"-1e999999999", 2, "-1e999999999"},
	} {
		if got := roundDecimal(c.in, c.places); got != c.want {
			t.Errorf("roundDecimal(%q, %d) = %q, want %q", c.in, c.places, got, c.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	want := time.Date(2024, 5, 1, 10, 0, 0, 123456000, time.UTC)
	for _, s := range []string{
		"2024-05-01 10:00:00.123456",
		"2024-05-01T10:00:00.123456Z",
		"2024-05-01 12:00:00.123456+02:00",
		"2024-05-01 12:00:00.123456+02",
		"2024-05-01T08:30:00.123456-0130",
		"2024-05-01 10:00:00.123456 +0000 UTC",
		"2024-05-01 10:00:00.123456789 +0000 UTC m=+0.000000001",
		" 2024-05-01 10:00:00.123456 ",
	} {
		got, ok := parseTime(s)
		if !ok || !got.Truncate(time.Microsecond).Equal(want) {
			t.Errorf("parseTime(%q) = %v, %v", s, got, ok)
		}
	}
	if got, ok := parseTime("2024-05-01"); !ok || !got.Equal(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date only: %v %v", got, ok)
	}
	for _, s := range []string{"2024-02-30", "yesterday", "2024-05-01 25:00", "2024-05-01 10:00:00.+01"} {
		if _, ok := parseTime(s); ok {
			t.Errorf("parseTime(%q) accepted", s)
		}
	}
}

func TestQuoteNullable(t *testing.T) {
	for _, c := range []struct {
		s    string
		ok   bool
		want string
	}{
		{"", false, "NULL"},
		{"NULL", true, "'NULL'"},
		{"", true, "''"},
		{"it's", true, "'it''s'"},
		{`a\b`, true, `E'a\\b'`},
	} {
		if got := string(appendQuoteNullable(nil, c.s, c.ok)); got != c.want {
			t.Errorf("quote(%q, %v) = %s, want %s", c.s, c.ok, got, c.want)
		}
	}
}

func TestCanonTime(t *testing.T) {
	n := normalizer{places: 9, micros: 1000}
	before := time.Date(1969, 12, 31, 23, 59, 59, 999500000, time.UTC)
	if got := n.canonTime(before); got != "-1000" {
		t.Errorf("floored before 1970: %s, want -1000", got)
	}
	if got := n.canonTime(time.Unix(1, 1999000)); got != "1001000" {
		t.Errorf("%s", got)
	}
}

// BenchmarkChecksumStep is the SQLite checksum's work for one row of
// BenchmarkVerify's table, arguments as the driver hands them over.
func BenchmarkChecksumStep(b *testing.B) {
	n := normalizer{places: 9, micros: 1, lookup3: true}
	a := &checksumAgg{}
	args := []driver.Value{specString(n, []kind{kindText, kindFloat, kindNum, kindTime, kindBool}, canonical), int64(12345),
		"0cc175b9c0f1b6a831c399e269772661", 4115.333333333333, 4115.25, "2024-01-01 01:08:39.345", int64(1)}
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Step(nil, args); err != nil {
			b.Fatal(err)
		}
	}
}

// reset and add build a row's text from canonValue's strings, as the
// checksum did before appendCanon: BenchmarkCanonValue measures that path.
func (h *rowHasher) reset() { h.buf = h.buf[:0] }

// add appends one canonical value (ok false for NULL).
func (h *rowHasher) add(s string, ok bool) {
	if len(h.buf) > 0 {
		h.buf = append(h.buf, ',')
	}
	h.buf = appendQuoteNullable(h.buf, s, ok)
}

func BenchmarkCanonValue(b *testing.B) {
	n := normalizer{places: 9, micros: 1}
	var h rowHasher
	b.ReportAllocs()
	for b.Loop() {
		h.reset()
		h.add(keyText(int64(12345)))
		h.add(n.canonValue(kindText, "0cc175b9c0f1b6a831c399e269772661"))
		h.add(n.canonValue(kindNum, 4115.333333333333))
		h.add(n.canonValue(kindNum, 4115.25))
		h.add(n.canonValue(kindTime, "2024-01-01 01:08:39.345"))
		h.add(n.canonValue(kindBool, int64(1)))
		_ = h.sum()
	}
}

// TestAppendCanon holds the checksum's allocation-free path to canonValue
// and appendQuoteNullable, which the rest of the package (and the
// PostgreSQL comparison) uses, for every kind and storage class.
func TestAppendCanon(t *testing.T) {
	vals := []any{nil, int64(0), int64(-7), int64(1704067200), int64(math.MaxInt64), int64(math.MinInt64),
		0.0, math.Copysign(0, -1), 1.5, -2.5, 4115.333333333333, 1e-10, 5e-10, 1e20, 1e300, -1e-300, math.NaN(), math.Inf(1), math.Inf(-1), 3.0,
		"", "NULL", "it's", `a\\b`, "12.345", " -0.0005 ", "1e5", "1.5e-3", "abc", "2024-01-01 01:08:39.345", "2024-05-01T10:00:00Z", "t", "0",
		"999.9999999999", "-999.9999999999", "0.00000000049", "123456789012345678901234567890123456789012345678901234567890123456789.5",
		[]byte("xyz"), []byte{}, true, false, time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC)}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		f := (rng.Float64() - 0.5) * math.Pow(10, float64(rng.IntN(30)-15))
		vals = append(vals, f, strconv.FormatFloat(f, 'f', -1, 64), rng.Int64N(1<<40)-1<<39)
	}
	kinds := []kind{kindAuto, kindInt, kindNum, kindFloat, kindBool, kindTime, kindDate, kindUUID, kindBytes, kindText}
	for _, places := range []int{0, 2, 9} {
		n := normalizer{places: places, micros: 1000}
		for _, k := range kinds {
			for _, v := range vals {
				s, ok := n.canonValue(k, v)
				want := string(appendQuoteNullable([]byte("x,"), s, ok))
				if got := string(n.appendCanon([]byte("x,"), k, v)); got != want {
					t.Errorf("%v %d places, %#v: appendCanon %s, canonValue %s", k, places, v, got, want)
				}
			}
		}
	}
	for _, v := range []any{nil, int64(-3), 2.5, "k'1", []byte("b")} {
		s, ok := keyText(v)
		if got, want := string(appendKey(nil, v)), string(appendQuoteNullable(nil, s, ok)); got != want {
			t.Errorf("key %#v: %s, want %s", v, got, want)
		}
	}
}

// TestChecksumStepAllocs keeps the SQLite checksum's per-row work off the
// heap for the usual values (the driver's own boxing of the arguments is
// outside it).
func TestChecksumStepAllocs(t *testing.T) {
	n := normalizer{places: 9, micros: 1, lookup3: true}
	a := &checksumAgg{}
	args := []driver.Value{specString(n, []kind{kindText, kindFloat, kindNum, kindTime, kindBool}, canonical), int64(12345),
		"0cc175b9c0f1b6a831c399e269772661", 4115.333333333333, "4115.25", "2024-01-01 01:08:39.345", int64(1)}
	if err := a.Step(nil, args); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(1000, func() { _ = a.Step(nil, args) }); allocs != 0 {
		t.Errorf("Step allocates %v times a row, want 0", allocs)
	}
}

// TestShowFloat: a kindFloat value is shown as the decimal it stands for.
func TestShowFloat(t *testing.T) {
	n := normalizer{places: 2}
	for in, want := range map[string]string{"33333": "333.33", "-5": "-0.05", "0": "0.00", "100": "1.00", "-123456": "-1234.56",
		"NaN": "NaN", "1e+300": "1e+300", "12.50": "12.50"} {
		if got := n.showFloat(in); got != want {
			t.Errorf("showFloat(%q) = %q, want %q", in, got, want)
		}
	}
	for _, f := range []float64{0.1, -2.675, 1234.5678, 1e-3} {
		if got, want := n.showFloat(string(n.appendFloat(nil, f))), strconv.FormatFloat(math.RoundToEven(f*100)/100, 'f', 2, 64); got != want {
			t.Errorf("%v shown as %q, want %q", f, got, want)
		}
	}
}

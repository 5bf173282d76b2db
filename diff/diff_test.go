package diff

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// strs renders differences as "path: old != new", one per element.
func strs(diffs []Difference) []string {
	out := make([]string, len(diffs))
	for i, d := range diffs {
		out[i] = d.String()
	}
	return out
}

// mirror swaps the sides of diffs: what Diff(b, a) must return.
func mirror(diffs []Difference) []Difference {
	out := make([]Difference, len(diffs))
	for i, d := range diffs {
		out[i] = Difference{Path: d.Path, Old: d.New, New: d.Old}
	}
	return out
}

type point struct{ X, Y int }

type inner struct {
	n    int
	when time.Time
	tags []string
}

type outer struct {
	Name string
	in   inner // held by value, unexported
}

type node struct {
	V    int
	Next *node
}

type husband struct {
	Name string
	Wife *wife
}

type wife struct {
	Name    string
	Husband *husband
}

type caseless string

type stamp time.Time

type account struct {
	ID    int
	email caseless // unexported, with a custom equality
}

type holder struct{ V any }

// ring returns a circular list holding vs.
func ring(vs ...int) *node {
	first := &node{V: vs[0]}
	last := first
	for _, v := range vs[1:] {
		last.Next = &node{V: v}
		last = last.Next
	}
	last.Next = first
	return first
}

func couple(h, w string) *husband {
	hb := &husband{Name: h}
	hb.Wife = &wife{Name: w, Husband: hb}
	return hb
}

func TestDiff(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 500, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600)
	}
	ch1, ch2 := make(chan int), make(chan int)
	fn := func() {}
	one := 1
	shared := []int{1}
	now := time.Now() // with a monotonic clock reading
	nan := math.NaN()

	tests := []struct {
		name string
		a, b any
		opts Options
		want []string // nil: equal
	}{
		// Leaves.
		{name: "bool equal", a: true, b: true},
		{name: "bool", a: true, b: false, want: []string{"(root): true != false"}},
		{name: "int", a: 1, b: 2, want: []string{"(root): 1 != 2"}},
		{name: "int8", a: int8(-1), b: int8(1), want: []string{"(root): -1 != 1"}},
		{name: "int kinds differ", a: 1, b: int64(1), want: []string{"(root): 1 != 1"}},
		{name: "uint", a: uint(1), b: uint(2), want: []string{"(root): 1 != 2"}},
		{name: "uint64 max", a: uint64(math.MaxUint64), b: uint64(math.MaxUint64)},
		{name: "uintptr", a: uintptr(1), b: uintptr(3), want: []string{"(root): 1 != 3"}},
		{name: "duration", a: time.Second, b: 2 * time.Second, want: []string{"(root): 1s != 2s"}},
		{name: "float", a: 1.5, b: 1.25, want: []string{"(root): 1.5 != 1.25"}},
		{name: "float32", a: float32(0.1), b: float32(0.2), want: []string{"(root): 0.1 != 0.2"}},
		{name: "NaN equals NaN", a: nan, b: nan},
		{name: "NaN vs number", a: nan, b: 1.0, want: []string{"(root): NaN != 1"}},
		{name: "signed zeros", a: 0.0, b: math.Copysign(0, -1)},
		{name: "infinities", a: math.Inf(1), b: math.Inf(-1), want: []string{"(root): +Inf != -Inf"}},
		{name: "tolerance within", a: 1.0, b: 1.005, opts: Options{FloatTolerance: 0.01}},
		{name: "tolerance beyond", a: 1.0, b: 1.02, opts: Options{FloatTolerance: 0.01}, want: []string{"(root): 1 != 1.02"}},
		{name: "tolerance in struct", a: LineItem{Discount: 0.1}, b: LineItem{Discount: 0.1 + 1e-12}, opts: Options{FloatTolerance: 1e-9}},
		{name: "tolerance NaN", a: nan, b: 1.0, opts: Options{FloatTolerance: math.Inf(1)}, want: []string{"(root): NaN != 1"}},
		{name: "complex", a: complex(1, 2), b: complex(1, 3), want: []string{"(root): (1+2i) != (1+3i)"}},
		{name: "complex NaN", a: complex(nan, 1), b: complex(nan, 1)},
		{name: "complex64 tolerance", a: complex64(complex(1, 1)), b: complex64(complex(1, 1.001)), opts: Options{FloatTolerance: 0.01}},
		{name: "string", a: "a", b: "b", want: []string{`(root): "a" != "b"`}},
		{name: "string quoting", a: "tab\there", b: `quote"`, want: []string{`(root): "tab\there" != "quote\""`}},
		{name: "nil vs nil", a: nil, b: nil},
		{name: "nil vs value", a: nil, b: 1, want: []string{"(root): nil != 1"}},

		// Structs.
		{name: "struct", a: point{1, 2}, b: point{1, 3}, want: []string{".Y: 2 != 3"}},
		{name: "struct both fields", a: point{1, 2}, b: point{3, 4}, want: []string{".X: 1 != 3", ".Y: 2 != 4"}},
		{name: "empty struct", a: struct{}{}, b: struct{}{}},
		{
			name: "unexported nested",
			a:    outer{Name: "x", in: inner{n: 1, when: t0, tags: []string{"a"}}},
			b:    outer{Name: "x", in: inner{n: 2, when: t0.Add(time.Second), tags: []string{"b"}}},
			want: []string{
				".in.n: 1 != 2",
				".in.when: 2026-03-01T12:00:00.0000005Z != 2026-03-01T12:00:01.0000005Z",
				`.in.tags[0]: "a" != "b"`,
			},
		},
		{
			// Map values and interface contents are not addressable: the
			// unexported time is read from its fields.
			name: "unexported time in map value",
			a:    map[string]outer{"k": {in: inner{when: t0}}},
			b:    map[string]outer{"k": {in: inner{when: t0.In(berlin)}}},
		},
		{
			name: "unexported time in map value differs",
			a:    map[string]outer{"k": {in: inner{when: t0}}},
			b:    map[string]outer{"k": {in: inner{when: t0.Add(time.Nanosecond)}}},
			want: []string{`["k"].in.when: 2026-03-01T12:00:00.0000005Z != 2026-03-01T12:00:00.000000501Z`},
		},
		{
			name: "unexported time in interface",
			a:    []any{outer{in: inner{when: t0}}},
			b:    []any{outer{in: inner{when: t0.In(berlin)}}},
		},
		{
			name: "unexported time in interface differs",
			a:    []any{outer{in: inner{when: t0}}},
			b:    []any{outer{in: inner{when: t0.Add(-time.Hour).In(time.FixedZone("X", -3600))}}},
			want: []string{"[0].in.when: 2026-03-01T12:00:00.0000005Z != 2026-03-01T10:00:00.0000005-01:00"},
		},
		{name: "struct formatted", a: []point{{1, 2}}, b: []point{}, want: []string{"[0]: diff.point{X:1, Y:2} != <missing>"}},

		// Pointers.
		{name: "pointers to equal", a: &point{1, 2}, b: &point{1, 2}},
		{name: "pointer nil vs non-nil", a: (*int)(nil), b: &one, want: []string{"(root): nil != &1"}},
		{name: "pointer field", a: &Order{Shipping: &Address{City: "A"}}, b: &Order{Shipping: &Address{City: "B"}}, want: []string{`.Shipping.City: "A" != "B"`}},
		{name: "self-referencing list", a: ring(1), b: ring(1)},
		{name: "rings of different periods", a: ring(1), b: ring(1, 1, 1)},
		{name: "rings differ", a: ring(1, 2), b: ring(1, 3), want: []string{".Next.V: 2 != 3"}},
		{name: "mutual references", a: couple("h", "w"), b: couple("h", "w")},
		{name: "mutual references differ", a: couple("h", "w"), b: couple("h", "v"), want: []string{`.Wife.Name: "w" != "v"`}},

		// Maps.
		{
			name: "map string keys",
			a:    map[string]int{"a": 1, "b": 2, "d": 4},
			b:    map[string]int{"a": 1, "c": 3, "d": 5},
			want: []string{`["b"]: 2 != <missing>`, `["c"]: <missing> != 3`, `["d"]: 4 != 5`},
		},
		{name: "map int keys", a: map[int]string{1: "x", 10: "y", 2: "z"}, b: map[int]string{1: "x", 10: "Y", 2: "Z"}, want: []string{`[2]: "z" != "Z"`, `[10]: "y" != "Y"`}},
		{name: "map struct keys", a: map[point]int{{1, 2}: 1}, b: map[point]int{{1, 2}: 2}, want: []string{"[diff.point{X:1, Y:2}]: 1 != 2"}},
		{name: "map nil vs empty", a: map[string]int(nil), b: map[string]int{}},
		{name: "map quoted key", a: map[string]int{`a"]b`: 1}, b: map[string]int{`a"]b`: 2}, want: []string{`["a\"]b"]: 1 != 2`}},
		{name: "map in struct", a: struct{ Tags map[string]string }{map[string]string{"tier": "gold"}}, b: struct{ Tags map[string]string }{}, want: []string{`.Tags["tier"]: "gold" != <missing>`}},

		// Slices and arrays.
		{name: "slice", a: []int{1, 2, 3}, b: []int{1, 5, 3}, want: []string{"[1]: 2 != 5"}},
		{name: "slice longer", a: []int{1, 2, 3, 4}, b: []int{1, 2}, want: []string{"[2]: 3 != <missing>", "[3]: 4 != <missing>"}},
		{name: "slice shorter", a: []string{}, b: []string{"x"}, want: []string{`[0]: <missing> != "x"`}},
		{name: "slice nil vs empty", a: []int(nil), b: []int{}},
		{
			name: "empty slices are not shared values",
			a:    struct{ A, B []int }{nil, nil},
			b:    struct{ A, B []int }{shared, shared},
			want: []string{".A[0]: <missing> != 1", ".B[0]: <missing> != 1"},
		},
		{name: "slice of structs", a: []point{{1, 2}, {3, 4}}, b: []point{{1, 2}, {3, 5}}, want: []string{"[1].Y: 4 != 5"}},
		{name: "bytes", a: []byte("abc"), b: []byte("abd"), want: []string{"[2]: 99 != 100"}},
		{name: "bytes equal", a: []byte("abc"), b: []byte("abc")},
		{name: "int64s", a: []int64{1, -2}, b: []int64{1, -3}, want: []string{"[1]: -2 != -3"}},
		{name: "bools", a: []bool{true, false}, b: []bool{true, true}, want: []string{"[1]: false != true"}},
		{name: "strings", a: []string{"x", "y"}, b: []string{"x", "y"}},
		{name: "floats with NaN", a: []float64{nan, 1}, b: []float64{nan, 1}},
		{name: "floats with tolerance", a: []float32{1, 2}, b: []float32{1.001, 2}, opts: Options{FloatTolerance: 0.01}},
		{name: "times in other locations", a: []time.Time{t0}, b: []time.Time{t0.In(berlin)}},
		{name: "times differ", a: []time.Time{t0}, b: []time.Time{t0.Add(1)}, want: []string{"[0]: 2026-03-01T12:00:00.0000005Z != 2026-03-01T12:00:00.000000501Z"}},
		{name: "array", a: [3]int{1, 2, 3}, b: [3]int{1, 2, 4}, want: []string{"[2]: 3 != 4"}},
		{name: "array of one pointer", a: [1]*int{&one}, b: [1]*int{nil}, want: []string{"[0]: &1 != nil"}},
		{name: "struct holding an interface", a: holder{V: &one}, b: holder{V: &one}},
		// Pointer-shaped structs and arrays are stored in interfaces
		// directly, not through a pointer: the root must be read so.
		{name: "pointer-shaped struct", a: struct{ P *int }{&one}, b: struct{ P *int }{new(int)}, want: []string{".P: 1 != 0"}},
		{name: "pointer-shaped struct, equal", a: struct{ P *int }{&one}, b: struct{ P *int }{&[]int{1}[0]}},
		{name: "pointer-shaped nested", a: struct{ A [1]struct{ M map[string]int } }{}, b: struct{ A [1]struct{ M map[string]int } }{[1]struct{ M map[string]int }{{map[string]int{"k": 1}}}}, want: []string{`.A[0].M["k"]: <missing> != 1`}},
		{name: "two-field struct with pointers", a: struct{ P, Q *int }{&one, nil}, b: struct{ P, Q *int }{&one, &one}, want: []string{".Q: nil != &1"}},

		// Interfaces.
		{name: "interface dynamic types", a: []any{1}, b: []any{"1"}, want: []string{`[0]: 1 != "1"`}},
		{name: "interface nil vs value", a: []any{nil}, b: []any{1}, want: []string{"[0]: nil != 1"}},
		{name: "interface equal", a: holder{V: point{1, 2}}, b: holder{V: point{1, 2}}},
		{name: "interface deep", a: holder{V: point{1, 2}}, b: holder{V: point{1, 3}}, want: []string{".V.Y: 2 != 3"}},
		{name: "errors by content", a: holder{errors.New("x")}, b: holder{errors.New("x")}},
		{name: "errors differ", a: holder{errors.New("x")}, b: holder{errors.New("y")}, want: []string{`.V.s: "x" != "y"`}},

		// Times.
		{name: "time same instant, other location", a: t0, b: t0.In(berlin)},
		{name: "time monotonic ignored", a: now, b: now.Round(0)},
		{name: "time monotonic ignored, unexported", a: []any{inner{when: now}}, b: []any{inner{when: now.Round(0)}}},
		{name: "time differs", a: t0, b: t0.Add(time.Millisecond), want: []string{"(root): 2026-03-01T12:00:00.0000005Z != 2026-03-01T12:00:00.0010005Z"}},
		{name: "time precision", a: t0, b: t0.Add(400 * time.Microsecond), opts: Options{TimePrecision: time.Millisecond}},
		{name: "time precision crosses", a: t0.Add(999 * time.Microsecond), b: t0.Add(time.Millisecond), opts: Options{TimePrecision: time.Millisecond}, want: []string{"(root): 2026-03-01T12:00:00.0009995Z != 2026-03-01T12:00:00.0010005Z"}},
		{name: "time in struct, other location", a: Order{Placed: t0}, b: Order{Placed: t0.In(berlin)}},
		{name: "zero times", a: time.Time{}, b: time.Time{}.In(berlin)},
		{name: "defined time type", a: stamp(now), b: stamp(now.Round(0).In(berlin))},
		{name: "defined time type differs", a: []stamp{stamp(t0)}, b: []stamp{stamp(t0.Add(time.Second))}, want: []string{"[0]: 2026-03-01T12:00:00.0000005Z != 2026-03-01T12:00:01.0000005Z"}},
		{name: "defined time type in struct", a: struct{ S stamp }{stamp(now)}, b: struct{ S stamp }{stamp(now.Round(0))}},
		{name: "defined time type unexported, not addressable", a: []any{struct{ s stamp }{stamp(now)}}, b: []any{struct{ s stamp }{stamp(now.Round(0).In(berlin))}}},

		// Funcs and channels.
		{name: "nil funcs", a: (func())(nil), b: (func())(nil)},
		{name: "funcs never equal", a: fn, b: fn, want: []string{"(root): func != func"}},
		{name: "func vs nil", a: struct{ F func() }{fn}, b: struct{ F func() }{}, want: []string{".F: func != nil"}},
		{name: "same chan", a: ch1, b: ch1},
		{name: "other chan", a: struct{ C chan int }{ch1}, b: struct{ C chan int }{ch2}, want: []string{".C: chan int(" + ptrString(ch1) + ") != chan int(" + ptrString(ch2) + ")"}},

		// Options.
		{
			name: "ignore with wildcard",
			a:    Order{Items: []LineItem{{Price: 1, SKU: "a"}, {Price: 2}}},
			b:    Order{Items: []LineItem{{Price: 3, SKU: "b"}, {Price: 4}}},
			opts: Options{IgnorePaths: []string{".Items[*].Price"}},
			want: []string{`.Items[0].SKU: "a" != "b"`},
		},
		{
			name: "ignore without leading dot",
			a:    Order{Status: "a", Customer: "x", Items: []LineItem{{Price: 1}}},
			b:    Order{Status: "b", Customer: "y", Items: []LineItem{{Price: 2}}},
			opts: Options{IgnorePaths: []string{"Status", "Items[*]"}},
			want: []string{`.Customer: "x" != "y"`},
		},
		{
			name: "ignore one index and a map key",
			a:    map[string][]int{"a": {1, 2}, "trace": {1}},
			b:    map[string][]int{"a": {1, 3}, "trace": {2}},
			opts: Options{IgnorePaths: []string{`["a"][1]`, `["trace"]`}},
		},
		{
			name: "ignore is not a prefix match",
			a:    struct{ Item, Items int }{1, 1},
			b:    struct{ Item, Items int }{1, 2},
			opts: Options{IgnorePaths: []string{".Item"}},
			want: []string{".Items: 1 != 2"},
		},
		{
			name: "unordered path",
			a:    struct{ Tags, Other []string }{[]string{"a", "b", "c"}, []string{"a", "b"}},
			b:    struct{ Tags, Other []string }{[]string{"c", "a", "b"}, []string{"b", "a"}},
			opts: Options{UnorderedPaths: []string{"Tags"}},
			want: []string{`.Other[0]: "a" != "b"`, `.Other[1]: "b" != "a"`},
		},
		{
			name: "unordered with duplicates",
			a:    []int{1, 1, 2},
			b:    []int{1, 2, 2},
			opts: Options{UnorderedSlices: true},
			want: []string{"[1]: 1 != <missing>", "[2]: <missing> != 2"},
		},
		{
			name: "unordered, unmatched on both sides at one index",
			a:    []string{"a", "x"},
			b:    []string{"y", "a"},
			opts: Options{UnorderedSlices: true},
			want: []string{`[0]: <missing> != "y"`, `[1]: "x" != <missing>`},
		},
		{
			name: "unordered, unmatched at the same index",
			a:    []string{"a", "x"},
			b:    []string{"a", "y"},
			opts: Options{UnorderedSlices: true},
			want: []string{`[1]: "x" != "y"`},
		},
		{name: "unordered equal with duplicates", a: []int{2, 1, 2, 1}, b: []int{1, 2, 1, 2}, opts: Options{UnorderedSlices: true}},
		{name: "unordered lengths", a: []int{1, 2}, b: []int{2}, opts: Options{UnorderedSlices: true}, want: []string{"[0]: 1 != <missing>"}},
		{name: "unordered arrays", a: [3]string{"x", "y", "z"}, b: [3]string{"z", "y", "x"}, opts: Options{UnorderedSlices: true}},
		{
			name: "unordered elements keep their paths for ignores",
			a:    []LineItem{{SKU: "a", Price: 1}, {SKU: "b", Price: 2}},
			b:    []LineItem{{SKU: "b", Price: 5}, {SKU: "a", Price: 6}},
			opts: Options{UnorderedSlices: true, IgnorePaths: []string{"[*].Price"}},
		},
		{
			// Greedy matching pairs 1.5 with 1.0 and leaves 1.0 alone; a
			// complete matching exists: 1.5–2.0, 1.0–1.0.
			name: "unordered with tolerance finds a complete matching",
			a:    []float64{1.5, 1.0},
			b:    []float64{1.0, 2.0},
			opts: Options{UnorderedSlices: true, FloatTolerance: 0.5},
		},
		{
			name: "max differences",
			a:    []int{1, 2, 3, 4},
			b:    []int{5, 6, 7, 8},
			opts: Options{MaxDifferences: 2},
			want: []string{"[0]: 1 != 5", "[1]: 2 != 6"},
		},
		{
			name: "max differences in maps",
			a:    map[string]int{"a": 1, "b": 2, "c": 3},
			b:    map[string]int{"a": 0, "b": 0, "c": 0},
			opts: Options{MaxDifferences: 1},
			want: []string{`["a"]: 1 != 0`},
		},
		{
			name: "equal func",
			a:    []caseless{"A@example.com"},
			b:    []caseless{"a@EXAMPLE.com"},
			opts: Options{Equalities: []Equality{EqualFunc(func(a, b caseless) bool { return strings.EqualFold(string(a), string(b)) })}},
		},
		{
			name: "equal func on unexported field",
			a:    account{ID: 1, email: "A@example.com"},
			b:    account{ID: 1, email: "a@example.com"},
			opts: Options{Equalities: []Equality{EqualFunc(func(a, b caseless) bool { return strings.EqualFold(string(a), string(b)) })}},
		},
		{
			name: "equal func on unexported field, not addressable",
			a:    map[int]account{1: {email: "A@example.com"}},
			b:    map[int]account{1: {email: "a@example.com"}},
			opts: Options{Equalities: []Equality{EqualFunc(func(a, b caseless) bool { return strings.EqualFold(string(a), string(b)) })}},
		},
		{
			name: "equal func says different",
			a:    account{ID: 1, email: "a@example.com"},
			b:    account{ID: 1, email: "b@example.com"},
			opts: Options{Equalities: []Equality{EqualFunc(func(a, b caseless) bool { return strings.EqualFold(string(a), string(b)) })}},
			want: []string{`.email: "a@example.com" != "b@example.com"`},
		},
		{
			name: "equal func on a struct type held unexported in an interface",
			a:    []any{outer{in: inner{n: 1, tags: []string{"x"}}}},
			b:    []any{outer{in: inner{n: 1, tags: []string{"y"}}}},
			opts: Options{Equalities: []Equality{EqualFunc(func(a, b inner) bool { return a.n == b.n && len(a.tags) == len(b.tags) })}},
		},
		{
			name: "equal func on an interface type, nil values",
			a:    struct{ Err error }{},
			b:    struct{ Err error }{},
			opts: Options{Equalities: []Equality{EqualFunc(func(a, b error) bool { return (a == nil) == (b == nil) })}},
		},
		{
			name: "equal func on errors by message",
			a:    struct{ Err error }{errors.New("boom")},
			b:    struct{ Err error }{wrapped{"boom"}},
			opts: Options{Equalities: []Equality{EqualFunc(func(a, b error) bool { return a.Error() == b.Error() })}},
		},
		{
			name: "equal func that panics says different",
			a:    point{1, 2},
			b:    point{1, 2},
			opts: Options{Equalities: []Equality{EqualFunc(func(a, b point) bool { panic("boom") })}},
			want: []string{"(root): diff.point{X:1, Y:2} != diff.point{X:1, Y:2}"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := c.Diff(tt.a, tt.b)
			if !reflect.DeepEqual(strs(got), tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("Diff:\n got %q\nwant %q", strs(got), tt.want)
			}
			if (tt.want == nil) != (got == nil) {
				t.Errorf("Diff = %#v; want nil exactly when equal", got)
			}
			if eq := c.Equal(tt.a, tt.b); eq != (len(tt.want) == 0) {
				t.Errorf("Equal = %v; want %v", eq, len(tt.want) == 0)
			}
			back := c.Diff(tt.b, tt.a)
			if !reflect.DeepEqual(strs(back), strs(mirror(got))) {
				t.Errorf("Diff(b, a) does not mirror Diff(a, b):\n got %q\nwant %q", strs(back), strs(mirror(got)))
			}
			if eq := c.Equal(tt.b, tt.a); eq != (len(tt.want) == 0) {
				t.Errorf("Equal(b, a) = %v; want %v", eq, len(tt.want) == 0)
			}
		})
	}
}

type wrapped struct{ msg string }

func (w wrapped) Error() string { return w.msg }

func ptrString(ch chan int) string {
	return strings.TrimSuffix(strings.SplitN(format(reflect.ValueOf(ch)), "(", 2)[1], ")")
}

func TestPathAndValueFormat(t *testing.T) {
	a, b := newOrder(), newOrder()
	a.Items[3].Price, b.Items[3].Price = 100, 101
	b.Shipping.City = "Shelbyville"
	got := Diff(a, b)
	want := []Difference{
		{Path: ".Shipping.City", Old: `"Springfield"`, New: `"Shelbyville"`},
		{Path: ".Items[3].Price", Old: "100", New: "101"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Diff = %#v; want %#v", got, want)
	}
	if s := got[1].String(); s != ".Items[3].Price: 100 != 101" {
		t.Errorf("String() = %q", s)
	}
	if s := (Difference{Old: "1", New: "2"}).String(); s != "(root): 1 != 2" {
		t.Errorf("root String() = %q", s)
	}
	if s := (Difference{Path: `.Tags["tier"]`, Old: `"gold"`, New: Missing}).String(); s != `.Tags["tier"]: "gold" != <missing>` {
		t.Errorf("missing String() = %q", s)
	}
}

func TestFormatBounded(t *testing.T) {
	long := strings.Repeat("é", 1000)
	d := Diff(long, "")
	if len(d) != 1 || len(d[0].Old) > maxFormatted+len("…")+1 || !strings.HasSuffix(d[0].Old, "…") {
		t.Fatalf("Old = %q (%d bytes); want it cut at %d bytes with …", d[0].Old, len(d[0].Old), maxFormatted)
	}
	if !utf8ValidString(d[0].Old) {
		t.Errorf("cut in the middle of a rune: %q", d[0].Old)
	}
	// Deep and cyclic values format in bounded space.
	r := ring(1, 2, 3)
	if d := Diff([]*node{r}, []*node{}); len(d) != 1 || len(d[0].Old) > maxFormatted+10 {
		t.Errorf("Diff = %q", strs(d))
	}
}

func utf8ValidString(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestZeroComparer(t *testing.T) {
	var c Comparer
	if c.Equal(1, 2) || !c.Equal(1, 1) {
		t.Error("zero Comparer: Equal is wrong")
	}
	if d := c.Diff([]int{1, 2}, []int{3, 4}); len(d) != 2 {
		t.Errorf("zero Comparer: Diff = %q; want two differences", strs(d))
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{MaxDifferences: -1}, "MaxDifferences"},
		{Options{FloatTolerance: -0.1}, "FloatTolerance"},
		{Options{FloatTolerance: math.NaN()}, "FloatTolerance"},
		{Options{TimePrecision: -time.Second}, "TimePrecision"},
		{Options{IgnorePaths: []string{".A", ""}}, "IgnorePaths[1]"},
		{Options{IgnorePaths: []string{".Items[3"}}, "IgnorePaths[0]"},
		{Options{IgnorePaths: []string{".Items[]"}}, "IgnorePaths[0]"},
		{Options{IgnorePaths: []string{"..A"}}, "IgnorePaths[0]"},
		{Options{IgnorePaths: []string{`.Tags["a]`}}, "IgnorePaths[0]"},
		{Options{UnorderedPaths: []string{"Items", ".A]"}}, "UnorderedPaths[1]"},
		{Options{Equalities: []Equality{{}}}, "Equalities[0]"},
	}
	for _, tt := range tests {
		c, err := New(tt.opts)
		if err == nil || c != nil {
			t.Errorf("New(%+v) = %v, %v; want an error", tt.opts, c, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "diff: ") {
			t.Errorf("New(%+v) error %q does not name %s", tt.opts, err, tt.want)
		}
	}
	for _, ok := range []Options{
		{},
		{IgnorePaths: []string{"A", ".B", "[*]", `.Tags["a.b]"].C`, `["x"]`, ".Items[*].Price"}},
		{FloatTolerance: math.Inf(1), TimePrecision: time.Hour, MaxDifferences: 1},
	} {
		if _, err := New(ok); err != nil {
			t.Errorf("New(%+v): %v", ok, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("MustNew did not panic on invalid options")
		}
	}()
	MustNew(Options{MaxDifferences: -1})
}

func TestMatchPattern(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{".A", ".A", true},
		{".A", ".A.B", true},
		{".A", ".A[1]", true},
		{".A", ".AB", false},
		{".A.B", ".A", false},
		{".A[*]", ".A[12]", true},
		{".A[*].B", `.A["k"].B`, true},
		{".A[*].B", `.A["k]"].B`, true},
		{".A[*].B", `.A["k"].C`, false},
		{".A[1]", ".A[12]", false},
		{".A[*]", ".A", false},
		{"[*]", "[0].X", true},
		{`.M["a"]`, `.M["a"]`, true},
		{`.M["a"]`, `.M["b"]`, false},
	}
	for _, tt := range tests {
		if got := matchPattern(tt.pattern, []byte(tt.path)); got != tt.want {
			t.Errorf("matchPattern(%q, %q) = %v; want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

func TestCollapsePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{".A.B", ".A.B"},
		{".Items[3].Price", ".Items[*].Price"},
		{`.Tags["x"]`, ".Tags[*]"},
		{`.Tags["a]b"].C`, ".Tags[*].C"},
		{`.Tags["a\"]"].C`, ".Tags[*].C"},
		{`.Tags["[*]"]`, ".Tags[*]"},
		{"[0][1][2]", "[*][*][*]"},
		{`.M[diff.point{X:1, Y:2}].V`, ".M[*].V"},
		{`.M[[2]int{1, 2}].V`, ".M[*].V"},
		{".A[", ".A["},
		{".A[]", ".A[]"},
	}
	for _, tt := range tests {
		if got := CollapsePath(tt.in); got != tt.want {
			t.Errorf("CollapsePath(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestSignature(t *testing.T) {
	if s := Signature(nil); s != "" {
		t.Errorf("Signature(nil) = %q", s)
	}
	diffs := []Difference{
		{Path: ".Items[3].Price"},
		{Path: `.Tags["b"]`},
		{Path: ".Items[0].Price"},
		{Path: ".Customer"},
		{Path: `.Tags["a]"]`},
		{Path: ""},
	}
	want := "(root) .Customer .Items[*].Price .Tags[*]"
	if s := Signature(diffs); s != want {
		t.Errorf("Signature = %q; want %q", s, want)
	}
	// The order of the differences does not matter.
	rev := append([]Difference(nil), diffs...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if s := Signature(rev); s != want {
		t.Errorf("Signature(reversed) = %q; want %q", s, want)
	}
	// Signature does not modify its argument.
	if diffs[0].Path != ".Items[3].Price" {
		t.Errorf("Signature modified diffs: %v", diffs)
	}
}

func TestDiffJSON(t *testing.T) {
	tests := []struct {
		name, a, b string
		want       []string
	}{
		{name: "equal", a: `{"a":1,"b":[1,2]}`, b: ` { "b" : [1, 2], "a" : 1 } `},
		{name: "numbers by value", a: `{"n":1,"m":100,"z":0}`, b: `{"n":1.0,"m":1e2,"z":-0.0}`},
		{name: "big integers exactly", a: `9007199254740993`, b: `9007199254740992`, want: []string{"(root): 9007199254740993 != 9007199254740992"}},
		{name: "beyond int64 exactly", a: `[123456789012345678901]`, b: `[123456789012345678902]`, want: []string{"[0]: 123456789012345678901 != 123456789012345678902"}},
		{name: "fractions", a: `0.1`, b: `0.10`},
		{name: "number differs", a: `{"items":[{"price":100}]}`, b: `{"items":[{"price":101}]}`, want: []string{".items[0].price: 100 != 101"}},
		{name: "non-identifier keys", a: `{"a-b":1,"":2,"é":3,"x1":4}`, b: `{"a-b":2,"":3,"é":4,"x1":5}`, want: []string{`[""]: 2 != 3`, `["a-b"]: 1 != 2`, `.x1: 4 != 5`, `["é"]: 3 != 4`}},
		{name: "missing member", a: `{"a":1}`, b: `{"a":1,"b":true}`, want: []string{".b: <missing> != true"}},
		{name: "types differ", a: `{"a":1}`, b: `{"a":"1"}`, want: []string{`.a: 1 != "1"`}},
		{name: "null", a: `{"a":null}`, b: `{"a":0}`, want: []string{".a: nil != 0"}},
		{name: "array lengths", a: `[1,2]`, b: `[1]`, want: []string{"[1]: 2 != <missing>"}},
		{name: "root scalar", a: `"x"`, b: `"y"`, want: []string{`(root): "x" != "y"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DiffJSON([]byte(tt.a), []byte(tt.b))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(strs(got), tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("DiffJSON:\n got %q\nwant %q", strs(got), tt.want)
			}
			back, err := DiffJSON([]byte(tt.b), []byte(tt.a))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(strs(back), strs(mirror(got))) {
				t.Errorf("reverse does not mirror:\n got %q\nwant %q", strs(back), strs(mirror(got)))
			}
		})
	}

	tol := MustNew(Options{FloatTolerance: 0.01})
	if d, err := tol.DiffJSON([]byte(`1.001`), []byte(`1`)); err != nil || d != nil {
		t.Errorf("with tolerance: %v, %v", d, err)
	}
	ign := MustNew(Options{IgnorePaths: []string{".items[*].etag", `["a-b"]`}})
	if d, err := ign.DiffJSON([]byte(`{"items":[{"etag":"x"}],"a-b":1}`), []byte(`{"items":[{"etag":"y"}],"a-b":2}`)); err != nil || d != nil {
		t.Errorf("with ignores: %v, %v", d, err)
	}
}

func TestDiffJSONErrors(t *testing.T) {
	tests := []struct {
		a, b, want string
	}{
		{`{`, `{}`, "old document"},
		{`{}`, `{"a":}`, "new document"},
		{``, `1`, "old document"},
		{`1 2`, `1`, "old document"},
		{`{} }`, `{}`, "old document"},
		{`{}`, `{}x`, "new document"},
		{`[1]]`, `[1]`, "old document"},
	}
	for _, tt := range tests {
		d, err := DiffJSON([]byte(tt.a), []byte(tt.b))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DiffJSON(%q, %q) = %v, %v; want an error naming the %s", tt.a, tt.b, d, err, tt.want)
		}
	}
	if d, err := DiffJSON([]byte("{}\n\t "), []byte(" {} ")); err != nil || d != nil {
		t.Errorf("trailing white space: %v, %v", d, err)
	}
}

func TestJSONNumbersEqual(t *testing.T) {
	tests := []struct {
		x, y string
		want bool
	}{
		{"1", "1.0", true},
		{"1", "1e0", true},
		{"10", "1E1", true},
		{"0.001", "1e-3", true},
		{"-0", "0", true},
		{"0e10", "0", true},
		{"120", "1.2e+2", true},
		{"1", "-1", false},
		{"1", "10", false},
		{"0.1", "0.01", false},
		{"9007199254740993", "9007199254740992", false},
		{"1e99999999999", "1e99999999999", true}, // identical text
		{"1e99999999999", "10e99999999998", false},
		{"x", "y", false},
	}
	for _, tt := range tests {
		if got := jsonNumbersEqual(tt.x, tt.y, 0); got != tt.want {
			t.Errorf("jsonNumbersEqual(%s, %s) = %v; want %v", tt.x, tt.y, got, tt.want)
		}
		if got := jsonNumbersEqual(tt.y, tt.x, 0); got != tt.want {
			t.Errorf("jsonNumbersEqual(%s, %s) = %v; want %v", tt.y, tt.x, got, tt.want)
		}
	}
}

func TestNaNMapKeys(t *testing.T) {
	// NaN keys cannot be looked up: their entries never match, but the
	// result is consistent and symmetric, and the same map equals itself.
	nan := math.NaN()
	a := map[float64]int{nan: 1, 1: 2}
	b := map[float64]int{nan: 1, 1: 2}
	if !Equal(a, a) || len(Diff(a, a)) != 0 {
		t.Error("a map with a NaN key does not equal itself")
	}
	d := Diff(a, b)
	want := []string{"[NaN]: 1 != <missing>", "[NaN]: <missing> != 1"}
	if !reflect.DeepEqual(strs(d), want) {
		t.Errorf("Diff = %q; want %q", strs(d), want)
	}
	if Equal(a, b) {
		t.Error("Equal = true; want false, as Diff")
	}
}

func TestCycleDepth(t *testing.T) {
	// A long list, then a difference: found below the depth at which
	// cycles are remembered, with the right path.
	build := func(last int) *node {
		var head *node
		for i := range 3 * cycleDepth {
			v := i
			if i == 0 {
				v = last
			}
			head = &node{V: v, Next: head}
		}
		return head
	}
	a, b := build(1), build(2)
	d := Diff(a, b)
	if len(d) != 1 || !strings.HasSuffix(d[0].Path, ".V") || strings.Count(d[0].Path, ".Next") != 3*cycleDepth-1 {
		t.Fatalf("Diff = %q", strs(d))
	}
	if Equal(a, b) {
		t.Error("Equal = true")
	}
	// Slices sharing a backing array but not a length are distinct.
	s := make([]*node, 0, 4)
	s = append(s, &node{V: 1}, &node{V: 2})
	deep := func(v []*node) any {
		var x any = v
		for range cycleDepth {
			x = []any{x}
		}
		return []any{x, v[:1], v}
	}
	t2 := append([]*node(nil), s...)
	t2[1] = &node{V: 3}
	if Equal(deep(s), deep(t2)) {
		t.Error("Equal = true for slices differing beyond a shared prefix")
	}
}

func TestTimeFromFields(t *testing.T) {
	fields := func(tm time.Time) (uint64, int64) {
		v := reflect.ValueOf(&tm).Elem()
		return v.Field(0).Uint(), v.Field(1).Int()
	}
	locs := []*time.Location{time.UTC, time.Local, time.FixedZone("odd", -(3*3600 + 1800))}
	for _, name := range []string{"America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe"} {
		if l, err := time.LoadLocation(name); err == nil {
			locs = append(locs, l)
		}
	}
	times := []time.Time{
		{},
		time.Now(), // monotonic
		time.Now().Round(0),
		time.Now().Add(-100 * 365 * 24 * time.Hour), // monotonic, before 1970
		time.Now().Add(130 * 365 * 24 * time.Hour),  // monotonic, near 2157
		time.Now().Add(-150 * 365 * 24 * time.Hour), // before 1885: reading dropped
		time.Now().Add(200 * 365 * 24 * time.Hour),  // after 2157: reading dropped
		time.Date(1885, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1884, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1600, 2, 29, 1, 2, 3, 4, time.UTC),
		time.Date(2157, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2158, 6, 1, 0, 0, 0, 1, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(-500, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, 0),
		time.Unix(1<<40, 123),
	}
	for _, base := range times {
		for _, loc := range locs {
			tm := base.In(loc)
			got := timeFromFields(fields(tm))
			if !got.Equal(tm) {
				t.Errorf("timeFromFields(%v in %v) = %v", base, loc, got)
			}
			// Also through the reflection path Equal and Diff take.
			if !Equal([]any{inner{when: tm}}, []any{inner{when: base.Round(0).UTC()}}) {
				t.Errorf("Equal differs for %v in %v", base, loc)
			}
			if got := timeOf(reflect.ValueOf(inner{when: tm}).Field(1)); !got.Equal(tm) || got.Location() != tm.Location() {
				t.Errorf("timeOf(%v) = %v", tm, got)
			}
		}
	}
	// Monotonic readings alone never make a difference: a time with one
	// and without one, and two with readings taken at different moments
	// that describe the same wall time.
	now := time.Now()
	if got := timeFromFields(fields(now)); !got.Equal(now.Round(0)) {
		t.Errorf("monotonic: %v != %v", got, now)
	}
}

func TestConcurrentUse(t *testing.T) {
	c := MustNew(Options{IgnorePaths: []string{".Status"}})
	a, b := newOrder(), newOrder()
	b.Status = "other"
	done := make(chan bool)
	for range 4 {
		go func() {
			ok := true
			for range 200 {
				ok = ok && c.Equal(a, b) && len(c.Diff(a, b)) == 0
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("concurrent comparisons disagree")
		}
	}
}

type tree struct {
	V    int
	Kids []*tree
	L, R *tree
}

func TestCycleThroughUnorderedSlice(t *testing.T) {
	build := func(v int) *tree {
		root := &tree{V: 1}
		child := &tree{V: v, Kids: []*tree{root}}
		root.Kids = []*tree{child, root, child}
		return root
	}
	for _, c := range []*Comparer{MustNew(Options{UnorderedSlices: true}), MustNew(Options{UnorderedPaths: []string{".Kids"}})} {
		if !c.Equal(build(2), build(2)) || c.Diff(build(2), build(2)) != nil {
			t.Error("equal cyclic values through unordered slices differ")
		}
		d := c.Diff(build(2), build(3))
		if c.Equal(build(2), build(3)) || len(d) == 0 {
			t.Errorf("different cyclic values through unordered slices: Diff = %q", strs(d))
		}
	}
}

// TestSharedPointers compares values in which every node is reachable
// along 2^depth paths: it must finish, comparing each pair once rather than
// each path.
func TestSharedPointers(t *testing.T) {
	build := func(last int) *tree {
		n := &tree{V: last}
		for i := range 200 {
			n = &tree{V: i, L: n, R: n}
		}
		return n
	}
	if !Equal(build(1), build(1)) || Diff(build(1), build(1)) != nil {
		t.Error("equal DAGs differ")
	}
	if Equal(build(1), build(2)) {
		t.Error("different DAGs are equal")
	}
	d := Diff(build(1), build(2))
	if len(d) != 1 || !strings.HasSuffix(d[0].Path, ".V") {
		t.Errorf("Diff = %q; want the one difference, once", strs(d))
	}
}

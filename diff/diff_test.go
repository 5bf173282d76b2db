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
		{name: "slice of structs", a: []point{{1, 2}, {3, 4}}, b: []point{{1, 2}, {3, 5}}, want: []string{"[1].Y: 4 != 5"}},
		{name: "bytes", a: []byte("abc"), b: []byte("abd"), want: []string{"[2]: 99 != 100"}},
		{name: "array", a: [3]int{1, 2, 3}, b: [3]int{1, 2, 4}, want: []string{"[2]: 3 != 4"}},
		{name: "array of one pointer", a: [1]*int{&one}, b: [1]*int{nil}, want: []string{"[0]: &1 != nil"}},
		{name: "struct of one pointer", a: holder{V: &one}, b: holder{V: &one}},

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

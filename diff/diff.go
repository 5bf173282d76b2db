// Package diff compares Go values structurally and lists where they differ.
//
// It is cutover's default comparator. [Comparer.Equal] answers "equal?" fast
// and, for equal values, without allocating; [Comparer.Diff] lists every
// differing path with both values:
//
//	.Items[3].Price: 100 != 101
//	.Customer.Email: "a@example.com" != "A@example.com"
//	.Tags["tier"]: "gold" != <missing>
//
// Paths use Go syntax: ".Field" for struct fields (unexported ones too),
// "[3]" for slice and array indices, ["key"] for map keys; the root itself
// is the empty path, shown as "(root)". A map key or element present on one
// side only shows as [Missing] on the other. [Signature] collapses indices
// and map keys to "[*]" so that discrepancies with the same shape group
// together: ".Items[*].Price". [DiffJSON] compares two JSON documents the
// same way, object members shown as fields (".items[0].sku").
//
// # What counts as equal
//
//   - time.Time values (and values of types defined on it, such as
//     type Stamp time.Time) are equal when they are the same instant
//     (monotonic clock readings and locations are ignored), after truncation
//     to [Options].TimePrecision.
//   - Floats are equal when they differ by at most [Options].FloatTolerance;
//     NaN equals NaN, and 0 equals -0. Complex numbers compare by parts.
//   - Nil and empty slices and maps are equal.
//   - Pointers are followed; cycles are detected, and each pair of values
//     met along several paths is compared (and its differences listed)
//     once.
//   - Interfaces are equal when they hold the same dynamic type and equal
//     values; values of different types are never equal, not even 1 and
//     int64(1).
//   - Functions are equal only when both are nil; channels and unsafe
//     pointers when they are the same.
//   - Map entries are matched by key. Entries with NaN keys cannot be
//     looked up, so they never match (a map still equals itself).
//   - JSON numbers (also json.Number values) are compared by exact decimal
//     value: 1, 1.0 and 1e0 are equal; 9007199254740993 and
//     9007199254740992 are not.
//
// # Options
//
// [Options] ignore paths ("[*]" matching any index or key), compare chosen
// or all slices as unordered collections (duplicates counted), set a float
// tolerance and a time precision, bound the number of differences listed,
// and install custom equalities by type with [EqualFunc]. A [Comparer] is
// built once with [New] and is safe for concurrent use.
//
// # Cost
//
// Equal on equal values of structs, slices, arrays, strings, numbers,
// times and pointers does not allocate, also with ignored paths (after
// warm-up); maps, unordered slices and custom equalities do. Passing a
// struct by value to the any parameters makes the caller box it, which
// allocates: pass pointers, or values already held in interfaces. Diff is
// for values known to differ: it allocates to track what it has compared
// and to format what it reports.
package diff

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Missing is the value shown for a side that has no value at a path: a map
// key or slice element present only on the other side.
const Missing = "<missing>"

// Difference is one path at which two values differ, with both values
// formatted for people.
type Difference struct {
	// Path locates the difference from the root: ".Items[3].Price". It is
	// empty when the roots themselves differ (two different integers, say).
	Path string `json:"path"`
	// Old and New are the formatted values: strings quoted, [Missing] when
	// absent.
	Old string `json:"old"`
	New string `json:"new"`
}

// String formats d as "path: old != new".
func (d Difference) String() string {
	p := d.Path
	if p == "" {
		p = "(root)"
	}
	return p + ": " + d.Old + " != " + d.New
}

// Equality is a custom equality for one type, made by [EqualFunc].
type Equality struct {
	typ reflect.Type
	eq  func(a, b reflect.Value) bool
}

// EqualFunc makes an [Equality] that decides equality for every value of
// type T with eq, wherever T appears (at the root, in fields, elements or map
// values). Use it for types whose zero-information fields must be ignored, or
// that have their own notion of equality:
//
//	diff.EqualFunc(func(a, b decimal.Decimal) bool { return a.Equal(b) })
//
// T may be an interface type: EqualFunc[error] applies to fields and
// elements declared as error (nil ones included). If eq panics, the values
// count as different. Values reached through unexported fields are copied
// for eq, except functions inside them, which it sees as nil.
func EqualFunc[T any](eq func(a, b T) bool) Equality {
	t := reflect.TypeFor[T]()
	return Equality{typ: t, eq: func(a, b reflect.Value) bool {
		return eq(valueOf[T](a), valueOf[T](b))
	}}
}

// valueOf returns v as a T, also when v was reached through an unexported
// field.
func valueOf[T any](v reflect.Value) T {
	if v.CanInterface() {
		// Comma-ok: a nil interface value (T an interface type) is the
		// zero T, not a panic.
		t, _ := v.Interface().(T)
		return t
	}
	if v.CanAddr() {
		return *(*T)(unsafe.Pointer(v.UnsafeAddr()))
	}
	// A copy through a fresh, addressable value: unexported and not
	// addressable (a field of a struct held by value in an interface).
	c := reflect.New(v.Type()).Elem()
	copyUnexported(c, v)
	return *(*T)(unsafe.Pointer(c.UnsafeAddr()))
}

// copyUnexported copies src into the addressable dst of the same type,
// field by field for structs, so that read-only values can be read.
func copyUnexported(dst, src reflect.Value) {
	dst = reflect.NewAt(dst.Type(), unsafe.Pointer(dst.UnsafeAddr())).Elem()
	switch src.Kind() {
	case reflect.Bool:
		dst.SetBool(src.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		dst.SetInt(src.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		dst.SetUint(src.Uint())
	case reflect.Float32, reflect.Float64:
		dst.SetFloat(src.Float())
	case reflect.Complex64, reflect.Complex128:
		dst.SetComplex(src.Complex())
	case reflect.String:
		dst.SetString(src.String())
	case reflect.Struct:
		for i := range src.NumField() {
			copyUnexported(dst.Field(i), src.Field(i))
		}
	case reflect.Array:
		for i := range src.Len() {
			copyUnexported(dst.Index(i), src.Index(i))
		}
	case reflect.UnsafePointer:
		dst.SetPointer(src.UnsafePointer())
	case reflect.Slice:
		*(*sliceHeader)(unsafe.Pointer(dst.UnsafeAddr())) = sliceHeader{src.UnsafePointer(), src.Len(), src.Cap()}
	case reflect.Pointer, reflect.Map, reflect.Chan:
		*(*unsafe.Pointer)(unsafe.Pointer(dst.UnsafeAddr())) = src.UnsafePointer()
	case reflect.Interface:
		if !src.IsNil() {
			// The dynamic value is read-only too: copy it into a fresh,
			// exported value of its own type, which Set accepts.
			e := src.Elem()
			c := reflect.New(e.Type()).Elem()
			copyUnexported(c, e)
			dst.Set(c)
		}
	}
	// Funcs reached through unexported, unaddressable fields stay nil:
	// reflection offers no way to read them.
}

type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// Options tune a [Comparer]. The zero value compares everything exactly.
type Options struct {
	// IgnorePaths are paths not compared, with their descendants:
	// ".UpdatedAt", ".Items[*].ETag", `.Labels["trace"]`. "[*]" matches any
	// index or map key. A leading "." may be left out.
	IgnorePaths []string
	// UnorderedPaths are slices and arrays compared as unordered
	// collections (each element of one matched to an equal element of the
	// other), at the given paths.
	UnorderedPaths []string
	// UnorderedSlices compares every slice and array as unordered.
	UnorderedSlices bool
	// FloatTolerance is the largest absolute difference at which two
	// floats still count as equal. Zero: exact (NaN still equals NaN).
	FloatTolerance float64
	// TimePrecision truncates times before comparing them: with
	// time.Millisecond, 12:00:00.0004 equals 12:00:00.0001. Zero: exact.
	TimePrecision time.Duration
	// MaxDifferences bounds how many differences Diff lists. Zero: 100.
	MaxDifferences int
	// Equalities are custom equalities by type, made with [EqualFunc].
	Equalities []Equality
}

// Comparer compares values with fixed [Options]. It is safe for concurrent
// use; build one at start and reuse it. The zero Comparer compares with
// the zero Options.
type Comparer struct {
	ignore      []string
	unordered   []string
	allUnorder  bool
	tolerance   float64
	precision   time.Duration
	max         int
	equalities  map[reflect.Type]func(a, b reflect.Value) bool
	needsPaths  bool
	walkerCache sync.Pool
}

// New returns a Comparer for opts, or an error naming the option that is
// invalid.
func New(opts Options) (*Comparer, error) {
	c := &Comparer{
		allUnorder: opts.UnorderedSlices,
		tolerance:  opts.FloatTolerance,
		precision:  opts.TimePrecision,
		max:        opts.MaxDifferences,
	}
	if c.max < 0 {
		return nil, fmt.Errorf("diff: MaxDifferences is %d; use a positive number, or 0 for the default of 100", opts.MaxDifferences)
	}
	if c.tolerance < 0 || math.IsNaN(c.tolerance) {
		return nil, fmt.Errorf("diff: FloatTolerance is %v; use a non-negative number", opts.FloatTolerance)
	}
	if c.precision < 0 {
		return nil, fmt.Errorf("diff: TimePrecision is %v; use a non-negative duration", opts.TimePrecision)
	}
	var err error
	if c.ignore, err = normalizePatterns("IgnorePaths", opts.IgnorePaths); err != nil {
		return nil, err
	}
	if c.unordered, err = normalizePatterns("UnorderedPaths", opts.UnorderedPaths); err != nil {
		return nil, err
	}
	c.needsPaths = len(c.ignore) > 0 || len(c.unordered) > 0
	if len(opts.Equalities) > 0 {
		c.equalities = make(map[reflect.Type]func(a, b reflect.Value) bool, len(opts.Equalities))
		for i, e := range opts.Equalities {
			if e.typ == nil || e.eq == nil {
				return nil, fmt.Errorf("diff: Equalities[%d] is empty; make it with diff.EqualFunc", i)
			}
			c.equalities[e.typ] = e.eq
		}
	}
	return c, nil
}

// MustNew is like [New] but panics on invalid options. Use it for options
// written in code.
func MustNew(opts Options) *Comparer {
	c, err := New(opts)
	if err != nil {
		panic(err)
	}
	return c
}

func normalizePatterns(field string, patterns []string) ([]string, error) {
	out := make([]string, 0, len(patterns))
	for i, p := range patterns {
		if p == "" {
			return nil, fmt.Errorf("diff: %s[%d] is empty; write a path such as .Items[*].Price", field, i)
		}
		if p[0] != '.' && p[0] != '[' {
			p = "." + p
		}
		if err := checkPattern(p); err != nil {
			return nil, fmt.Errorf("diff: %s[%d] %q: %v", field, i, patterns[i], err)
		}
		out = append(out, p)
	}
	return out, nil
}

func checkPattern(p string) error {
	for i := 0; i < len(p); {
		switch p[i] {
		case '.':
			j := i + 1
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			if j == i+1 {
				return errors.New("a '.' must be followed by a field name")
			}
			if strings.ContainsAny(p[i:j], `]"`) {
				return fmt.Errorf("field name %q: write a map key as [\"key\"]", p[i+1:j])
			}
			i = j
		case '[':
			n, ok := bracketLen(p[i:])
			if !ok {
				return errors.New("unbalanced '[': write [3], [*] or [\"key\"]")
			}
			i += n
		default:
			return fmt.Errorf("unexpected %q at offset %d", p[i], i)
		}
	}
	return nil
}

// bracketLen returns the length of the bracket segment at the start of s
// ("[3]", "[*]", `["a]b"]`, `[[2]int{1, 2}]`): up to the matching "]",
// skipping brackets inside quoted strings.
func bracketLen(s string) (int, bool) {
	if len(s) < 3 || s[0] != '[' {
		return 0, false
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
			if i >= len(s) {
				return 0, false
			}
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return i + 1, i > 1
			}
		}
	}
	return 0, false
}

// matchPattern reports whether path is pattern or lies under it; "[*]" in
// pattern matches any one bracket segment of path.
func matchPattern(pattern string, path []byte) bool {
	i, j := 0, 0
	for i < len(pattern) {
		if j >= len(path) {
			return false
		}
		if strings.HasPrefix(pattern[i:], "[*]") && path[j] == '[' {
			n, ok := bracketLen(unsafe.String(unsafe.SliceData(path[j:]), len(path)-j))
			if !ok {
				return false
			}
			i, j = i+3, j+n
			continue
		}
		if pattern[i] != path[j] {
			return false
		}
		i, j = i+1, j+1
	}
	return j == len(path) || path[j] == '.' || path[j] == '['
}

func matchAny(patterns []string, path []byte) bool {
	for _, p := range patterns {
		if matchPattern(p, path) {
			return true
		}
	}
	return false
}

var defaultComparer = MustNew(Options{})

// Equal reports whether a and b are equal with default options.
func Equal(a, b any) bool { return defaultComparer.Equal(a, b) }

// Diff lists the differences between a and b with default options; nil when
// they are equal.
func Diff(a, b any) []Difference { return defaultComparer.Diff(a, b) }

// Equal reports whether a and b are equal: exactly when Diff(a, b) is
// empty. For equal values of ordinary types (structs, slices, strings,
// numbers, times, pointers; not maps) it does not allocate.
func (c *Comparer) Equal(a, b any) bool {
	w := c.getWalker(false)
	eq := w.compare(rootValue(&a), rootValue(&b), 0)
	c.putWalker(w)
	return eq
}

// Diff lists the differences between a and b, at most
// [Options].MaxDifferences of them; nil when they are equal. They come in
// the order met: struct fields in declaration order, elements by index,
// map entries by key. Diff(b, a) lists the same paths with the sides
// swapped.
func (c *Comparer) Diff(a, b any) []Difference {
	w := c.getWalker(true)
	w.compare(rootValue(&a), rootValue(&b), 0)
	diffs := w.diffs
	w.diffs = nil
	c.putWalker(w)
	return diffs
}

// rootValue is reflect.ValueOf(*x), but addressable when *x holds a struct
// or an array: then the fast, in-place comparisons apply below the root too,
// as they do below a pointer. The value is only ever read.
func rootValue(x *any) reflect.Value {
	v := reflect.ValueOf(*x)
	if k := v.Kind(); (k == reflect.Struct || k == reflect.Array) && !directIface(v.Type()) {
		// An interface holding a value that is not pointer-shaped holds a
		// pointer to it, in its second word.
		data := (*[2]unsafe.Pointer)(unsafe.Pointer(x))[1]
		return reflect.NewAt(v.Type(), data).Elem()
	}
	return v
}

// directIface reports whether an interface stores a value of type t in
// place of the pointer to it: pointer-shaped types, as the compiler decides
// (types.IsDirectIface).
func directIface(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Chan, reflect.Map, reflect.Func, reflect.UnsafePointer:
		return true
	case reflect.Array:
		return t.Len() == 1 && directIface(t.Elem())
	case reflect.Struct:
		return t.NumField() == 1 && directIface(t.Field(0).Type)
	}
	return false
}

// DiffJSON decodes two JSON documents and lists their differences. Object
// members are shown as fields (.items[3].price); numbers are compared by
// value (1 equals 1.0). An error says which document is not valid JSON.
func (c *Comparer) DiffJSON(old, new []byte) ([]Difference, error) {
	a, err := decodeJSON(old)
	if err != nil {
		return nil, fmt.Errorf("diff: old document: %w", err)
	}
	b, err := decodeJSON(new)
	if err != nil {
		return nil, fmt.Errorf("diff: new document: %w", err)
	}
	w := c.getWalker(true)
	w.json = true
	w.compare(reflect.ValueOf(a), reflect.ValueOf(b), 0)
	diffs := w.diffs
	w.diffs = nil
	c.putWalker(w)
	return diffs, nil
}

// DiffJSON is [Comparer.DiffJSON] with default options.
func DiffJSON(old, new []byte) ([]Difference, error) { return defaultComparer.DiffJSON(old, new) }

func decodeJSON(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	// Only white space may follow the value: anything else, valid JSON or
	// not, is an error (Token fails with io.EOF only at a clean end).
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// Signature is the shape of a discrepancy: the differing paths with indices
// and map keys collapsed to [*], deduplicated, sorted and joined by spaces.
// Discrepancies with the same signature usually have the same cause.
func Signature(diffs []Difference) string {
	if len(diffs) == 0 {
		return ""
	}
	paths := make([]string, 0, len(diffs))
	for _, d := range diffs {
		p := CollapsePath(d.Path)
		if p == "" {
			p = "(root)"
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)
	out := paths[:1]
	for _, p := range paths[1:] {
		if p != out[len(out)-1] {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

// CollapsePath replaces every index and map key in path with [*]:
// `.Items[3].Tags["x"]` becomes ".Items[*].Tags[*]".
func CollapsePath(path string) string {
	if strings.IndexByte(path, '[') < 0 {
		return path
	}
	var b strings.Builder
	for i := 0; i < len(path); {
		if path[i] == '[' {
			if n, ok := bracketLen(path[i:]); ok {
				b.WriteString("[*]")
				i += n
				continue
			}
		}
		b.WriteByte(path[i])
		i++
	}
	return b.String()
}

// walker is the state of one comparison.
type walker struct {
	c      *Comparer
	report bool // list differences, rather than stop at the first
	json   bool // map[string]any keys print as fields
	paths  bool // maintain path
	path   []byte
	diffs  []Difference
	// visited holds the pairs of pointers met (see seen), visitLog the
	// order they were met in, so that a failed trial comparison can be
	// undone.
	visited  map[visit]bool
	visitLog []visit
	// infos caches the last struct types met, which are looked up again
	// and again (every element of a slice of structs).
	infos    [4]cachedInfo
	nextInfo int
}

type cachedInfo struct {
	t    reflect.Type
	info *structInfo
}

func (w *walker) structInfo(t reflect.Type) *structInfo {
	for i := range w.infos {
		if w.infos[i].t == t {
			return w.infos[i].info
		}
	}
	info := structInfoOf(t)
	w.infos[w.nextInfo] = cachedInfo{t, info}
	w.nextInfo = (w.nextInfo + 1) % len(w.infos)
	return info
}

type visit struct {
	a, b unsafe.Pointer
	// Slice lengths: s[:1] and s[:3] share a pointer but not a value.
	na, nb int
	typ    reflect.Type
}

// cycleDepth is the depth from which Equal remembers the pointers it has
// followed, to stop at cycles and to compare shared values once; shallower
// values are compared without that cost (going round a cycle a few times
// finds the same first difference). It is small because a value whose
// pointers branch and join again (a cycle with two ways back, a DAG) costs
// up to branches^depth comparisons before memory kicks in. Diff remembers
// from the root, so that each pair of values is compared, and each
// difference listed, once.
const cycleDepth = 8

// maxKeptVisits bounds the memory a pooled walker keeps for cycle
// detection: clearing a large map costs time at every later comparison.
const maxKeptVisits = 1024

func (c *Comparer) getWalker(report bool) *walker {
	w, _ := c.walkerCache.Get().(*walker)
	if w == nil {
		w = &walker{c: c}
	}
	w.report = report
	w.paths = report || c.needsPaths
	return w
}

func (c *Comparer) putWalker(w *walker) {
	w.path = w.path[:0]
	w.json = false
	w.diffs = nil
	if len(w.visited) > maxKeptVisits {
		w.visited, w.visitLog = nil, nil
	} else if w.visited != nil {
		clear(w.visited)
		w.visitLog = w.visitLog[:0]
	}
	c.walkerCache.Put(w)
}

func (w *walker) full() bool { return w.report && len(w.diffs) >= w.c.limit() }

// limit is MaxDifferences, defaulted also in a zero Comparer.
func (c *Comparer) limit() int {
	if c.max == 0 {
		return defaultMaxDifferences
	}
	return c.max
}

const defaultMaxDifferences = 100

// differ records a difference at the current path and returns false.
func (w *walker) differ(a, b reflect.Value) bool { return w.differMissing(a, b, true, true) }

// differMissing records a difference at the current path, with Missing on
// the side that lacks the value (aOK or bOK false), and returns false.
func (w *walker) differMissing(a, b reflect.Value, aOK, bOK bool) bool {
	if w.report && len(w.diffs) < w.c.limit() {
		d := Difference{Path: string(w.path), Old: Missing, New: Missing}
		if aOK {
			d.Old = format(a)
		}
		if bOK {
			d.New = format(b)
		}
		w.diffs = append(w.diffs, d)
	}
	return false
}

var timeType = reflect.TypeFor[time.Time]()
var jsonNumberType = reflect.TypeFor[json.Number]()

func (w *walker) compare(a, b reflect.Value, depth int) bool {
	if w.paths && len(w.c.ignore) > 0 && matchAny(w.c.ignore, w.path) {
		return true
	}
	if !a.IsValid() || !b.IsValid() {
		if a.IsValid() == b.IsValid() {
			return true
		}
		return w.differ(a, b)
	}
	if a.Type() != b.Type() {
		return w.differ(a, b)
	}
	t := a.Type()
	if w.c.equalities != nil {
		if eq, ok := w.c.equalities[t]; ok {
			if safeEqual(eq, a, b) {
				return true
			}
			return w.differ(a, b)
		}
	}
	switch a.Kind() {
	case reflect.Bool:
		if a.Bool() == b.Bool() {
			return true
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if a.Int() == b.Int() {
			return true
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if a.Uint() == b.Uint() {
			return true
		}
	case reflect.Float32, reflect.Float64:
		if w.floatEqual(a.Float(), b.Float()) {
			return true
		}
	case reflect.Complex64, reflect.Complex128:
		x, y := a.Complex(), b.Complex()
		if w.floatEqual(real(x), real(y)) && w.floatEqual(imag(x), imag(y)) {
			return true
		}
	case reflect.String:
		if t == jsonNumberType {
			if jsonNumbersEqual(a.String(), b.String(), w.c.tolerance) {
				return true
			}
		} else if a.String() == b.String() {
			return true
		}
	case reflect.Struct:
		info := w.structInfo(t)
		if info.isTime {
			if w.timeEqual(a, b) {
				return true
			}
			break
		}
		return w.compareStruct(info, a, b, depth)
	case reflect.Pointer:
		if a.UnsafePointer() == b.UnsafePointer() {
			return true
		}
		if a.IsNil() || b.IsNil() {
			break
		}
		if w.seen(a, b, depth) {
			return true
		}
		return w.compare(a.Elem(), b.Elem(), depth+1)
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() && b.IsNil() {
				return true
			}
			break
		}
		return w.compare(a.Elem(), b.Elem(), depth+1)
	case reflect.Slice:
		if a.Len() != 0 && b.Len() != 0 && a.UnsafePointer() == b.UnsafePointer() && a.Len() == b.Len() {
			return true
		}
		if w.seen(a, b, depth) {
			return true
		}
		return w.compareList(a, b, depth)
	case reflect.Array:
		return w.compareList(a, b, depth)
	case reflect.Map:
		if a.Len() != 0 && a.UnsafePointer() == b.UnsafePointer() {
			return true
		}
		if w.seen(a, b, depth) {
			return true
		}
		return w.compareMap(a, b, depth)
	case reflect.Func:
		if a.IsNil() && b.IsNil() {
			return true
		}
	case reflect.Chan, reflect.UnsafePointer:
		if a.UnsafePointer() == b.UnsafePointer() {
			return true
		}
	}
	return w.differ(a, b)
}

func safeEqual(eq func(a, b reflect.Value) bool, a, b reflect.Value) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
		}
	}()
	return eq(a, b)
}

// seen reports whether the pair (a, b) of pointers has been compared
// already or is being compared further up (a cycle): it then counts as
// equal here, any difference in it being found where it was first met.
func (w *walker) seen(a, b reflect.Value, depth int) bool {
	if depth < cycleDepth && !w.report {
		return false
	}
	if a.Kind() == reflect.Slice && (a.Len() == 0 || b.Len() == 0) {
		// Empty slices lead nowhere, and share pointers (nil, or the one
		// address of all zero-size allocations) without being the same.
		return false
	}
	if w.visited == nil {
		w.visited = make(map[visit]bool)
	}
	v := visit{a: a.UnsafePointer(), b: b.UnsafePointer(), typ: a.Type()}
	if a.Kind() == reflect.Slice {
		v.na, v.nb = a.Len(), b.Len()
	}
	if w.visited[v] {
		return true
	}
	w.visited[v] = true
	w.visitLog = append(w.visitLog, v)
	return false
}

// forgetSince undoes what seen remembered since the visit log had length
// mark: pairs met during a comparison that failed are not known equal.
func (w *walker) forgetSince(mark int) {
	for _, v := range w.visitLog[mark:] {
		delete(w.visited, v)
	}
	w.visitLog = w.visitLog[:mark]
}

func (w *walker) floatEqual(x, y float64) bool {
	if x == y {
		return true
	}
	if math.IsNaN(x) || math.IsNaN(y) {
		return math.IsNaN(x) && math.IsNaN(y)
	}
	return w.c.tolerance > 0 && math.Abs(x-y) <= w.c.tolerance
}

// jsonNumbersEqual compares two JSON numbers by their exact decimal value,
// so that 1, 1.0 and 1e0 are equal but 9007199254740993 and
// 9007199254740992 (one float64 apart) are not. With a tolerance, numbers
// that are not exactly equal are compared as float64s.
func jsonNumbersEqual(x, y string, tolerance float64) bool {
	if x == y {
		return true
	}
	dx, okx := parseDecimal(x)
	dy, oky := parseDecimal(y)
	if okx && oky && dx.neg == dy.neg && dx.exp == dy.exp && dx.digits == dy.digits {
		return true
	}
	if tolerance == 0 {
		return false
	}
	f, err1 := strconv.ParseFloat(x, 64)
	g, err2 := strconv.ParseFloat(y, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	return math.Abs(f-g) <= tolerance
}

// decimal is a number in a canonical form: ±0.digits × 10^exp, digits
// without leading or trailing zeros. Zero is {false, "", 0}.
type decimal struct {
	neg    bool
	digits string
	exp    int64
}

// parseDecimal reads a JSON number (-12.50e3) into its canonical form; ok is
// false when s is not one or its exponent is out of range.
func parseDecimal(s string) (d decimal, ok bool) {
	if strings.HasPrefix(s, "-") {
		d.neg, s = true, s[1:]
	}
	mant, exp := s, int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		var err error
		if exp, err = strconv.ParseInt(s[i+1:], 10, 64); err != nil || exp > math.MaxInt32 || exp < math.MinInt32 {
			return decimal{}, false
		}
		mant = s[:i]
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart == "" {
		return decimal{}, false
	}
	digits := make([]byte, 0, len(intPart)+len(frac))
	digits = append(digits, intPart...)
	digits = append(digits, frac...)
	point := int64(len(intPart))
	for _, c := range digits {
		if c < '0' || c > '9' {
			return decimal{}, false
		}
	}
	for len(digits) > 0 && digits[0] == '0' {
		digits, point = digits[1:], point-1
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		return decimal{}, true
	}
	d.digits, d.exp = string(digits), point+exp
	return d, true
}

func (w *walker) timeEqual(a, b reflect.Value) bool {
	return w.timesEqual(timeOf(a), timeOf(b))
}

func (w *walker) timesEqual(x, y time.Time) bool {
	if p := w.c.precision; p > 0 {
		x, y = x.Truncate(p), y.Truncate(p)
	}
	return x.Equal(y)
}

// timeOf returns the time.Time in v, also when v was reached through an
// unexported field.
func timeOf(v reflect.Value) time.Time {
	if v.CanAddr() {
		return *(*time.Time)(unsafe.Pointer(v.UnsafeAddr()))
	}
	// Not v.Interface(): that copies (allocates) addressable values, and
	// panics on unexported ones. Rebuilding from the fields does neither.
	t := timeFromFields(v.Field(0).Uint(), v.Field(1).Int())
	if loc := (*time.Location)(v.Field(2).UnsafePointer()); loc != nil {
		return t.In(loc)
	}
	return t
}

// timeFromFields rebuilds a time.Time's instant from its wall and ext
// fields, for times that cannot be read any other way (unexported and not
// addressable). It follows the encoding documented in package time's
// source; TestTimeFromFields guards it.
func timeFromFields(wall uint64, ext int64) time.Time {
	const (
		hasMonotonic   = 1 << 63
		nsecMask       = 1<<30 - 1
		nsecShift      = 30
		wallToInternal = (1884*365 + 1884/4 - 1884/100 + 1884/400) * 86400
		internalToUnix = -(1969*365 + 1969/4 - 1969/100 + 1969/400) * 86400
	)
	nsec := int64(wall & nsecMask)
	var sec int64
	if wall&hasMonotonic != 0 {
		sec = wallToInternal + int64(wall<<1>>(nsecShift+1))
	} else {
		sec = ext
	}
	return time.Unix(sec+internalToUnix, nsec).UTC()
}

func (w *walker) compareStruct(info *structInfo, a, b reflect.Value, depth int) bool {
	if w.fast() && a.CanAddr() && b.CanAddr() {
		return w.structEqualAt(info, unsafe.Pointer(a.UnsafeAddr()), unsafe.Pointer(b.UnsafeAddr()), a, b, depth)
	}
	eq := true
	for i := range info.fields {
		mark := len(w.path)
		if w.paths {
			w.path = append(w.path, '.')
			w.path = append(w.path, info.names[i]...)
		}
		ok := w.compare(a.Field(i), b.Field(i), depth+1)
		w.path = w.path[:mark]
		if !ok {
			eq = false
			if !w.report || w.full() {
				return false
			}
		}
	}
	return eq
}

// fast reports whether the fast path applies: no paths to build, no
// differences to list, no custom equality that could claim a type.
func (w *walker) fast() bool { return !w.paths && w.c.equalities == nil }

// structEqualAt compares the structs at pa and pb, which a and b hold.
// Leaf fields are compared in place, without a reflect.Value each; a and
// b are only used for other fields (and may be invalid when there are
// none).
func (w *walker) structEqualAt(info *structInfo, pa, pb unsafe.Pointer, a, b reflect.Value, depth int) bool {
	for i, f := range info.fields {
		if f.leaf != leafNone {
			if !w.leafEqual(f.leaf, unsafe.Add(pa, f.offset), unsafe.Add(pb, f.offset)) {
				return false
			}
		} else if !w.compare(a.Field(i), b.Field(i), depth+1) {
			return false
		}
	}
	return true
}

// structInfo is what comparing and formatting need of a struct type,
// worked out once per type.
type structInfo struct {
	names   []string
	fields  []fieldInfo
	allLeaf bool // every field is a leaf
	// isTime: time.Time, or a type defined on it (type Stamp time.Time),
	// compared as an instant rather than field by field.
	isTime bool
}

type fieldInfo struct {
	offset uintptr
	leaf   leafKind
}

// leafKind says how to compare a value in place, through a pointer to it.
type leafKind uint8

const (
	leafNone leafKind = iota // not a leaf: compare through reflection
	leaf1                    // bool, int8, uint8: bitwise
	leaf2
	leaf4
	leaf8
	leafFloat32
	leafFloat64
	leafComplex64
	leafComplex128
	leafString
	leafTime
)

var structInfoCache sync.Map // reflect.Type → *structInfo

func structInfoOf(t reflect.Type) *structInfo {
	if v, ok := structInfoCache.Load(t); ok {
		return v.(*structInfo)
	}
	n := t.NumField()
	info := &structInfo{names: make([]string, n), fields: make([]fieldInfo, n), allLeaf: true,
		isTime: leafKindOf(t) == leafTime}
	for i := range n {
		f := t.Field(i)
		info.names[i] = f.Name
		info.fields[i] = fieldInfo{offset: f.Offset, leaf: leafKindOf(f.Type)}
		if info.fields[i].leaf == leafNone {
			info.allLeaf = false
		}
	}
	v, _ := structInfoCache.LoadOrStore(t, info)
	return v.(*structInfo)
}

func leafKindOf(t reflect.Type) leafKind {
	switch t {
	case timeType:
		return leafTime
	case jsonNumberType:
		return leafNone
	}
	switch t.Kind() {
	case reflect.Struct:
		if t.ConvertibleTo(timeType) {
			return leafTime
		}
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		switch t.Size() {
		case 1:
			return leaf1
		case 2:
			return leaf2
		case 4:
			return leaf4
		case 8:
			return leaf8
		}
	case reflect.Float32:
		return leafFloat32
	case reflect.Float64:
		return leafFloat64
	case reflect.Complex64:
		return leafComplex64
	case reflect.Complex128:
		return leafComplex128
	case reflect.String:
		return leafString
	}
	return leafNone
}

// leafEqual compares two values of leaf kind k in place.
func (w *walker) leafEqual(k leafKind, p, q unsafe.Pointer) bool {
	switch k {
	case leaf1:
		return *(*uint8)(p) == *(*uint8)(q)
	case leaf2:
		return *(*uint16)(p) == *(*uint16)(q)
	case leaf4:
		return *(*uint32)(p) == *(*uint32)(q)
	case leaf8:
		return *(*uint64)(p) == *(*uint64)(q)
	case leafFloat32:
		return w.floatEqual(float64(*(*float32)(p)), float64(*(*float32)(q)))
	case leafFloat64:
		return w.floatEqual(*(*float64)(p), *(*float64)(q))
	case leafComplex64:
		x, y := *(*complex64)(p), *(*complex64)(q)
		return w.floatEqual(float64(real(x)), float64(real(y))) && w.floatEqual(float64(imag(x)), float64(imag(y)))
	case leafComplex128:
		x, y := *(*complex128)(p), *(*complex128)(q)
		return w.floatEqual(real(x), real(y)) && w.floatEqual(imag(x), imag(y))
	case leafString:
		return *(*string)(p) == *(*string)(q)
	case leafTime:
		return w.timesEqual(*(*time.Time)(p), *(*time.Time)(q))
	}
	panic("diff: leafEqual of a non-leaf")
}

func (w *walker) pushIndex(i int) int {
	mark := len(w.path)
	if w.paths {
		w.path = append(w.path, '[')
		w.path = strconv.AppendInt(w.path, int64(i), 10)
		w.path = append(w.path, ']')
	}
	return mark
}

func (w *walker) unordered() bool {
	return w.c.allUnorder || (len(w.c.unordered) > 0 && matchAny(w.c.unordered, w.path))
}

func (w *walker) compareList(a, b reflect.Value, depth int) bool {
	if w.unordered() {
		return w.compareUnordered(a, b, depth)
	}
	n, m := a.Len(), b.Len()
	if n != m && !w.report {
		return false
	}
	if w.fast() && n == m && a.Kind() == reflect.Slice {
		et := a.Type().Elem()
		var info *structInfo
		leaf := leafTime
		if et.Kind() == reflect.Struct {
			if info = w.structInfo(et); !info.isTime {
				leaf = leafNone
			}
		} else {
			leaf = leafKindOf(et)
		}
		if leaf != leafNone {
			// Slices of numbers, strings, times: in place, by stride;
			// integers all at once, bitwise.
			pa, pb, size := a.UnsafePointer(), b.UnsafePointer(), et.Size()
			if leaf >= leaf1 && leaf <= leaf8 {
				return bytes.Equal(unsafe.Slice((*byte)(pa), uintptr(n)*size), unsafe.Slice((*byte)(pb), uintptr(n)*size))
			}
			for i := range uintptr(n) {
				if !w.leafEqual(leaf, unsafe.Add(pa, i*size), unsafe.Add(pb, i*size)) {
					return false
				}
			}
			return true
		}
		if info != nil {
			// Slices of structs: elements in place, by stride.
			size := et.Size()
			pa, pb := a.UnsafePointer(), b.UnsafePointer()
			for i := range n {
				var ea, eb reflect.Value
				if !info.allLeaf {
					ea, eb = a.Index(i), b.Index(i)
				}
				off := uintptr(i) * size
				if !w.structEqualAt(info, unsafe.Add(pa, off), unsafe.Add(pb, off), ea, eb, depth+1) {
					return false
				}
			}
			return true
		}
	}
	eq := true
	for i := range max(n, m) {
		mark := w.pushIndex(i)
		var ok bool
		switch {
		case i >= n:
			ok = w.differMissing(a, b.Index(i), false, true)
		case i >= m:
			ok = w.differMissing(a.Index(i), b, true, false)
		default:
			ok = w.compare(a.Index(i), b.Index(i), depth+1)
		}
		w.path = w.path[:mark]
		if !ok {
			eq = false
			if !w.report || w.full() {
				return false
			}
		}
	}
	return eq
}

// compareUnordered matches each element of a to an equal, unmatched element
// of b. Unmatched elements are reported at their own index on their side.
//
// Matching is greedy, in index order. With exact equality (an equivalence)
// that finds a complete matching whenever one exists, and leaves the same
// indices unmatched whichever side is a: the diff stays symmetric. A float
// tolerance or a custom equality need not be transitive, so for them
// unmatched elements are retried along augmenting paths (a maximum
// bipartite matching), bounded to keep the cost in check.
func (w *walker) compareUnordered(a, b reflect.Value, depth int) bool {
	n, m := a.Len(), b.Len()
	if n != m && !w.report {
		return false
	}
	// Elements are tried against each other with w itself, switched to
	// answering yes or no: it keeps the pairs of pointers being compared
	// further up, so that a cycle through this slice ends.
	report, paths, base := w.report, w.paths, len(w.path)
	equal := func(i, j int) bool {
		w.report, w.paths = false, w.c.needsPaths
		if w.paths {
			// The element's own path, so that patterns such as
			// .Items[*].ETag apply inside unordered slices too.
			w.path = strconv.AppendInt(append(w.path, '['), int64(i), 10)
			w.path = append(w.path, ']')
		}
		mark := len(w.visitLog)
		ok := w.compare(a.Index(i), b.Index(j), depth+1)
		if !ok {
			w.forgetSince(mark)
		}
		w.report, w.paths, w.path = report, paths, w.path[:base]
		return ok
	}
	matchA := make([]int, n) // the index in b matched to a[i], or -1
	matchB := make([]int, m) // the index in a matched to b[j], or -1
	for j := range matchB {
		matchB[j] = -1
	}
	const maxAugmentCells = 1 << 16
	canAugment := (w.c.tolerance > 0 || w.c.equalities != nil) && n*m <= maxAugmentCells
	unmatched := 0
	for i := range n {
		matchA[i] = -1
		for j := range m {
			if matchB[j] < 0 && equal(i, j) {
				matchA[i], matchB[j] = j, i
				break
			}
		}
		if matchA[i] < 0 {
			if !w.report && !canAugment {
				return false
			}
			unmatched++
		}
	}
	// All unmatched: no pair is equal, and no augmenting path exists.
	if canAugment && unmatched > 0 && unmatched < n {
		w.augment(equal, matchA, matchB)
	}
	// Report by index, an unmatched element of each side at the same index
	// as one difference, so that Diff(b, a) mirrors Diff(a, b).
	eq := true
	for k := range max(n, m) {
		inA, inB := k < n && matchA[k] < 0, k < m && matchB[k] < 0
		if !inA && !inB {
			continue
		}
		if !w.report {
			return false
		}
		eq = false
		mark := w.pushIndex(k)
		switch {
		case inA && inB:
			w.differ(a.Index(k), b.Index(k))
		case inA:
			w.differMissing(a.Index(k), b, true, false)
		default:
			w.differMissing(a, b.Index(k), false, true)
		}
		w.path = w.path[:mark]
		if w.full() {
			break
		}
	}
	return eq
}

// augment extends a matching along augmenting paths (Kuhn's algorithm),
// remembering each element comparison.
func (w *walker) augment(equal func(i, j int) bool, matchA, matchB []int) {
	n, m := len(matchA), len(matchB)
	known := make([]uint8, n*m) // 0 not compared yet, 1 equal, 2 different
	eq := func(i, j int) bool {
		k := i*m + j
		if known[k] == 0 {
			known[k] = 2
			if equal(i, j) {
				known[k] = 1
			}
		}
		return known[k] == 1
	}
	visited := make([]bool, m)
	var try func(i int) bool
	try = func(i int) bool {
		for j := range m {
			if visited[j] || !eq(i, j) {
				continue
			}
			visited[j] = true
			if matchB[j] < 0 || try(matchB[j]) {
				matchA[i], matchB[j] = j, i
				return true
			}
		}
		return false
	}
	for i := range n {
		if matchA[i] < 0 {
			clear(visited)
			try(i)
		}
	}
}

func (w *walker) pushKey(k reflect.Value) int {
	mark := len(w.path)
	if !w.paths {
		return mark
	}
	if k.Kind() == reflect.String {
		s := k.String()
		if w.json && isIdentifier(s) {
			w.path = append(w.path, '.')
			w.path = append(w.path, s...)
			return mark
		}
		w.path = append(w.path, '[')
		w.path = strconv.AppendQuote(w.path, s)
		w.path = append(w.path, ']')
		return mark
	}
	w.path = append(w.path, '[')
	w.path = append(w.path, format(k)...)
	w.path = append(w.path, ']')
	return mark
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || (i > 0 && '0' <= r && r <= '9') {
			continue
		}
		return false
	}
	return true
}

func (w *walker) compareMap(a, b reflect.Value, depth int) bool {
	if a.Len() != b.Len() && !w.report {
		return false
	}
	if !w.report {
		it := a.MapRange()
		for it.Next() {
			k := it.Key()
			bv := b.MapIndex(k)
			if !bv.IsValid() {
				return false
			}
			mark := w.pushKey(k)
			ok := w.compare(it.Value(), bv, depth+1)
			w.path = w.path[:mark]
			if !ok {
				return false
			}
		}
		return true
	}
	// Reporting: visit entries in a stable key order so that the output is
	// deterministic. Entries come from iteration rather than lookups in their
	// own map, which fail for NaN keys: such entries find no partner on the
	// other side and are reported as missing there.
	var entries []mapEntry
	it := a.MapRange()
	for it.Next() {
		entries = append(entries, mapEntry{key: it.Key(), a: it.Value(), b: b.MapIndex(it.Key())})
	}
	it = b.MapRange()
	for it.Next() {
		if !a.MapIndex(it.Key()).IsValid() {
			entries = append(entries, mapEntry{key: it.Key(), b: it.Value()})
		}
	}
	sort.SliceStable(entries, func(i, j int) bool { return keyLess(entries[i].key, entries[j].key) })
	eq := true
	for _, e := range entries {
		av, bv := e.a, e.b
		mark := w.pushKey(e.key)
		var ok bool
		switch {
		case !av.IsValid():
			ok = w.differMissing(a, bv, false, true)
		case !bv.IsValid():
			ok = w.differMissing(av, b, true, false)
		default:
			ok = w.compare(av, bv, depth+1)
		}
		w.path = w.path[:mark]
		if !ok {
			eq = false
			if w.full() {
				return false
			}
		}
	}
	return eq
}

type mapEntry struct {
	key  reflect.Value
	a, b reflect.Value // invalid when the key is missing on that side
}

func sortKeys(keys []reflect.Value) {
	sort.SliceStable(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
}

// keyLess orders map keys: numbers by value (NaN first), strings bytewise,
// anything else by its formatted text.
func keyLess(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.String:
		return a.String() < b.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() < b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() < b.Uint()
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		return x < y || (math.IsNaN(x) && !math.IsNaN(y))
	}
	return format(a) < format(b)
}

// maxFormatted bounds a formatted value, so that a huge value does not
// become a huge observation.
const maxFormatted = 256

// format renders v for a Difference: strings quoted, times in RFC 3339,
// composite values in Go syntax, unexported parts included.
func format(v reflect.Value) string {
	var b []byte
	b = appendValue(b, v, 0)
	if len(b) > maxFormatted {
		cut := maxFormatted
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		b = append(b[:cut], "…"...)
	}
	return string(b)
}

func appendValue(b []byte, v reflect.Value, depth int) []byte {
	if len(b) > maxFormatted {
		return b
	}
	if !v.IsValid() {
		return append(b, "nil"...)
	}
	switch v.Kind() {
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Type() == reflect.TypeFor[time.Duration]() {
			return append(b, time.Duration(v.Int()).String()...)
		}
		return strconv.AppendInt(b, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(b, v.Uint(), 10)
	case reflect.Float32:
		return strconv.AppendFloat(b, v.Float(), 'g', -1, 32)
	case reflect.Float64:
		return strconv.AppendFloat(b, v.Float(), 'g', -1, 64)
	case reflect.Complex64, reflect.Complex128:
		return fmt.Appendf(b, "%v", v.Complex())
	case reflect.String:
		if v.Type() == jsonNumberType {
			return append(b, v.String()...)
		}
		return strconv.AppendQuote(b, v.String())
	case reflect.Struct:
		if structInfoOf(v.Type()).isTime {
			return timeOf(v).AppendFormat(b, time.RFC3339Nano)
		}
		if depth > 3 {
			return append(b, "{…}"...)
		}
		b = append(b, v.Type().String()...)
		b = append(b, '{')
		names := structInfoOf(v.Type()).names
		for i := range v.NumField() {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, names[i]...)
			b = append(b, ':')
			b = appendValue(b, v.Field(i), depth+1)
		}
		return append(b, '}')
	case reflect.Pointer:
		if v.IsNil() {
			return append(b, "nil"...)
		}
		if depth > 3 {
			return append(b, "&…"...)
		}
		return appendValue(append(b, '&'), v.Elem(), depth+1)
	case reflect.Interface:
		if v.IsNil() {
			return append(b, "nil"...)
		}
		return appendValue(b, v.Elem(), depth)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return append(b, "nil"...)
		}
		if depth > 3 {
			return append(b, "[…]"...)
		}
		b = append(b, '[')
		for i := range v.Len() {
			if i > 0 {
				b = append(b, ", "...)
			}
			if len(b) > maxFormatted {
				break
			}
			b = appendValue(b, v.Index(i), depth+1)
		}
		return append(b, ']')
	case reflect.Map:
		if v.IsNil() {
			return append(b, "nil"...)
		}
		if depth > 3 {
			return append(b, "map[…]"...)
		}
		keys := v.MapKeys()
		sortKeys(keys)
		b = append(b, "map["...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ", "...)
			}
			if len(b) > maxFormatted {
				break
			}
			b = appendValue(b, k, depth+1)
			b = append(b, ':')
			b = appendValue(b, v.MapIndex(k), depth+1)
		}
		return append(b, ']')
	case reflect.Func:
		if v.IsNil() {
			return append(b, "nil"...)
		}
		return append(b, "func"...)
	case reflect.Chan, reflect.UnsafePointer:
		if v.IsNil() {
			return append(b, "nil"...)
		}
		return fmt.Appendf(b, "%s(%p)", v.Type(), v.UnsafePointer())
	}
	return append(b, v.Type().String()...)
}

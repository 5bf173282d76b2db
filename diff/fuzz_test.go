package diff

import (
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzDiffJSON checks DiffJSON on any two documents: it never panics, a
// document equals itself, and Diff(b, a) mirrors Diff(a, b).
func FuzzDiffJSON(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":[1,2,{"c":null}]}`), []byte(`{"a":1.0,"b":[1,3]}`))
	f.Add([]byte(`{"a-b":"x","":true}`), []byte(`{"a-b":"y","z":false}`))
	f.Add([]byte(`[1e2, 0.1, -0, 123456789012345678901]`), []byte(`[100, 0.10, 0, 123456789012345678902]`))
	f.Add([]byte(`"s"`), []byte(`"s" x`))
	f.Add([]byte(`{"k":{"k":{"k":[[[]]]}}}`), []byte(`{"k":{"k":{"k":[[[1]]]}}}`))
	f.Add([]byte(`{"\"]":1,"[*]":2}`), []byte(`{"\"]":2}`))
	f.Add([]byte(`{}`), []byte(`{`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		d, err := DiffJSON(a, b)
		errA := decodeErr(a)
		errB := decodeErr(b)
		switch {
		case errA != nil:
			if err == nil || !strings.Contains(err.Error(), "old document") {
				t.Fatalf("old is invalid (%v), but DiffJSON says %v", errA, err)
			}
			return
		case errB != nil:
			if err == nil || !strings.Contains(err.Error(), "new document") {
				t.Fatalf("new is invalid (%v), but DiffJSON says %v", errB, err)
			}
			return
		case err != nil:
			t.Fatalf("both documents are valid, but: %v", err)
		}
		for _, doc := range [][]byte{a, b} {
			if self, err := DiffJSON(doc, doc); err != nil || self != nil {
				t.Fatalf("%q compared with itself: %q, %v", doc, strs(self), err)
			}
		}
		back, err := DiffJSON(b, a)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(strs(back), strs(mirror(d))) {
			t.Fatalf("Diff(b, a) does not mirror Diff(a, b):\n%q\n%q", strs(d), strs(back))
		}
		for _, x := range d {
			_ = CollapsePath(x.Path)
		}
		_ = Signature(d)
	})
}

func decodeErr(doc []byte) error {
	_, err := decodeJSON(doc)
	return err
}

// fuzzValue is a value for FuzzDiff with every kind the comparer treats
// specially.
type fuzzValue struct {
	I     int
	F     float64
	S     string
	B     bool
	T     time.Time
	P     *fuzzValue
	L     []fuzzValue
	M     map[string]*fuzzValue
	A     any
	C     complex128
	Arr   [2]float32
	u     uint8
	when  time.Time
	inner *fuzzValue
}

// builder makes values from fuzz bytes, deterministically: the same bytes
// always give equal values (sharing no memory, so that comparisons cannot
// short-circuit), and running out of bytes reads zeros.
type builder struct {
	data []byte
	root *fuzzValue
}

func (b *builder) byte() byte {
	if len(b.data) == 0 {
		return 0
	}
	c := b.data[0]
	b.data = b.data[1:]
	return c
}

func (b *builder) uint64() uint64 {
	var buf [8]byte
	n := copy(buf[:], b.data)
	b.data = b.data[n:]
	return binary.LittleEndian.Uint64(buf[:])
}

func (b *builder) string() string {
	n := int(b.byte() % 6)
	var s []byte
	for range n {
		s = append(s, "ab\"]é[.x"[b.byte()%9:][0])
	}
	return string(s)
}

func (b *builder) time() time.Time {
	t := time.Unix(int64(b.uint64()%(1<<40))-1<<39, int64(b.byte())*1e6)
	switch b.byte() % 3 {
	case 0:
		return t.UTC()
	case 1:
		return t.In(time.FixedZone("x", 3600))
	}
	return t.Local()
}

func (b *builder) value(depth int) *fuzzValue {
	v := &fuzzValue{}
	if b.root == nil {
		b.root = v
	}
	b.fill(v, depth)
	return v
}

func (b *builder) fill(v *fuzzValue, depth int) {
	flags := b.byte()
	v.I = int(int8(b.byte()))
	v.F = math.Float64frombits(b.uint64())
	if flags&1 != 0 {
		v.F = float64(int8(b.byte())) / 4 // small numbers, to meet each other
	}
	v.S = b.string()
	v.B = flags&2 != 0
	v.T = b.time()
	v.u = b.byte() % 4
	v.when = b.time()
	v.C = complex(float64(int8(b.byte())), v.F)
	v.Arr = [2]float32{float32(int8(b.byte())), float32(v.F)}
	if depth <= 0 {
		return
	}
	switch b.byte() % 4 {
	case 1:
		v.P = b.value(depth - 1)
	case 2:
		v.P = b.root // a cycle
	case 3:
		v.inner = b.value(depth - 1)
	}
	if n := int(b.byte() % 4); n > 0 || flags&4 != 0 {
		v.L = make([]fuzzValue, n)
		for i := range v.L {
			b.fill(&v.L[i], depth-1)
		}
	}
	if n := int(b.byte() % 4); n > 0 || flags&8 != 0 {
		v.M = make(map[string]*fuzzValue, n)
		for range n {
			k := b.string()
			if b.byte()%3 == 0 {
				v.M[k] = nil
			} else {
				v.M[k] = b.value(depth - 1)
			}
		}
	}
	switch b.byte() % 7 {
	case 1:
		v.A = int(b.byte())
	case 2:
		v.A = b.string()
	case 3:
		var x fuzzValue // by value: unexported fields unaddressable
		b.fill(&x, depth-1)
		v.A = x
	case 4:
		v.A = b.value(depth - 1)
	case 5:
		v.A = []any{b.byte(), b.string()}
	case 6:
		v.A = v.F
	}
}

func build(data []byte) *fuzzValue {
	b := &builder{data: data}
	return b.value(3)
}

// FuzzDiff checks the comparer on Go values built from fuzz bytes: no
// panic, a value equals a copy of itself, Diff(b, a) mirrors Diff(a, b),
// and Equal agrees with Diff. b is a with the bytes in edits XORed in, so
// that the two are often nearly equal.
func FuzzDiff(f *testing.F) {
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, []byte{0, 0, 1})
	f.Add([]byte{0xff, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xf0}, []byte{0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte("\x0f\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20\x21\x22\x23\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f\x30"), []byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"))
	f.Add([]byte(strings.Repeat("\x0e\x03\x02\x01", 40)), []byte(strings.Repeat("\x00", 60)+"\x05"))
	comparers := []*Comparer{
		MustNew(Options{}),
		MustNew(Options{IgnorePaths: []string{".L[*].S", `.M["a"]`}, UnorderedPaths: []string{".L", ".A"}, TimePrecision: time.Second}),
		MustNew(Options{Equalities: []Equality{EqualFunc(func(a, b string) bool { return strings.EqualFold(a, b) })}, MaxDifferences: 3}),
	}
	f.Fuzz(func(t *testing.T, data, edits []byte) {
		a, a2 := build(data), build(data)
		mutated := append([]byte(nil), data...)
		for i, e := range edits {
			if i < len(mutated) {
				mutated[i] ^= e
			} else {
				mutated = append(mutated, e)
			}
		}
		b := build(mutated)
		for ci, c := range comparers {
			for _, v := range []*fuzzValue{a, b} {
				if d := c.Diff(v, v); d != nil {
					t.Fatalf("comparer %d: a value differs from itself: %q", ci, strs(d))
				}
			}
			if d := c.Diff(a, a2); d != nil || !c.Equal(a, a2) || !c.Equal(*a, *a2) {
				t.Fatalf("comparer %d: a value differs from its copy: %q", ci, strs(d))
			}
			d, back := c.Diff(a, b), c.Diff(b, a)
			if !reflect.DeepEqual(strs(back), strs(mirror(d))) {
				t.Fatalf("comparer %d: Diff(b, a) does not mirror Diff(a, b):\n%q\n%q", ci, strs(d), strs(back))
			}
			if eq := c.Equal(a, b); eq != (len(d) == 0) {
				t.Fatalf("comparer %d: Equal = %v, but Diff = %q", ci, eq, strs(d))
			}
			if eq := c.Equal(*b, *a); eq != (len(d) == 0) {
				t.Fatalf("comparer %d: Equal(*b, *a) = %v, but Diff = %q", ci, eq, strs(d))
			}
			_ = Signature(d)
		}
	})
}

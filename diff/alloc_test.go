package diff

import (
	"testing"
)

// TestEqualAllocs holds Comparer.Equal to its promise: comparing two equal
// values of an ordinary struct allocates nothing, also when ignored paths
// make it build paths.
func TestEqualAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	x, y := newOrder(), newOrder()
	var byValueX, byValueY any = *x, *y // boxed once, outside the measurement
	var byPtrX, byPtrY any = x, y

	comparers := []struct {
		name string
		opts Options
	}{
		{"default", Options{}},
		{"ignore paths", Options{IgnorePaths: []string{".Items[*].Discount", `.Shipping.Postcode`, "Status"}}},
		{"tolerance and precision", Options{FloatTolerance: 1e-9, TimePrecision: 1000}},
	}
	for _, cc := range comparers {
		c := MustNew(cc.opts)
		for _, v := range []struct {
			name string
			a, b any
		}{
			{"by value", byValueX, byValueY},
			{"by pointer", byPtrX, byPtrY},
		} {
			if !c.Equal(v.a, v.b) {
				t.Fatalf("%s, %s: not equal", cc.name, v.name)
			}
			if n := testing.AllocsPerRun(100, func() { c.Equal(v.a, v.b) }); n != 0 {
				t.Errorf("%s, %s: Equal allocates %v times per call; want 0", cc.name, v.name, n)
			}
		}
	}
	t.Run("package Equal", func(t *testing.T) {
		if n := testing.AllocsPerRun(100, func() { Equal(byValueX, byValueY) }); n != 0 {
			t.Errorf("Equal allocates %v times per call; want 0", n)
		}
	})
}

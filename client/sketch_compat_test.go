//go:build ddsketchcompat

// This test compares the reporter's sketch encoding with the ddsketch
// package's own. It needs google.golang.org/protobuf in go.sum, which the
// module does not require, so it is behind a build tag:
//
//	cp go.mod go.sum /tmp/m/ && go test -modfile=/tmp/m/go.mod -mod=mod -tags ddsketchcompat -run Compat ./client

package client

import (
	"math"
	"testing"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

func TestSketchCompat(t *testing.T) {
	values := []float64{0, 1e-9, 0.0005, 0.001, 0.002, 0.0021, 0.013, 0.25, 1, 3.5, 60, 0.001}
	ref, err := ddsketch.NewDefaultDDSketch(SketchAccuracy)
	if err != nil {
		t.Fatal(err)
	}
	mine := newLatencySketch()
	for _, v := range values {
		if err := ref.Add(v); err != nil {
			t.Fatal(err)
		}
		mine.add(v)
	}
	var got []byte
	mine.encode(&got)
	dec, err := ddsketch.DecodeDDSketch(got, store.DefaultProvider, nil)
	if err != nil {
		t.Fatalf("ddsketch cannot decode the reporter's sketch: %v", err)
	}
	if dec.GetCount() != ref.GetCount() || dec.GetZeroCount() != ref.GetZeroCount() {
		t.Fatalf("count %v zero %v, want %v %v", dec.GetCount(), dec.GetZeroCount(), ref.GetCount(), ref.GetZeroCount())
	}
	for _, q := range []float64{0, 0.1, 0.5, 0.9, 0.95, 0.99, 1} {
		a, _ := dec.GetValueAtQuantile(q)
		b, _ := ref.GetValueAtQuantile(q)
		if math.Abs(a-b) > 1e-12 {
			t.Errorf("q%v: %v, want %v", q, a, b)
		}
	}
	// Decoded from its own encoding, the reference answers the same.
	var want []byte
	ref.Encode(&want, false)
	refDec, err := ddsketch.DecodeDDSketch(want, store.DefaultProvider, nil)
	if err != nil {
		t.Fatal(err)
	}
	for q := 0.0; q <= 1; q += 0.01 {
		a, _ := dec.GetValueAtQuantile(q)
		b, _ := refDec.GetValueAtQuantile(q)
		if a != b {
			t.Errorf("q%.2f: %v, want %v", q, a, b)
		}
	}
	// And it merges with a sketch of the library's.
	if err := refDec.MergeWith(dec); err != nil {
		t.Fatalf("merging: %v", err)
	}
	if refDec.GetCount() != 2*ref.GetCount() {
		t.Errorf("merged count %v, want %v", refDec.GetCount(), 2*ref.GetCount())
	}
}

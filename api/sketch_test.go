package api_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	enc "github.com/DataDog/sketches-go/ddsketch/encoding"
	"github.com/cutover/cutover/api"
)

func TestSketchQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var vals []float64
	a, b := api.NewSketch(), api.NewSketch()
	for i := 0; i < 10000; i++ {
		v := math.Exp(r.NormFloat64()) / 100 // log-normal latencies around 10ms
		vals = append(vals, v)
		if i%2 == 0 {
			a.Add(v)
		} else {
			b.Add(v)
		}
	}
	// Encoded, decoded and merged, as the server does with two instances.
	ab, _ := a.MarshalBinary()
	bb, _ := b.MarshalBinary()
	da, err := api.DecodeSketch(ab)
	if err != nil {
		t.Fatal(err)
	}
	db, err := api.DecodeSketch(bb)
	if err != nil {
		t.Fatal(err)
	}
	da.Merge(db)
	if da.Count() != 10000 {
		t.Fatalf("count %v", da.Count())
	}
	slices.Sort(vals)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.95, 0.99, 1} {
		want := vals[int(q*float64(len(vals)-1))]
		got := da.Quantile(q)
		if math.Abs(got-want) > 0.0101*want {
			t.Errorf("q%v = %v, want %v within 1%%", q, got, want)
		}
	}
}

func TestSketchZeroAndEmpty(t *testing.T) {
	s := api.NewSketch()
	if s.Quantile(0.5) != 0 {
		t.Fatal("empty sketch has a median")
	}
	s.Add(0)
	s.Add(-1)
	s.Add(math.NaN())
	s.Add(2)
	b, _ := s.MarshalBinary()
	d, err := api.DecodeSketch(b)
	if err != nil {
		t.Fatal(err)
	}
	if d.Count() != 4 || d.Quantile(0.5) != 0 || math.Abs(d.Quantile(1)-2) > 0.02 {
		t.Fatalf("count %v median %v max %v", d.Count(), d.Quantile(0.5), d.Quantile(1))
	}
	if e, err := api.DecodeSketch(nil); err != nil || e.Count() != 0 {
		t.Fatalf("nil bytes: %v %v", e, err)
	}
}

// TestSketchReadsDDSketchEncodings checks the encodings ddsketch itself
// writes: summary statistics, contiguous bins, a negative store.
func TestSketchReadsDDSketchEncodings(t *testing.T) {
	gamma := (1 + 0.01) / (1 - 0.01)
	var b []byte
	enc.EncodeFlag(&b, enc.FlagIndexMappingBaseLogarithmic)
	enc.EncodeFloat64LE(&b, gamma)
	enc.EncodeFloat64LE(&b, 0)
	enc.EncodeFlag(&b, enc.FlagCount)
	enc.EncodeFloat64LE(&b, 6)
	enc.EncodeFlag(&b, enc.NewFlag(enc.FlagTypePositiveStore, enc.BinEncodingContiguousCounts))
	enc.EncodeUvarint64(&b, 2)
	enc.EncodeVarint64(&b, -231) // ≈ 0.01s
	enc.EncodeVarint64(&b, 1)
	enc.EncodeVarfloat64(&b, 2)
	enc.EncodeVarfloat64(&b, 3)
	enc.EncodeFlag(&b, enc.NewFlag(enc.FlagTypeNegativeStore, enc.BinEncodingIndexDeltas))
	enc.EncodeUvarint64(&b, 1)
	enc.EncodeVarint64(&b, 5)
	s, err := api.DecodeSketch(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Count() != 6 || s.Quantile(0) != 0 || math.Abs(s.Quantile(1)-0.01)/0.01 > 0.03 {
		t.Fatalf("count %v min %v max %v", s.Count(), s.Quantile(0), s.Quantile(1))
	}
	// Another mapping is refused.
	var other []byte
	enc.EncodeFlag(&other, enc.FlagIndexMappingBaseLogarithmic)
	enc.EncodeFloat64LE(&other, 1.05)
	enc.EncodeFloat64LE(&other, 0)
	if _, err := api.DecodeSketch(other); err == nil {
		t.Fatal("a sketch with relative accuracy 0.025 was accepted")
	}
}

func FuzzDecodeSketch(f *testing.F) {
	s := api.NewSketch()
	for _, v := range []float64{0, 0.001, 0.5, 3} {
		s.Add(v)
	}
	b, _ := s.MarshalBinary()
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{0x02, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := api.DecodeSketch(data)
		if err != nil {
			return
		}
		q := s.Quantile(0.5)
		if math.IsNaN(q) || q < 0 {
			t.Fatalf("median %v", q)
		}
		again, _ := s.MarshalBinary()
		s2, err := api.DecodeSketch(again)
		if err != nil || s2.Count() != s.Count() {
			t.Fatalf("re-encoding: %v, count %v vs %v", err, s2.Count(), s.Count())
		}
	})
}

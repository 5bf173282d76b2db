package api_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/DataDog/sketches-go/ddsketch"
	enc "github.com/DataDog/sketches-go/ddsketch/encoding"
	"github.com/DataDog/sketches-go/ddsketch/store"
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

// TestSketchReadsEarlierBytes decodes the bytes this package wrote before
// it wrapped ddsketch (sorted bins as index deltas and counts), as stored
// in existing databases and sent by earlier clients.
func TestSketchReadsEarlierBytes(t *testing.T) {
	gamma := (1 + 0.01) / (1 - 0.01)
	var b []byte
	enc.EncodeFlag(&b, enc.FlagZeroCountVarFloat)
	enc.EncodeVarfloat64(&b, 2)
	enc.EncodeFlag(&b, enc.FlagIndexMappingBaseLogarithmic)
	enc.EncodeFloat64LE(&b, gamma)
	enc.EncodeFloat64LE(&b, 0)
	enc.EncodeFlag(&b, enc.NewFlag(enc.FlagTypePositiveStore, enc.BinEncodingIndexDeltasAndCounts))
	enc.EncodeUvarint64(&b, 2)
	enc.EncodeVarint64(&b, -231) // ≈ 0.01s
	enc.EncodeVarfloat64(&b, 3)
	enc.EncodeVarint64(&b, 231) // index 0: ≈ 1s
	enc.EncodeVarfloat64(&b, 5)
	s, err := api.DecodeSketch(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Count() != 10 || s.Quantile(0.1) != 0 || math.Abs(s.Quantile(0.4)-0.01)/0.01 > 0.02 || math.Abs(s.Quantile(1)-1) > 0.02 {
		t.Fatalf("count %v q0.1 %v q0.4 %v max %v", s.Count(), s.Quantile(0.1), s.Quantile(0.4), s.Quantile(1))
	}
}

// TestSketchBytesAreDDSketchs checks both directions against ddsketch
// itself: what a Sketch writes decodes with ddsketch.DecodeDDSketch, and
// what ddsketch's sketches write (paginated or dense stores) decodes here.
func TestSketchBytesAreDDSketchs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ours := api.NewSketch()
	theirs, err := ddsketch.NewDefaultDDSketch(0.01)
	if err != nil {
		t.Fatal(err)
	}
	dense, err := ddsketch.LogUnboundedDenseDDSketch(0.01)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5000; i++ {
		v := math.Exp(r.NormFloat64()) / 100
		if i%50 == 0 {
			v = 0
		}
		ours.Add(v)
		theirs.Add(v)
		dense.Add(v)
	}
	b, _ := ours.MarshalBinary()
	back, err := ddsketch.DecodeDDSketch(b, store.DefaultProvider, nil)
	if err != nil {
		t.Fatalf("ddsketch reading our bytes: %v", err)
	}
	if back.GetCount() != ours.Count() {
		t.Fatalf("ddsketch reads %v values, we wrote %v", back.GetCount(), ours.Count())
	}
	var tb, db []byte
	theirs.Encode(&tb, false)
	dense.Encode(&db, false)
	fromTheirs, err := api.DecodeSketch(tb)
	if err != nil {
		t.Fatal(err)
	}
	fromDense, err := api.DecodeSketch(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []float64{0, 0.01, 0.5, 0.99, 1} {
		want, _ := theirs.GetValueAtQuantile(q)
		if got, _ := back.GetValueAtQuantile(q); got != want {
			t.Errorf("our bytes read by ddsketch: q%v = %v, want %v", q, got, want)
		}
		for name, s := range map[string]*api.Sketch{"ours": ours, "from ddsketch": fromTheirs, "from a dense ddsketch": fromDense} {
			if got := s.Quantile(q); got != want {
				t.Errorf("%s: q%v = %v, ddsketch says %v", name, q, got, want)
			}
		}
	}
}

// TestDecodeSketchRefusesForgeries checks the bounds that keep a hostile
// report from costing the server memory or poisoning its statistics.
func TestDecodeSketchRefusesForgeries(t *testing.T) {
	gamma := (1 + 0.01) / (1 - 0.01)
	header := func() []byte {
		var b []byte
		enc.EncodeFlag(&b, enc.FlagIndexMappingBaseLogarithmic)
		enc.EncodeFloat64LE(&b, gamma)
		enc.EncodeFloat64LE(&b, 0)
		return b
	}
	bins := func(b []byte, indexCounts ...float64) []byte {
		enc.EncodeFlag(&b, enc.NewFlag(enc.FlagTypePositiveStore, enc.BinEncodingIndexDeltasAndCounts))
		enc.EncodeUvarint64(&b, uint64(len(indexCounts)/2))
		prev := int64(0)
		for i := 0; i < len(indexCounts); i += 2 {
			enc.EncodeVarint64(&b, int64(indexCounts[i])-prev)
			enc.EncodeVarfloat64(&b, indexCounts[i+1])
			prev = int64(indexCounts[i])
		}
		return b
	}
	many := make([]float64, 0, 2*5000)
	for i := 0; i < 5000; i++ {
		many = append(many, float64(i-2500), 1)
	}
	truncated := bins(header(), 0, 1, 1, 1)
	truncated = truncated[:len(truncated)-1]
	var zeroNaN []byte
	enc.EncodeFlag(&zeroNaN, enc.FlagZeroCountVarFloat)
	enc.EncodeVarfloat64(&zeroNaN, math.NaN())
	zeroNaN = append(zeroNaN, header()...)
	var noMapping []byte
	enc.EncodeFlag(&noMapping, enc.NewFlag(enc.FlagTypePositiveStore, enc.BinEncodingIndexDeltasAndCounts))
	enc.EncodeUvarint64(&noMapping, 0)
	for name, b := range map[string][]byte{
		"index far out of range": bins(header(), -1e9, 1, 1e9, 1),
		"negative count":         bins(header(), 0, -1),
		"NaN count":              bins(header(), 0, math.NaN()),
		"infinite count":         bins(header(), 0, math.Inf(1)),
		"NaN zero count":         zeroNaN,
		"too many bins":          bins(header(), many...),
		"truncated bins":         truncated,
		"no mapping":             noMapping,
		"unknown flag":           append(header(), 0xff),
	} {
		if _, err := api.DecodeSketch(b); !errors.Is(err, api.ErrBadSketch) {
			t.Errorf("%s: %v, want ErrBadSketch", name, err)
		}
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

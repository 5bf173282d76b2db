package api

import (
	"errors"
	"fmt"
	"math"
	"sort"

	enc "github.com/DataDog/sketches-go/ddsketch/encoding"
)

// SketchRelativeAccuracy is the relative accuracy of the latency sketches
// of [Aggregate]: a quantile read from one is within 1% of the true value.
const SketchRelativeAccuracy = 0.01

// maxSketchBins bounds the bins a decoded sketch may carry, so that a
// hostile report cannot make the server allocate without limit. Latencies
// from a nanosecond to a day need about 1,600 bins.
const maxSketchBins = 4096

var (
	sketchGamma      = (1 + SketchRelativeAccuracy) / (1 - SketchRelativeAccuracy)
	sketchMultiplier = 1 / math.Log(sketchGamma)
	// sketchMinIndexable is ddsketch's smallest value with a bin: the
	// smallest normal float64 times gamma. Smaller values count as zero.
	sketchMinIndexable = 0x1p-1022 * sketchGamma
	// sketchValueFactor turns a bin's lower bound into its representative
	// value: 1 + the mapping's relative accuracy, 1 - 2/(1+γ).
	sketchValueFactor = 1 + (1 - 2/(1+sketchGamma))
)

// Sketch is a mergeable latency sketch: a DDSketch (github.com/DataDog/
// sketches-go) with the logarithmic index mapping of relative accuracy
// [SketchRelativeAccuracy] (γ = 1.01/0.99, index offset 0) and positive
// values only.
//
// # Encoding
//
// [Aggregate.OldLatency] and [Aggregate.NewLatency] carry each side's
// durations in seconds in DDSketch's own binary encoding, the bytes of
// (*ddsketch.DDSketch).Encode for ddsketch.NewDefaultDDSketch(0.01): an
// optional zero-count flag with its varfloat count, the index-mapping flag
// (logarithmic) with γ and the index offset as float64 little-endian, then
// the positive store's bins (index deltas and counts). In JSON the bytes
// travel as base64, as encoding/json writes any []byte. [DecodeSketch]
// reads everything ddsketch's Encode writes (exact summary statistics are
// skipped; a negative store counts as zero) and refuses another mapping.
// The server merges sketches across instances and minutes.
//
// The package ddsketch itself is not imported because it pulls in
// google.golang.org/protobuf; only its encoding primitives are.
//
// The zero Sketch is empty and ready to use. A Sketch is not safe for
// concurrent use.
type Sketch struct {
	zero  float64         // values below sketchMinIndexable
	bins  map[int]float64 // bin index → count
	count float64
}

// NewSketch returns an empty sketch.
func NewSketch() *Sketch { return &Sketch{} }

func sketchIndex(v float64) int {
	index := math.Log(v) * sketchMultiplier
	if index >= 0 {
		return int(index)
	}
	return int(index) - 1
}

func sketchValue(k int) float64 {
	return math.Exp(float64(k)/sketchMultiplier) * sketchValueFactor
}

// Add records one value (a duration in seconds). Negative values and NaN
// count as zero.
func (s *Sketch) Add(v float64) { s.AddN(v, 1) }

// AddN records n copies of v.
func (s *Sketch) AddN(v float64, n float64) {
	if !(n > 0) {
		return
	}
	s.count += n
	if !(v > sketchMinIndexable) { // also NaN
		s.zero += n
		return
	}
	if math.IsInf(v, 1) {
		v = math.MaxFloat64
	}
	if s.bins == nil {
		s.bins = make(map[int]float64)
	}
	s.bins[sketchIndex(v)] += n
}

// Count returns the number of values recorded.
func (s *Sketch) Count() float64 {
	if s == nil {
		return 0
	}
	return s.count
}

// Merge adds every value of o to s. o is not changed; a nil o is empty.
func (s *Sketch) Merge(o *Sketch) {
	if o == nil || o.count == 0 {
		return
	}
	s.count += o.count
	s.zero += o.zero
	if len(o.bins) > 0 && s.bins == nil {
		s.bins = make(map[int]float64, len(o.bins))
	}
	for k, c := range o.bins {
		s.bins[k] += c
	}
}

// Quantile returns the value at quantile q in [0, 1], within 1% of the true
// value, as ddsketch's GetValueAtQuantile does; 0 for an empty sketch.
func (s *Sketch) Quantile(q float64) float64 {
	if s == nil || s.count == 0 {
		return 0
	}
	q = math.Max(0, math.Min(1, q))
	rank := q * (s.count - 1)
	if rank < s.zero {
		return 0
	}
	rank -= s.zero
	keys := s.sortedKeys()
	var n float64
	for _, k := range keys {
		n += s.bins[k]
		if n > rank {
			return sketchValue(k)
		}
	}
	return sketchValue(keys[len(keys)-1])
}

func (s *Sketch) sortedKeys() []int {
	keys := make([]int, 0, len(s.bins))
	for k, c := range s.bins {
		if c > 0 {
			keys = append(keys, k)
		}
	}
	sort.Ints(keys)
	return keys
}

// MarshalBinary encodes the sketch in DDSketch's binary encoding, as
// described on [Sketch].
func (s *Sketch) MarshalBinary() ([]byte, error) {
	var b []byte
	if s.zero != 0 {
		enc.EncodeFlag(&b, enc.FlagZeroCountVarFloat)
		enc.EncodeVarfloat64(&b, s.zero)
	}
	enc.EncodeFlag(&b, enc.FlagIndexMappingBaseLogarithmic)
	enc.EncodeFloat64LE(&b, sketchGamma)
	enc.EncodeFloat64LE(&b, 0)
	keys := s.sortedKeys()
	if len(keys) == 0 {
		return b, nil
	}
	enc.EncodeFlag(&b, enc.NewFlag(enc.FlagTypePositiveStore, enc.BinEncodingIndexDeltasAndCounts))
	enc.EncodeUvarint64(&b, uint64(len(keys)))
	prev := 0
	for _, k := range keys {
		enc.EncodeVarint64(&b, int64(k-prev))
		enc.EncodeVarfloat64(&b, s.bins[k])
		prev = k
	}
	return b, nil
}

// ErrBadSketch is returned (wrapped) by [DecodeSketch] for bytes that are
// not a latency sketch of the expected mapping.
var ErrBadSketch = errors.New("invalid latency sketch")

// DecodeSketch decodes a sketch in DDSketch's binary encoding. Empty input
// is an empty sketch.
func DecodeSketch(data []byte) (*Sketch, error) {
	s := &Sketch{}
	if len(data) == 0 {
		return s, nil
	}
	b := &data
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s (want ddsketch's Encode of a sketch with relative accuracy 0.01)", ErrBadSketch, fmt.Sprintf(format, args...))
	}
	addBin := func(index int64, count float64, negative bool) error {
		if math.IsNaN(count) || count < 0 || math.IsInf(count, 0) {
			return bad("bin count %v", count)
		}
		if index < math.MinInt32 || index > math.MaxInt32 {
			return bad("bin index %d out of range", index)
		}
		if negative {
			s.AddN(0, count)
			return nil
		}
		if s.bins == nil {
			s.bins = make(map[int]float64)
		}
		if _, ok := s.bins[int(index)]; !ok && len(s.bins) >= maxSketchBins {
			return bad("more than %d bins", maxSketchBins)
		}
		s.bins[int(index)] += count
		s.count += count
		return nil
	}
	mapped := false
	for len(*b) > 0 {
		flag, err := enc.DecodeFlag(b)
		if err != nil {
			return nil, bad("%v", err)
		}
		switch flag.Type() {
		case enc.FlagTypePositiveStore, enc.FlagTypeNegativeStore:
			negative := flag.Type() == enc.FlagTypeNegativeStore
			n, err := enc.DecodeUvarint64(b)
			if err != nil {
				return nil, bad("bin count: %v", err)
			}
			if n > maxSketchBins {
				return nil, bad("%d bins, at most %d allowed", n, maxSketchBins)
			}
			switch flag.SubFlag() {
			case enc.BinEncodingIndexDeltasAndCounts, enc.BinEncodingIndexDeltas:
				index := int64(0)
				for i := uint64(0); i < n; i++ {
					d, err := enc.DecodeVarint64(b)
					if err != nil {
						return nil, bad("bin %d: %v", i, err)
					}
					index += d
					count := 1.0
					if flag.SubFlag() == enc.BinEncodingIndexDeltasAndCounts {
						if count, err = enc.DecodeVarfloat64(b); err != nil {
							return nil, bad("bin %d: %v", i, err)
						}
					}
					if err := addBin(index, count, negative); err != nil {
						return nil, err
					}
				}
			case enc.BinEncodingContiguousCounts:
				index, err := enc.DecodeVarint64(b)
				if err != nil {
					return nil, bad("first index: %v", err)
				}
				delta, err := enc.DecodeVarint64(b)
				if err != nil {
					return nil, bad("index delta: %v", err)
				}
				for i := uint64(0); i < n; i++ {
					count, err := enc.DecodeVarfloat64(b)
					if err != nil {
						return nil, bad("bin %d: %v", i, err)
					}
					if err := addBin(index, count, negative); err != nil {
						return nil, err
					}
					index += delta
				}
			default:
				return nil, bad("unknown bin encoding")
			}
		case enc.FlagTypeIndexMapping:
			if flag != enc.FlagIndexMappingBaseLogarithmic {
				return nil, bad("index mapping is not logarithmic")
			}
			gamma, err := enc.DecodeFloat64LE(b)
			if err != nil {
				return nil, bad("gamma: %v", err)
			}
			offset, err := enc.DecodeFloat64LE(b)
			if err != nil {
				return nil, bad("index offset: %v", err)
			}
			if math.Abs(gamma-sketchGamma) > 1e-12 || offset != 0 {
				return nil, bad("mapping gamma %v offset %v, want gamma %v offset 0", gamma, offset, sketchGamma)
			}
			mapped = true
		default:
			switch flag {
			case enc.FlagZeroCountVarFloat:
				z, err := enc.DecodeVarfloat64(b)
				if err != nil || math.IsNaN(z) || z < 0 || math.IsInf(z, 0) {
					return nil, bad("zero count")
				}
				s.zero += z
				s.count += z
			case enc.FlagCount, enc.FlagSum, enc.FlagMin, enc.FlagMax:
				if len(*b) < 8 {
					return nil, bad("truncated summary statistic")
				}
				*b = (*b)[8:]
			default:
				return nil, bad("unknown flag %#x", flag)
			}
		}
	}
	if !mapped {
		return nil, bad("no index mapping")
	}
	return s, nil
}

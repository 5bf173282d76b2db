package client

import (
	"math"
	"slices"

	enc "github.com/DataDog/sketches-go/ddsketch/encoding"
)

// latencySketch is a DDSketch of durations in seconds, with the logarithmic
// index mapping of relative accuracy SketchAccuracy, that encodes exactly as
// (*ddsketch.DDSketch).Encode does for a sketch made by
// ddsketch.NewDefaultDDSketch(SketchAccuracy): the server decodes it with
// ddsketch.DecodeDDSketch and merges sketches across instances.
//
// It stands in for the ddsketch package itself because that package pulls
// in protobuf, which this module does not require; it uses the package's own
// encoding primitives, and a test checks the bytes against ddsketch's.
type latencySketch struct {
	bins      map[int]float64 // index → count, for positive values
	zeroCount float64         // values too small to index (zero durations)
}

var (
	sketchGamma      = (1 + SketchAccuracy) / (1 - SketchAccuracy)
	sketchMultiplier = 1 / math.Log(sketchGamma)
	// sketchMinIndexable is ddsketch's smallest value with an index: the
	// smallest normal float64 times gamma.
	sketchMinIndexable = 0x1p-1022 * sketchGamma
)

func newLatencySketch() *latencySketch { return &latencySketch{bins: map[int]float64{}} }

// add records one value in seconds; negative and NaN values count as zero.
func (s *latencySketch) add(seconds float64) {
	if !(seconds > sketchMinIndexable) { // also NaN
		s.zeroCount++
		return
	}
	s.bins[sketchIndex(seconds)]++
}

// sketchIndex is LogarithmicMapping.Index with offset 0.
func sketchIndex(v float64) int {
	index := math.Log(v) * sketchMultiplier
	if index >= 0 {
		return int(index)
	}
	return int(index) - 1
}

// encode appends the sketch in ddsketch's binary encoding, index mapping
// included: the zero count (if any), the mapping, then the positive bins as
// index deltas and counts.
func (s *latencySketch) encode(b *[]byte) {
	if s.zeroCount != 0 {
		enc.EncodeFlag(b, enc.FlagZeroCountVarFloat)
		enc.EncodeVarfloat64(b, s.zeroCount)
	}
	enc.EncodeFlag(b, enc.FlagIndexMappingBaseLogarithmic)
	enc.EncodeFloat64LE(b, sketchGamma)
	enc.EncodeFloat64LE(b, 0) // index offset
	if len(s.bins) == 0 {
		return
	}
	indexes := make([]int, 0, len(s.bins))
	for i := range s.bins {
		indexes = append(indexes, i)
	}
	slices.Sort(indexes)
	enc.EncodeFlag(b, enc.NewFlag(enc.FlagTypePositiveStore, enc.BinEncodingIndexDeltasAndCounts))
	enc.EncodeUvarint64(b, uint64(len(indexes)))
	previous := 0
	for _, i := range indexes {
		enc.EncodeVarint64(b, int64(i-previous))
		enc.EncodeVarfloat64(b, s.bins[i])
		previous = i
	}
}

package api

import (
	"errors"
	"fmt"
	"math"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/encoding"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// SketchRelativeAccuracy is the relative accuracy of the latency sketches
// of [Aggregate]: a quantile read from one is within 1% of the true value.
const SketchRelativeAccuracy = 0.01

// maxSketchBins bounds the non-empty bin entries a decoded sketch may
// carry, so that a hostile report cannot make the server allocate without
// limit. Latencies from a nanosecond to a day need about 1,600 bins, and
// ddsketch's encoding writes each bin once (a few values may stay in its
// store's buffer as repeated entries instead).
const maxSketchBins = 4096

// sketchMapping is the index mapping of every Sketch: ddsketch's default
// (logarithmic) for [SketchRelativeAccuracy]. It is immutable, so sketches
// share it.
var sketchMapping = func() mapping.IndexMapping {
	m, err := mapping.NewDefaultMapping(SketchRelativeAccuracy)
	if err != nil {
		panic(err)
	}
	return m
}()

// The only bin indices a value can map to; a decoded bin outside them is
// forged, and would make a paginated store span a huge range.
var (
	sketchMinIndex = sketchMapping.Index(sketchMapping.MinIndexableValue())
	sketchMaxIndex = sketchMapping.Index(sketchMapping.MaxIndexableValue())
)

// Sketch is a mergeable latency sketch: a thin wrapper over
// github.com/DataDog/sketches-go's DDSketch, as made by
// ddsketch.NewDefaultDDSketch([SketchRelativeAccuracy]) (logarithmic
// mapping, γ = 1.01/0.99, index offset 0), that keeps positive values only.
//
// # Encoding
//
// [Aggregate.OldLatency] and [Aggregate.NewLatency] carry each side's
// durations in seconds in DDSketch's own binary encoding, the bytes of
// (*ddsketch.DDSketch).Encode with the index mapping included. In JSON the
// bytes travel as base64, as encoding/json writes any []byte.
// [DecodeSketch] reads everything ddsketch's Encode writes (exact summary
// statistics are skipped; a negative store counts as zero), but refuses
// another mapping and bytes no honest sketch has (see [ErrBadSketch]). The
// server merges sketches across instances and minutes.
//
// The zero Sketch is empty and ready to use. A Sketch is not safe for
// concurrent use.
type Sketch struct {
	dd *ddsketch.DDSketch // nil until the first value
}

func newDDSketch() *ddsketch.DDSketch {
	return ddsketch.NewDDSketchFromStoreProvider(sketchMapping, store.DefaultProvider)
}

// NewSketch returns an empty sketch.
func NewSketch() *Sketch { return &Sketch{} }

func (s *Sketch) sketch() *ddsketch.DDSketch {
	if s.dd == nil {
		s.dd = newDDSketch()
	}
	return s.dd
}

// Add records one value (a duration in seconds). Negative values and NaN
// count as zero.
func (s *Sketch) Add(v float64) { s.AddN(v, 1) }

// AddN records n copies of v. A count that is not positive and finite
// records nothing.
func (s *Sketch) AddN(v float64, n float64) {
	if !(n > 0) || math.IsInf(n, 1) {
		return
	}
	switch {
	case !(v > 0): // also NaN, which ddsketch refuses
		v = 0
	case v > sketchMapping.MaxIndexableValue():
		v = sketchMapping.MaxIndexableValue()
	}
	// Cannot fail: the count is positive and v within the mapping's range.
	_ = s.sketch().AddWithCount(v, n)
}

// Count returns the number of values recorded.
func (s *Sketch) Count() float64 {
	if s == nil || s.dd == nil {
		return 0
	}
	return s.dd.GetCount()
}

// Merge adds every value of o to s. o is not changed; a nil o is empty.
func (s *Sketch) Merge(o *Sketch) {
	if o.Count() == 0 {
		return
	}
	// Cannot fail: every Sketch has the same mapping.
	_ = s.sketch().MergeWith(o.dd)
}

// Quantile returns the value at quantile q in [0, 1] (clamped), within 1%
// of the true value, from ddsketch's GetValueAtQuantile; 0 for an empty
// sketch.
func (s *Sketch) Quantile(q float64) float64 {
	if s.Count() == 0 {
		return 0
	}
	v, err := s.dd.GetValueAtQuantile(math.Max(0, math.Min(1, q)))
	if err != nil {
		return 0
	}
	return v
}

// MarshalBinary encodes the sketch in DDSketch's binary encoding, as
// described on [Sketch].
func (s *Sketch) MarshalBinary() ([]byte, error) {
	dd := s.dd
	if dd == nil {
		dd = newDDSketch()
	}
	var b []byte
	dd.Encode(&b, false)
	return b, nil
}

// ErrBadSketch is returned (wrapped) by [DecodeSketch] for bytes that are
// not a latency sketch of the expected mapping: another mapping or none,
// truncated or unknown content, a count that is negative or not finite, a
// bin no value maps to, or more than 4,096 bins.
var ErrBadSketch = errors.New("invalid latency sketch")

// DecodeSketch decodes a sketch in DDSketch's binary encoding. Empty input
// is an empty sketch.
func DecodeSketch(data []byte) (*Sketch, error) {
	s := &Sketch{}
	if len(data) == 0 {
		return s, nil
	}
	bad := func(err error) error {
		return fmt.Errorf("%w: %v (want ddsketch's Encode of a sketch with relative accuracy 0.01)", ErrBadSketch, err)
	}
	// ddsketch decodes into stores of ours that check each bin, since it
	// neither bounds what it allocates nor reports a store's error.
	var check decodeCheck
	dd, err := ddsketch.DecodeDDSketch(data, check.newStore, nil)
	if err == nil {
		err = check.err
	}
	if err != nil {
		return nil, bad(err)
	}
	if !dd.IndexMapping.Equals(sketchMapping) {
		return nil, bad(fmt.Errorf("mapping of relative accuracy %v, not %v", dd.IndexMapping.RelativeAccuracy(), SketchRelativeAccuracy))
	}
	zero := dd.GetZeroCount() + dd.GetNegativeValueStore().TotalCount()
	if !validCount(zero) {
		return nil, bad(fmt.Errorf("zero count %v", zero))
	}
	if zero == 0 && dd.GetPositiveValueStore().IsEmpty() {
		return s, nil
	}
	s.sketch().GetPositiveValueStore().MergeWith(dd.GetPositiveValueStore().(*checkedStore).SparseStore)
	s.AddN(0, zero)
	return s, nil
}

func validCount(c float64) bool { return c >= 0 && !math.IsInf(c, 1) }

// decodeCheck collects the first problem the stores of one decoding meet.
type decodeCheck struct {
	err  error
	bins int // non-empty bins over both stores
}

func (c *decodeCheck) newStore() store.Store {
	return &checkedStore{SparseStore: store.NewSparseStore(), check: c}
}

func (c *decodeCheck) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// checkedStore is the store a sketch decodes into: a sparse store (memory
// in proportion to the bins, not to their range) that refuses bad bins.
type checkedStore struct {
	*store.SparseStore
	check *decodeCheck
}

func (s *checkedStore) Add(index int) { s.AddWithCount(index, 1) }

func (s *checkedStore) AddBin(bin store.Bin) { s.AddWithCount(bin.Index(), bin.Count()) }

func (s *checkedStore) AddWithCount(index int, count float64) {
	switch {
	case s.check.err != nil:
	case !validCount(count):
		s.check.fail(fmt.Errorf("bin count %v", count))
	case count == 0:
	case index < sketchMinIndex || index > sketchMaxIndex:
		s.check.fail(fmt.Errorf("bin index %d out of range [%d, %d]", index, sketchMinIndex, sketchMaxIndex))
	case s.check.bins >= maxSketchBins:
		s.check.fail(fmt.Errorf("more than %d bins", maxSketchBins))
	default:
		s.check.bins++ // a bin repeated in the bytes counts twice: no honest encoding does that often
		s.SparseStore.AddWithCount(index, count)
	}
}

func (s *checkedStore) DecodeAndMergeWith(b *[]byte, mode encoding.SubFlag) error {
	// The package-level function, so that bins go through AddWithCount above.
	err := store.DecodeAndMergeWith(s, b, mode)
	if err != nil {
		s.check.fail(err)
	}
	return err
}

package cutover

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Buckets is the number of buckets keys are hashed into. A percent of 12.34
// puts buckets 0 to 1233 in treatment.
const Buckets = 10000

// Rollout says which mode each key of a migration is in: keys whose bucket
// falls under Percent get Treatment, the rest get Mode (the control), and
// Overrides pin named keys to a mode whatever their bucket.
//
// The zero Rollout sends every key to [ModeOld].
type Rollout struct {
	// Mode is the control mode: the mode of every key not in treatment.
	Mode Mode `json:"mode"`
	// Treatment is the mode of keys whose bucket falls under Percent.
	Treatment Mode `json:"treatment"`
	// Percent is the share of keys in treatment, from 0 to 100 with at most
	// two decimals (one bucket is 0.01%).
	Percent float64 `json:"percent"`
	// Overrides pins keys (a test tenant, a canary customer) to a mode.
	Overrides map[string]Mode `json:"overrides,omitempty"`
}

// Validate reports the first field that is wrong, naming it.
func (r Rollout) Validate() error {
	if !r.Mode.Valid() {
		return fmt.Errorf("rollout: mode: %w: %d", ErrInvalidMode, uint8(r.Mode))
	}
	if !r.Treatment.Valid() {
		return fmt.Errorf("rollout: treatment: %w: %d", ErrInvalidMode, uint8(r.Treatment))
	}
	if math.IsNaN(r.Percent) || r.Percent < 0 || r.Percent > 100 {
		return fmt.Errorf("rollout: percent: %v is outside 0 to 100", r.Percent)
	}
	if b := r.Percent * 100; math.Abs(b-math.Round(b)) > 1e-6 {
		return fmt.Errorf("rollout: percent: %v has more than two decimals (one bucket is 0.01%%)", r.Percent)
	}
	for k, m := range r.Overrides {
		if !m.Valid() {
			return fmt.Errorf("rollout: overrides[%q]: %w: %d", k, ErrInvalidMode, uint8(m))
		}
	}
	return nil
}

// Equal reports whether two rollouts assign every key the same mode.
func (r Rollout) Equal(o Rollout) bool {
	if r.Mode != o.Mode || r.Percent != o.Percent || len(r.Overrides) != len(o.Overrides) {
		return false
	}
	if r.Percent > 0 && r.Treatment != o.Treatment {
		return false
	}
	for k, m := range r.Overrides {
		if om, ok := o.Overrides[k]; !ok || om != m {
			return false
		}
	}
	return true
}

// Clone returns a deep copy, so the caller may change it freely.
func (r Rollout) Clone() Rollout {
	if r.Overrides != nil {
		o := make(map[string]Mode, len(r.Overrides))
		for k, m := range r.Overrides {
			o[k] = m
		}
		r.Overrides = o
	}
	return r
}

// String describes the rollout compactly: "shadow", "shadow, 10% reverse-shadow",
// "shadow, 10% reverse-shadow, 2 overrides".
func (r Rollout) String() string {
	var b strings.Builder
	b.WriteString(r.Mode.String())
	if r.Percent > 0 && r.Treatment != r.Mode {
		fmt.Fprintf(&b, ", %v%% %s", r.Percent, r.Treatment)
	}
	if n := len(r.Overrides); n > 0 {
		keys := make([]string, 0, n)
		for k := range r.Overrides {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, ", overrides")
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%s", k, r.Overrides[k])
		}
	}
	return b.String()
}

// ModeFor returns the mode of key in migration under this rollout. It takes
// no lock and allocates nothing.
func (r *Rollout) ModeFor(migration, key string) Mode {
	// The common case, one mode for every key, is small enough to be
	// inlined into the callers' hot paths.
	if len(r.Overrides) == 0 && r.Percent <= 0 {
		return r.Mode
	}
	return r.modeForKey(migration, key)
}

func (r *Rollout) modeForKey(migration, key string) Mode {
	if m, ok := r.Overrides[key]; ok {
		return m
	}
	if r.Percent <= 0 || r.Treatment == r.Mode {
		return r.Mode // no hash needed
	}
	return r.ModeForBucket(Bucket(migration, key))
}

// ModeForBucket returns the mode of a bucket under the control/treatment
// split, without overrides: for callers that have no key (the proxy draws a
// random bucket then). It takes no lock and allocates nothing.
func (r *Rollout) ModeForBucket(bucket int) Mode {
	if r.Percent > 0 && InTreatment(bucket, r.Percent) {
		return r.Treatment
	}
	return r.Mode
}

// Bucket returns the sticky bucket of key in migration, from 0 to
// [Buckets]-1:
//
//	Bucket(migration, key) = FNV-1a-64(migration + "\x00" + key) mod 10000
//
// with FNV-1a over the UTF-8 bytes (offset basis 14695981039346656037, prime
// 1099511628211). The library, the shadow proxy and the control plane all use
// this formula, so a key is on the same side everywhere. It allocates nothing.
func Bucket(migration, key string) int {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for i := 0; i < len(migration); i++ {
		h ^= uint64(migration[i])
		h *= prime64
	}
	h *= prime64 // the "\x00" separator: XOR with zero leaves h unchanged
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= prime64
	}
	return int(h % Buckets)
}

// InTreatment reports whether a bucket falls under percent. Raising percent
// never takes a bucket out of treatment.
func InTreatment(bucket int, percent float64) bool {
	return bucket < int(math.Round(percent*100))
}

// ErrUnknownMigration is returned (wrapped) when a source or server knows
// nothing of a migration.
var ErrUnknownMigration = errors.New("unknown migration")

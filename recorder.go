package cutover

import (
	"context"
	"sync"
)

// Recorder is an in-memory [Sink] that keeps every observation, for tests.
// The zero Recorder is ready to use and records every outcome.
type Recorder struct {
	mu  sync.Mutex // protects obs
	obs []*Observation
}

// Enabled reports true: a recorder wants everything.
func (r *Recorder) Enabled(Outcome) bool { return true }

// Observe records o.
func (r *Recorder) Observe(_ context.Context, o *Observation) {
	r.mu.Lock()
	r.obs = append(r.obs, o)
	r.mu.Unlock()
}

// Observations returns the recorded observations in arrival order.
func (r *Recorder) Observations() []Observation {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Observation, len(r.obs))
	for i, o := range r.obs {
		out[i] = *o
	}
	return out
}

// Filter returns the recorded observations with the given outcome.
func (r *Recorder) Filter(outcome Outcome) []Observation {
	var out []Observation
	for _, o := range r.Observations() {
		if o.Outcome == outcome {
			out = append(out, o)
		}
	}
	return out
}

// Count returns how many recorded observations have the given outcome.
func (r *Recorder) Count(outcome Outcome) int { return len(r.Filter(outcome)) }

// Reset forgets every recorded observation.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.obs = nil
	r.mu.Unlock()
}

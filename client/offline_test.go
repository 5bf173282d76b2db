package client

import (
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/cutover/cutover"
)

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// deadURL returns the URL of a loopback port nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// collect subscribes and returns the channel of delivered rollouts.
func collect(t *testing.T, s *Source, name string) (<-chan cutover.Rollout, func()) {
	t.Helper()
	ch := make(chan cutover.Rollout, 100)
	stop, err := s.Subscribe(name, func(r cutover.Rollout) { ch <- r })
	if err != nil {
		t.Fatal(err)
	}
	return ch, stop
}

func TestSourceFallbackWhenNothingKnown(t *testing.T) {
	c, err := New(deadURL(t), "tok", Options{Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	for _, fallback := range []cutover.Mode{cutover.ModeOld, cutover.ModeShadow} {
		s := c.Source(SourceOptions{Fallback: fallback, StartTimeout: time.Minute, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
		ch, stop := collect(t, s, "orders")
		// The refused connection ends the wait, so the fallback is
		// delivered before Subscribe returns.
		select {
		case r := <-ch:
			if r.Mode != fallback || r.Percent != 0 {
				t.Errorf("fallback rollout %v, want %v", r, fallback)
			}
		default:
			t.Fatal("nothing delivered before Subscribe returned")
		}
		if _, _, ok := s.Rollout("orders"); ok {
			t.Error("the fallback is not knowledge")
		}
		stop()
		s.Close()
		if st := s.Status(); st.Connected || st.LastError == nil {
			t.Errorf("status %+v, want disconnected with an error", st)
		}
	}
}

func TestSourceColdStartFromCache(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "rollouts.json")
	want := cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeReverseShadow, Percent: 5}
	if err := writeCache(cache, "", map[string]cachedEntry{"orders": {Rollout: want, Version: 3}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	c, err := New(deadURL(t), "tok", Options{Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Source(SourceOptions{CacheFile: cache, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	defer s.Close()

	// Through a real migration: it runs in the cached mode at once.
	m, err := cutover.New(cutover.Config{Name: "orders", Source: s})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(t.Context())
	if got := m.Rollout(); !got.Equal(want) {
		t.Errorf("migration rollout %v, want the cached %v", got, want)
	}
	if r, v, ok := s.Rollout("orders"); !ok || v != 3 || !r.Equal(want) {
		t.Errorf("Rollout = %v %d %v", r, v, ok)
	}
	// A migration the cache does not know gets the fallback.
	other, err := cutover.New(cutover.Config{Name: "other", Source: s, Rollout: cutover.Rollout{Mode: cutover.ModeNew, Treatment: cutover.ModeNew}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(t.Context())
	if got := other.Rollout(); got.Mode != cutover.ModeOld {
		t.Errorf("unknown migration runs %v, want the fallback old", got)
	}
}

func TestSourceClosed(t *testing.T) {
	c, _ := New(deadURL(t), "", Options{Logger: quietLogger})
	s := c.Source(SourceOptions{})
	s.Close()
	s.Close()
	if _, err := s.Subscribe("x", func(cutover.Rollout) {}); err == nil {
		t.Error("Subscribe after Close succeeded")
	}
}

func TestReporterBoundsPendingWhileServerAway(t *testing.T) {
	c, _ := New(deadURL(t), "tok", Options{Logger: quietLogger})
	r := c.Reporter(ReporterOptions{FlushInterval: time.Hour, MaxPending: 2, Instance: "test"})
	o := &cutover.Observation{Migration: "orders", Operation: "get", Mode: cutover.ModeShadow, Outcome: cutover.OutcomeMatch,
		Old: cutover.Side{Ran: true}, New: cutover.Side{Ran: true}}
	for i := range 4 {
		for range i + 1 {
			r.Observe(t.Context(), o)
		}
		if err := r.Flush(t.Context()); err == nil {
			t.Fatal("flush to a dead server succeeded")
		}
	}
	st := r.Stats()
	// Batches of 1, 2, 3, 4 observations; the two oldest are dropped.
	if st.Pending != 2 || st.DroppedBatches != 2 || st.DroppedObservations != 3 || st.Observed != 10 || st.Retries != 4 {
		t.Errorf("stats %+v", st)
	}
	// The pending batches keep their ids across retries.
	ids := func() []string {
		r.mu.Lock()
		defer r.mu.Unlock()
		var out []string
		for _, b := range r.pending {
			out = append(out, b.batch.BatchID)
		}
		return out
	}
	before := ids()
	_ = r.Flush(t.Context())
	if after := ids(); len(after) != 2 || after[0] != before[0] || after[1] != before[1] {
		t.Errorf("batch ids changed across a retry: %v → %v", before, after)
	}
	if err := r.Close(t.Context()); err == nil {
		t.Error("Close with unsent batches returned no error")
	}
	r.Observe(t.Context(), o)
	if st := r.Stats(); st.DroppedObservations != 4 {
		t.Errorf("an observation after Close: dropped %d, want 4", st.DroppedObservations)
	}
	c.CloseIdleConnections()
}

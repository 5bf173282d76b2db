package cutover_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/diff"
)

// writeLog records the order in which stores were written.
type writeLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *writeLog) add(s string) {
	l.mu.Lock()
	l.calls = append(l.calls, s)
	l.mu.Unlock()
}

func (l *writeLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.calls, ",")
}

func TestWritesRunAuthoritativeFirst(t *testing.T) {
	for _, tc := range []struct {
		mode cutover.Mode
		want string
	}{
		{cutover.ModeOld, "old"},
		{cutover.ModeShadow, "old,new"},
		{cutover.ModeReverseShadow, "new,old"},
		{cutover.ModeNew, "new"},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			m, _ := newMigration(t, tc.mode)
			var log writeLog
			w := &cutover.Writer[string, string]{Migration: m, Operation: "setCustomer",
				Old: func(ctx context.Context, v string) (string, error) { log.add("old"); return "old:" + v, nil },
				New: func(ctx context.Context, v string) (string, error) { log.add("new"); return "new:" + v, nil },
			}
			got, err := w.Write(context.Background(), "order-1", "c1")
			if err != nil {
				t.Fatal(err)
			}
			if log.String() != tc.want {
				t.Errorf("writes = %s; want %s", log.String(), tc.want)
			}
			wantResult := "old:c1"
			if tc.mode >= cutover.ModeReverseShadow {
				wantResult = "new:c1"
			}
			if got != wantResult {
				t.Errorf("Write = %q; want the authoritative side's %q", got, wantResult)
			}
		})
	}
}

func TestFailedAuthoritativeWriteSkipsTheOther(t *testing.T) {
	for _, mode := range []cutover.Mode{cutover.ModeShadow, cutover.ModeReverseShadow} {
		t.Run(mode.String(), func(t *testing.T) {
			m, _ := newMigration(t, mode)
			errAuth := errors.New("authoritative store refused")
			var log writeLog
			fail := func(name string) func(context.Context, int) (int, error) {
				return func(ctx context.Context, v int) (int, error) { log.add(name); return 0, errAuth }
			}
			ok := func(name string) func(context.Context, int) (int, error) {
				return func(ctx context.Context, v int) (int, error) { log.add(name); return v, nil }
			}
			w := &cutover.Writer[int, int]{Migration: m, Operation: "op", Old: fail("old"), New: ok("new")}
			want := "old"
			if mode == cutover.ModeReverseShadow {
				w.Old, w.New, want = ok("old"), fail("new"), "new"
			}
			if _, err := w.Write(context.Background(), "k", 1); err != errAuth {
				t.Fatalf("Write error = %v; want the authoritative error", err)
			}
			if log.String() != want {
				t.Errorf("writes = %s; want only %s", log.String(), want)
			}
		})
	}
}

// A failed or panicking second write is never returned to the caller: it is
// a divergence, handed to OnDivergence with its key, counted, and observed.
func TestFailedSecondWriteIsRecordedNeverReturned(t *testing.T) {
	for _, how := range []string{"error", "panic"} {
		t.Run(how, func(t *testing.T) {
			var hooked []*cutover.Observation
			m, rec := newMigration(t, cutover.ModeShadow, func(c *cutover.Config) {
				c.OnDivergence = func(ctx context.Context, o *cutover.Observation) { hooked = append(hooked, o) }
			})
			w := &cutover.Writer[int, int]{Migration: m, Operation: "setCustomer",
				Old: func(ctx context.Context, v int) (int, error) { return v, nil },
				New: func(ctx context.Context, v int) (int, error) {
					if how == "panic" {
						panic("new store exploded")
					}
					return 0, errors.New("new store is read-only")
				},
			}
			v, err := w.Write(context.Background(), "order-42", 7)
			if v != 7 || err != nil {
				t.Fatalf("Write = %d, %v; want the authoritative 7, nil", v, err)
			}
			if len(hooked) != 1 || hooked[0].Key != "order-42" || hooked[0].Outcome != cutover.OutcomeDivergence ||
				hooked[0].New.Err == nil || hooked[0].Old.Err != nil {
				t.Fatalf("OnDivergence got %+v; want one divergence for order-42 with new's error", hooked)
			}
			if got := m.Stats().Outcomes[cutover.OutcomeDivergence]; got != 1 {
				t.Errorf("divergences counted = %d; want 1", got)
			}
			drain(t, m)
			if d := rec.Filter(cutover.OutcomeDivergence); len(d) != 1 || d[0].Key != "order-42" {
				t.Errorf("sinks got %+v; want the divergence", d)
			}
		})
	}
}

func TestDivergenceWithoutHookIsLogged(t *testing.T) {
	var buf bytes.Buffer
	m, _ := newMigration(t, cutover.ModeReverseShadow, func(c *cutover.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	})
	cutover.Write(context.Background(), m, "setCustomer", "order-9",
		func(context.Context) (int, error) { return 0, errors.New("old store down") },
		func(context.Context) (int, error) { return 1, nil })
	if out := buf.String(); !strings.Contains(out, "order-9") || !strings.Contains(out, "old store down") {
		t.Errorf("log = %q; want the key and old's error", out)
	}
}

func TestSecondWriteIgnoresCallerCancellationAndSampling(t *testing.T) {
	m, _ := newMigration(t, cutover.ModeShadow, func(c *cutover.Config) { c.SampleRate = 1e-9; c.MaxInFlight = 1 })
	var seconds int
	for range 50 {
		ctx, cancel := context.WithCancel(context.Background())
		_, err := cutover.Write(ctx, m, "op", "k",
			func(context.Context) (int, error) { cancel(); return 1, nil }, // the caller gives up right after the first write
			func(ctx context.Context) (int, error) {
				if ctx.Err() != nil {
					return 0, ctx.Err()
				}
				seconds++
				return 1, nil
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	if seconds != 50 {
		t.Errorf("second writes = %d of 50; writes are never sampled, shed or cancelled by the caller", seconds)
	}
	if d := m.Stats().Outcomes[cutover.OutcomeDivergence]; d != 0 {
		t.Errorf("divergences = %d; want 0", d)
	}
}

func TestWriteResultsCanBeCompared(t *testing.T) {
	m, rec := newMigration(t, cutover.ModeShadow)
	type saved struct {
		ID      int
		Version int
	}
	w := &cutover.Writer[int, saved]{Migration: m, Operation: "save",
		Old:     func(ctx context.Context, id int) (saved, error) { return saved{id, 1}, nil },
		New:     func(ctx context.Context, id int) (saved, error) { return saved{id, 2}, nil },
		Compare: func(a, b saved) []diff.Difference { return diff.Diff(a, b) },
	}
	if _, err := w.Write(context.Background(), "k", 3); err != nil {
		t.Fatal(err)
	}
	drain(t, m)
	mm := rec.Filter(cutover.OutcomeMismatch)
	if len(mm) != 1 || mm[0].Signature != ".Version" || mm[0].Kind != cutover.KindWrite {
		t.Fatalf("mismatches = %+v; want one at .Version", mm)
	}
}

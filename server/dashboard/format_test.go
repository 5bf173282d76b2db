package dashboard

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
)

func TestNumbers(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 2134: "2,134", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	for p, want := range map[float64]string{0.008: "0.8%", 0.001: "0.1%", 1: "100%", 0.98964: "98.96%", 0.00012: "0.012%", 0: "0%"} {
		if got := pct(p); got != want {
			t.Errorf("pct(%v) = %q, want %q", p, got, want)
		}
	}
	if got := pct(math.NaN()); got != "—" {
		t.Errorf("pct(NaN) = %q", got)
	}
}

var (
	old    = cutover.ModeOld
	shadow = cutover.ModeShadow
	rs     = cutover.ModeReverseShadow
	newM   = cutover.ModeNew
)

func TestStep(t *testing.T) {
	for _, tc := range []struct {
		from          cutover.Rollout
		advance, back string // describe() of the targets; "" when impossible
	}{
		{cutover.Rollout{Mode: old, Treatment: old}, "shadow for 100% of keys", ""},
		{cutover.Rollout{Mode: shadow, Treatment: shadow}, "reverse-shadow for 100% of keys", "old for 100% of keys"},
		{cutover.Rollout{Mode: shadow, Treatment: rs, Percent: 10}, "reverse-shadow for 100% of keys", "shadow for 100% of keys"},
		{cutover.Rollout{Mode: shadow, Treatment: rs, Percent: 100}, "new for 100% of keys", "shadow for 100% of keys"},
		{cutover.Rollout{Mode: rs, Treatment: shadow, Percent: 5}, "reverse-shadow for 100% of keys", "shadow for 100% of keys"},
		{cutover.Rollout{Mode: newM, Treatment: newM}, "", "reverse-shadow for 100% of keys"},
	} {
		for dir, want := range map[string]string{"advance": tc.advance, "back": tc.back} {
			to, err := step(tc.from, dir)
			switch {
			case want == "" && err == nil:
				t.Errorf("%s from %v: %v, want an error", dir, tc.from, to)
			case want != "" && (err != nil || describe(to) != want):
				t.Errorf("%s from %v: %q %v, want %q", dir, tc.from, describe(to), err, want)
			}
		}
	}
	// Overrides are kept, and not shared with the input.
	from := cutover.Rollout{Mode: shadow, Treatment: shadow, Overrides: map[string]cutover.Mode{"tenant-test": newM}}
	to, _ := step(from, "advance")
	to.Overrides["x"] = old
	if len(from.Overrides) != 1 || to.Overrides["tenant-test"] != newM {
		t.Errorf("overrides: from %v, to %v", from.Overrides, to.Overrides)
	}
}

func TestDescribeMove(t *testing.T) {
	for _, tc := range []struct {
		from, to cutover.Rollout
		want     string
	}{
		{cutover.Rollout{Mode: shadow}, cutover.Rollout{Mode: rs, Treatment: rs}, "shadow → reverse-shadow for 100% of keys"},
		{cutover.Rollout{Mode: shadow}, cutover.Rollout{Mode: shadow, Treatment: rs, Percent: 12.5},
			"shadow for 100% of keys → reverse-shadow for 12.5% of keys, shadow for the other 87.5%"},
	} {
		if got := describeMove(tc.from, tc.to); got != tc.want {
			t.Errorf("describeMove = %q, want %q", got, tc.want)
		}
	}
}

func TestTimeline(t *testing.T) {
	got := func(r cutover.Rollout) string {
		var parts []string
		for _, p := range timeline(r) {
			parts = append(parts, p.Mode+":"+p.State+":"+p.Share)
		}
		return strings.Join(parts, " ")
	}
	for r, want := range map[*cutover.Rollout]string{
		{Mode: old}: "old:current:100% shadow:todo: reverse-shadow:todo: new:todo:",
		{Mode: shadow, Treatment: rs, Percent: 10}: "old:done: shadow:current:90% reverse-shadow:current:10% new:todo:",
		{Mode: newM, Treatment: newM}:              "old:done: shadow:done: reverse-shadow:done: new:current:100%",
		{Mode: old, Treatment: rs, Percent: 50}:    "old:current:50% shadow:skipped: reverse-shadow:current:50% new:todo:",
	} {
		if g := got(*r); g != want {
			t.Errorf("timeline(%v) = %q, want %q", *r, g, want)
		}
	}
}

func TestGateWords(t *testing.T) {
	g := &api.GateStatus{Criteria: []api.GateCriterion{
		{Criterion: "min_comparisons", Threshold: 5000, Measured: 2866, Message: "needs 2134 more comparisons"},
		{Criterion: "max_mismatch_rate", Threshold: 0.001, Measured: 0.008, Message: "mismatch rate 0.5% (upper 95% bound 0.8% over 2866 comparisons)"},
		{Criterion: "max_new_error_rate", Threshold: 0.01, Measured: 0.002, Pass: true},
	}}
	v := gateSummary(g, api.Gates{}, shadow)
	if v.Pass || v.Words != "needs 2,134 more comparisons; mismatch bound 0.8% > 0.1%" {
		t.Errorf("words %q (pass %v)", v.Words, v.Pass)
	}
	if len(v.Criteria) != 3 || v.Criteria[0].Measured != "2,866" || v.Criteria[1].Threshold != "0.1%" {
		t.Errorf("criteria %+v", v.Criteria)
	}
	for top, want := range map[cutover.Mode]string{old: "ready: leaving old needs no evidence", newM: "at new: nothing left to promote"} {
		if v := gateSummary(&api.GateStatus{Pass: true}, api.Gates{}, top); !v.Pass || v.Words != want {
			t.Errorf("at %v: %q", top, v.Words)
		}
	}
	if v := gateSummary(&api.GateStatus{Pass: true, Criteria: []api.GateCriterion{{Criterion: "min_comparisons", Pass: true}}}, api.Gates{}, rs); !v.Pass || !strings.HasPrefix(v.Words, "ready to leave reverse-shadow") {
		t.Errorf("passing: %q", v.Words)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"": "/", "/": "/", "/migrations/orders?window=6h": "/migrations/orders?window=6h",
		"//evil.example/": "/", "https://evil.example/": "/", "/\\evil.example": "/", "migrations": "/", "/x\r\nSet-Cookie: a=b": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSparklineAndCharts(t *testing.T) {
	now := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	series := []api.StatsPoint{
		{Time: now, Compared: 100, MatchRate: 0.99, Old: api.Percentiles{P50: 0.01, P99: 0.05}, New: api.Percentiles{P50: 0.008, P99: 0.03}},
		{Time: now.Add(time.Minute)},
		{Time: now.Add(2 * time.Minute), Compared: 100, MatchRate: 0.98, NewErrorRate: 0.02},
		{Time: now.Add(3 * time.Minute), Compared: 100, MatchRate: 1},
	}
	if s := string(sparkline(series)); !strings.Contains(s, `d="M`) || strings.Contains(s, "NaN") {
		t.Errorf("sparkline %s", s)
	}
	if s := string(sparkline(nil)); !strings.Contains(s, "no comparisons yet") {
		t.Errorf("empty sparkline %s", s)
	}
	markers := []marker{{Time: now.Add(90 * time.Second), Label: "→ shadow"}, {Time: now.Add(-time.Hour), Label: "outside"}}
	for _, c := range charts(api.Stats{Series: series}, markers) {
		s := string(c.SVG)
		if strings.Contains(s, "NaN") || strings.Contains(s, "Inf") || !strings.HasPrefix(s, "<svg") {
			t.Errorf("%s chart: %s", c.Title, s)
		}
		if strings.Count(s, `<line class="marker"`) != 1 || !strings.Contains(s, "→ shadow") {
			t.Errorf("%s chart: want one marker, inside the window: %s", c.Title, s)
		}
	}
	if s := string(charts(api.Stats{}, nil)[0].SVG); !strings.Contains(s, "no reports in this window") {
		t.Errorf("empty chart: %s", s)
	}
}

func TestSessions(t *testing.T) {
	now := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ss := newSessions(time.Hour, 2, clock)
	id1, s1 := ss.create(principal("a"), "hash")
	if len(id1) != 43 || s1.csrf == "" || s1.csrf == id1 {
		t.Fatalf("id %q csrf %q", id1, s1.csrf)
	}
	now = now.Add(time.Minute)
	ss.create(principal("b"), "hash")
	now = now.Add(time.Minute)
	ss.create(principal("c"), "hash") // over the bound: a, the oldest, goes
	if len(ss.m) != 2 || ss.get(withCookie(id1)) != nil {
		t.Fatalf("%d sessions; the oldest kept: %v", len(ss.m), ss.get(withCookie(id1)) != nil)
	}
	id4, _ := ss.create(principal("d"), "hash")
	if ss.get(withCookie(id4)) == nil {
		t.Fatal("a new session is not found")
	}
	now = now.Add(time.Hour)
	if ss.get(withCookie(id4)) != nil {
		t.Fatal("an expired session is still found")
	}
}

package cutover_test

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"testing"

	"github.com/cutover/cutover"
)

// The documented formula, computed with the standard library's FNV-1a.
func TestBucketFollowsTheDocumentedFormula(t *testing.T) {
	for i := range 1000 {
		mig, key := fmt.Sprint("migration-", i%7), fmt.Sprint("key-", i)
		h := fnv.New64a()
		h.Write([]byte(mig + "\x00" + key))
		if want := int(h.Sum64() % cutover.Buckets); cutover.Bucket(mig, key) != want {
			t.Fatalf("Bucket(%q, %q) = %d; want %d", mig, key, cutover.Bucket(mig, key), want)
		}
	}
	// A fixed vector, so that any other implementation (the proxy, another
	// language) can check itself against this one.
	if got := cutover.Bucket("orders-customer-id", "order-1"); got != fixedBucket {
		t.Errorf(`Bucket("orders-customer-id", "order-1") = %d; want %d`, got, fixedBucket)
	}
}

// fixedBucket is written out, not computed, so that a change of formula
// fails here even if it changed hash/fnv's use above too.
const fixedBucket = 2153

func TestTreatmentShareMatchesPercent(t *testing.T) {
	const keys = 200000
	for _, pct := range []float64{0.5, 1, 10, 25, 50, 99.99} {
		r := cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeReverseShadow, Percent: pct}
		in := 0
		for i := range keys {
			if r.ModeFor("m", fmt.Sprint("user-", i)) == cutover.ModeReverseShadow {
				in++
			}
		}
		p := pct / 100
		sd := math.Sqrt(p * (1 - p) / keys)
		if got := float64(in) / keys; math.Abs(got-p) > 5*sd+1e-4 {
			t.Errorf("percent %v: share in treatment %.4f%%; want within 5 standard deviations (%.4f%%)", pct, got*100, 5*sd*100)
		}
	}
}

func TestRaisingPercentNeverMovesAKeyOut(t *testing.T) {
	prev := map[string]bool{}
	for pct := 0.0; pct <= 100; pct += 2.5 {
		r := cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeNew, Percent: pct}
		for i := range 5000 {
			key := fmt.Sprint("k", i)
			in := r.ModeFor("m", key) == cutover.ModeNew
			if prev[key] && !in {
				t.Fatalf("key %s left treatment when percent rose to %v", key, pct)
			}
			prev[key] = in
		}
	}
	for key, in := range prev {
		if !in {
			t.Fatalf("key %s is not in treatment at 100%%", key)
		}
	}
}

func TestBucketingIsStickyAndPerMigration(t *testing.T) {
	same := 0
	for i := range 1000 {
		key := fmt.Sprint("k", i)
		if cutover.Bucket("a", key) != cutover.Bucket("a", key) {
			t.Fatal("Bucket is not deterministic")
		}
		if cutover.Bucket("a", key) == cutover.Bucket("b", key) {
			same++
		}
	}
	if same > 10 {
		t.Errorf("%d of 1000 keys share a bucket in two migrations; buckets must be independent per migration", same)
	}
}

func TestOverridesWin(t *testing.T) {
	r := cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeNew, Percent: 100,
		Overrides: map[string]cutover.Mode{"tenant-test": cutover.ModeOld}}
	if got := r.ModeFor("m", "tenant-test"); got != cutover.ModeOld {
		t.Errorf("override: mode = %v; want old", got)
	}
	if got := r.ModeFor("m", "anyone"); got != cutover.ModeNew {
		t.Errorf("100%% treatment: mode = %v; want new", got)
	}
	r.Percent = 0
	if got := r.ModeFor("m", "anyone"); got != cutover.ModeShadow {
		t.Errorf("0%% treatment: mode = %v; want shadow", got)
	}
}

func TestRolloutValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		r    cutover.Rollout
		want string
	}{
		{cutover.Rollout{Mode: 7}, "mode"},
		{cutover.Rollout{Treatment: 9}, "treatment"},
		{cutover.Rollout{Percent: -1}, "percent"},
		{cutover.Rollout{Percent: 100.5}, "percent"},
		{cutover.Rollout{Percent: 12.345}, "two decimals"},
		{cutover.Rollout{Percent: math.NaN()}, "percent"},
		{cutover.Rollout{Overrides: map[string]cutover.Mode{"t": 5}}, `overrides["t"]`},
	} {
		err := tc.r.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v; want an error naming %q", tc.r, err, tc.want)
		}
	}
	if err := (cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeNew, Percent: 12.34}).Validate(); err != nil {
		t.Errorf("valid rollout refused: %v", err)
	}
}

func TestRolloutJSON(t *testing.T) {
	in := `{"mode":"shadow","treatment":"reverse-shadow","percent":5,"overrides":{"tenant-test":"new"}}`
	var r cutover.Rollout
	if err := json.Unmarshal([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	if r.Mode != cutover.ModeShadow || r.Treatment != cutover.ModeReverseShadow || r.Percent != 5 || r.Overrides["tenant-test"] != cutover.ModeNew {
		t.Fatalf("decoded %+v", r)
	}
	out, _ := json.Marshal(r)
	if string(out) != in {
		t.Errorf("round trip = %s; want %s", out, in)
	}
	if err := json.Unmarshal([]byte(`{"mode":"shadw"}`), &r); err == nil || !strings.Contains(err.Error(), "reverse-shadow") {
		t.Errorf("bad mode error = %v; want one listing the valid modes", err)
	}
	if got := r.String(); got == "" {
		t.Error("empty String")
	}
	if !r.Equal(r.Clone()) {
		t.Error("a clone is not Equal")
	}
}

func TestModeForBucketIsTheSplitWithoutOverrides(t *testing.T) {
	r := cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeNew, Percent: 12.34,
		Overrides: map[string]cutover.Mode{"k": cutover.ModeOld}}
	for b := range cutover.Buckets {
		want := cutover.ModeShadow
		if b < 1234 {
			want = cutover.ModeNew
		}
		if got := r.ModeForBucket(b); got != want {
			t.Fatalf("ModeForBucket(%d) = %v; want %v", b, got, want)
		}
	}
	if got := r.ModeForBucket(cutover.Bucket("m", "k")); got == cutover.ModeOld {
		t.Error("ModeForBucket applied an override")
	}
}

package dashboard

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
)

var funcs = template.FuncMap{
	"count": func(n int64) string { return thousands(n) },
	"pct":   pct,
	"utc":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}

// thousands formats n with commas: 2134 → "2,134".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// pct formats a proportion as a percentage with at most two decimals
// from 1% up, and two significant digits below: 0.98964 → "98.96%",
// 0.008 → "0.8%", 0.00012 → "0.012%".
func pct(p float64) string {
	if math.IsNaN(p) {
		return "—"
	}
	v := 100 * p
	digits := 2
	if a := math.Abs(v); a > 0 && a < 1 {
		digits = min(1-int(math.Floor(math.Log10(a))), 8)
	}
	s := strconv.FormatFloat(v, 'f', digits, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s + "%"
}

// percentNumber formats a rollout percent: 10 → "10", 12.5 → "12.5".
func percentNumber(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

// ms formats seconds as milliseconds: 0.0123 → "12.3 ms".
func ms(sec float64) string {
	v := sec * 1000
	switch {
	case v == 0:
		return "0 ms"
	case v < 1:
		return strconv.FormatFloat(v, 'f', 3, 64) + " ms"
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
}

// ago says how long before now t was: "just now", "5m ago", "3h ago".
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute: // coarse, so that a polled fragment changes only when something did
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// uniform returns the one mode of every key (overrides aside), if there is
// one.
func uniform(r cutover.Rollout) (cutover.Mode, bool) {
	switch {
	case r.Percent <= 0 || r.Treatment == r.Mode:
		return r.Mode, true
	case r.Percent >= 100:
		return r.Treatment, true
	}
	return 0, false
}

// describe says which keys are where: "shadow for 100% of keys", or
// "reverse-shadow for 10% of keys, shadow for the other 90%".
func describe(r cutover.Rollout) string {
	var s string
	if m, ok := uniform(r); ok {
		s = m.String() + " for 100% of keys"
	} else {
		s = fmt.Sprintf("%s for %s%% of keys, %s for the other %s%%", r.Treatment, percentNumber(r.Percent),
			r.Mode, percentNumber(math.Round((100-r.Percent)*100)/100))
	}
	if n := len(r.Overrides); n > 0 {
		s += fmt.Sprintf(" (%d pinned by overrides)", n)
	}
	return s
}

// describeMove says what a change does: "shadow → reverse-shadow for 100%
// of keys" when both ends are uniform, both ends in full otherwise.
func describeMove(from, to cutover.Rollout) string {
	fm, fok := uniform(from)
	tm, tok := uniform(to)
	if fok && tok {
		s := fmt.Sprintf("%s → %s for 100%% of keys", fm, tm)
		if n := len(to.Overrides); n > 0 {
			s += fmt.Sprintf(" (%d pinned by overrides, unchanged)", n)
		}
		return s
	}
	return describe(from) + " → " + describe(to)
}

// criterionLabel names a gate for people.
func criterionLabel(c string) string {
	switch c {
	case "min_comparisons":
		return "comparisons"
	case "min_time_at_full":
		return "time at 100%"
	case "max_mismatch_rate":
		return "mismatch rate (upper 95% bound)"
	case "max_new_error_rate":
		return "new-side error rate (upper 95% bound)"
	case "verify_within":
		return "verify report"
	}
	return c
}

// criterionValue formats a gate's threshold or measured figure.
func criterionValue(c string, v float64) string {
	switch c {
	case "min_comparisons":
		return thousands(int64(v))
	case "min_time_at_full", "verify_within":
		if v < 0 {
			return "none"
		}
		return (time.Duration(v * float64(time.Second))).Round(time.Second).String()
	case "max_mismatch_rate", "max_new_error_rate":
		return pct(v)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// criterionWords is a failing gate in a few words: "needs 2,134 more
// comparisons", "mismatch bound 0.8% > 0.1%".
func criterionWords(c api.GateCriterion) string {
	switch c.Criterion {
	case "min_comparisons":
		return fmt.Sprintf("needs %s more comparisons", thousands(int64(c.Threshold-c.Measured)))
	case "min_time_at_full":
		if strings.HasPrefix(c.Message, "not at 100%") {
			return "not at 100% of keys yet"
		}
		left := time.Duration((c.Threshold - c.Measured) * float64(time.Second)).Round(time.Second)
		return fmt.Sprintf("needs %s more at 100%%", left)
	case "max_mismatch_rate":
		if strings.Contains(c.Message, " over 0 ") {
			return "no comparisons yet to bound the mismatch rate"
		}
		return fmt.Sprintf("mismatch bound %s > %s", pct(c.Measured), pct(c.Threshold))
	case "max_new_error_rate":
		if strings.Contains(c.Message, " over 0 ") {
			return "no calls yet to bound the new-side error rate"
		}
		return fmt.Sprintf("new-side error bound %s > %s", pct(c.Measured), pct(c.Threshold))
	}
	return c.Message
}

type gateView struct {
	Pass     bool
	Words    string
	Criteria []criterionView
}

type criterionView struct {
	Label     string
	Words     string // criterionWords, for a failing criterion
	Pass      bool
	Threshold string
	Measured  string
	Message   string
}

// gateSummary turns the gates' verdict into words for the next promotion
// out of top.
func gateSummary(g *api.GateStatus, gates api.Gates, top cutover.Mode) gateView {
	v := gateView{Pass: true}
	switch {
	case top == cutover.ModeNew:
		v.Words = "at new: nothing left to promote"
		return v
	case gates.Disabled:
		v.Words = "gates are off: promotions need no evidence"
		return v
	case g == nil:
		v.Words = "gates not evaluated"
		return v
	case top == cutover.ModeOld:
		v.Words = "ready: leaving old needs no evidence"
		return v
	}
	v.Pass = g.Pass
	var failing []string
	for _, c := range g.Criteria {
		v.Criteria = append(v.Criteria, criterionView{
			Label: criterionLabel(c.Criterion), Pass: c.Pass, Message: c.Message, Words: criterionWords(c),
			Threshold: criterionValue(c.Criterion, c.Threshold), Measured: criterionValue(c.Criterion, c.Measured),
		})
		if !c.Pass {
			failing = append(failing, criterionWords(c))
		}
	}
	if g.Pass {
		v.Words = fmt.Sprintf("ready to leave %s: every gate passes", top)
	} else {
		v.Words = strings.Join(failing, "; ")
	}
	return v
}

// topMode is the furthest mode any key is in (overrides aside): the mode
// whose evidence the gates judge.
func topMode(r cutover.Rollout) cutover.Mode {
	if r.Percent > 0 && r.Treatment > r.Mode {
		return r.Treatment
	}
	return r.Mode
}

type figureView struct{ Name, Value string }

func figures(m map[string]float64) []figureView {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]figureView, 0, len(names))
	for _, k := range names {
		v := m[k]
		val := strconv.FormatFloat(v, 'f', -1, 64)
		if strings.Contains(k, "rate") {
			val = pct(v)
		} else if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			val = thousands(int64(v))
		}
		out = append(out, figureView{Name: strings.ReplaceAll(k, "_", " "), Value: val})
	}
	return out
}

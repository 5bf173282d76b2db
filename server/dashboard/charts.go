package dashboard

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/api"
)

// Charts are drawn here as inline SVG, from numbers only: no text that a
// report brought ever reaches this code, and the few labels are escaped
// anyway. Styles (colours, dashes) come from the style sheet's classes,
// because the Content-Security-Policy allows no inline style.

// line is one series of a chart; NaN values are gaps.
type line struct {
	Class  string // CSS class: its colour and dash
	Label  string
	Values []float64
}

type chartView struct {
	Title  string
	Note   string
	SVG    template.HTML
	Legend []line
}

const (
	chartW, chartH                  = 480, 180
	padLeft, padRight, padTop, padB = 56, 8, 10, 22
)

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// marker is a rollout change drawn as a vertical line on the charts.
type marker struct {
	Time  time.Time
	Label string // the mode the change moved to: an enum name, never report text
	Guard bool   // the guard's automatic rollback
}

// markersOf returns the rollout changes of a history as chart markers.
func markersOf(hist []api.Change) []marker {
	var ms []marker
	for _, c := range hist {
		if c.Kind != "rollout" {
			continue
		}
		ms = append(ms, marker{Time: c.Time, Label: "→ " + topMode(c.To).String(), Guard: c.Automatic})
	}
	return ms
}

// lineChart draws series over shared times, with markers at rollout
// changes. yFmt labels the y axis; lo/hi bound it (NaN: from the data).
func lineChart(title string, times []time.Time, lines []line, markers []marker, yFmt func(float64) string, lo, hi float64) template.HTML {
	dataLo, dataHi := math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		for _, v := range l.Values {
			if !math.IsNaN(v) {
				dataLo, dataHi = math.Min(dataLo, v), math.Max(dataHi, v)
			}
		}
	}
	empty := math.IsInf(dataLo, 1)
	if math.IsNaN(lo) {
		lo = dataLo
		if empty {
			lo = 0
		}
	}
	if math.IsNaN(hi) {
		hi = dataHi
		if empty {
			hi = 1
		}
	}
	if hi <= lo {
		hi = lo + math.Max(math.Abs(lo)*0.1, 1e-9)
	}
	plotW, plotH := float64(chartW-padLeft-padRight), float64(chartH-padTop-padB)
	x := func(i int) float64 {
		if len(times) <= 1 {
			return padLeft + plotW/2
		}
		return padLeft + plotW*float64(i)/float64(len(times)-1)
	}
	y := func(v float64) float64 { return padTop + plotH*(1-(v-lo)/(hi-lo)) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s">`, chartW, chartH, html.EscapeString(title))
	for i := 0; i <= 2; i++ {
		v := lo + (hi-lo)*float64(i)/2
		yy := y(v)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%s" y2="%s"/>`, padLeft, chartW-padRight, f1(yy), f1(yy))
		fmt.Fprintf(&b, `<text class="axis" x="%d" y="%s" text-anchor="end">%s</text>`, padLeft-6, f1(yy+4), html.EscapeString(yFmt(v)))
	}
	if n := len(times); n > 0 {
		for _, i := range []int{0, n / 2, n - 1} {
			anchor := "middle"
			switch i {
			case 0:
				anchor = "start"
			case n - 1:
				anchor = "end"
			}
			fmt.Fprintf(&b, `<text class="axis" x="%s" y="%d" text-anchor="%s">%s</text>`, f1(x(i)), chartH-6, anchor, times[i].UTC().Format("15:04"))
		}
	}
	if n := len(times); n > 1 {
		first, last := times[0], times[n-1]
		step := times[1].Sub(times[0])
		row, lastX := 0, math.Inf(-1)
		for _, m := range markers {
			// A change within the last step (the current minute) sits at the
			// right edge.
			if m.Time.Before(first) || m.Time.After(last.Add(step)) {
				continue
			}
			xx := math.Min(padLeft+plotW*float64(m.Time.Sub(first))/float64(last.Sub(first)), padLeft+plotW)
			if xx-lastX < 90 { // labels close together: stack them
				row = (row + 1) % 3
			} else {
				row = 0
			}
			lastX = xx
			class := "marker"
			if m.Guard {
				class += " guard"
			}
			anchor := "start"
			if xx > padLeft+plotW*0.8 {
				anchor = "end"
			}
			fmt.Fprintf(&b, `<line class="%s" x1="%s" x2="%s" y1="%d" y2="%s"/>`, class, f1(xx), f1(xx), padTop, f1(padTop+plotH))
			tx := xx + 3
			if anchor == "end" {
				tx = xx - 3
			}
			fmt.Fprintf(&b, `<text class="%s" x="%s" y="%d" text-anchor="%s">%s</text>`, class, f1(tx), padTop+9+11*row, anchor, html.EscapeString(m.Label))
		}
	}
	if empty {
		fmt.Fprintf(&b, `<text class="empty" x="%d" y="%d" text-anchor="middle">no reports in this window</text>`, padLeft+int(plotW/2), padTop+int(plotH/2))
	}
	for _, l := range lines {
		if d := path(l.Values, x, y); d != "" {
			fmt.Fprintf(&b, `<path class="series %s" d="%s"/>`, html.EscapeString(l.Class), d)
		}
		// Lone points (a value between two gaps) would draw nothing: mark them.
		for i, v := range l.Values {
			if !math.IsNaN(v) && (i == 0 || math.IsNaN(l.Values[i-1])) && (i == len(l.Values)-1 || math.IsNaN(l.Values[i+1])) {
				fmt.Fprintf(&b, `<circle class="dot %s" cx="%s" cy="%s" r="2.5"/>`, html.EscapeString(l.Class), f1(x(i)), f1(y(v)))
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// path is an SVG path through the values, broken at NaNs.
func path(values []float64, x func(int) float64, y func(float64) float64) string {
	var b strings.Builder
	pen := false
	for i, v := range values {
		if math.IsNaN(v) {
			pen = false
			continue
		}
		if pen {
			b.WriteString("L")
		} else {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString("M")
		}
		b.WriteString(f1(x(i)))
		b.WriteByte(' ')
		b.WriteString(f1(y(v)))
		pen = true
	}
	return b.String()
}

// sparkline is a small match-rate trend without axes.
func sparkline(series []api.StatsPoint) template.HTML {
	const w, h = 120, 28
	vals := make([]float64, len(series))
	lo, hi := 1.0, 1.0
	any := false
	for i, p := range series {
		if p.Compared == 0 {
			vals[i] = math.NaN()
			continue
		}
		vals[i] = p.MatchRate
		lo = math.Min(lo, p.MatchRate)
		any = true
	}
	if !any {
		return template.HTML(fmt.Sprintf(`<svg class="spark" viewBox="0 0 %d %d" role="img" aria-label="no comparisons yet"><line class="grid" x1="0" x2="%d" y1="%d" y2="%d"/></svg>`, w, h, w, h-2, h-2))
	}
	if hi-lo < 0.001 {
		lo = hi - 0.001
	}
	x := func(i int) float64 {
		if len(vals) <= 1 {
			return w / 2
		}
		return 1 + float64(w-2)*float64(i)/float64(len(vals)-1)
	}
	y := func(v float64) float64 { return 2 + float64(h-4)*(1-(v-lo)/(hi-lo)) }
	return template.HTML(fmt.Sprintf(`<svg class="spark" viewBox="0 0 %d %d" role="img" aria-label="match rate trend"><path class="series match" d="%s"/></svg>`, w, h, path(vals, x, y)))
}

// charts draws the migration page's three charts from a stats series.
func charts(st api.Stats, markers []marker) []chartView {
	n := len(st.Series)
	times := make([]time.Time, n)
	match := make([]float64, n)
	oldP50, oldP99 := make([]float64, n), make([]float64, n)
	newP50, newP99 := make([]float64, n), make([]float64, n)
	oldErr, newErr := make([]float64, n), make([]float64, n)
	nan := math.NaN()
	for i, p := range st.Series {
		times[i] = p.Time
		if p.Compared == 0 {
			match[i], oldErr[i], newErr[i] = nan, nan, nan
		} else {
			match[i], oldErr[i], newErr[i] = p.MatchRate, p.OldErrorRate, p.NewErrorRate
		}
		oldP50[i], oldP99[i], newP50[i], newP99[i] = orNaN(p.Old.P50), orNaN(p.Old.P99), orNaN(p.New.P50), orNaN(p.New.P99)
	}
	matchLo := 0.0
	if minOf(match) > 0.9 {
		matchLo = 0.9 // zoom in where the decision is made; a worse rate shows the full scale
	}
	ml := []line{{Class: "match", Label: "match rate", Values: match}}
	ll := []line{
		{Class: "old", Label: "old p50", Values: oldP50},
		{Class: "old p99", Label: "old p99", Values: oldP99},
		{Class: "new", Label: "new p50", Values: newP50},
		{Class: "new p99", Label: "new p99", Values: newP99},
	}
	el := []line{
		{Class: "old", Label: "old errors", Values: oldErr},
		{Class: "new", Label: "new errors", Values: newErr},
	}
	return []chartView{
		{Title: "Match rate", Note: "share of compared calls where both sides agreed", SVG: lineChart("match rate over time", times, ml, markers, pct, matchLo, 1), Legend: ml},
		{Title: "Latency", Note: "p50 and p99 of each side", SVG: lineChart("latency p50 and p99, old and new", times, ll, markers, ms, 0, nan), Legend: ll},
		{Title: "Error rates", Note: "calls where that side failed, over compared calls", SVG: lineChart("error rates of old and new", times, el, markers, pct, 0, math.Max(0.01, 1.1*maxOf(oldErr, newErr))), Legend: el},
	}
}

func orNaN(v float64) float64 {
	if v <= 0 {
		return math.NaN()
	}
	return v
}

func minOf(vs []float64) float64 {
	m := math.Inf(1)
	for _, v := range vs {
		if !math.IsNaN(v) {
			m = math.Min(m, v)
		}
	}
	return m
}

func maxOf(series ...[]float64) float64 {
	m := 0.0
	for _, vs := range series {
		for _, v := range vs {
			if !math.IsNaN(v) {
				m = math.Max(m, v)
			}
		}
	}
	return m
}

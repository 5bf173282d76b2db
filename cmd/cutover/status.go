package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/client"
)

func init() {
	register(&command{
		name:    "status",
		summary: "show the migrations on a server (mode, treatment, match rate, gates), or one in detail",
		usage:   "[NAME] [--window 1h] [--server URL] [--token T] [--json]",
		run:     runStatus,
	})
}

// migrationStatus is one migration with its evidence, as --json prints it.
type migrationStatus struct {
	Migration  api.Migration       `json:"migration"`
	Stats      *api.Stats          `json:"stats,omitempty"`
	Mismatches []api.MismatchGroup `json:"mismatches,omitempty"`
}

func runStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, commands["status"])
	var rf remoteFlags
	rf.register(fs)
	window := fs.Duration("window", time.Hour, "how far back the evidence goes")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError("status takes at most one migration name, got %d: %s", len(pos), strings.Join(pos, " "))
	}
	if *window <= 0 {
		return usageError("--window must be positive, such as 15m or 24h")
	}
	c, err := rf.client(e)
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	q := client.StatsQuery{Window: *window}
	if len(pos) == 1 {
		return statusOne(ctx, e, c, &rf, pos[0], q)
	}
	ms, err := c.Migrations(ctx)
	if err != nil {
		return remoteError(c, err)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	out := make([]migrationStatus, len(ms))
	for i, m := range ms {
		out[i].Migration = m
		s, err := c.Stats(ctx, m.Name, q)
		if err != nil {
			if ctx.Err() != nil {
				return remoteError(c, err)
			}
			fmt.Fprintf(e.stderr, "cutover status: no evidence for %s: %v\n", m.Name, err)
			continue
		}
		out[i].Stats = s
	}
	if rf.json {
		return printJSON(e.stdout, out)
	}
	if len(out) == 0 {
		fmt.Fprintln(e.stdout, "no migrations yet: create one through the API (POST /api/v1/migrations) or the dashboard")
		return nil
	}
	t := newTable(e.stdout)
	fmt.Fprintf(t, "NAME\tMODE\tTREATMENT\tPERCENT\tMATCH RATE\tCOMPARED\tGATES\tVERSION\n")
	for _, st := range out {
		m := st.Migration
		treatment, percent := "-", "-"
		if m.Rollout.Percent > 0 {
			treatment, percent = m.Rollout.Treatment.String(), formatPercent(m.Rollout.Percent)
		}
		matchRate, compared := "-", "-"
		if st.Stats != nil {
			compared = fmt.Sprint(st.Stats.Compared)
			matchRate = formatMatchRate(st.Stats)
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", m.Name, m.Rollout.Mode, treatment, percent,
			matchRate, compared, gateSummary(m, st.Stats), m.Version)
	}
	return t.Flush()
}

func statusOne(ctx context.Context, e *env, c *client.Client, rf *remoteFlags, name string, q client.StatsQuery) error {
	m, err := c.Migration(ctx, name)
	if err != nil {
		if isNotFound(err) {
			return &exitCodeError{code: exitError, err: fmt.Errorf("no migration named %q on %s: `cutover status` lists them", name, c.URL())}
		}
		return remoteError(c, err)
	}
	st := migrationStatus{Migration: *m}
	if st.Stats, err = c.Stats(ctx, name, q); err != nil {
		return remoteError(c, err)
	}
	if st.Mismatches, err = c.Mismatches(ctx, name, q); err != nil {
		return remoteError(c, err)
	}
	if rf.json {
		return printJSON(e.stdout, st)
	}
	printMigration(e.stdout, &st, q.Window)
	return nil
}

func printMigration(w io.Writer, st *migrationStatus, window time.Duration) {
	m, s := st.Migration, st.Stats
	t := newTable(w)
	fmt.Fprintf(t, "migration\t%s\n", m.Name)
	if m.Description != "" {
		fmt.Fprintf(t, "description\t%s\n", m.Description)
	}
	fmt.Fprintf(t, "rollout\t%s\n", m.Rollout)
	fmt.Fprintf(t, "version\t%d (updated %s)\n", m.Version, formatTime(m.UpdatedAt))
	if len(m.Rollout.Overrides) > 0 {
		keys := make([]string, 0, len(m.Rollout.Overrides))
		for k := range m.Rollout.Overrides {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			label := ""
			if i == 0 {
				label = "overrides"
			}
			fmt.Fprintf(t, "%s\t%s → %s\n", label, k, m.Rollout.Overrides[k])
		}
	}
	if !m.FullSince.IsZero() {
		fmt.Fprintf(t, "at 100%% since\t%s\n", formatTime(m.FullSince))
	}
	_ = t.Flush()

	fmt.Fprintf(w, "\nevidence, last %s:\n", formatDuration(window))
	if s == nil || s.Compared == 0 && sumCounts(s.Counts) == 0 {
		fmt.Fprintln(w, "  none yet: no instance has reported (is the SDK reporter wired into the service?)")
	} else {
		t = newTable(w)
		fmt.Fprintf(t, "  compared\t%d\n", s.Compared)
		fmt.Fprintf(t, "  match rate\t%s\n", formatMatchRate(s))
		fmt.Fprintf(t, "  mismatch rate\t%s\n", formatRate(s.MismatchRate))
		fmt.Fprintf(t, "  new error rate\t%s\n", formatRate(s.NewErrorRate))
		fmt.Fprintf(t, "  old error rate\t%s\n", formatRate(s.OldErrorRate))
		fmt.Fprintf(t, "  outcomes\t%s\n", formatCounts(s.Counts))
		fmt.Fprintf(t, "  latency old\tp50 %s  p95 %s  p99 %s\n", formatSeconds(s.Latency.Old.P50), formatSeconds(s.Latency.Old.P95), formatSeconds(s.Latency.Old.P99))
		fmt.Fprintf(t, "  latency new\tp50 %s  p95 %s  p99 %s\n", formatSeconds(s.Latency.New.P50), formatSeconds(s.Latency.New.P95), formatSeconds(s.Latency.New.P99))
		_ = t.Flush()
	}

	fmt.Fprintf(w, "\npromotion gates: %s\n", gateSummary(m, s))
	if s != nil && s.Gates != nil && len(s.Gates.Criteria) > 0 {
		printCriteria(w, s.Gates.Criteria)
	}

	if len(st.Mismatches) > 0 {
		fmt.Fprintln(w, "\ndiscrepancies by signature:")
		t = newTable(w)
		fmt.Fprintf(t, "  COUNT\tSHARE\tOUTCOME\tSIGNATURE\tLAST SEEN\n")
		for i, g := range st.Mismatches {
			if i == 10 {
				fmt.Fprintf(t, "  …\t\t\t%d more signatures (--json lists them all)\t\n", len(st.Mismatches)-10)
				break
			}
			sig := g.Signature
			if sig == "" {
				sig = "(root)"
			}
			fmt.Fprintf(t, "  %d\t%s\t%s\t%s\t%s\n", g.Count, formatPercent(100*g.Share), g.Outcome, sig, formatTime(g.LastSeen))
		}
		_ = t.Flush()
	}
}

// printCriteria prints the gates' criteria, one a line.
func printCriteria(w io.Writer, cs []api.GateCriterion) {
	t := newTable(w)
	fmt.Fprintf(t, "  CRITERION\tTHRESHOLD\tMEASURED\tVERDICT\tDETAIL\n")
	for _, c := range cs {
		verdict := "pass"
		if !c.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(t, "  %s\t%s\t%s\t%s\t%s\n", c.Criterion, formatCriterionValue(c.Criterion, c.Threshold),
			formatCriterionValue(c.Criterion, c.Measured), verdict, c.Message)
	}
	_ = t.Flush()
}

// gateSummary says in a word or two what the gates think of moving on.
func gateSummary(m api.Migration, s *api.Stats) string {
	if m.Gates.Disabled {
		return "off"
	}
	if s == nil || s.Gates == nil {
		return "-"
	}
	if s.Gates.Pass {
		return "pass"
	}
	var failing []string
	for _, c := range s.Gates.Criteria {
		if !c.Pass {
			failing = append(failing, c.Criterion)
		}
	}
	switch len(failing) {
	case 0:
		return "blocked"
	case 1:
		return "blocked: " + failing[0]
	}
	return fmt.Sprintf("blocked: %s +%d", failing[0], len(failing)-1)
}

func isNotFound(err error) bool {
	ae, ok := err.(*client.APIError)
	return ok && ae.StatusCode == 404
}

func sumCounts(m map[cutover.Outcome]int64) int64 {
	var n int64
	for _, c := range m {
		n += c
	}
	return n
}

func formatMatchRate(s *api.Stats) string {
	if s.Compared == 0 {
		return "-"
	}
	return formatPercent(100 * float64(s.Counts[cutover.OutcomeMatch]) / float64(s.Compared))
}

func formatRate(r api.Rate) string {
	if r.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%s (95%% CI %s–%s, n=%d)", formatPercent(100*r.Value), formatPercent(100*r.Lower), formatPercent(100*r.Upper), r.N)
}

// formatPercent prints a percentage with as many decimals as it needs, up
// to two: "10%", "99.87%".
func formatPercent(p float64) string {
	s := fmt.Sprintf("%.2f", p)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

func formatCounts(m map[cutover.Outcome]int64) string {
	var parts []string
	for _, o := range cutover.Outcomes {
		if n := m[o]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", o, n))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// formatSeconds prints a latency in seconds as a rounded Go duration.
func formatSeconds(s float64) string {
	if s <= 0 || math.IsNaN(s) {
		return "-"
	}
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= time.Second:
		d = d.Round(time.Millisecond)
	case d >= time.Millisecond:
		d = d.Round(10 * time.Microsecond)
	default:
		d = d.Round(time.Microsecond)
	}
	return d.String()
}

// formatCriterionValue prints a gate's threshold or measure in its unit.
func formatCriterionValue(criterion string, v float64) string {
	switch criterion {
	case "max_mismatch_rate", "max_new_error_rate":
		return formatPercent(100 * v)
	case "min_time_at_full", "verify_within":
		if v < 0 {
			return "none"
		}
		return formatDuration(time.Duration(v * float64(time.Second)).Round(time.Second))
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%g", v)
}

// formatDuration prints a duration without trailing zero units: "1h",
// "15m", "1h30m".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

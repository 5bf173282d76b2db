package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/cutover/cutover/api"
)

func init() {
	register(&command{
		name:    "history",
		summary: "show a migration's audit history: every change, who, why, automatic or forced",
		usage:   "NAME [--limit N] [--server URL] [--token T] [--json]",
		run:     runHistory,
	})
}

func runHistory(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, commands["history"])
	var rf remoteFlags
	rf.register(fs)
	limit := fs.Int("limit", 0, "show only the N latest changes (default: all)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("history needs exactly one migration name: cutover history NAME")
	}
	if *limit < 0 {
		return usageError("--limit must be 0 (all) or more")
	}
	c, err := rf.client(e)
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	changes, err := c.History(ctx, pos[0])
	if err != nil {
		if isNotFound(err) {
			return usageError("no migration named %q on %s: `cutover status` lists them", pos[0], c.URL())
		}
		return remoteError(c, err)
	}
	// Oldest first, as a log reads.
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].ID < changes[j].ID })
	if *limit > 0 && len(changes) > *limit {
		changes = changes[len(changes)-*limit:]
	}
	if rf.json {
		if changes == nil {
			changes = []api.Change{}
		}
		return printJSON(e.stdout, changes)
	}
	if len(changes) == 0 {
		fmt.Fprintf(e.stdout, "%s has no history yet\n", pos[0])
		return nil
	}
	t := newTable(e.stdout)
	fmt.Fprintf(t, "TIME\tVERSION\tKIND\tACTOR\tCHANGE\tREASON\n")
	for _, ch := range changes {
		what := ""
		switch ch.Kind {
		case "rollout", "":
			what = ch.From.String() + " → " + ch.To.String()
		case "created":
			what = "created at " + ch.To.String()
		default:
			what = ch.To.String()
		}
		var flags []string
		if ch.Forced {
			flags = append(flags, "forced")
		}
		if ch.Automatic {
			flags = append(flags, "automatic")
		}
		if len(flags) > 0 {
			what += " [" + strings.Join(flags, ", ") + "]"
		}
		reason := ch.Reason
		if len(ch.Figures) > 0 {
			reason += " (" + formatFigures(ch.Figures) + ")"
		}
		fmt.Fprintf(t, "%s\t%d\t%s\t%s\t%s\t%s\n", formatTime(ch.Time), ch.Version, ch.Kind, ch.Actor, what, reason)
	}
	return t.Flush()
}

// formatFigures prints the guard's figures in a stable order.
func formatFigures(f map[string]float64) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%g", k, f[k])
	}
	return strings.Join(parts, ", ")
}

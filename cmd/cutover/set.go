package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/client"
)

func init() {
	register(&command{
		name:    "set",
		summary: "change a migration's rollout (mode, treatment, percent); exit 1 when the server refuses",
		usage:   "NAME [MODE] [--mode MODE] [--treatment MODE --percent N] --reason TEXT [--force] [--version V] [--server URL] [--token T] [--json]",
		run:     runSet,
	})
}

func runSet(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, commands["set"])
	var rf remoteFlags
	rf.register(fs)
	var (
		mode      = fs.String("mode", "", "the control mode: old, shadow, reverse-shadow or new")
		treatment = fs.String("treatment", "", "the mode of the keys in treatment (with --percent)")
		percent   = fs.Float64("percent", 0, "the share of keys in treatment, 0 to 100 with at most two decimals")
		reason    = fs.String("reason", "", "why, for the audit history (required)")
		force     = fs.Bool("force", false, "allow a move that skips a mode or bypasses the promotion gates (audited)")
		version   = fs.Int64("version", 0, "the version the change is based on (default: the current one)")
	)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch len(pos) {
	case 0:
		return usageError("set needs the migration's name: cutover set NAME --mode MODE --reason TEXT")
	case 1:
	case 2:
		if set["mode"] && *mode != pos[1] {
			return usageError("the mode is given twice (%q and --mode %q): give one", pos[1], *mode)
		}
		*mode = pos[1]
	default:
		return usageError("set takes the name and at most a mode, got: %s", strings.Join(pos, " "))
	}
	name := pos[0]
	if *mode == "" {
		return usageError("set needs the mode: --mode old|shadow|reverse-shadow|new")
	}
	control, err := cutover.ParseMode(*mode)
	if err != nil {
		return usageError("--mode %q: want old, shadow, reverse-shadow or new", *mode)
	}
	treat := control
	if set["treatment"] {
		if treat, err = cutover.ParseMode(*treatment); err != nil {
			return usageError("--treatment %q: want old, shadow, reverse-shadow or new", *treatment)
		}
		if !set["percent"] {
			return usageError("--treatment needs --percent: the share of keys in treatment")
		}
	} else if set["percent"] && *percent != 0 {
		return usageError("--percent needs --treatment: the mode of the keys in treatment")
	}
	if strings.TrimSpace(*reason) == "" {
		return usageError("set needs --reason TEXT: every change is audited with its reason")
	}
	if set["version"] && *version <= 0 {
		return usageError("--version must be a positive version, as `cutover status %s` shows it", name)
	}

	if err := (cutover.Rollout{Mode: control, Treatment: treat, Percent: *percent}).Validate(); err != nil {
		return usageError("%v", err)
	}

	c, err := rf.client(e)
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	// The current migration gives the version to base the change on and
	// the overrides to keep: a change replaces the whole rollout.
	cur, err := c.Migration(ctx, name)
	if err != nil {
		if isNotFound(err) {
			return &exitCodeError{code: exitError, err: fmt.Errorf("no migration named %q on %s: `cutover status` lists them", name, c.URL())}
		}
		return remoteError(c, err)
	}
	change := api.RolloutChange{
		Mode:      control,
		Treatment: treat,
		Percent:   *percent,
		Overrides: cur.Rollout.Overrides,
		Reason:    *reason,
		Force:     *force,
		Version:   cur.Version,
	}
	if set["version"] {
		change.Version = *version
	}
	m, err := c.SetRollout(ctx, name, change)
	if err != nil {
		return setError(e, c, &rf, name, change, err)
	}
	if rf.json {
		return printJSON(e.stdout, m)
	}
	fmt.Fprintf(e.stdout, "%s: %s → %s (version %d)\n", name, cur.Rollout, m.Rollout, m.Version)
	return nil
}

// setError explains a refused change; refusals exit with exitFailure.
func setError(e *env, c *client.Client, rf *remoteFlags, name string, change api.RolloutChange, err error) error {
	var ae *client.APIError
	if !errors.As(err, &ae) {
		return remoteError(c, err)
	}
	if rf.json && ae.StatusCode == 409 {
		_ = printJSON(e.stdout, api.ErrorResponse{Error: api.ErrorBody{
			Code: ae.Code, Message: ae.Message, Field: ae.Field, CurrentVersion: ae.CurrentVersion, Gate: ae.Gate}})
	}
	switch {
	case errors.Is(err, client.ErrGateRefused):
		if ae.Gate == nil || len(ae.Gate.Criteria) == 0 {
			fmt.Fprintf(e.stderr, "cutover set: %s: the promotion gates refused %s: %s\n", name, change.Rollout(), ae.Message)
		} else {
			fmt.Fprintf(e.stderr, "cutover set: %s: the promotion gates refused %s:\n", name, change.Rollout())
			var failing []api.GateCriterion
			for _, c := range ae.Gate.Criteria {
				if !c.Pass {
					failing = append(failing, c)
				}
			}
			if len(failing) == 0 {
				failing = ae.Gate.Criteria
			}
			printCriteria(e.stderr, failing)
		}
		fmt.Fprintln(e.stderr, "gather more evidence, or pass --force with a reason to bypass the gates (audited)")
		return &exitCodeError{code: exitFailure, err: errors.New("")} // already explained
	case errors.Is(err, client.ErrConflict):
		return &exitCodeError{code: exitFailure, err: fmt.Errorf(
			"%s changed meanwhile: the change was based on version %d, the migration is at version %d: check `cutover status %s` and run the command again",
			name, change.Version, ae.CurrentVersion, name)}
	case errors.Is(err, client.ErrTransition):
		return &exitCodeError{code: exitFailure, err: fmt.Errorf("%s: %s (to jump anyway: --force with a --reason; it is audited)", name, ae.Message)}
	case errors.Is(err, client.ErrInvalid):
		field := ""
		if ae.Field != "" {
			field = " (" + ae.Field + ")"
		}
		return &exitCodeError{code: exitError, err: fmt.Errorf("the server refused the change as invalid%s: %s", field, ae.Message)}
	}
	return remoteError(c, err)
}

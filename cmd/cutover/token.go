package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cutover/cutover/api"
)

func init() {
	register(&command{
		name:    "token",
		summary: "create, list or revoke API tokens: sdk for services, operator for rollout changes, admin for everything",
		usage:   "create --scope sdk|operator|admin [--name N] | list | revoke ID  [--server URL] [--token T] [--json]",
		run:     runToken,
	})
}

func runToken(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, commands["token"])
	var rf remoteFlags
	rf.register(fs)
	scope := fs.String("scope", "", "create: what the token may do: sdk (watch, report, read), operator (also change rollouts), admin (everything)")
	name := fs.String("name", "", "create: a name to tell the token by in the audit history (default: the scope and the time)")
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "create", "list", "revoke":
	case "-h", "--help", "help":
		fs.Usage()
		return nil
	default:
		return usageError("token needs a subcommand: cutover token create --scope sdk|operator|admin [--name N], cutover token list, or cutover token revoke ID")
	}
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	switch {
	case sub == "revoke" && len(pos) != 1:
		return usageError("token revoke takes one token ID (as cutover token list shows it), got %d arguments", len(pos))
	case sub != "revoke" && len(pos) > 0:
		return usageError("token %s takes no arguments, got: %s", sub, strings.Join(pos, " "))
	case sub != "create" && (*scope != "" || *name != ""):
		return usageError("--scope and --name are for token create")
	}
	var s api.Scope
	if sub == "create" {
		s = api.Scope(strings.ToLower(strings.TrimSpace(*scope)))
		if !s.Valid() {
			return usageError("--scope %q: want sdk, operator or admin", *scope)
		}
	}
	c, err := rf.client(e)
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	switch sub {
	case "list":
		ts, err := c.Tokens(ctx)
		if err != nil {
			return remoteError(c, err)
		}
		if rf.json {
			return printJSON(e.stdout, ts)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSCOPE\tCREATED\tNAME")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Scope, t.CreatedAt.UTC().Format("2006-01-02 15:04:05Z"), t.Name)
		}
		return tw.Flush()
	case "revoke":
		t, err := c.RevokeToken(ctx, pos[0])
		if err != nil {
			return remoteError(c, err)
		}
		if rf.json {
			return printJSON(e.stdout, t)
		}
		fmt.Fprintf(e.stdout, "revoked %s token %s %q: requests with it are refused from now on\n", t.Scope, t.ID, t.Name)
		return nil
	}
	n := strings.TrimSpace(*name)
	if n == "" {
		n = fmt.Sprintf("%s token made %s", s, time.Now().UTC().Format("2006-01-02 15:04:05Z"))
	}
	tok, err := c.CreateToken(ctx, api.CreateToken{Name: n, Scope: s})
	if err != nil {
		return remoteError(c, err)
	}
	if rf.json {
		return printJSON(e.stdout, tok)
	}
	fmt.Fprintln(e.stdout, tok.Secret)
	fmt.Fprintf(e.stderr, "created %s token %s %q; the secret above is shown only this once: store it now\n", tok.Scope, tok.ID, tok.Name)
	return nil
}

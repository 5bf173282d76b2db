package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cutover/cutover/api"
)

func init() {
	register(&command{
		name:    "token",
		summary: "create an API token: sdk for services, operator for rollout changes, admin for everything",
		usage:   "create --scope sdk|operator|admin [--name N] [--server URL] [--token T] [--json]",
		run:     runToken,
	})
}

func runToken(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, commands["token"])
	var rf remoteFlags
	rf.register(fs)
	scope := fs.String("scope", "", "what the token may do: sdk (watch, report, read), operator (also change rollouts), admin (everything)")
	name := fs.String("name", "", "a name to tell the token by in the audit history (default: the scope and the time)")
	if len(args) == 0 || args[0] != "create" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fs.Usage()
			return nil
		}
		return usageError("token needs a subcommand: cutover token create --scope sdk|operator|admin [--name N]")
	}
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("token create takes no arguments, got: %s", strings.Join(pos, " "))
	}
	s := api.Scope(strings.ToLower(strings.TrimSpace(*scope)))
	if !s.Valid() {
		return usageError("--scope %q: want sdk, operator or admin", *scope)
	}
	c, err := rf.client(e)
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
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
	fmt.Fprintf(e.stderr, "created %s token %q; the secret above is shown only this once: store it now\n", tok.Scope, tok.Name)
	return nil
}

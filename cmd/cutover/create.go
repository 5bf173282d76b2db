package main

import (
	"context"
	"fmt"

	"github.com/cutover/cutover/api"
)

func init() {
	register(&command{
		name:    "create",
		summary: "create a migration on the control plane (admin token), at mode old with the server's default gates and guard",
		usage:   "NAME [--description TEXT] [--server URL] [--token T] [--json]",
		run:     runCreate,
	})
}

func runCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, commands["create"])
	var rf remoteFlags
	rf.register(fs)
	description := fs.String("description", "", "what moves where, for the dashboard (\"orders.customer_id → pendingPayments\")")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("create needs exactly one migration name: cutover create NAME")
	}
	c, err := rf.client(e)
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	m, err := c.CreateMigration(ctx, api.CreateMigration{Name: pos[0], Description: *description})
	if err != nil {
		return remoteError(c, err)
	}
	if rf.json {
		return printJSON(e.stdout, m)
	}
	fmt.Fprintf(e.stdout, "created %s at %s (version %d); next: cutover set %s --mode shadow --reason '…'\n",
		m.Name, m.Rollout, m.Version, m.Name)
	return nil
}

// Command catalog-v1 is the old product catalog service of the V1 → V2 example:
// GET /products/{id} answers {"id", "name", "price": "2.50", "currency",
// "tags"}. See examples/http-v2/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cutover/cutover/examples/http-v2/catalog"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9001", "TCP address to serve on (port 0 picks a free one)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := catalog.Serve(ctx, "catalog v1", *listen, catalog.V1(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "catalog-v1:", err)
		os.Exit(1)
	}
}

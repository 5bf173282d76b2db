// Command catalog-v2 is the rewritten product catalog service of the V1 → V2
// example: its own API is incompatible with V1's ("title" instead of
// "name", the price in integer cents), and with --v1-compat it also renders
// V1's shape on /products/{id} so that it can replace V1 behind
// `cutover proxy`. See examples/http-v2/README.md.
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
	listen := flag.String("listen", "127.0.0.1:9002", "TCP address to serve on (port 0 picks a free one)")
	compat := flag.Bool("v1-compat", false, "serve V1's shape on /products/{id} (V2's own stays on /v2/products/{id})")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := catalog.Serve(ctx, "catalog v2", *listen, catalog.V2(catalog.V2Options{V1Compat: *compat}), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "catalog-v2:", err)
		os.Exit(1)
	}
}

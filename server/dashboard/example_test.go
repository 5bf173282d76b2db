package dashboard_test

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/cutover/cutover/server"
	"github.com/cutover/cutover/server/app"
	"github.com/cutover/cutover/server/dashboard"
)

// The dashboard mounted beside the API, as `cutover serve` does it: the API
// keeps /api/, /healthz, /readyz and /metrics, the dashboard the rest.
func Example() {
	a, err := app.Open(context.Background(), app.Config{
		Listen:  "127.0.0.1:8080",
		DataDir: "./cutover-data",
		UI: func(svc *server.Service, log *slog.Logger) http.Handler {
			return dashboard.New(svc, dashboard.Config{Logger: log})
		},
	})
	if err != nil {
		panic(err)
	}
	_ = a.Run(context.Background()) // sign in at http://127.0.0.1:8080/
}

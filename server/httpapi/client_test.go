package httpapi_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/client"
	"github.com/cutover/cutover/server/servertest"
)

// TestSDKReporterSketches sends observations through the SDK's reporter
// and reads the percentiles back: the sketch encodings of client and
// server agree.
func TestSDKReporterSketches(t *testing.T) {
	srv := servertest.Start(t)
	srv.CreateMigration(t, api.CreateMigration{Name: "orders"})
	c, err := client.New(srv.URL, srv.Token(t, api.ScopeSDK), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	rep := c.Reporter(client.ReporterOptions{Instance: "test", FlushInterval: time.Hour})
	ctx := context.Background()
	now := time.Now()
	for i := 1; i <= 100; i++ {
		o := &cutover.Observation{Migration: "orders", Operation: "get", Kind: cutover.KindRead, Mode: cutover.ModeShadow,
			Key: "k", Time: now, Outcome: cutover.OutcomeMatch,
			Old: cutover.Side{Ran: true, Duration: time.Duration(i) * time.Millisecond},
			New: cutover.Side{Ran: true, Duration: time.Duration(2*i) * time.Millisecond}}
		if i%10 == 0 {
			o.Outcome, o.Signature = cutover.OutcomeMismatch, ".Price"
		}
		rep.Observe(ctx, o)
	}
	if err := rep.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var st api.Stats
	if code := srv.Do(t, srv.Token(t, api.ScopeOperator), "GET", "/api/v1/migrations/orders/stats", nil, &st); code != 200 {
		t.Fatalf("stats: %d", code)
	}
	if st.Compared != 100 || st.Counts[cutover.OutcomeMismatch] != 10 {
		t.Fatalf("counts %v", st.Counts)
	}
	within := func(got, want float64) bool { return math.Abs(got-want) <= 0.011*want }
	if !within(st.Latency.Old.P50, 0.050) || !within(st.Latency.New.P99, 0.198) {
		t.Fatalf("latency %+v", st.Latency)
	}
}

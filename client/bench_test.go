package client_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/client"
	"github.com/cutover/cutover/diff"
	"github.com/cutover/cutover/server/servertest"
)

// BenchmarkReporterObserve measures summing one observation into the
// current batch (the reporter's work per compared call, on the sink's
// goroutine, off the caller's path).
func BenchmarkReporterObserve(b *testing.B) {
	c, err := client.New("http://127.0.0.1:1", "", client.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	rep := c.Reporter(client.ReporterOptions{FlushInterval: time.Hour})
	defer func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // nothing to send it to
		_ = rep.Close(ctx)
	}()
	match := &cutover.Observation{Migration: "orders", Operation: "get", Mode: cutover.ModeShadow, Outcome: cutover.OutcomeMatch,
		Old: cutover.Side{Ran: true, Duration: 2 * time.Millisecond}, New: cutover.Side{Ran: true, Duration: 3 * time.Millisecond}}
	mismatch := *match
	mismatch.Outcome, mismatch.Signature = cutover.OutcomeMismatch, ".Price"
	mismatch.Diffs = []diff.Difference{{Path: ".Price", Old: "100", New: "101"}}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%100 == 0 {
			rep.Observe(ctx, &mismatch)
		} else {
			rep.Observe(ctx, match)
		}
	}
}

// BenchmarkWatchFanout measures the time from a rollout change (the PUT
// being sent) to its arrival at 100 sources, each on its own watch stream,
// against a real server on loopback; it reports the median and p99 over
// every change and watcher.
//
//	go test -run '^$' -bench WatchFanout -benchtime 20x ./client
func BenchmarkWatchFanout(b *testing.B) {
	const watchers = 100
	srv := servertest.Start(b)
	quiet := client.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	admin, _ := client.New(srv.URL, srv.AdminToken, quiet)
	defer admin.CloseIdleConnections()
	if _, err := admin.CreateMigration(context.Background(), api.CreateMigration{Name: "orders", Gates: &api.Gates{Disabled: true}}); err != nil {
		b.Fatal(err)
	}
	sdkToken := srv.Token(b, api.ScopeSDK)
	type arrival struct {
		percent float64
		at      time.Time
	}
	arrivals := make(chan arrival, watchers*4)
	var sources []*client.Source
	for range watchers {
		c, _ := client.New(srv.URL, sdkToken, quiet)
		s := c.Source(client.SourceOptions{})
		sources = append(sources, s)
		if _, err := s.Subscribe("orders", func(r cutover.Rollout) { arrivals <- arrival{r.Percent, time.Now()} }); err != nil {
			b.Fatal(err)
		}
		defer c.CloseIdleConnections()
		defer s.Close()
	}
	for range watchers { // the initial rollouts
		<-arrivals
	}
	m, err := admin.Migration(context.Background(), "orders")
	if err != nil {
		b.Fatal(err)
	}
	version := m.Version
	var latencies []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		percent := float64(i%99 + 1)
		changed := time.Now() // the change is under way from here
		m, err := admin.SetRollout(context.Background(), "orders", api.RolloutChange{
			Mode: cutover.ModeShadow, Treatment: cutover.ModeReverseShadow, Percent: percent,
			Reason: "bench", Version: version, Force: true,
		})
		if err != nil {
			b.Fatal(err)
		}
		version = m.Version
		for got := 0; got < watchers; {
			a := <-arrivals
			if a.percent != percent {
				continue
			}
			latencies = append(latencies, a.at.Sub(changed))
			got++
		}
	}
	b.StopTimer()
	slices.Sort(latencies)
	if len(latencies) > 0 {
		p := func(q float64) time.Duration { return latencies[int(q*float64(len(latencies)-1))] }
		b.ReportMetric(float64(p(0.5).Microseconds()), "µs-median")
		b.ReportMetric(float64(p(0.99).Microseconds()), "µs-p99")
		b.Logf("%d watchers, %d changes: median %v, p99 %v", watchers, len(latencies)/watchers, p(0.5), p(0.99))
	}
}

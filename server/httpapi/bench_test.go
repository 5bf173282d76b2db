package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/internal/testenv"
	"github.com/cutover/cutover/server/servertest"
)

// BenchmarkIngest measures report batches per second through the HTTP API
// (one aggregate with sketches and a mismatch group per batch, 8 clients).
func BenchmarkIngest(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			var opts []servertest.Option
			if backend == "postgres" {
				opts = append(opts, servertest.WithPostgres(testenv.PostgresURL(b)))
			}
			srv := servertest.Start(b, opts...)
			srv.CreateMigration(b, api.CreateMigration{Name: "orders"})
			token := srv.Token(b, api.ScopeSDK)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			var seq atomic.Int64
			b.SetParallelism(4) // × GOMAXPROCS clients
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := seq.Add(1)
					body, _ := json.Marshal(api.ReportBatch{BatchID: fmt.Sprint("b", n), Instance: "bench",
						Aggregates: []api.Aggregate{aggregate("orders", cutover.ModeShadow, time.Now().UTC(), 990, 10)}})
					req, _ := http.NewRequest("POST", srv.URL+"/api/v1/reports", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+token)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
		})
	}
}

// BenchmarkWatchFanout measures the time from a rollout change (the PUT
// answered) to its arrival at each of 100 watching clients; it reports
// the median and the 99th percentile over every arrival.
func BenchmarkWatchFanout(b *testing.B) {
	const watchers = 100
	srv := servertest.Start(b)
	srv.CreateMigration(b, api.CreateMigration{Name: "orders", Gates: &api.Gates{Disabled: true}})
	sdk, op := srv.Token(b, api.ScopeSDK), srv.Token(b, api.ScopeOperator)
	arrivals := make(chan time.Time, watchers*16)
	var bodies []io.Closer
	ready := make(chan struct{}, watchers)
	for i := 0; i < watchers; i++ {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/watch?migration=orders", nil)
		req.Header.Set("Authorization", "Bearer "+sdk)
		resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, resp.Body)
		go func() {
			r := bufio.NewReader(resp.Body)
			first := true
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if strings.HasPrefix(line, "data: ") {
					if first {
						first = false
						ready <- struct{}{}
						continue
					}
					arrivals <- time.Now()
				}
			}
		}()
	}
	defer func() {
		for _, c := range bodies {
			c.Close()
		}
	}()
	for i := 0; i < watchers; i++ {
		<-ready
	}
	var lat []time.Duration
	modes := []cutover.Mode{cutover.ModeShadow, cutover.ModeOld}
	version := int64(1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mode := modes[i%2]
		sent := time.Now()
		var m api.Migration
		if code := srv.Do(b, op, "PUT", "/api/v1/migrations/orders/rollout", api.RolloutChange{Mode: mode, Treatment: mode, Reason: "bench", Version: version}, &m); code != 200 {
			b.Fatalf("PUT: %d", code)
		}
		version = m.Version
		for j := 0; j < watchers; j++ {
			select {
			case at := <-arrivals:
				lat = append(lat, at.Sub(sent))
			case <-time.After(10 * time.Second):
				b.Fatalf("change %d reached %d of %d watchers", i, j, watchers)
			}
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

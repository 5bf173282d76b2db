package proxy

import (
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cutover/cutover"
)

// Benchmark knobs; defaults are those quoted in docs/proxy.md.
var (
	benchOldDelay = flag.Duration("proxy.olddelay", time.Millisecond, "BenchmarkProxy: old upstream's service time (new's is 10×)")
	benchClients  = flag.Int("proxy.clients", 8, "BenchmarkProxy: concurrent clients")
	benchRate     = flag.Float64("proxy.rate", 400, "BenchmarkProxyLatency: requests per second, sent at a fixed rate")
)

const benchBody = `{"id":42,"status":"paid","items":[{"sku":"a-1","qty":2,"price":1250},{"sku":"b-7","qty":1,"price":990}],"total":3490}`

// BenchmarkProxy measures, on loopback, a plain httputil.ReverseProxy and
// the shadow proxy in old mode and in shadow mode with a new upstream ten
// times slower than old. It reports requests per second and the client's
// p99 latency.
//
//	go test -run '^$' -bench BenchmarkProxy -benchtime 20000x -count 5 ./proxy
func BenchmarkProxy(b *testing.B) { benchProxy(b, false) }

// BenchmarkProxyLatency is BenchmarkProxy with an open-loop load: requests
// start at a fixed rate (-proxy.rate) whatever the latency, so the three
// configurations see the same arrivals and their p99 can be compared even
// on a machine whose CPU a closed loop would saturate.
//
//	go test -run '^$' -bench BenchmarkProxyLatency -benchtime 2000x -count 5 ./proxy
func BenchmarkProxyLatency(b *testing.B) { benchProxy(b, true) }

func benchProxy(b *testing.B, fixedRate bool) {
	upstream := func(delay time.Duration) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if delay > 0 {
				time.Sleep(delay) // the upstream's service time
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, benchBody)
		}))
	}
	old, slowNew := upstream(*benchOldDelay), upstream(10**benchOldDelay)
	defer old.Close()
	defer slowNew.Close()
	oldURL, _ := url.Parse(old.URL)
	newURL, _ := url.Parse(slowNew.URL)
	transport := func() *http.Transport {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 256
		return t
	}

	b.Run("baseline-reverseproxy", func(b *testing.B) {
		rp := httputil.NewSingleHostReverseProxy(oldURL)
		tr := transport()
		rp.Transport = tr
		defer tr.CloseIdleConnections()
		runProxyBench(b, rp, fixedRate)
	})
	for _, tc := range []struct {
		name string
		mode cutover.Mode
	}{{"old", cutover.ModeOld}, {"shadow-slow-new", cutover.ModeShadow}} {
		b.Run(tc.name, func(b *testing.B) {
			tr := transport()
			defer tr.CloseIdleConnections()
			p, err := New(Config{Migration: "bench", Old: oldURL, New: newURL, Transport: tr,
				Rollout: cutover.Rollout{Mode: tc.mode}, MaxInFlight: 1024,
				Routes: []Route{{Name: "getOrder", Pattern: "GET /orders/{id}"}},
				Key:    KeyFrom{kind: "header", name: "X-User-Id"}})
			if err != nil {
				b.Fatal(err)
			}
			runProxyBench(b, p, fixedRate)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
			s := p.Stats()
			if tc.mode == cutover.ModeShadow {
				b.ReportMetric(float64(s.Shed)/float64(b.N)*100, "%shed")
				if s.Outcomes[cutover.OutcomeMatch] == 0 {
					b.Fatalf("no comparison matched: %+v", s.Outcomes)
				}
			}
		})
	}
}

// runProxyBench serves h on loopback and sends b.N GETs to it from
// -proxy.clients concurrent clients, reporting req/s and p99.
func runProxyBench(b *testing.B, h http.Handler, fixedRate bool) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = max(*benchClients, 256)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	get := func() time.Duration {
		req, _ := http.NewRequest("GET", srv.URL+"/orders/42", nil)
		req.Header.Set("X-User-Id", "u-17")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start)
	}
	for i := 0; i < *benchClients; i++ {
		get() // warm the connections
	}
	b.ReportAllocs()
	var (
		mu   sync.Mutex
		lats = make([]time.Duration, 0, b.N)
		next = make(chan struct{}, b.N)
		wg   sync.WaitGroup
	)
	b.ResetTimer()
	start, cpu := time.Now(), processCPU()
	if fixedRate {
		interval := time.Duration(float64(time.Second) / *benchRate)
		for i := 0; i < b.N; i++ {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := get()
				mu.Lock()
				lats = append(lats, d)
				mu.Unlock()
			}()
		}
	}
	for i := 0; i < b.N && !fixedRate; i++ {
		next <- struct{}{}
	}
	close(next)
	for c := 0; c < *benchClients && !fixedRate; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, b.N / *benchClients + 1)
			for range next {
				local = append(local, get())
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), processCPU()-cpu
	b.StopTimer()
	// CPU per request (proxy, upstreams and clients: one process) is what
	// bounds throughput when the cores are busy, and depends little on
	// what else the machine runs.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	slices.Sort(lats)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
}

package proxy

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
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
	benchRounds   = flag.Int("proxy.rounds", 20, "BenchmarkProxy*: rounds; each runs every configuration once, in a random order")
)

const benchBody = `{"id":42,"status":"paid","items":[{"sku":"a-1","qty":2,"price":1250},{"sku":"b-7","qty":1,"price":990}],"total":3490}`

// BenchmarkProxy measures, on loopback, a plain httputil.ReverseProxy (the
// baseline) and the shadow proxy in old mode and in shadow mode with a new
// upstream ten times slower than old, under a closed loop of
// -proxy.clients clients. b.N requests go to each configuration, in
// -proxy.rounds rounds that run the three one after the other in a random
// order, so that a change in the machine's background load reaches all
// three alike. It reports, per configuration, requests per second, the
// client's p50 and p99, CPU and allocations per request, and the ratios the
// targets are stated in, old/baseline throughput and shadow/old p99, as the
// medians of the rounds' ratios.
//
//	go test -run '^$' -bench 'BenchmarkProxy$' -benchtime 8000x -count 5 ./proxy
func BenchmarkProxy(b *testing.B) { benchProxy(b, false) }

// BenchmarkProxyLatency is BenchmarkProxy with an open-loop load: requests
// start at a fixed rate (-proxy.rate) whatever the latency, so the three
// configurations see the same arrivals, as a proxy with CPU to spare does in
// production.
//
//	go test -run '^$' -bench BenchmarkProxyLatency -benchtime 8000x -count 5 ./proxy
func BenchmarkProxyLatency(b *testing.B) { benchProxy(b, true) }

// benchTarget is one configuration under measurement and what it measured.
type benchTarget struct {
	name  string
	h     http.Handler
	proxy *Proxy // nil for the baseline

	srv     *httptest.Server
	client  *http.Client
	lats    []time.Duration
	elapsed time.Duration
	cpu     time.Duration
	mallocs uint64
	bytes   uint64
	n       int
	// Each round's p99 and req/s, for the ratios between configurations.
	roundP99, roundRate []float64
}

func benchProxy(b *testing.B, fixedRate bool) {
	if os.Getenv("GOGC") == "" {
		// As `cutover proxy` runs; GOGC=100 in the environment measures
		// Go's default instead.
		defer debug.SetGCPercent(debug.SetGCPercent(GCPercent))
	}
	oldURL, newURL := startBenchUpstreams(b)
	transport := func() *http.Transport {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 256
		return t
	}

	baseline := httputil.NewSingleHostReverseProxy(oldURL)
	baseTransport := transport()
	defer baseTransport.CloseIdleConnections()
	baseline.Transport = baseTransport
	targets := []*benchTarget{{name: "baseline", h: baseline}}
	for _, tc := range []struct {
		name string
		mode cutover.Mode
	}{{"old", cutover.ModeOld}, {"shadow", cutover.ModeShadow}} {
		tr := transport()
		defer tr.CloseIdleConnections()
		p, err := New(Config{Migration: "bench", Old: oldURL, New: newURL, Transport: tr,
			Rollout: cutover.Rollout{Mode: tc.mode}, MaxInFlight: 1024,
			Routes: []Route{{Name: "getOrder", Pattern: "GET /orders/{id}"}},
			Key:    KeyFrom{kind: "header", name: "X-User-Id"}})
		if err != nil {
			b.Fatal(err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := p.Close(ctx); err != nil {
				b.Error(err)
			}
		}()
		targets = append(targets, &benchTarget{name: tc.name, h: p, proxy: p})
	}
	for _, t := range targets {
		t.srv = httptest.NewServer(t.h)
		defer t.srv.Close()
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = max(*benchClients, 256)
		defer tr.CloseIdleConnections()
		t.client = &http.Client{Transport: tr}
		t.lats = make([]time.Duration, 0, b.N)
		t.runBlock(b, *benchClients, false, false) // warm the connections
	}

	rounds := max(1, min(*benchRounds, b.N))
	b.ReportAllocs()
	b.ResetTimer()
	for round := range rounds {
		n := b.N/rounds + boolInt(round < b.N%rounds)
		for _, i := range rand.Perm(len(targets)) {
			targets[i].runBlock(b, n, fixedRate, true)
		}
	}
	b.StopTimer()

	for _, t := range targets {
		slices.Sort(t.lats)
		b.ReportMetric(float64(t.n)/t.elapsed.Seconds(), t.name+"-req/s")
		b.ReportMetric(t.p99().Seconds()*1000, t.name+"-p99-ms")
		b.ReportMetric(float64(t.lats[len(t.lats)/2].Microseconds())/1000, t.name+"-p50-ms")
		// CPU per request (proxy and clients; the upstreams run in their
		// own process) is what bounds throughput when the cores are busy,
		// and depends little on what else the machine runs.
		b.ReportMetric(float64(t.cpu.Microseconds())/float64(t.n), t.name+"-cpu-µs/op")
		b.ReportMetric(float64(t.mallocs)/float64(t.n), t.name+"-allocs/op")
		b.ReportMetric(float64(t.bytes)/float64(t.n), t.name+"-B/op")
	}
	base, oldT, shadow := targets[0], targets[1], targets[2]
	// The targets' ratios are medians of the rounds' ratios: the two
	// configurations of a round ran seconds apart, under the same
	// background load, and a load spike in one round moves the median
	// little, where it can make a whole run's p99.
	b.ReportMetric(medianRatio(oldT.roundRate, base.roundRate), "old/baseline-req/s")
	b.ReportMetric(medianRatio(shadow.roundP99, oldT.roundP99), "shadow/old-p99")
	s := shadow.proxy.Stats()
	b.ReportMetric(float64(s.Shed)/float64(shadow.n)*100, "shadow-%shed")
	if s.Outcomes[cutover.OutcomeMatch] == 0 {
		b.Fatalf("no comparison matched: %+v", s.Outcomes)
	}
}

// benchUpstreamsEnv, set in a re-run of the test binary, makes it serve
// the benchmark's upstreams instead of running tests: old answering after
// the duration it holds, new ten times slower.
const benchUpstreamsEnv = "CUTOVER_PROXY_BENCH_UPSTREAMS"

// startBenchUpstreams runs the upstreams in a process of their own, as they
// are in production: their CPU and garbage stay out of the measured
// process. It returns their URLs; the process ends with the benchmark.
func startBenchUpstreams(b *testing.B) (old, new *url.URL) {
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), benchUpstreamsEnv+"="+benchOldDelay.String())
	stdin, err := cmd.StdinPipe() // closed by the benchmark's end: the upstreams exit
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting the upstreams' process: %v", err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(stdout)
	var urls []*url.URL
	for len(urls) < 2 && lines.Scan() {
		u, err := url.Parse(lines.Text())
		if err != nil {
			b.Fatal(err)
		}
		urls = append(urls, u)
	}
	if len(urls) < 2 {
		b.Fatalf("the upstreams' process printed no addresses: %v", lines.Err())
	}
	return urls[0], urls[1]
}

// serveBenchUpstreams is the upstreams' process: it serves old and new on
// loopback, prints their URLs, and exits when its standard input closes.
func serveBenchUpstreams(oldDelay string) {
	delay, err := time.ParseDuration(oldDelay)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for _, d := range []time.Duration{delay, 10 * delay} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(d) // the upstream's service time
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, benchBody)
		}))
		defer srv.Close()
		fmt.Println(srv.URL)
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
}

func (t *benchTarget) p99() time.Duration { return t.lats[len(t.lats)*99/100] }

// medianRatio is the median of a[i]/b[i].
func medianRatio(a, b []float64) float64 {
	r := make([]float64, len(a))
	for i := range a {
		r[i] = a[i] / b[i]
	}
	slices.Sort(r)
	if len(r)%2 == 1 {
		return r[len(r)/2]
	}
	return (r[len(r)/2-1] + r[len(r)/2]) / 2
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// runBlock sends n GETs to the target, from -proxy.clients concurrent
// clients or at -proxy.rate per second, and, when record is set, adds their
// latencies, time, CPU and allocations to the target's. It returns when the
// proxy has no secondary request left in flight, so that none runs into
// another configuration's block.
func (t *benchTarget) runBlock(b *testing.B, n int, fixedRate, record bool) {
	// get sends one request and returns its latency, from when it is sent.
	// At a fixed rate, not from when it was due: the generator shares the
	// process and its two cores, and its timer's lateness (0.6 ms at the
	// median at 400 req/s here, more at the tail, in every configuration
	// alike) is not the proxy's latency; a stall of the whole process
	// still shows in the requests in flight.
	get := func() time.Duration {
		req, _ := http.NewRequest("GET", t.srv.URL+"/orders/42", nil)
		req.Header.Set("X-User-Id", "u-17")
		since := time.Now()
		resp, err := t.client.Do(req)
		if err != nil {
			b.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Errorf("%s: status %d", t.name, resp.StatusCode)
		}
		return time.Since(since)
	}
	var (
		mu   sync.Mutex
		lats = make([]time.Duration, 0, n)
		wg   sync.WaitGroup
		ms   runtime.MemStats
	)
	runtime.ReadMemStats(&ms)
	mallocs, bytes := ms.Mallocs, ms.TotalAlloc
	start, cpu := time.Now(), processCPU()
	if fixedRate {
		interval := time.Duration(float64(time.Second) / *benchRate)
		for i := range n {
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
	} else {
		next := make(chan struct{}, n)
		for range n {
			next <- struct{}{}
		}
		close(next)
		for range *benchClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := make([]time.Duration, 0, n / *benchClients + 1)
				for range next {
					local = append(local, get())
				}
				mu.Lock()
				lats = append(lats, local...)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	if t.proxy != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := t.proxy.Drain(ctx); err != nil {
			b.Fatal(err)
		}
	}
	// The secondaries' CPU belongs to the block too.
	cpu = processCPU() - cpu
	runtime.ReadMemStats(&ms)
	if record {
		slices.Sort(lats)
		t.roundP99 = append(t.roundP99, float64(lats[len(lats)*99/100]))
		t.roundRate = append(t.roundRate, float64(n)/elapsed.Seconds())
		t.lats = append(t.lats, lats...)
		t.elapsed += elapsed
		t.cpu += cpu
		t.mallocs += ms.Mallocs - mallocs
		t.bytes += ms.TotalAlloc - bytes
		t.n += n
	}
}

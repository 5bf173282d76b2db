package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover/cutover"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if d := os.Getenv(benchUpstreamsEnv); d != "" {
		serveBenchUpstreams(d) // a benchmark's upstreams, in their own process
		return
	}
	goleak.VerifyTestMain(m)
}

// waitLimit only guards against a hung test; no test depends on its length.
const waitLimit = 20 * time.Second

// chanSink hands every observation to a channel, so tests wait for one.
type chanSink struct{ ch chan *cutover.Observation }

func newChanSink() *chanSink { return &chanSink{ch: make(chan *cutover.Observation, 1000)} }

func (s *chanSink) Enabled(cutover.Outcome) bool { return true }
func (s *chanSink) Observe(_ context.Context, o *cutover.Observation) {
	s.ch <- o
}

func (s *chanSink) next(t *testing.T) *cutover.Observation {
	t.Helper()
	select {
	case o := <-s.ch:
		return o
	case <-time.After(waitLimit):
		t.Fatal("no observation arrived")
		return nil
	}
}

// upstream is a test server that counts its requests.
type upstream struct {
	*httptest.Server
	hits atomic.Int64
}

func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

// text answers with a fixed body.
func text(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, body)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

type harness struct {
	p    *Proxy
	url  string
	sink *chanSink
}

// startProxy runs a proxy on a loopback port in front of old and new.
func startProxy(t *testing.T, old, new *upstream, cfg Config) *harness {
	t.Helper()
	h := &harness{sink: newChanSink()}
	if cfg.Migration == "" {
		cfg.Migration = "orders"
	}
	cfg.Old, cfg.New = mustURL(t, old.URL), mustURL(t, new.URL)
	cfg.Sinks = append(cfg.Sinks, h.sink)
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	srv := httptest.NewServer(p)
	h.url = srv.URL
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Error(err)
		}
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		if tr, ok := p.transport.(*http.Transport); ok {
			tr.CloseIdleConnections()
		}
	})
	return h
}

func (h *harness) do(t *testing.T, method, path string, body io.Reader, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, h.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func (h *harness) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := h.p.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

func static(mode cutover.Mode) cutover.Rollout { return cutover.Rollout{Mode: mode} }

func TestEachModeAnswersWithItsSide(t *testing.T) {
	for _, tc := range []struct {
		mode       cutover.Mode
		want       string
		compared   bool
		oldH, newH int64
	}{
		{cutover.ModeOld, "old", false, 1, 0},
		{cutover.ModeShadow, "old", true, 1, 1},
		{cutover.ModeReverseShadow, "new", true, 1, 1},
		{cutover.ModeNew, "new", false, 0, 1},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			old, new := newUpstream(t, text("old")), newUpstream(t, text("new"))
			h := startProxy(t, old, new, Config{Rollout: static(tc.mode)})
			code, body := h.do(t, "GET", "/orders/1", nil)
			if code != 200 || body != tc.want {
				t.Fatalf("got %d %q, want 200 %q", code, body, tc.want)
			}
			if tc.compared {
				o := h.sink.next(t)
				if o.Outcome != cutover.OutcomeMismatch || o.Mode != tc.mode || o.Signature != "body" {
					t.Fatalf("observation: %+v", o)
				}
			}
			h.drain(t)
			if old.hits.Load() != tc.oldH || new.hits.Load() != tc.newH {
				t.Fatalf("hits old=%d new=%d, want %d %d", old.hits.Load(), new.hits.Load(), tc.oldH, tc.newH)
			}
			if s := h.p.Stats(); s.Requests[tc.mode] != 1 {
				t.Fatalf("Stats.Requests = %v", s.Requests)
			}
		})
	}
}

func TestShadowClientDoesNotWaitForNew(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{})
	old := newUpstream(t, text("same"))
	new := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		text("same")(w, r)
	})
	h := startProxy(t, old, new, Config{Rollout: static(cutover.ModeShadow), ShadowTimeout: waitLimit})
	code, body := h.do(t, "GET", "/a", nil)
	// The client's response is complete while new is still blocked.
	if code != 200 || body != "same" {
		t.Fatalf("got %d %q", code, body)
	}
	<-arrived
	select {
	case o := <-h.sink.ch:
		t.Fatalf("observation before new answered: %+v", o)
	default:
	}
	close(release)
	o := h.sink.next(t)
	if o.Outcome != cutover.OutcomeMatch || !o.Old.Ran || !o.New.Ran {
		t.Fatalf("observation: %+v", o)
	}
}

func TestPOSTNotShadowedByDefault(t *testing.T) {
	old, new := newUpstream(t, text("created")), newUpstream(t, text("created"))
	h := startProxy(t, old, new, Config{Rollout: static(cutover.ModeShadow)})
	code, body := h.do(t, "POST", "/orders", strings.NewReader(`{"a":1}`))
	if code != 200 || body != "created" {
		t.Fatalf("got %d %q", code, body)
	}
	h.drain(t)
	if old.hits.Load() != 1 || new.hits.Load() != 0 {
		t.Fatalf("hits old=%d new=%d, want 1 0", old.hits.Load(), new.hits.Load())
	}
	if s := h.p.Stats(); s.UnshadowedWrites != 1 {
		t.Fatalf("UnshadowedWrites = %d", s.UnshadowedWrites)
	}
}

func TestShadowWritesOrderAndDivergence(t *testing.T) {
	var (
		mu    sync.Mutex // protects order
		order []string
	)
	oldBody := make(chan string, 1)
	old := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		oldBody <- string(b)
		mu.Lock()
		order = append(order, "old")
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	})
	newBody := make(chan string, 1)
	new := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		newBody <- string(b)
		mu.Lock()
		order = append(order, "new")
		mu.Unlock()
		http.Error(w, "disk full", http.StatusInternalServerError)
	})
	h := startProxy(t, old, new, Config{
		Rollout: static(cutover.ModeShadow),
		Key:     mustKey(t, "header:X-User-Id"),
		Routes:  []Route{{Name: "createOrder", Pattern: "POST /orders", ShadowWrites: true}},
	})
	code, _ := h.do(t, "POST", "/orders", strings.NewReader(`{"a":1}`), "X-User-Id", "u7")
	if code != http.StatusCreated {
		t.Fatalf("client got %d, want old's 201: the second write's failure is never returned", code)
	}
	o := h.sink.next(t)
	if o.Outcome != cutover.OutcomeDivergence || o.Key != "u7" || o.Kind != cutover.KindWrite || o.Operation != "createOrder" {
		t.Fatalf("observation: %+v", o)
	}
	if a, b := <-oldBody, <-newBody; a != `{"a":1}` || b != a {
		t.Fatalf("bodies old=%q new=%q", a, b)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(order, ",") != "old,new" {
		t.Fatalf("order %v", order)
	}
}

// TestShadowWriteAfterClose: a write that arrives while the proxy closes
// still reaches both stores and is counted, and starts no goroutine that
// Close would not wait for.
func TestShadowWriteAfterClose(t *testing.T) {
	old := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	var newWrites atomic.Int64
	new := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		newWrites.Add(1)
		w.WriteHeader(http.StatusCreated)
	})
	p, err := New(Config{Migration: "orders", Old: mustURL(t, old.URL), New: mustURL(t, new.URL),
		Rollout: static(cutover.ModeShadow),
		Routes:  []Route{{Name: "createOrder", Pattern: "POST /orders", ShadowWrites: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(srv.URL+"/orders", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("client got %d, want old's 201", resp.StatusCode)
	}
	srv.Close() // waits for the handler, which does the second write after the response
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	p.transport.(*http.Transport).CloseIdleConnections()
	if n := newWrites.Load(); n != 1 {
		t.Fatalf("new got %d writes, want 1: a write is never shed", n)
	}
	if s := p.Stats(); s.Outcomes[cutover.OutcomeMatch] != 1 || s.InFlight != 0 {
		t.Fatalf("after the write: %d matches, %d in flight; want 1 and 0", s.Outcomes[cutover.OutcomeMatch], s.InFlight)
	}
}

func TestShadowWriteSkippedWhenAuthoritativeFails(t *testing.T) {
	old := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusConflict) })
	new := newUpstream(t, text("ok"))
	h := startProxy(t, old, new, Config{
		Rollout: static(cutover.ModeShadow),
		Routes:  []Route{{Pattern: "/orders/{id}", ShadowWrites: true}},
	})
	if code, _ := h.do(t, "PUT", "/orders/1", strings.NewReader("x")); code != http.StatusConflict {
		t.Fatalf("got %d", code)
	}
	h.drain(t)
	if new.hits.Load() != 0 {
		t.Fatal("the second write ran after the authoritative one failed")
	}
}

func mustKey(t *testing.T, s string) KeyFrom {
	t.Helper()
	k, err := ParseKeyFrom(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jsonHandler(body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		_, _ = io.WriteString(w, body)
	}
}

func TestJSONDifferenceReportedWithPathIgnoredHeaderNot(t *testing.T) {
	old := newUpstream(t, jsonHandler(`{"items":[{"id":1,"price":100},{"id":2,"price":5}]}`, "X-Request-Id", "aaa", "X-Version", "1"))
	new := newUpstream(t, jsonHandler(`{"items": [{"id":1, "price":100.0}, {"id":2, "price":6}]}`, "X-Request-Id", "bbb", "X-Version", "1"))
	h := startProxy(t, old, new, Config{
		Rollout: static(cutover.ModeShadow),
		Routes:  []Route{{Name: "getOrder", Pattern: "GET /orders/{id}"}},
	})
	h.do(t, "GET", "/orders/42", nil)
	o := h.sink.next(t)
	if o.Outcome != cutover.OutcomeMismatch || o.Operation != "getOrder" {
		t.Fatalf("observation: %+v", o)
	}
	if len(o.Diffs) != 1 || o.Diffs[0].Path != "body.items[1].price" || o.Diffs[0].Old != "5" || o.Diffs[0].New != "6" {
		t.Fatalf("diffs: %v", o.Diffs)
	}
	if o.Signature != "body.items[*].price" {
		t.Fatalf("signature %q", o.Signature)
	}
	h.do(t, "GET", "/elsewhere", nil)
	if o := h.sink.next(t); o.Operation != OtherRoute {
		t.Fatalf("unmatched request named %q, want %q", o.Operation, OtherRoute)
	}
}

func TestRequestBodyOverLimitPassesThroughUnshadowed(t *testing.T) {
	got := make(chan int, 1)
	old := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- len(b)
		w.WriteHeader(http.StatusOK)
	})
	new := newUpstream(t, text(""))
	h := startProxy(t, old, new, Config{
		Rollout:        static(cutover.ModeShadow),
		MaxRequestBody: 16,
		Routes:         []Route{{Pattern: "/upload", ShadowWrites: true}},
	})
	big := strings.Repeat("x", 100)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(big)
		if chunked {
			body = io.MultiReader(strings.NewReader(big)) // unknown length
		}
		if code, _ := h.do(t, "PUT", "/upload", body); code != 200 {
			t.Fatalf("got %d", code)
		}
		if n := <-got; n != len(big) {
			t.Fatalf("old got %d bytes, want %d", n, len(big))
		}
	}
	h.drain(t)
	if new.hits.Load() != 0 {
		t.Fatal("an oversize request was shadowed")
	}
	if s := h.p.Stats(); s.OversizeRequests != 2 {
		t.Fatalf("OversizeRequests = %d, want 2", s.OversizeRequests)
	}
}

func TestReverseShadowFallsBackOn5xx(t *testing.T) {
	old := newUpstream(t, jsonHandler(`{"v":"old"}`))
	new := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusServiceUnavailable)
	})
	h := startProxy(t, old, new, Config{Rollout: static(cutover.ModeReverseShadow)})
	code, body := h.do(t, "GET", "/v", nil)
	if code != 200 || body != `{"v":"old"}` {
		t.Fatalf("got %d %q, want old's response", code, body)
	}
	o := h.sink.next(t)
	if o.Outcome != cutover.OutcomeFallback || o.New.Err == nil || o.Old.Err != nil {
		t.Fatalf("observation: %+v", o)
	}
}

func TestReverseShadowFallsBackOnTimeout(t *testing.T) {
	release := make(chan struct{})
	old := newUpstream(t, text("old"))
	new := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		text("new")(w, r)
	})
	defer close(release)
	h := startProxy(t, old, new, Config{Rollout: static(cutover.ModeReverseShadow),
		NewTimeout: 50 * time.Millisecond, ShadowTimeout: waitLimit})
	code, body := h.do(t, "GET", "/v", nil)
	if code != 200 || body != "old" {
		t.Fatalf("got %d %q, want old's response", code, body)
	}
	o := h.sink.next(t)
	if o.Outcome != cutover.OutcomeFallback || !isTimeout(o.New.Err) {
		t.Fatalf("observation: %+v (new err %v)", o, o.New.Err)
	}
}

func TestReverseShadowFallsBackWhenOldWasShed(t *testing.T) {
	old := newUpstream(t, text("old"))
	new := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	h := startProxy(t, old, new, Config{Rollout: static(cutover.ModeReverseShadow)})
	h.p.closeMu.Lock()
	h.p.closed = true // every secondary is shed from now on
	h.p.closeMu.Unlock()
	code, body := h.do(t, "GET", "/v", nil)
	if code != 200 || body != "old" {
		t.Fatalf("got %d %q, want old's response", code, body)
	}
}

func TestNoiseCancellation(t *testing.T) {
	var n atomic.Int64
	stamped := func(price int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			// generatedAt differs on every answer, from any instance.
			jsonHandler(fmt.Sprintf(`{"price":%d,"generatedAt":%d}`, price, n.Add(1)))(w, r)
		}
	}
	old, new := newUpstream(t, stamped(10)), newUpstream(t, stamped(10))
	old2 := newUpstream(t, stamped(10))
	h := startProxy(t, old, new, Config{Rollout: static(cutover.ModeShadow), Old2: mustURL(t, old2.URL)})
	h.do(t, "GET", "/p", nil)
	if o := h.sink.next(t); o.Outcome != cutover.OutcomeMatch || len(o.Diffs) != 0 {
		t.Fatalf("noise reported: %+v", o)
	}
	if s := h.p.Stats(); s.Noise != 1 || s.NoiseDiffs != 1 || s.Old2Requests != 1 {
		t.Fatalf("stats: noise %d diffs %d old2 %d", s.Noise, s.NoiseDiffs, s.Old2Requests)
	}

	// A real difference next to the noise is still reported.
	old3, new3 := newUpstream(t, stamped(10)), newUpstream(t, stamped(11))
	h = startProxy(t, old3, new3, Config{Rollout: static(cutover.ModeShadow), Old2: mustURL(t, old2.URL)})
	h.do(t, "GET", "/p", nil)
	o := h.sink.next(t)
	if o.Outcome != cutover.OutcomeMismatch || len(o.Diffs) != 1 || o.Diffs[0].Path != "body.price" {
		t.Fatalf("observation: %+v", o)
	}
}

func TestShedWhenBoundReached(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 2)
	old := newUpstream(t, text("x"))
	new := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		text("x")(w, r)
	})
	h := startProxy(t, old, new, Config{Rollout: static(cutover.ModeShadow), MaxInFlight: 1, ShadowTimeout: waitLimit})
	h.do(t, "GET", "/1", nil)
	<-arrived // the one slot is taken
	if code, body := h.do(t, "GET", "/2", nil); code != 200 || body != "x" {
		t.Fatalf("got %d %q", code, body)
	}
	if o := h.sink.next(t); o.Outcome != cutover.OutcomeShed {
		t.Fatalf("observation: %+v", o)
	}
	close(release)
	if o := h.sink.next(t); o.Outcome != cutover.OutcomeMatch {
		t.Fatalf("observation: %+v", o)
	}
	if s := h.p.Stats(); s.Shed != 1 || s.Outcomes[cutover.OutcomeShed] != 1 {
		t.Fatalf("stats: %+v", s)
	}
}

func TestStickyBucketingMatchesLibrary(t *testing.T) {
	old, new := newUpstream(t, text("old")), newUpstream(t, text("new"))
	r := cutover.Rollout{Mode: cutover.ModeOld, Treatment: cutover.ModeNew, Percent: 50}
	for _, attr := range []string{"header:X-User-Id", "cookie:uid", "query:user", "path:1"} {
		t.Run(attr, func(t *testing.T) {
			h := startProxy(t, old, new, Config{Rollout: r, Key: mustKey(t, attr)})
			for i := 0; i < 40; i++ {
				key := fmt.Sprintf("user-%d", i)
				want := "old"
				if cutover.InTreatment(cutover.Bucket("orders", key), 50) {
					want = "new"
				}
				path, hdr := "/users/"+key+"/orders", []string{}
				switch attr {
				case "header:X-User-Id":
					hdr = []string{"X-User-Id", key}
				case "cookie:uid":
					hdr = []string{"Cookie", "uid=" + key}
				case "query:user":
					path = "/orders?user=" + key
				}
				if _, body := h.do(t, "GET", path, nil, hdr...); body != want {
					t.Fatalf("key %s: got %q, want %q (bucket %d)", key, body, want, cutover.Bucket("orders", key))
				}
			}
		})
	}
}

func TestDefaultKeyAndRolloutSource(t *testing.T) {
	old, new := newUpstream(t, text("old")), newUpstream(t, text("new"))
	src := cutover.StaticSource{"orders": {Mode: cutover.ModeOld, Overrides: map[string]cutover.Mode{"tenant-a": cutover.ModeNew}}}
	h := startProxy(t, old, new, Config{Source: src, DefaultKey: "tenant-a"})
	if _, body := h.do(t, "GET", "/", nil); body != "new" {
		t.Fatalf("keyless request with default key: got %q", body)
	}
	if err := h.p.SetRollout(cutover.Rollout{Percent: 300}); err == nil {
		t.Fatal("invalid rollout accepted")
	}
}

func TestReloadKeepsRunningConfigOnError(t *testing.T) {
	old, new := newUpstream(t, text("old")), newUpstream(t, text("new"))
	h := startProxy(t, old, new, Config{Rollout: static(cutover.ModeShadow)})
	bad := Config{Old: mustURL(t, old.URL), New: mustURL(t, new.URL), Routes: []Route{{Pattern: "orders"}}}
	if err := h.p.Reload(bad); err == nil || !strings.Contains(err.Error(), "routes[0]") {
		t.Fatalf("Reload(bad) = %v", err)
	}
	if _, body := h.do(t, "GET", "/", nil); body != "old" {
		t.Fatalf("after a bad reload: %q", body)
	}
	h.sink.next(t)
	good := Config{Old: mustURL(t, new.URL), New: mustURL(t, old.URL), Routes: []Route{{Name: "root", Pattern: "/"}}}
	if err := h.p.Reload(good); err != nil {
		t.Fatal(err)
	}
	if _, body := h.do(t, "GET", "/", nil); body != "new" {
		t.Fatalf("after reload swapping upstreams: %q", body)
	}
	if o := h.sink.next(t); o.Operation != "root" {
		t.Fatalf("operation %q", o.Operation)
	}
}

func TestSecondaryTimeoutAndError(t *testing.T) {
	release := make(chan struct{})
	old := newUpstream(t, text("x"))
	new := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	h := startProxy(t, old, new, Config{Rollout: static(cutover.ModeShadow), ShadowTimeout: 20 * time.Millisecond})
	h.do(t, "GET", "/", nil)
	if o := h.sink.next(t); o.Outcome != cutover.OutcomeTimeout {
		t.Fatalf("observation: %+v", o)
	}
	dead := newUpstream(t, text(""))
	dead.Close() // connection refused
	h2 := startProxy(t, old, dead, Config{Rollout: static(cutover.ModeShadow)})
	h2.do(t, "GET", "/", nil)
	if o := h2.sink.next(t); o.Outcome != cutover.OutcomeError || o.Signature != "error:new" {
		t.Fatalf("observation: %+v", o)
	}
}

func TestObservationJSON(t *testing.T) {
	// Observations must encode for sinks that ship them as JSON.
	o := cutover.Observation{Migration: "m", Outcome: cutover.OutcomeMismatch}
	if _, err := json.Marshal(o); err != nil {
		t.Fatal(err)
	}
}

func TestResponseOverLimitStreamsWholeAndIsNotCompared(t *testing.T) {
	big := strings.Repeat("a", 5000)
	old := newUpstream(t, text(big))
	new := newUpstream(t, text(strings.Repeat("b", 5000)))
	h := startProxy(t, old, new, Config{Rollout: static(cutover.ModeShadow), MaxResponseBody: 100})
	if _, body := h.do(t, "GET", "/", nil); body != big {
		t.Fatalf("client got %d bytes, want all %d", len(body), len(big))
	}
	if o := h.sink.next(t); o.Outcome != cutover.OutcomeMatch {
		t.Fatalf("observation: %+v", o)
	}
	if s := h.p.Stats(); s.OversizeResponses != 1 {
		t.Fatalf("OversizeResponses = %d", s.OversizeResponses)
	}
}

func TestReverseShadowWithoutFallbackPassesNewFailure(t *testing.T) {
	old := newUpstream(t, text("old"))
	new := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) })
	h := startProxy(t, old, new, Config{Rollout: static(cutover.ModeReverseShadow), DisableFallback: true})
	if code, body := h.do(t, "GET", "/", nil); code != 503 || body != "down\n" {
		t.Fatalf("got %d %q", code, body)
	}
	if o := h.sink.next(t); o.Outcome != cutover.OutcomeError || o.Signature != "error:new" {
		t.Fatalf("observation: %+v", o)
	}
}

func TestRedactAndKeylessRandomBucket(t *testing.T) {
	old, new := newUpstream(t, text("old")), newUpstream(t, text("new"))
	h := startProxy(t, old, new, Config{
		Rollout: cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeNew, Percent: 50},
		Key:     mustKey(t, "header:X-User-Id"),
		Redact:  func(o *cutover.Observation) { o.Key = "redacted" },
	})
	// Keyless requests draw a random bucket: both sides answer some.
	seen := map[string]bool{}
	for i := 0; i < 200 && len(seen) < 2; i++ {
		_, body := h.do(t, "GET", "/", nil)
		seen[body] = true
	}
	if !seen["old"] || !seen["new"] {
		t.Fatalf("keyless requests all went one way: %v", seen)
	}
	h.drain(t)
	for len(h.sink.ch) > 0 {
		<-h.sink.ch
	}
	k := "user-1"
	for cutover.InTreatment(cutover.Bucket("orders", k), 50) {
		k += "x"
	}
	h.do(t, "GET", "/", nil, "X-User-Id", k)
	if o := h.sink.next(t); o.Key != "redacted" {
		t.Fatalf("key %q reached the sink unredacted", o.Key)
	}
}

func TestHEADFallback(t *testing.T) {
	old := newUpstream(t, text("old"))
	new := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	h := startProxy(t, old, new, Config{Rollout: static(cutover.ModeReverseShadow)})
	if code, body := h.do(t, "HEAD", "/", nil); code != 200 || body != "" {
		t.Fatalf("got %d %q", code, body)
	}
	if o := h.sink.next(t); o.Outcome != cutover.OutcomeFallback {
		t.Fatalf("observation: %+v", o)
	}
}

func TestSampleRate(t *testing.T) {
	old := newUpstream(t, text("old"))
	new := newUpstream(t, text("new"))
	h := startProxy(t, old, new, Config{Rollout: static(cutover.ModeShadow), SampleRate: 1e-9})
	if _, body := h.do(t, "GET", "/", nil); body != "old" {
		t.Fatalf("got %q", body)
	}
	h.drain(t)
	if s := h.p.Stats(); new.hits.Load() != 0 || s.SampledOut != 1 {
		t.Fatalf("sampled-out request compared: new hits %d, SampledOut %d", new.hits.Load(), s.SampledOut)
	}

	// Sampled out in reverse-shadow, a failing new still falls back.
	broken := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) })
	h = startProxy(t, old, broken, Config{Rollout: static(cutover.ModeReverseShadow), SampleRate: 1e-9})
	if code, body := h.do(t, "GET", "/", nil); code != 200 || body != "old" {
		t.Fatalf("got %d %q", code, body)
	}
	if o := h.sink.next(t); o.Outcome != cutover.OutcomeFallback {
		t.Fatalf("observation: %+v", o)
	}
}

// panicSink panics on every observation.
type panicSink struct{}

func (panicSink) Enabled(cutover.Outcome) bool                  { return true }
func (panicSink) Observe(context.Context, *cutover.Observation) { panic("sink bug") }

// The migration counts and delivers the proxy's observations: its counts
// are the proxy's, and a broken sink or Redact costs only the observation.
func TestObservationsGoThroughTheMigration(t *testing.T) {
	old, new := newUpstream(t, text("old")), newUpstream(t, text("new"))
	h := startProxy(t, old, new, Config{Rollout: static(cutover.ModeShadow), Sinks: []cutover.Sink{panicSink{}},
		Redact: func(o *cutover.Observation) {
			if o.Key == "bad" {
				panic("redact bug")
			}
		}, Key: mustKey(t, "header:X-User-Id")})
	h.do(t, "GET", "/", nil, "X-User-Id", "u-1")
	if o := h.sink.next(t); o.Outcome != cutover.OutcomeMismatch || o.Migration != "orders" {
		t.Fatalf("observation: %+v", o)
	}
	h.do(t, "GET", "/", nil, "X-User-Id", "bad")
	h.drain(t)
	s := h.p.Stats()
	if s.Outcomes[cutover.OutcomeMismatch] != 2 || s.Routes[OtherRoute].Outcomes[cutover.OutcomeMismatch] != 2 {
		t.Errorf("mismatches: %d in all, %d for the route; want 2", s.Outcomes[cutover.OutcomeMismatch],
			s.Routes[OtherRoute].Outcomes[cutover.OutcomeMismatch])
	}
	if s.SinkPanics != 1 || s.RedactPanics != 1 {
		t.Errorf("SinkPanics %d, RedactPanics %d; want 1 and 1", s.SinkPanics, s.RedactPanics)
	}
	select {
	case o := <-h.sink.ch:
		t.Errorf("an observation whose Redact panicked reached a sink: %+v", o)
	default:
	}
}

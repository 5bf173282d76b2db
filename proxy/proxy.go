package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/internal/httpx"
	"github.com/prometheus/client_golang/prometheus"
)

// Proxy is the shadow proxy: an http.Handler that sends each request to the
// old or the new upstream, or to both, according to the migration's
// rollout, and compares their responses off the client's path.
//
//   - old, new: only that upstream; a plain httputil.ReverseProxy.
//   - shadow: old answers the client, streamed as it arrives; new gets the
//     same request beside it, with its own timeout, and its response is
//     compared with old's after the client's response is done.
//   - reverse-shadow: new answers; old runs beside it. For safe methods,
//     when new fails before sending headers, answers 5xx, or sends no
//     headers within NewTimeout, the client gets old's response instead.
//
// Only safe methods (GET, HEAD, OPTIONS) are sent to both sides, unless a
// [Route] enables write shadowing. A Proxy is safe for concurrent use.
//
// The secondary request reads the client request's header map, unless it
// holds hop-by-hop headers, after ServeHTTP has returned: middleware around
// the Proxy must not modify r.Header once it has called ServeHTTP.
type Proxy struct {
	migration string
	// m holds the rollout (and follows its source), decides modes, and
	// counts and delivers observations to the sinks, as for the library's
	// own calls. The proxy runs the secondary requests itself.
	m         *cutover.Migration
	rt        atomic.Pointer[runtimeConfig]
	transport http.RoundTripper
	// ownTransport is the transport New made, closed by Close; nil when
	// the caller gave one.
	ownTransport *http.Transport
	logger       *slog.Logger

	// The four ReverseProxies are built once: they read per-request state
	// from the request's context, and the upstream URLs from rt.
	oldPlain, newPlain     *httputil.ReverseProxy // old and new modes, unshadowed requests
	oldCapture, newCapture *httputil.ReverseProxy // compared requests: tee, fallback

	registerer prometheus.Registerer // the metrics' registerer, to unregister them; nil when none
	collector  *collector
	// closeMu orders Close against the start of secondary goroutines, so
	// that none is added to wg once Close waits on it.
	closeMu   sync.RWMutex
	closed    bool // guarded by closeMu
	closeOnce sync.Once
	wg        sync.WaitGroup // secondary goroutines

	st    counters
	mu    sync.Mutex // protects route
	route map[string]*routeCounters
}

// counters are the proxy's statistics, updated atomically.
type counters struct {
	requests          [len(cutover.Modes)]atomic.Uint64
	oldReqs, newReqs  atomic.Uint64
	old2Reqs          atomic.Uint64
	oversizeRequests  atomic.Uint64
	oversizeResponses atomic.Uint64
	unshadowedWrites  atomic.Uint64
	sampledOut        atomic.Uint64
	noise             atomic.Uint64
	noiseDiffs        atomic.Uint64
	inFlight          atomic.Int64
}

type routeCounters struct {
	outcomes [len(cutover.Outcomes)]atomic.Uint64
	noise    atomic.Uint64
}

// Stats are the proxy's counters since it started.
type Stats struct {
	// Requests counts client requests by the mode they ran in, indexed by
	// [cutover.Mode].
	Requests [len(cutover.Modes)]uint64
	// OldRequests, NewRequests and Old2Requests count requests sent to each
	// upstream, whether to answer the client or to compare.
	OldRequests, NewRequests, Old2Requests uint64
	// Shed counts secondary requests not sent because MaxInFlight was
	// reached (or the proxy was closing).
	Shed uint64
	// OversizeRequests counts requests whose body was over MaxRequestBody,
	// sent to the authoritative side only; OversizeResponses the compared
	// requests whose response bodies were over MaxResponseBody, so bodies
	// were not compared.
	OversizeRequests, OversizeResponses uint64
	// UnshadowedWrites counts unsafe requests in shadow and reverse-shadow
	// sent to the authoritative side only (their route does not shadow
	// writes).
	UnshadowedWrites uint64
	// SampledOut counts safe requests in shadow and reverse-shadow not
	// compared because of SampleRate.
	SampledOut uint64
	// Outcomes counts compared requests and dual writes by outcome, indexed
	// by [cutover.Outcome] (the migration's own count, [cutover.Stats]).
	Outcomes [len(cutover.Outcomes)]uint64
	// Noise counts compared requests on which at least one difference was
	// cancelled as noise; NoiseDiffs the differences cancelled.
	Noise, NoiseDiffs uint64
	// InFlight is the number of secondary requests running now.
	InFlight int64
	// SinkDropped counts observations a sink did not get because its queue
	// was full; SinkPanics the calls of a sink that panicked; RedactPanics
	// the observations dropped because Redact panicked.
	SinkDropped, SinkPanics, RedactPanics uint64
	// Routes holds the outcome and noise counts by operation (route name).
	Routes map[string]RouteStats
}

// RouteStats are the counters of one route.
type RouteStats struct {
	Outcomes [len(cutover.Outcomes)]uint64
	Noise    uint64
}

// New returns a running proxy. Call Close when done, so that secondary
// requests finish and the sinks' goroutines stop.
func New(cfg Config) (*Proxy, error) {
	if strings.TrimSpace(cfg.Migration) == "" {
		return nil, errors.New("proxy: Migration is required: name the migration the proxy serves")
	}
	if err := cfg.Rollout.Validate(); err != nil {
		return nil, fmt.Errorf("proxy: Rollout: %w", err)
	}
	if cfg.SinkQueueSize < 0 {
		return nil, errors.New("proxy: SinkQueueSize must not be negative")
	}
	rc, err := cfg.compile()
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p := &Proxy{
		migration: cfg.Migration,
		transport: cfg.Transport,
		logger:    cfg.Logger,
		route:     make(map[string]*routeCounters),
	}
	if p.logger == nil {
		p.logger = slog.Default()
	}
	if p.transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 1024
		t.MaxIdleConnsPerHost = 256
		p.transport, p.ownTransport = t, t
	}
	p.rt.Store(rc)
	p.routeCounters(rc)
	p.oldPlain = p.reverseProxy(func(rc *runtimeConfig) *url.URL { return rc.old }, false)
	p.newPlain = p.reverseProxy(func(rc *runtimeConfig) *url.URL { return rc.new }, false)
	p.oldCapture = p.reverseProxy(func(rc *runtimeConfig) *url.URL { return rc.old }, true)
	p.newCapture = p.reverseProxy(func(rc *runtimeConfig) *url.URL { return rc.new }, true)
	// The migration starts the sinks' goroutines and follows the source:
	// it comes after every check but the metrics' registration.
	p.m, err = cutover.New(cutover.Config{
		Name:          cfg.Migration,
		Rollout:       cfg.Rollout,
		Source:        cfg.Source,
		Sinks:         cfg.Sinks,
		SinkQueueSize: cfg.SinkQueueSize,
		Redact:        cfg.Redact,
		Logger:        p.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if cfg.Registerer != nil {
		p.collector = newCollector(p)
		if err := cfg.Registerer.Register(p.collector); err != nil {
			p.Close(context.Background())
			return nil, fmt.Errorf("proxy: registering the metrics of %s: %w", p.migration, err)
		}
		p.registerer = cfg.Registerer
	}
	return p, nil
}

// Migration returns the name of the migration the proxy serves.
func (p *Proxy) Migration() string { return p.migration }

// Rollout returns a copy of the rollout in force.
func (p *Proxy) Rollout() cutover.Rollout { return p.m.Rollout() }

// SetRollout replaces the rollout in force; requests that start afterwards
// see it. An invalid rollout is refused and the current one kept.
func (p *Proxy) SetRollout(r cutover.Rollout) error { return p.m.SetRollout(r) }

// Reload replaces the reloadable fields of the configuration (see
// [Config]); the others must equal the running ones' or are ignored:
// Migration must not change. When cfg is invalid, Reload returns why and
// the running configuration stays in force. Requests in flight finish with
// the configuration they started with.
func (p *Proxy) Reload(cfg Config) error {
	if cfg.Migration != "" && cfg.Migration != p.migration {
		return fmt.Errorf("proxy: reload: the migration cannot change from %q to %q; restart the proxy instead", p.migration, cfg.Migration)
	}
	rc, err := cfg.compile()
	if err != nil {
		return fmt.Errorf("proxy: reload refused, running configuration kept: %w", err)
	}
	p.routeCounters(rc)
	p.rt.Store(rc)
	return nil
}

// routeCounters makes sure every route of rc has its counters.
func (p *Proxy) routeCounters(rc *runtimeConfig) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range append([]*compiledRoute{rc.other}, rc.routes...) {
		if p.route[c.Name] == nil {
			p.route[c.Name] = new(routeCounters)
		}
		c.counters = p.route[c.Name]
	}
}

// Stats returns the proxy's counters.
func (p *Proxy) Stats() Stats {
	ms := p.m.Stats()
	s := Stats{
		Outcomes:          ms.Outcomes,
		SinkDropped:       ms.SinkDropped,
		SinkPanics:        ms.SinkPanics,
		RedactPanics:      ms.RedactPanics,
		OldRequests:       p.st.oldReqs.Load(),
		NewRequests:       p.st.newReqs.Load(),
		Old2Requests:      p.st.old2Reqs.Load(),
		Shed:              ms.Outcomes[cutover.OutcomeShed], // every shed request is published
		OversizeRequests:  p.st.oversizeRequests.Load(),
		OversizeResponses: p.st.oversizeResponses.Load(),
		UnshadowedWrites:  p.st.unshadowedWrites.Load(),
		SampledOut:        p.st.sampledOut.Load(),
		Noise:             p.st.noise.Load(),
		NoiseDiffs:        p.st.noiseDiffs.Load(),
		InFlight:          p.st.inFlight.Load(),
		Routes:            make(map[string]RouteStats),
	}
	for i := range s.Requests {
		s.Requests[i] = p.st.requests[i].Load()
	}
	p.mu.Lock()
	for name, c := range p.route {
		var rs RouteStats
		for i := range rs.Outcomes {
			rs.Outcomes[i] = c.outcomes[i].Load()
		}
		rs.Noise = c.noise.Load()
		s.Routes[name] = rs
	}
	p.mu.Unlock()
	return s
}

// Drain waits until no secondary request is in flight and every sink has
// handled what was queued for it, or until ctx is done. It is for tests and
// for shutdown.
func (p *Proxy) Drain(ctx context.Context) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for p.st.inFlight.Load() != 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("proxy: draining %s: %d secondary requests still in flight: %w",
				p.migration, p.st.inFlight.Load(), ctx.Err())
		case <-t.C:
		}
	}
	// A secondary's observation is queued before its slot is released.
	return p.m.Drain(ctx)
}

// Close stops following the rollout source, sheds secondary requests from
// now on, waits (until ctx is done) for those in flight and for the queued
// observations, stops the sinks' goroutines and unregisters the metrics.
// Requests served after Close still reach their authoritative side. Shut
// the HTTP server down first.
func (p *Proxy) Close(ctx context.Context) error {
	var err error
	p.closeOnce.Do(func() {
		p.closeMu.Lock()
		p.closed = true
		p.closeMu.Unlock()
		done := make(chan struct{})
		go func() { p.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			err = fmt.Errorf("proxy: closing %s: %d secondary requests still in flight: %w", p.migration, p.st.inFlight.Load(), ctx.Err())
		}
		// The migration stops following the source, delivers what is
		// queued, and stops the sinks.
		if merr := p.m.Close(ctx); err == nil && merr != nil {
			err = fmt.Errorf("proxy: closing %s: %w", p.migration, merr)
		}
		if p.ownTransport != nil {
			p.ownTransport.CloseIdleConnections()
		}
		if p.registerer != nil {
			p.registerer.Unregister(p.collector)
		}
	})
	return err
}

// modeFor returns the mode of a request's key, drawing a random bucket for
// keyless requests when there is no default key.
func (p *Proxy) modeFor(key string, hasKey bool) cutover.Mode {
	if hasKey {
		return p.m.ModeFor(key)
	}
	// No key, no override: only the split applies, to a random bucket.
	return p.m.ModeForBucket(rand.IntN(cutover.Buckets))
}

// requestKey returns the request's sticky key, and whether it has one.
func (rc *runtimeConfig) requestKey(r *http.Request) (string, bool) {
	if k := rc.key.extract(r); k != "" {
		return k, true
	}
	if rc.defaultKey != "" {
		return rc.defaultKey, true
	}
	return "", false
}

func isSafe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// ServeHTTP proxies one request in the mode the rollout gives its key.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := p.rt.Load()
	key, hasKey := rc.requestKey(r)
	mode := p.modeFor(key, hasKey)
	p.st.requests[mode].Add(1)
	switch mode {
	case cutover.ModeOld:
		p.st.oldReqs.Add(1)
		p.oldPlain.ServeHTTP(w, r)
		return
	case cutover.ModeNew:
		p.st.newReqs.Add(1)
		p.newPlain.ServeHTTP(w, r)
		return
	}
	route := rc.route(r)
	safe := isSafe(r.Method)
	if r.Header.Get("Upgrade") != "" {
		// A protocol switch (WebSocket) cannot be replayed or compared.
		p.servePrimaryOnly(w, r, mode)
		return
	}
	if !safe && !route.ShadowWrites {
		p.st.unshadowedWrites.Add(1)
		p.servePrimaryOnly(w, r, mode)
		return
	}
	body, whole, err := bufferBody(r, rc.maxReqBody)
	if err != nil {
		p.st.oversizeRequests.Add(1)
		r.Body = whole
		p.servePrimaryOnly(w, r, mode)
		return
	}
	ex := &exchange{p: p, rc: rc, route: route, mode: mode, key: key, start: time.Now(), body: body, clientCtx: r.Context(),
		method: r.Method, url: r.URL, header: withoutHopHeaders(r.Header), primaryDone: make(chan struct{})}
	if safe {
		ex.sampledOut = rc.sampleRate < 1 && rand.Float64() >= rc.sampleRate
		p.serveRead(w, r, ex)
	} else {
		p.serveWrite(w, r, ex)
	}
}

// servePrimaryOnly sends the request to the mode's authoritative side only.
func (p *Proxy) servePrimaryOnly(w http.ResponseWriter, r *http.Request, mode cutover.Mode) {
	if mode == cutover.ModeReverseShadow {
		p.st.newReqs.Add(1)
		p.newPlain.ServeHTTP(w, r)
		return
	}
	p.st.oldReqs.Add(1)
	p.oldPlain.ServeHTTP(w, r)
}

// errBodyTooLarge marks a request body over the limit.
var errBodyTooLarge = errors.New("request body over the limit")

// bufferBody reads the request body up to limit, so both sides can get the
// same bytes. Over the limit it returns errBodyTooLarge and whole, a body
// that replays what was read followed by the rest.
func bufferBody(r *http.Request, limit int64) (body []byte, whole io.ReadCloser, err error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, r.Body, nil
	}
	if r.ContentLength > limit {
		return nil, r.Body, errBodyTooLarge
	}
	n := r.ContentLength
	if n < 0 {
		n = 512
	}
	buf := bytes.NewBuffer(make([]byte, 0, n+1))
	_, rerr := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if int64(buf.Len()) > limit {
		return nil, readCloser{io.MultiReader(bytes.NewReader(buf.Bytes()), r.Body), r.Body}, errBodyTooLarge
	}
	if rerr != nil {
		// The client's body broke: pass what there is to the primary, which
		// will see the same failure, and compare nothing.
		return nil, readCloser{io.MultiReader(bytes.NewReader(buf.Bytes()), errReader{rerr}), r.Body}, errBodyTooLarge
	}
	r.Body.Close()
	b := buf.Bytes()
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	return b, r.Body, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// hopHeaders are the hop-by-hop headers, not forwarded (RFC 9110 §7.6.1).
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// withoutHopHeaders returns h when it has no hop-by-hop header, as most
// requests, and otherwise a copy without them. Neither the proxy nor
// ReverseProxy writes a request's header map, so the secondary may share it.
func withoutHopHeaders(h http.Header) http.Header {
	for _, k := range hopHeaders { // Connection among them
		if _, ok := h[k]; ok {
			c := h.Clone()
			stripHopHeaders(c)
			return c
		}
	}
	return h
}

func stripHopHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for _, sf := range strings.Split(f, ",") {
			if sf = strings.TrimSpace(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

// acquire takes a slot for a secondary request, or reports that it must be
// shed: the bound is reached, or the proxy is closing.
func (p *Proxy) acquire(rc *runtimeConfig) bool { return p.take(rc.maxInFlight) }

// acquireUnbounded takes a slot beyond the bound, for work that is never
// shed (a second write's comparison); false once the proxy is closing, when
// the caller does the work itself.
func (p *Proxy) acquireUnbounded() bool { return p.take(math.MaxInt64) }

// take takes a slot when fewer than limit are in flight and the proxy is
// not closing; under closeMu, so that no goroutine is added to wg once
// Close waits on it.
func (p *Proxy) take(limit int64) bool {
	p.closeMu.RLock()
	defer p.closeMu.RUnlock()
	if p.closed {
		return false
	}
	if p.st.inFlight.Add(1) > limit {
		p.st.inFlight.Add(-1)
		return false
	}
	p.wg.Add(1)
	return true
}

func (p *Proxy) release() {
	p.st.inFlight.Add(-1)
	p.wg.Done()
}

// reverseProxy builds one of the proxy's ReverseProxies. capture ones tee
// the response for comparison and implement the fallback.
func (p *Proxy) reverseProxy(target func(*runtimeConfig) *url.URL, capture bool) *httputil.ReverseProxy {
	rp := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(target(p.rt.Load())) },
		Transport:  p.transport,
		ErrorLog:   slog.NewLogLogger(p.logger.Handler(), slog.LevelWarn),
		BufferPool: copyBuffers,
	}
	rp.FlushInterval = p.rt.Load().flushInterval
	if capture {
		// The request's exchange holds the configuration it started with.
		rp.Rewrite = func(pr *httputil.ProxyRequest) {
			rc := p.rt.Load()
			if ex := exchangeOf(pr.In.Context()); ex != nil {
				rc = ex.rc
			}
			pr.SetURL(target(rc))
		}
		rp.ModifyResponse = p.captureResponse
		rp.ErrorHandler = p.primaryError
	}
	return rp
}

// copyBuffers lends the ReverseProxies the buffers they copy response
// bodies through. Without a pool, ReverseProxy allocates 32 KiB per
// request: most of the bytes a proxied request allocates, and so most of the
// garbage collections that show in the clients' tail latency.
var copyBuffers = &bufferPool{size: 32 << 10}

// bufferPool is an httputil.BufferPool of fixed-size buffers.
type bufferPool struct {
	size int
	pool sync.Pool // of *[]byte
}

func (bp *bufferPool) Get() []byte {
	if b, ok := bp.pool.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, bp.size)
}

func (bp *bufferPool) Put(b []byte) {
	if cap(b) == bp.size {
		bp.pool.Put(&b)
	}
}

type exchangeKey struct{}

func exchangeOf(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	return ex
}

// errNewFailed is the fallback's reason when new answered 5xx.
type statusError int

func (s statusError) Error() string {
	return fmt.Sprintf("answered %d %s", int(s), http.StatusText(int(s)))
}

// errNewTimeout is the reason of a fallback when new sent no headers in time.
var errNewTimeout = errors.New("sent no response headers within the new timeout")

// captureResponse runs when the primary's headers arrive: it decides a
// reverse-shadow fallback, and tees the body into a bounded buffer.
func (p *Proxy) captureResponse(resp *http.Response) error {
	ex := exchangeOf(resp.Request.Context())
	if ex == nil {
		return nil
	}
	if ex.fallbackArmed {
		if !ex.headerState.CompareAndSwap(headersWaiting, headersArrived) {
			return errNewTimeout
		}
		if resp.StatusCode >= 500 {
			ex.primary.resp.Status = resp.StatusCode
			ex.primary.resp.Header = resp.Header.Clone()
			return statusError(resp.StatusCode)
		}
	}
	// ReverseProxy only reads resp.Header from here on: keep it, uncopied.
	ex.primary.resp.Status = resp.StatusCode
	ex.primary.resp.Header = resp.Header
	ex.primary.status = true
	if ex.secondaryDone == nil && ex.kind == cutover.KindRead {
		return nil // shed or sampled out: nothing will be compared
	}
	if n := resp.ContentLength; n > ex.rc.maxRspBody {
		ex.primary.resp.Truncated = true // known to be over the limit: keep nothing
	} else {
		ex.primary.resp.Body = ex.primary.bodyBuffer(n)
	}
	resp.Body = &teeBody{ReadCloser: resp.Body, c: &ex.primary, limit: ex.rc.maxRspBody}
	return nil
}

// teeBody keeps a bounded copy of what the ReverseProxy reads from the
// primary's body. Copying into memory never delays the client noticeably;
// past the limit it only notes the truncation.
type teeBody struct {
	io.ReadCloser
	c     *capture
	limit int64
}

func (t *teeBody) Read(b []byte) (int, error) {
	n, err := t.ReadCloser.Read(b)
	if n > 0 && !t.c.resp.Truncated {
		room := t.limit - int64(len(t.c.resp.Body))
		if int64(n) <= room {
			t.c.resp.Body = append(t.c.resp.Body, b[:n]...)
		} else {
			t.c.resp.Truncated = true
			t.c.resp.Body = nil
		}
	}
	if err != nil && err != io.EOF {
		t.c.err = err
	}
	return n, err
}

// primaryError handles a primary that failed before its response started:
// a transport error, a reverse-shadow 5xx or timeout. In reverse-shadow, for
// safe methods, it answers with old's response; otherwise with 502.
func (p *Proxy) primaryError(w http.ResponseWriter, r *http.Request, err error) {
	ex := exchangeOf(r.Context())
	if ex != nil {
		if ex.headerState.Load() == headersTimedOut {
			err = errNewTimeout
		}
		ex.primary.err = err
		if ex.fallbackArmed && ex.clientCtx.Err() == nil && p.fallBack(w, r, ex) {
			return
		}
	}
	if !errors.Is(err, context.Canceled) {
		p.logger.Warn("cutover proxy: upstream request failed", "migration", p.migration, "err", err)
	}
	if ex != nil {
		if s, ok := err.(statusError); ok {
			// Fallback impossible: pass new's status on, without its body.
			w.WriteHeader(int(s))
			return
		}
	}
	w.WriteHeader(http.StatusBadGateway)
}

// fallBack answers the client with old's response when new failed in
// reverse-shadow. It uses old's secondary response when it is complete, and
// otherwise asks old directly (the method is safe).
func (p *Proxy) fallBack(w http.ResponseWriter, r *http.Request, ex *exchange) bool {
	if ex.secondaryDone != nil {
		select {
		case <-ex.secondaryDone:
		case <-ex.clientCtx.Done():
			return false
		}
		old := &ex.secondary
		if old.err == nil && !old.resp.Truncated && old.resp.Status < 500 {
			h := w.Header()
			for k, v := range old.resp.Header {
				h[k] = append([]string(nil), v...)
			}
			stripHopHeaders(h)
			w.WriteHeader(old.resp.Status)
			if r.Method != http.MethodHead {
				_, _ = w.Write(old.resp.Body)
			}
			ex.fellBack = true
			return true
		}
		if old.err != nil || old.resp.Status >= 500 {
			return false // old failed too: the client gets new's failure
		}
	}
	// Old was shed, or its body was over the limit: ask it on the client's
	// path.
	r2 := r.WithContext(context.WithValue(ex.clientCtx, exchangeKey{}, (*exchange)(nil)))
	if ex.body != nil {
		r2.Body = io.NopCloser(bytes.NewReader(ex.body))
	}
	rec := &httpx.StatusWriter{ResponseWriter: w}
	p.st.oldReqs.Add(1)
	p.oldPlain.ServeHTTP(rec, r2)
	ex.fellBack = rec.Status > 0 && rec.Status < 500
	if ex.sampledOut && ex.fellBack {
		// No secondary will report it: report the fallback from here.
		p.record(ex.route, &cutover.Observation{Migration: p.migration, Operation: ex.route.Name, Kind: ex.kind,
			Mode: ex.mode, Key: ex.key, Time: ex.start, Outcome: cutover.OutcomeFallback, Signature: "error:new",
			Old: cutover.Side{Ran: true, Duration: time.Since(ex.start)},
			New: cutover.Side{Ran: true, Duration: time.Since(ex.start), Err: ex.primary.err}})
	}
	return true
}

// serveRead serves a safe request in shadow or reverse-shadow.
func (p *Proxy) serveRead(w http.ResponseWriter, r *http.Request, ex *exchange) {
	rc := ex.rc
	switch {
	case ex.sampledOut:
		p.st.sampledOut.Add(1)
		if ex.mode == cutover.ModeShadow {
			defer ex.primaryFinished()
			p.st.oldReqs.Add(1)
			p.oldPlain.ServeHTTP(w, r)
			return
		}
		// Reverse-shadow keeps its fallback: old is asked only if new fails.
	case p.acquire(rc):
		ex.secondaryDone = make(chan struct{})
		go ex.runSecondary()
	default:
		p.shed(ex)
	}
	primary := p.oldCapture
	if ex.mode == cutover.ModeReverseShadow {
		primary = p.newCapture
		p.st.newReqs.Add(1)
		ex.fallbackArmed = rc.fallback
	} else {
		p.st.oldReqs.Add(1)
	}
	ctx := context.WithValue(r.Context(), exchangeKey{}, ex)
	if ex.fallbackArmed {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		t := time.AfterFunc(rc.newTimeout, func() {
			if ex.headerState.CompareAndSwap(headersWaiting, headersTimedOut) {
				cancel()
			}
		})
		defer t.Stop()
	}
	defer ex.primaryFinished() // also when ReverseProxy panics with http.ErrAbortHandler
	primary.ServeHTTP(w, r.WithContext(ctx))
}

// serveWrite serves an unsafe request of a write-shadowing route: the
// authoritative side first; the other only after a 2xx, on this goroutine
// (so two writes to one key reach the second store in the client's order),
// after the client's response has been flushed. Writes are never shed.
func (p *Proxy) serveWrite(w http.ResponseWriter, r *http.Request, ex *exchange) {
	ex.kind = cutover.KindWrite
	primary := p.oldCapture
	if ex.mode == cutover.ModeReverseShadow {
		primary = p.newCapture
		p.st.newReqs.Add(1)
	} else {
		p.st.oldReqs.Add(1)
	}
	func() {
		defer ex.primaryFinished()
		primary.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex)))
	}()
	if ex.primary.err != nil || ex.primary.resp.Status < 200 || ex.primary.resp.Status > 299 {
		return // the authoritative write failed: the other is skipped
	}
	_ = http.NewResponseController(w).Flush()
	ex.secondary = ex.fetch(ex.secondaryTarget(), false)
	if !p.acquireUnbounded() {
		ex.finish() // closing: no goroutine may start, and the write is never lost
		return
	}
	go func() {
		defer p.release()
		ex.finish()
	}()
}

// shed reports a secondary request that was not sent; the migration's
// count of shed outcomes is Stats.Shed.
func (p *Proxy) shed(ex *exchange) {
	p.record(ex.route, &cutover.Observation{Migration: p.migration, Operation: ex.route.Name, Kind: ex.kind,
		Mode: ex.mode, Key: ex.key, Time: ex.start, Outcome: cutover.OutcomeShed})
}

// record counts an observation's outcome by route, and publishes it
// through the migration, which counts it, redacts it and queues it for the
// sinks that want it. It never blocks.
func (p *Proxy) record(route *compiledRoute, o *cutover.Observation) {
	route.counters.outcomes[o.Outcome].Add(1)
	_ = p.m.Publish(o) // the outcome is always valid
}

// isTimeout reports whether err is a deadline or a network timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errNewTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/diff"
)

// Header states of a reverse-shadow primary with fallback armed: new's
// headers either arrive first, or the new timeout fires first.
const (
	headersWaiting int32 = iota
	headersArrived
	headersTimedOut
)

// exchange is one compared request: the primary's response as it streams
// to the client, and the secondary's beside it.
type exchange struct {
	p     *Proxy
	rc    *runtimeConfig // the configuration the request started with
	route *compiledRoute
	mode  cutover.Mode
	kind  cutover.Kind
	key   string
	start time.Time
	// clientCtx is the client's request context, before the proxy's own
	// cancellation for the new timeout.
	clientCtx context.Context

	// The request as the secondary replays it; read-only once set.
	method string
	url    *url.URL
	header http.Header
	body   []byte

	// Written on the client's goroutine, read by the secondary's after
	// primaryDone is closed.
	primary       capture
	primaryDone   chan struct{}
	fallbackArmed bool
	fellBack      bool
	sampledOut    bool // not compared (SampleRate); no secondary
	headerState   atomic.Int32

	// Written on the secondary's goroutine before secondaryDone is closed.
	secondary     capture
	secondaryDone chan struct{} // nil when the secondary was shed
	old2          capture       // noise reference, when Old2 is set
}

// capture is what one side did.
type capture struct {
	resp   Response
	status bool // response headers arrived (resp.Status is the answer)
	err    error
	dur    time.Duration
	// pooled is the buffer of resp.Body when it came from bodyBuffers,
	// to be given back once the exchange is finished.
	pooled *[]byte
}

// bodyBuffers holds the buffers that response bodies are kept in until
// they are compared: a compared request's bodies are most of what it
// allocates beyond the requests themselves, and every byte allocated brings
// the next garbage collection, which the clients' tail latency feels,
// closer. Buffers that grew past maxPooledBody are left to the collector.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

const maxPooledBody = 64 << 10

// bodyBuffer returns an empty buffer for a body of size bytes (-1:
// unknown) from bodyBuffers, remembering it for release.
func (c *capture) bodyBuffer(size int64) []byte {
	if size > maxPooledBody {
		return make([]byte, 0, size+1) // +1: room to read the EOF without growing
	}
	c.pooled = bodyBuffers.Get().(*[]byte)
	return (*c.pooled)[:0]
}

// release gives the body's buffer back to bodyBuffers; the capture must
// not be used afterwards.
func (c *capture) release() {
	if c.pooled != nil {
		if b := c.resp.Body; cap(b) <= maxPooledBody && cap(b) >= cap(*c.pooled) {
			*c.pooled = b[:0] // it may have grown
		}
		bodyBuffers.Put(c.pooled)
	}
	c.pooled, c.resp.Body = nil, nil
}

// readBody reads r into the capture's body, up to limit bytes; past the
// limit it keeps nothing and marks the body truncated.
func (c *capture) readBody(r io.Reader, size, limit int64) error {
	if size > limit {
		c.resp.Truncated = true
		return nil
	}
	b := c.bodyBuffer(size)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		// One byte past the limit tells a body over it; no more is read.
		n, err := r.Read(b[len(b):min(int64(cap(b)), limit+1)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			c.resp.Truncated = true
			c.resp.Body = b[:0] // kept only to be released
			return nil
		}
		if err == io.EOF {
			c.resp.Body = b
			return nil
		}
		if err != nil {
			c.resp.Body = b
			return err
		}
	}
}

// side converts a capture to the observation's Side.
func (c *capture) side() cutover.Side {
	return cutover.Side{Ran: true, Duration: c.dur, Err: c.err}
}

// failed reports whether the side failed as a response: no response, or a
// server error.
func (c *capture) failed() bool { return c.err != nil }

// primaryFinished marks the end of the client's response.
func (ex *exchange) primaryFinished() {
	ex.primary.dur = time.Since(ex.start)
	close(ex.primaryDone)
}

// secondaryTarget is the upstream the secondary request goes to.
func (ex *exchange) secondaryTarget() *url.URL {
	if ex.mode == cutover.ModeReverseShadow {
		return ex.rc.old
	}
	return ex.rc.new
}

// runSecondary sends the secondary request (and old2's, for noise), then
// waits for the client's response to end and compares. It owns a slot.
func (ex *exchange) runSecondary() {
	p := ex.p
	defer p.release()
	var wg sync.WaitGroup
	if ex.rc.old2 != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.st.old2Reqs.Add(1)
			ex.old2 = ex.fetch(ex.rc.old2, true)
		}()
	}
	ex.secondary = ex.fetch(ex.secondaryTarget(), true)
	close(ex.secondaryDone)
	wg.Wait()
	<-ex.primaryDone
	ex.finish()
}

// fetch sends the request to target, detached from the client's
// cancellation, bounded by ShadowTimeout, and reads the response into a
// bounded buffer.
func (ex *exchange) fetch(target *url.URL, count bool) capture {
	p := ex.p
	if count {
		if target == ex.rc.old {
			p.st.oldReqs.Add(1)
		} else if target == ex.rc.new {
			p.st.newReqs.Add(1)
		}
	}
	start := time.Now()
	// Detached from the client's cancellation, its values kept (tracing).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ex.clientCtx), ex.rc.shadowTimeout)
	defer cancel()
	var body io.Reader = http.NoBody
	if ex.body != nil {
		body = bytes.NewReader(ex.body)
	}
	// The URL is built, not printed and parsed again.
	req, err := http.NewRequestWithContext(ctx, ex.method, "", body)
	if err != nil {
		return capture{err: err, dur: time.Since(start)}
	}
	*req.URL = *target
	req.URL.Path, req.URL.RawPath = joinURLPath(target, ex.url)
	req.URL.RawQuery = joinQuery(target.RawQuery, ex.url.RawQuery)
	req.Host = req.URL.Host
	req.Header = ex.header
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header = req.Header.Clone()
		req.Header.Set("User-Agent", "") // as ReverseProxy: do not add Go's
	}
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		return capture{err: err, dur: time.Since(start)}
	}
	defer resp.Body.Close()
	c := capture{status: true}
	c.resp.Status, c.resp.Header = resp.StatusCode, resp.Header
	c.err = c.readBody(resp.Body, resp.ContentLength, ex.rc.maxRspBody)
	c.dur = time.Since(start)
	return c
}

// joinURLPath joins the target's base path and the request's path, as
// httputil.ProxyRequest.SetURL does.
func joinURLPath(a, b *url.URL) (path, rawpath string) {
	if a.RawPath == "" && b.RawPath == "" {
		return singleJoiningSlash(a.Path, b.Path), ""
	}
	apath, bpath := a.EscapedPath(), b.EscapedPath()
	aslash, bslash := strings.HasSuffix(apath, "/"), strings.HasPrefix(bpath, "/")
	switch {
	case aslash && bslash:
		return a.Path + b.Path[1:], apath + bpath[1:]
	case !aslash && !bslash:
		return a.Path + "/" + b.Path, apath + "/" + bpath
	}
	return a.Path + b.Path, apath + bpath
}

func singleJoiningSlash(a, b string) string {
	aslash, bslash := strings.HasSuffix(a, "/"), strings.HasPrefix(b, "/")
	switch {
	case aslash && bslash:
		return a + b[1:]
	case !aslash && !bslash:
		return a + "/" + b
	}
	return a + b
}

func joinQuery(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "&" + b
}

// finish classifies the exchange, compares the responses, cancels noise,
// counts and publishes. It runs off the client's path.
func (ex *exchange) finish() {
	p := ex.p
	oldC, newC := &ex.primary, &ex.secondary
	if ex.mode == cutover.ModeReverseShadow {
		oldC, newC = newC, oldC
	}
	if ex.primary.resp.Truncated || ex.secondary.resp.Truncated {
		p.st.oversizeResponses.Add(1)
	}
	o := &cutover.Observation{Migration: p.migration, Operation: ex.route.Name, Kind: ex.kind, Mode: ex.mode,
		Key: ex.key, Time: ex.start, Old: oldC.side(), New: newC.side()}
	// A server error is a failed side, as an error is for the library.
	if oldC.err == nil && oldC.resp.Status >= 500 {
		o.Old.Err = statusError(oldC.resp.Status)
	}
	if newC.err == nil && newC.resp.Status >= 500 {
		o.New.Err = statusError(newC.resp.Status)
	}
	switch {
	case ex.fellBack:
		o.Outcome, o.Signature = cutover.OutcomeFallback, "error:new"
	case ex.kind == cutover.KindWrite && o.New.Err != nil && ex.mode == cutover.ModeShadow,
		ex.kind == cutover.KindWrite && o.Old.Err != nil && ex.mode == cutover.ModeReverseShadow:
		o.Outcome, o.Signature = cutover.OutcomeDivergence, "divergence"
	case ex.kind == cutover.KindWrite && ex.secondary.status && (ex.secondary.resp.Status < 200 || ex.secondary.resp.Status > 299):
		// The second write answered, but not 2xx: the stores differ.
		o.Outcome, o.Signature = cutover.OutcomeDivergence, "divergence"
		if ex.mode == cutover.ModeShadow {
			o.New.Err = statusError(ex.secondary.resp.Status)
		} else {
			o.Old.Err = statusError(ex.secondary.resp.Status)
		}
	case ex.secondary.err != nil && isTimeout(ex.secondary.err):
		o.Outcome = cutover.OutcomeTimeout
	case o.Old.Err != nil && o.New.Err != nil:
		o.Outcome = cutover.OutcomeMatch
		if oldC.err == nil && newC.err == nil && oldC.resp.Status != newC.resp.Status {
			o.Outcome, o.Diffs = cutover.OutcomeMismatch, []diff.Difference{statusDiff(oldC, newC)}
			o.Signature = Signature(o.Diffs)
		}
	case o.Old.Err != nil:
		o.Outcome, o.Signature = cutover.OutcomeError, "error:old"
	case o.New.Err != nil:
		o.Outcome, o.Signature = cutover.OutcomeError, "error:new"
	default:
		o.Diffs = ex.compare(oldC, newC)
		o.Outcome = cutover.OutcomeMatch
		if len(o.Diffs) > 0 {
			o.Outcome, o.Signature = cutover.OutcomeMismatch, Signature(o.Diffs)
		}
	}
	p.record(ex.route, o)
	// The observation holds no body: the buffers can serve other requests.
	ex.primary.release()
	ex.secondary.release()
	ex.old2.release()
}

func statusDiff(oldC, newC *capture) diff.Difference {
	return diff.Difference{Path: "status", Old: strconv.Itoa(oldC.resp.Status), New: strconv.Itoa(newC.resp.Status)}
}

// compare diffs old and new, then removes the differences that are noise:
// present between old and old2 on this same request.
func (ex *exchange) compare(oldC, newC *capture) []diff.Difference {
	p := ex.p
	diffs := ex.safeCompare(&oldC.resp, &newC.resp)
	if len(diffs) == 0 || ex.rc.old2 == nil || ex.kind != cutover.KindRead || ex.old2.err != nil || !ex.old2.status {
		return diffs
	}
	noise := ex.safeCompare(&oldC.resp, &ex.old2.resp)
	if len(noise) == 0 {
		return diffs
	}
	kept := diffs[:0:0]
	cancelled := 0
	for _, d := range diffs {
		if isNoise(d.Path, noise) {
			cancelled++
			continue
		}
		kept = append(kept, d)
	}
	if cancelled > 0 {
		p.st.noise.Add(1)
		p.st.noiseDiffs.Add(uint64(cancelled))
		ex.route.counters.noise.Add(1)
	}
	return kept
}

// isNoise reports whether a difference at path is explained by a noise
// difference: at the same path, or at an ancestor or descendant of it
// (old and old2 disagreeing on a whole array explains any element).
func isNoise(path string, noise []diff.Difference) bool {
	for _, n := range noise {
		if n.Path == path || isPathPrefix(n.Path, path) || isPathPrefix(path, n.Path) {
			return true
		}
	}
	return false
}

// isPathPrefix reports whether prefix is an ancestor of path.
func isPathPrefix(prefix, path string) bool {
	if len(path) <= len(prefix) || !strings.HasPrefix(path, prefix) {
		return false
	}
	c := path[len(prefix)]
	return c == '.' || c == '['
}

// errCompareSignature marks a comparison that panicked.
const errCompareSignature = "panic:compare"

func (ex *exchange) safeCompare(a, b *Response) (diffs []diff.Difference) {
	defer func() {
		if v := recover(); v != nil {
			ex.p.logger.Error("cutover proxy: comparison panicked; counted as a mismatch", "migration", ex.p.migration, "panic", v)
			diffs = []diff.Difference{{Path: errCompareSignature, Old: "?", New: "?"}}
		}
	}()
	return ex.route.cmp.Compare(a, b)
}

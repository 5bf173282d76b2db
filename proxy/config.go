package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cutover/cutover"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for the zero fields of [Config].
const (
	DefaultMaxRequestBody  = 1 << 20 // 1 MiB
	DefaultMaxResponseBody = 1 << 20 // 1 MiB
)

// GCPercent is the garbage collector's target, as GOGC, that `cutover
// proxy` runs with unless the GOGC environment variable or its --gc-percent
// flag says otherwise: the heap may grow by 400% of the live data between
// two collections, where Go's default is 100%.
//
// A proxy's live heap is small (a few MiB) and its allocation rate high:
// at Go's default the collector runs several times a second, and the
// requests that meet a collection make the clients' tail latency. A compared
// request allocates about 1.5 times what an unshadowed one does (the second
// upstream request), so at Go's default shadow mode moves the client's p99
// through collections alone; at 400 it stays with old mode's (see
// docs/proxy.md#performance). The price is memory: up to five times the
// live heap. In a container with a memory limit, set GOMEMLIMIT too. A
// program that embeds a [Proxy] chooses its own setting
// (runtime/debug.SetGCPercent).
const GCPercent = 400

// Config configures a [Proxy]. Migration, Old and New are required; every
// other zero field has the default its comment states. The fields marked
// "reloadable" may change in [Proxy.Reload]; the others are fixed at New.
type Config struct {
	// Migration names the migration: in rollouts, buckets, observations and
	// metrics. Required.
	Migration string

	// Old and New are the two upstreams, as base URLs
	// ("http://orders-v1:8080"); a request for /a goes to <base>/a.
	// Required. Reloadable.
	Old, New *url.URL
	// Old2, if set, is a second instance of the old service, for noise
	// cancellation: differences that also appear between Old and Old2 on
	// the same request are noise, not discrepancies. It receives only safe
	// methods that are compared. Reloadable.
	Old2 *url.URL

	// Rollout is the rollout in force until Source delivers one.
	// Zero: every request in old mode.
	Rollout cutover.Rollout
	// Source, if set, delivers rollouts at run time (a watched file, the
	// control plane), exactly as for a [cutover.Migration].
	Source cutover.Source

	// Key says which request attribute is the sticky key hashed into a
	// bucket with [cutover.Bucket]. Zero: no attribute. Reloadable.
	Key KeyFrom
	// DefaultKey is the key of requests that carry none. Zero: such a
	// request gets a random bucket, so keyless traffic splits by percent
	// but is not sticky (and overrides never apply to it). Reloadable.
	DefaultKey string

	// Routes name requests for observations and metrics and enable write
	// shadowing; see [Route]. The first match applies; no match is
	// [OtherRoute]. Reloadable.
	Routes []Route
	// IgnoreHeaders extends [DefaultIgnoreHeaders]; IgnorePaths are JSON
	// body paths not compared (".meta.requestId", ".items[*].etag").
	// Reloadable.
	IgnoreHeaders []string
	IgnorePaths   []string

	// MaxRequestBody bounds the request body buffered so both sides get the
	// same bytes; a larger request goes to the authoritative side only,
	// unshadowed, and is counted. Zero: DefaultMaxRequestBody. Reloadable.
	MaxRequestBody int64
	// MaxResponseBody bounds each response body kept for comparison; a
	// larger body still streams to the client whole, but bodies are then not
	// compared (counted). Zero: DefaultMaxResponseBody. Reloadable.
	MaxResponseBody int64

	// ShadowTimeout bounds each secondary request (and each second write),
	// from its start to its last body byte. It runs detached from the
	// client's cancellation. Zero: cutover.DefaultShadowTimeout. Reloadable.
	ShadowTimeout time.Duration
	// NewTimeout bounds, in reverse-shadow, how long new may take to send
	// its response headers before the client gets old's response instead.
	// Zero: ShadowTimeout (old's answer is kept no longer). Reloadable.
	NewTimeout time.Duration
	// DisableFallback stops reverse-shadow from answering with old's
	// response when new fails; new's response then streams as it comes.
	// Reloadable.
	DisableFallback bool
	// MaxInFlight bounds the secondary requests running at once; beyond it
	// they are shed and counted, never queued. Zero:
	// cutover.DefaultMaxInFlight. Reloadable.
	MaxInFlight int
	// SampleRate is the fraction of safe requests, in (0, 1], that are
	// compared in shadow and reverse-shadow; the others go to the
	// authoritative side only (in reverse-shadow they still fall back to
	// old). It buys CPU headroom on busy proxies. Writes are never sampled.
	// Zero: 1, every request. Reloadable.
	SampleRate float64

	// Sinks receive observations off the request path, each through its own
	// bounded queue; see [cutover.Sink].
	Sinks []cutover.Sink
	// SinkQueueSize bounds each sink's queue; beyond it observations are
	// dropped and counted. Zero: cutover.DefaultSinkQueueSize.
	SinkQueueSize int
	// Redact, if set, is applied to every observation before any sink sees
	// it. If it panics the observation is dropped.
	Redact func(*cutover.Observation)

	// Transport sends every upstream request. It must not modify a
	// request's header map: the secondary request shares the client's
	// (see [Proxy]). Zero: a clone of
	// http.DefaultTransport with 256 idle connections per host (the default
	// of 2 makes a busy proxy open a connection per request).
	Transport http.RoundTripper
	// FlushInterval is the httputil.ReverseProxy flush interval of the
	// client's response. Zero: flush as the upstream's writes arrive for
	// streamed responses, as ReverseProxy does.
	FlushInterval time.Duration
	// Registerer, if set, gets the proxy's metrics (listed in
	// docs/proxy.md), every one labelled with the migration; Close
	// unregisters them. Give the program's own registry, never the global
	// one. Zero: no metrics.
	Registerer prometheus.Registerer

	// Logger receives the proxy's own trouble (upstream errors, panicking
	// sinks, a refused rollout). Zero: slog.Default().
	Logger *slog.Logger
}

// runtimeConfig is the reloadable part of a Config, checked and compiled:
// an immutable snapshot read through an atomic pointer on every request.
type runtimeConfig struct {
	old, new, old2         *url.URL
	key                    KeyFrom
	defaultKey             string
	routes                 []*compiledRoute
	other                  *compiledRoute
	maxReqBody, maxRspBody int64
	shadowTimeout          time.Duration
	newTimeout             time.Duration
	fallback               bool
	maxInFlight            int64
	sampleRate             float64
	flushInterval          time.Duration
}

// compile checks the reloadable fields and builds their snapshot. Its
// errors name the field that is wrong and say what to do.
func (cfg *Config) compile() (*runtimeConfig, error) {
	var errs []error
	for _, u := range []struct {
		name     string
		u        *url.URL
		required bool
	}{{"Old", cfg.Old, true}, {"New", cfg.New, true}, {"Old2", cfg.Old2, false}} {
		if u.u == nil {
			if u.required {
				errs = append(errs, fmt.Errorf("%s: the %s upstream URL is required (http://host:port)", u.name, strings.ToLower(u.name)))
			}
			continue
		}
		if (u.u.Scheme != "http" && u.u.Scheme != "https") || u.u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: %q is not an http(s) base URL; write it as http://host:port", u.name, u.u.String()))
		}
	}
	if cfg.MaxRequestBody < 0 || cfg.MaxResponseBody < 0 || cfg.ShadowTimeout < 0 || cfg.NewTimeout < 0 ||
		cfg.MaxInFlight < 0 || cfg.FlushInterval < -1 {
		errs = append(errs, errors.New("limits: sizes, timeouts and MaxInFlight must not be negative"))
	}
	if cfg.SampleRate < 0 || cfg.SampleRate > 1 || cfg.SampleRate != cfg.SampleRate {
		errs = append(errs, fmt.Errorf("SampleRate: %v is outside (0, 1]; 0 means 1, every request", cfg.SampleRate))
	}
	rc := &runtimeConfig{
		old: cfg.Old, new: cfg.New, old2: cfg.Old2,
		key: cfg.Key, defaultKey: cfg.DefaultKey,
		maxReqBody:    orDefault(cfg.MaxRequestBody, DefaultMaxRequestBody),
		maxRspBody:    orDefault(cfg.MaxResponseBody, DefaultMaxResponseBody),
		shadowTimeout: orDefault(cfg.ShadowTimeout, cutover.DefaultShadowTimeout),
		fallback:      !cfg.DisableFallback,
		maxInFlight:   int64(orDefault(cfg.MaxInFlight, cutover.DefaultMaxInFlight)),
		sampleRate:    orDefault(cfg.SampleRate, 1),
		flushInterval: cfg.FlushInterval,
	}
	rc.newTimeout = orDefault(cfg.NewTimeout, rc.shadowTimeout)
	base, err := NewComparator(cfg.IgnoreHeaders, cfg.IgnorePaths)
	if err != nil {
		errs = append(errs, err)
	}
	rc.other = &compiledRoute{Route: Route{Name: OtherRoute}, cmp: base}
	names := map[string]int{OtherRoute: -1}
	for i, r := range cfg.Routes {
		c, err := compileRoute(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("routes[%d]: %w", i, err))
			continue
		}
		if j, dup := names[c.Name]; dup {
			if j < 0 {
				errs = append(errs, fmt.Errorf("routes[%d]: name %q is reserved for unmatched requests; choose another", i, c.Name))
			} else {
				errs = append(errs, fmt.Errorf("routes[%d]: name %q is already used by routes[%d]; route names must be unique", i, c.Name, j))
			}
			continue
		}
		names[c.Name] = i
		c.cmp = base
		if len(r.IgnoreHeaders) > 0 || len(r.IgnorePaths) > 0 {
			c.cmp, err = NewComparator(append(append([]string(nil), cfg.IgnoreHeaders...), r.IgnoreHeaders...),
				append(append([]string(nil), cfg.IgnorePaths...), r.IgnorePaths...))
			if err != nil {
				errs = append(errs, fmt.Errorf("routes[%d]: %w", i, err))
				continue
			}
		}
		rc.routes = append(rc.routes, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rc, nil
}

// route returns the route of a request: the first that matches, or other.
func (rc *runtimeConfig) route(r *http.Request) *compiledRoute {
	for _, c := range rc.routes {
		if c.match(r.Method, r.URL.Path) {
			return c
		}
	}
	return rc.other
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Package proxy is cutover's shadow proxy: the four modes of a migration
// (old, shadow, reverse-shadow, new) for any HTTP service, whatever language
// its callers are written in. `cutover proxy` runs it; a Go program can embed
// a [Proxy] as an http.Handler.
//
// # The request path
//
// Each request's mode comes from the migration's rollout, exactly as in the
// library: the sticky key ([Config].Key: a header, cookie, query parameter
// or path segment) is hashed with [cutover.Bucket], and
// [cutover.Rollout.ModeFor] decides. In old and new modes the proxy is a
// plain httputil.ReverseProxy. In shadow, old's response streams to the
// client as it arrives (a tee keeps a bounded copy), while the same request
// goes to new on a goroutine of its own, detached from the client's
// cancellation, with its own timeout, bounded in number ([Config].MaxInFlight;
// beyond it the secondary request is shed and counted). The comparison runs
// after the client's response is done, on that goroutine, never on the
// client's. Reverse-shadow swaps the sides and adds a fallback: for safe
// methods, when new fails, answers 5xx or sends no headers within
// [Config].NewTimeout, the client gets old's response.
//
// # Methods and bodies
//
// Only GET, HEAD and OPTIONS go to both sides unless a [Route] sets
// ShadowWrites; then the authoritative side gets the write first, and the
// other only after a 2xx answer; its failure is a divergence observation
// carrying the key, never returned to the client. Request bodies are
// buffered up to [Config].MaxRequestBody so both sides get the same bytes;
// a larger request goes to the authoritative side only, counted.
//
// # Comparison
//
// A [Comparator] compares the status, the headers minus
// [DefaultIgnoreHeaders] and the configured ones, and the bodies: as JSON
// with the diff engine when both are JSON (with ignore paths), byte for byte
// otherwise. Differences read `status`, `header["X-Foo"]`,
// `body.items[3].price`; [Signature] groups them. With a second old upstream
// ([Config].Old2), differences that also appear between old and old2 on the
// same request are noise and are not reported (counted in [Stats]).
//
// # Observations and metrics
//
// Every compared request becomes a [cutover.Observation] (operation = the
// route's name, never a raw path), published through the proxy's
// [cutover.Migration] ([cutover.Migration.Publish]): counted, redacted and
// delivered to each [cutover.Sink] through the library's bounded queues.
// [Proxy.Stats] exposes the counters, and [Config].Registerer the same as
// Prometheus metrics; see docs/proxy.md.
package proxy

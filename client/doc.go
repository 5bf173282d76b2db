// Package client connects services and tools to the cutover control plane
// (`cutover serve`) over its HTTP API, version 1 (package api).
//
// # The API
//
// [New] makes a [Client] of a server URL and a bearer token. It has one
// typed method per endpoint — [Client.Migrations], [Client.SetRollout],
// [Client.Stats], [Client.History], … — and returns the server's refusals
// as [*APIError], which errors.Is matches against sentinels such as
// [ErrConflict] (a stale version) and [ErrGateRefused] (a promotion gate
// said no; the error carries the verdict).
//
// # Wiring a service
//
// A service needs two things from the control plane, both made by the
// client and both shared by all migrations of the process:
//
//   - [Client.Source], a [cutover.Source] that follows the server's watch
//     stream and keeps the last known rollouts in a cache file, so that the
//     service keeps its modes while the server is away, even across a
//     restart;
//   - [Client.Reporter], a [cutover.Sink] that sums observations in the
//     process and sends them as aggregates every few seconds.
//
// Close the migrations first, then the reporter (which sends what is left),
// then the source. See docs/client.md for the whole story.
//
// # Latency sketches
//
// The reporter sends each side's latencies as an [api.Sketch] of seconds
// (DDSketch's algorithm, relative accuracy 1%), encoded with
// [api.Sketch.MarshalBinary], as [api.Aggregate] documents; the server
// merges them across instances.
package client

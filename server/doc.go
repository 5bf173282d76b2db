// Package server is the control plane of cutover, the logic behind
// `cutover serve`: migrations and their rollouts, the audit history,
// report ingest and statistics, mismatch groups, promotion gates, the
// automatic rollback guard, tokens, and the broadcast of rollout changes to
// watchers.
//
// # Layout
//
// [Service] holds the logic over a [Store]. Storage adapters live in
// server/sqlite (embedded, the default) and server/postgres (several
// replicas), and server/storetest checks both with one suite. The HTTP API
// is server/httpapi, the wiring of a whole server server/app, and
// server/servertest starts a real server for tests.
//
// # Errors
//
// Every error meant for a user is an [*Error] with a code from package api
// (api.CodeInvalid, api.CodeConflict, ...); the HTTP layer maps the code to
// a status and shows the message. Other errors are internal: logged, and
// answered with 500.
//
// # Evidence, gates and the guard
//
// SDK clients send per-minute aggregates ([api.ReportBatch]); the store
// keeps one bucket per migration, minute and mode, with counts by outcome,
// error counts per side, and mergeable latency sketches ([api.Sketch]).
//
// A forward move (one that raises the furthest mode any key is in) must
// pass the migration's gates, judged on the calls made in the current
// furthest mode since it came into use: enough comparisons, enough time at
// 100% of keys, and upper 95% Wilson bounds of the mismatch and new-side
// error rates under their thresholds; optionally a recent identical verify
// report. Force bypasses them, and is audited.
//
// The guard ([Service.Check], run by [Service.RunGuard]) watches
// reverse-shadow, and new while old still runs for some keys, over a
// rolling window, and moves the migration back to shadow when the observed
// mismatch or new-side error rate crosses its threshold.
package server

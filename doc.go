// Package cutover runs an old and a new implementation side by side so that
// a running system can be migrated — a value moved to another table, a
// dependency replaced by an incompatible version, a service rewritten —
// without downtime and without losing correctness.
//
// # Modes
//
// A [Migration] is in one of four modes, switched at run time without a
// deploy, one step at a time (see [CheckTransition]):
//
//	mode            reads: caller gets                 writes (in order)   compared
//	old             old                                old                 no
//	shadow          old, as soon as old is done        old, then new       yes
//	reverse-shadow  new; old's if new fails (fallback) new, then old       yes
//	new             new                                new                 no
//
// In old and new the toolkit is invisible: one side runs, with the same
// value, error and panic as a direct call, in nanoseconds and without
// allocating. In shadow and reverse-shadow the secondary side never harms
// the caller: it runs on a worker of a bounded pool, detached from the caller's
// cancellation and bounded by [Config].ShadowTimeout; its panics are
// recovered; at most [Config].MaxInFlight secondaries run at once, and
// beyond that they are shed and counted, never queued. The caller waits
// neither for the secondary, nor for the comparison, nor for the sinks.
//
// Writes ([Writer], [Write]) are never sampled or shed: the authoritative
// write (old in shadow, new in reverse-shadow) runs first; if it fails the
// caller gets its error and the other write is skipped; otherwise the other
// write runs, and its failure is a divergence — recorded with its key
// through [Config].OnDivergence, the sinks and [Stats] — never returned.
//
// # Rollouts: control and treatment
//
// A [Rollout] gives the control mode, a treatment mode and the percent of
// keys in treatment, plus per-key overrides. Keys are hashed into [Buckets]
// sticky buckets:
//
//	bucket = FNV-1a-64(migration + "\x00" + key) mod 10000
//	in treatment ⇔ bucket < round(percent × 100)
//
// so a key stays on its side while the percent grows, and raising the
// percent never moves a key out of treatment. The library, the shadow proxy
// and the control plane use the same formula ([Bucket]). The rollout in
// force is an immutable snapshot behind an atomic pointer: reading the mode
// takes no lock and allocates nothing. Rollouts come from [Config].Rollout,
// [Migration.SetRollout], or a [Source]: a [StaticSource], a watched file
// (package rolloutfile) or the control plane (package client).
//
// # Comparing and observing
//
// Results are compared with package diff's structural comparison unless a
// Reader or Writer sets its own Compare. Every compared call yields an
// [Observation] (outcome match, mismatch, error, timeout, fallback, shed or
// divergence, with the differing paths and a signature that groups
// mismatches by cause), delivered to [Sink]s — [LogSink], [Recorder],
// Prometheus (package metrics), the control plane's reporter (package
// client) — off the caller's path, after [Config].Redact.
package cutover

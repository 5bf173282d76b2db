// Package metrics exports a migration's behaviour to Prometheus.
//
// Two parts, both registered on a [prometheus.Registerer] you pass in (never
// on the global one, unless you pass [prometheus.DefaultRegisterer]):
//
//   - [Sink], a [cutover.Sink] that counts every observation by outcome,
//     times each side that ran, and counts divergences:
//     cutover_comparisons_total{migration,operation,outcome},
//     cutover_call_duration_seconds{migration,operation,side} and
//     cutover_divergences_total{migration,operation}. Add it to
//     [cutover.Config].Sinks; one Sink serves any number of migrations.
//   - [Track], a collector that reads [cutover.Migration.Stats] and the
//     rollout at scrape time: cutover_shadow_in_flight, cutover_shed_total,
//     cutover_sink_dropped_total, cutover_panics_total{where},
//     cutover_outcomes_total{outcome} and cutover_mode_info{mode,treatment},
//     all labelled by migration. It costs nothing between scrapes and counts
//     what the sink cannot see (observations the sink never got because its
//     queue was full, calls no sink wanted).
//
// # Bounded labels
//
// Every label value comes from a small set: migration names and operation
// names are written in code, outcomes, sides, modes and panic sites are
// enumerations. Operation names are the one risk: a caller that puts a URL
// path or an ID in [cutover.Reader].Operation would make one series per
// value, and a Prometheus server slows down, then falls over, as series
// multiply. So the sink admits at most [SinkOptions].MaxOperations distinct
// operations per migration, first come first served, and counts every
// further one under the operation "other". A growing "other" series says
// that some caller's operation names are not constants.
//
// # Registering twice
//
// Metric names are fixed, so a second [NewSink] on the same Registerer, or
// a second [Track] of the same migration, fails with an error that wraps
// [prometheus.AlreadyRegisteredError]: share one Sink among migrations, and
// track each migration once (or [Untrack] it first).
package metrics

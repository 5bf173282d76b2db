// Package api holds the JSON shapes of the control plane's HTTP API, version
// 1 (paths under /api/v1), shared by the server, the SDK client, the CLI and
// the shadow proxy. It has no behaviour beyond encoding, validation and the
// protocol's small rules (the status of an error code, the bound on a
// sample's strings).
//
// # Conventions
//
//   - Modes and outcomes are their names: "reverse-shadow", "mismatch".
//   - Durations are Go duration strings: "90s", "1h30m" (see [Duration]).
//   - Times are RFC 3339 in UTC.
//   - Every error answer is an [ErrorResponse] with a stable code.
package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/diff"
)

// Duration is a time.Duration that encodes as a Go duration string.
type Duration time.Duration

// MarshalText encodes d as "1h30m0s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText decodes a Go duration string such as "90s" or "1h".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a Go duration such as 90s, 15m or 1h", b)
	}
	*d = Duration(v)
	return nil
}

// Migration is a migration as the server holds it.
type Migration struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Rollout     cutover.Rollout `json:"rollout"`
	// Version increases with every rollout change; a change must name the
	// version it was based on (optimistic concurrency).
	Version int64 `json:"version"`
	Gates   Gates `json:"gates"`
	Guard   Guard `json:"guard"`
	// FullSince is when the migration last reached 100% of its keys in its
	// current mode (for the MinTimeAtFull gate); zero if it is not there.
	FullSince time.Time `json:"full_since,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CreateMigration is the body of POST /api/v1/migrations. Zero Gates and
// Guard fields take the server's defaults; the rollout starts at old.
type CreateMigration struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Gates       *Gates `json:"gates,omitempty"`
	Guard       *Guard `json:"guard,omitempty"`
}

// Gates are the evidence a migration needs before it moves forward. They
// are judged on the evidence gathered in the migration's current mode.
type Gates struct {
	// Disabled turns every gate off.
	Disabled bool `json:"disabled,omitempty"`
	// MinComparisons is the least number of compared calls (match, mismatch,
	// error) in the current mode.
	MinComparisons int64 `json:"min_comparisons"`
	// MinTimeAtFull is the least time spent at 100% of keys in the current
	// mode.
	MinTimeAtFull Duration `json:"min_time_at_full"`
	// MaxMismatchRate bounds the upper 95% confidence bound (Wilson) of the
	// mismatch rate.
	MaxMismatchRate float64 `json:"max_mismatch_rate"`
	// MaxNewErrorRate bounds the upper 95% bound of new's error rate.
	MaxNewErrorRate float64 `json:"max_new_error_rate"`
	// VerifyWithin, if set, requires a `cutover verify` report with zero
	// differences no older than this.
	VerifyWithin Duration `json:"verify_within,omitempty"`
}

// Guard watches reverse-shadow (and new, while old still runs) and moves the
// migration back to shadow when a rolling rate crosses its threshold.
type Guard struct {
	Disabled bool `json:"disabled,omitempty"`
	// Window is the rolling window the rates are computed over.
	Window Duration `json:"window"`
	// MinSamples is the least number of compared calls in the window before
	// the guard may act.
	MinSamples int64 `json:"min_samples"`
	// MaxMismatchRate and MaxNewErrorRate are the observed rates (not
	// bounds) above which the guard rolls back.
	MaxMismatchRate float64 `json:"max_mismatch_rate"`
	MaxNewErrorRate float64 `json:"max_new_error_rate"`
	// Webhook, if set, receives a JSON [GuardNotification] on every
	// automatic rollback.
	Webhook string `json:"webhook,omitempty"`
}

// RolloutChange is the body of PUT /api/v1/migrations/{name}/rollout. It
// replaces the whole rollout.
type RolloutChange struct {
	Mode      cutover.Mode            `json:"mode"`
	Treatment cutover.Mode            `json:"treatment"`
	Percent   float64                 `json:"percent"`
	Overrides map[string]cutover.Mode `json:"overrides,omitempty"`
	// Reason is required: it goes into the audit history.
	Reason string `json:"reason"`
	// Force allows a move that skips a mode or bypasses the gates; it is
	// audited as forced.
	Force bool `json:"force,omitempty"`
	// Version is the migration version this change was based on; a stale
	// version is refused with 409 and code "conflict".
	Version int64 `json:"version"`
}

// Rollout returns the rollout the change asks for.
func (c RolloutChange) Rollout() cutover.Rollout {
	return cutover.Rollout{Mode: c.Mode, Treatment: c.Treatment, Percent: c.Percent, Overrides: c.Overrides}
}

// Change is one entry of a migration's audit history
// (GET /api/v1/migrations/{name}/history).
type Change struct {
	// ID is the server-wide sequence number of the change; it is also the
	// event id of the watch stream.
	ID        int64           `json:"id"`
	Migration string          `json:"migration"`
	Version   int64           `json:"version"`
	Actor     string          `json:"actor"`
	From      cutover.Rollout `json:"from"`
	To        cutover.Rollout `json:"to"`
	Reason    string          `json:"reason"`
	Forced    bool            `json:"forced,omitempty"`
	// Automatic marks a change made by the guard; Figures then holds the
	// rates and counts that triggered it.
	Automatic bool               `json:"automatic,omitempty"`
	Figures   map[string]float64 `json:"figures,omitempty"`
	// Kind is "rollout" for rollout changes, "created" for the creation of
	// the migration, "verify" for a recorded verify report.
	Kind string    `json:"kind"`
	Time time.Time `json:"time"`
}

// RolloutEvent is the data of a watch-stream event (GET /api/v1/watch,
// server-sent events with event type "rollout" and id = the change's ID).
type RolloutEvent struct {
	Migration string          `json:"migration"`
	Rollout   cutover.Rollout `json:"rollout"`
	Version   int64           `json:"version"`
	ChangeID  int64           `json:"change_id"`
}

// ReportBatch is the body of POST /api/v1/reports: what one SDK instance
// aggregated since its last flush. It is idempotent by BatchID: a retried
// batch is acknowledged again and counted once.
type ReportBatch struct {
	BatchID    string      `json:"batch_id"`
	Instance   string      `json:"instance"`
	Aggregates []Aggregate `json:"aggregates"`
}

// Aggregate sums the observations of one (migration, operation, kind, mode)
// over [Start, End).
type Aggregate struct {
	Migration string                    `json:"migration"`
	Operation string                    `json:"operation"`
	Kind      string                    `json:"kind"` // "read" or "write"
	Mode      cutover.Mode              `json:"mode"`
	Start     time.Time                 `json:"start"`
	End       time.Time                 `json:"end"`
	Counts    map[cutover.Outcome]int64 `json:"counts"`
	// OldErrors and NewErrors count calls where that side ran and failed.
	OldErrors int64 `json:"old_errors"`
	NewErrors int64 `json:"new_errors"`
	// OldLatency and NewLatency are DDSketches (github.com/DataDog/sketches-go,
	// relative accuracy 0.01, encoded with (*ddsketch.DDSketch).Encode) of
	// each side's duration in seconds, mergeable across instances; see
	// [Sketch] for the exact encoding. Empty when that side did not run.
	OldLatency []byte `json:"old_latency,omitempty"`
	NewLatency []byte `json:"new_latency,omitempty"`
	// Groups are the mismatches, errors, timeouts, fallbacks and
	// divergences by signature, with a few samples each.
	Groups []Group `json:"groups,omitempty"`
}

// Group is the discrepancies of one signature.
type Group struct {
	Signature string          `json:"signature"`
	Outcome   cutover.Outcome `json:"outcome"`
	Count     int64           `json:"count"`
	Samples   []Sample        `json:"samples,omitempty"`
}

// Sample is one redacted discrepancy.
type Sample struct {
	Key      string            `json:"key"`
	Time     time.Time         `json:"time"`
	Diffs    []diff.Difference `json:"diffs,omitempty"`
	OldError string            `json:"old_error,omitempty"`
	NewError string            `json:"new_error,omitempty"`
}

// TruncateText cuts s to at most n bytes, on a rune boundary, and marks the
// cut with "…"; a string of n bytes or fewer is returned as it is. The SDK
// client and the server bound the strings of a [Sample] with it.
func TruncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// ReportAck answers a report batch.
type ReportAck struct {
	BatchID string `json:"batch_id"`
	// Duplicate is true when the batch had been received before.
	Duplicate bool `json:"duplicate"`
	// UnknownMigrations lists the migrations of the batch the server does
	// not know; their aggregates were not counted (create the migration
	// first).
	UnknownMigrations []string `json:"unknown_migrations,omitempty"`
}

// Rate is a proportion with its 95% Wilson confidence interval.
type Rate struct {
	Value float64 `json:"value"`
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
	// N is the number of trials the rate is over.
	N int64 `json:"n"`
}

// Percentiles are latencies in seconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// Stats answers GET /api/v1/migrations/{name}/stats?window=1h[&step=1m].
type Stats struct {
	Migration string                    `json:"migration"`
	Window    Duration                  `json:"window"`
	From      time.Time                 `json:"from"`
	To        time.Time                 `json:"to"`
	Counts    map[cutover.Outcome]int64 `json:"counts"`
	// Compared counts calls where both sides ran: match + mismatch + error
	// (+ fallback).
	Compared     int64 `json:"compared"`
	MismatchRate Rate  `json:"mismatch_rate"`
	NewErrorRate Rate  `json:"new_error_rate"`
	OldErrorRate Rate  `json:"old_error_rate"`
	Latency      struct {
		Old Percentiles `json:"old"`
		New Percentiles `json:"new"`
	} `json:"latency"`
	// Series holds one point per step when step is given, for charts.
	Series []StatsPoint `json:"series,omitempty"`
	// Gates is the promotion gates' verdict on the current mode's evidence.
	Gates *GateStatus `json:"gates,omitempty"`
}

// StatsPoint is one step of a stats series.
type StatsPoint struct {
	Time         time.Time   `json:"time"`
	Compared     int64       `json:"compared"`
	MatchRate    float64     `json:"match_rate"`
	OldErrorRate float64     `json:"old_error_rate"`
	NewErrorRate float64     `json:"new_error_rate"`
	Old          Percentiles `json:"old"`
	New          Percentiles `json:"new"`
}

// GateStatus is the promotion gates' verdict.
type GateStatus struct {
	Pass bool `json:"pass"`
	// Criteria lists every gate with its figures; the failing ones first.
	Criteria []GateCriterion `json:"criteria"`
}

// GateCriterion is one gate's verdict: "needs 2,134 more comparisons".
type GateCriterion struct {
	Criterion string  `json:"criterion"` // min_comparisons, min_time_at_full, max_mismatch_rate, max_new_error_rate, verify_within
	Threshold float64 `json:"threshold"`
	Measured  float64 `json:"measured"`
	Pass      bool    `json:"pass"`
	Message   string  `json:"message"`
}

// MismatchGroup answers GET /api/v1/migrations/{name}/mismatches: one
// signature's discrepancies, largest groups first.
type MismatchGroup struct {
	Signature string          `json:"signature"`
	Outcome   cutover.Outcome `json:"outcome"`
	Count     int64           `json:"count"`
	// Share is Count over all discrepancies of the migration in the window.
	Share     float64   `json:"share"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Samples   []Sample  `json:"samples"`
}

// GuardNotification is what the guard posts to a migration's webhook.
type GuardNotification struct {
	Migration string             `json:"migration"`
	From      cutover.Rollout    `json:"from"`
	To        cutover.Rollout    `json:"to"`
	Reason    string             `json:"reason"`
	Figures   map[string]float64 `json:"figures"`
	ChangeID  int64              `json:"change_id"`
	Time      time.Time          `json:"time"`
}

// VerifyReport is the body of POST /api/v1/migrations/{name}/verifications:
// the summary of a `cutover verify` run, kept as promotion evidence.
type VerifyReport struct {
	Identical  bool      `json:"identical"`
	OldRows    int64     `json:"old_rows"`
	NewRows    int64     `json:"new_rows"`
	Missing    int64     `json:"missing_in_new"`
	Extra      int64     `json:"extra_in_new"`
	Differing  int64     `json:"differing"`
	Signatures []string  `json:"signatures,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// Scope is what a token may do.
type Scope string

// Scopes, each including the ones before it: an operator token can do what
// an sdk token can, and an admin token everything.
const (
	ScopeSDK      Scope = "sdk"      // watch rollouts, send reports, read
	ScopeOperator Scope = "operator" // change rollouts
	ScopeAdmin    Scope = "admin"    // create migrations, manage tokens
)

// Includes reports whether a token of scope s may do what needs scope need.
func (s Scope) Includes(need Scope) bool { return s.rank() >= need.rank() && need.rank() > 0 }

func (s Scope) rank() int {
	switch s {
	case ScopeSDK:
		return 1
	case ScopeOperator:
		return 2
	case ScopeAdmin:
		return 3
	}
	return 0
}

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool { return s.rank() > 0 }

// CreateToken is the body of POST /api/v1/tokens.
type CreateToken struct {
	Name  string `json:"name"`
	Scope Scope  `json:"scope"`
}

// Token describes a token; Secret is set only in the answer that created
// it (the server stores only a hash).
type Token struct {
	// ID names the token in lists and in DELETE /api/v1/tokens/{id}: the
	// first 12 hex digits of its secret's SHA-256, which tells nothing of
	// the secret.
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Scope     Scope     `json:"scope"`
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Error codes of [ErrorBody].
const (
	CodeInvalid      = "invalid"      // 400: a field is wrong; Field names it
	CodeUnauthorized = "unauthorized" // 401: no token, or an unknown one
	CodeForbidden    = "forbidden"    // 403: the token's scope is too small
	CodeNotFound     = "not_found"    // 404
	CodeConflict     = "conflict"     // 409: stale version, or name taken
	CodeGateRefused  = "gate_refused" // 409: a promotion gate refused; Gate says which
	CodeTransition   = "transition"   // 409: a move that skips a mode without force
	CodeTooLarge     = "too_large"    // 413: request body over the limit
	CodeInternal     = "internal"     // 500
	CodeUnavailable  = "unavailable"  // 503: not ready (database down)
)

// HTTPStatus is the HTTP status of an answer with the error code code (the
// statuses noted at the codes above); an unknown code is a 500.
func HTTPStatus(code string) int {
	switch code {
	case CodeInvalid:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict, CodeGateRefused, CodeTransition:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody says what went wrong and, where it helps, which field or gate.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// CurrentVersion is set with a conflict: the version to base a retry on.
	CurrentVersion int64 `json:"current_version,omitempty"`
	// Gate is set with gate_refused: the failing criteria.
	Gate *GateStatus `json:"gate,omitempty"`
}

// Decode is a strict JSON decode for request bodies: unknown fields are
// refused, and so is trailing data.
func Decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("unexpected data after the JSON value")
	}
	return nil
}

package server

import (
	"context"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
)

// Migration is a migration as the store keeps it: the API's view plus the
// bookkeeping the gates need.
type Migration struct {
	api.Migration
	// EvidenceSince is when the mode the gates judge (the rollout's highest
	// mode in use) came into use: evidence older than that was gathered
	// under another rollout and does not count.
	EvidenceSince time.Time
}

// StatsBucket is one minute of one migration's aggregated reports, for
// calls made in one mode.
type StatsBucket struct {
	Minute time.Time // start of the minute, UTC
	Mode   cutover.Mode
	// Counts is indexed by cutover.Outcome.
	Counts               [len(cutover.Outcomes)]int64
	OldErrors, NewErrors int64
	// OldLatency and NewLatency merge every reported sketch of the minute;
	// never nil when returned by a Store.
	OldLatency, NewLatency *api.Sketch
}

// Compared is the number of calls where both sides ran and were judged:
// match + mismatch + error + fallback.
func (b *StatsBucket) Compared() int64 {
	return b.Counts[cutover.OutcomeMatch] + b.Counts[cutover.OutcomeMismatch] +
		b.Counts[cutover.OutcomeError] + b.Counts[cutover.OutcomeFallback]
}

// BucketDelta is what one aggregate adds to a minute bucket.
type BucketDelta struct {
	Migration string
	StatsBucket
}

// GroupDelta is what one report adds to a mismatch group.
type GroupDelta struct {
	Migration string
	Signature string
	Outcome   cutover.Outcome
	Count     int64
	FirstSeen time.Time
	LastSeen  time.Time
	Samples   []api.Sample
}

// ChangeFilter selects audit history entries.
type ChangeFilter struct {
	// Migrations restricts the changes to these migrations; empty: all.
	Migrations []string
	// AfterID returns only changes with a larger id.
	AfterID int64
	// Kinds restricts the kinds ("created", "rollout", "verify"); empty: all.
	Kinds []string
	// Limit bounds the number returned (oldest first); zero: no bound.
	Limit int
	// Newest returns the newest Limit changes instead of the oldest (still
	// in ascending id order).
	Newest bool
}

// TokenRecord is a stored API token: only the hash of its secret is kept.
type TokenRecord struct {
	// Hash is the hex SHA-256 of the secret.
	Hash      string
	Name      string
	Scope     api.Scope
	CreatedAt time.Time
}

// Store persists the control plane's state. The sqlite and postgres
// packages implement it, and package storetest checks an implementation.
//
// Methods return an *Error with api.CodeNotFound for an unknown migration
// and api.CodeConflict for a name taken or a stale version; other errors are
// internal. Every method is safe for concurrent use. A method that returns
// nil has made its write durable.
type Store interface {
	// CreateMigration stores a new migration and its "created" change, and
	// returns the change with its id.
	CreateMigration(ctx context.Context, m Migration, c api.Change) (api.Change, error)
	// Migration returns one migration.
	Migration(ctx context.Context, name string) (Migration, error)
	// Migrations returns every migration, by name.
	Migrations(ctx context.Context) ([]Migration, error)
	// UpdateMigration replaces the migration if its stored version is
	// expectedVersion (m.Version is the new one), appends c to the history
	// in the same transaction, and returns c with its id. A stale
	// expectedVersion is an *Error with api.CodeConflict and the stored
	// version in CurrentVersion.
	UpdateMigration(ctx context.Context, m Migration, expectedVersion int64, c api.Change) (api.Change, error)
	// Changes returns history entries, ascending by id.
	Changes(ctx context.Context, f ChangeFilter) ([]api.Change, error)
	// Change returns one history entry by id.
	Change(ctx context.Context, id int64) (api.Change, error)

	// Ingest records a report batch once: if batchID was recorded before it
	// changes nothing and returns duplicate = true. Buckets are merged into
	// the stored minute buckets (counts added, sketches merged); groups are
	// merged into the stored groups, keeping the newest maxSamples samples.
	Ingest(ctx context.Context, batchID, instance string, received time.Time, buckets []BucketDelta, groups []GroupDelta, maxSamples int) (duplicate bool, err error)
	// Buckets returns a migration's buckets with from <= Minute < to.
	Buckets(ctx context.Context, migration string, from, to time.Time) ([]StatsBucket, error)
	// Groups returns a migration's mismatch groups last seen at or after
	// since, largest first.
	Groups(ctx context.Context, migration string, since time.Time) ([]api.MismatchGroup, error)

	// AddVerification stores a verify report with its "verify" change.
	AddVerification(ctx context.Context, migration string, r api.VerifyReport, c api.Change) (api.Change, error)
	// LatestVerification returns the newest verify report by FinishedAt;
	// ok is false when there is none.
	LatestVerification(ctx context.Context, migration string) (r api.VerifyReport, ok bool, err error)

	// CreateToken stores a token.
	CreateToken(ctx context.Context, t TokenRecord) error
	// TokenByHash returns the token with this hash, or an *Error with
	// api.CodeNotFound.
	TokenByHash(ctx context.Context, hash string) (TokenRecord, error)
	// CountTokens counts the tokens of a scope.
	CountTokens(ctx context.Context, scope api.Scope) (int, error)
	// CreateFirstToken stores t only if no token of its scope exists, as
	// one atomic step even across servers sharing the database; it
	// reports whether it stored it.
	CreateFirstToken(ctx context.Context, t TokenRecord) (bool, error)
	// Tokens lists every token, oldest first.
	Tokens(ctx context.Context) ([]TokenRecord, error)
	// DeleteToken deletes the token with this hash and returns it, or an
	// *Error with api.CodeNotFound. With keepOneAdmin it refuses, with
	// api.CodeConflict, to delete the last admin token, as one atomic step
	// even across servers sharing the database.
	DeleteToken(ctx context.Context, hash string, keepOneAdmin bool) (TokenRecord, error)

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Close releases the store; writes acknowledged before are durable.
	Close() error
}

// ChangeNotifier is implemented by stores shared by several servers
// (PostgreSQL): ListenChanges calls ready once it listens, then fn with the
// id of every change committed by any server, including this one, until
// ctx ends. It returns when ctx ends, or with an error when it cannot
// listen (the caller retries, and catches up on what it missed from the
// history when ready is called again).
type ChangeNotifier interface {
	ListenChanges(ctx context.Context, ready func(), fn func(id int64)) error
}

// GuardLocker is implemented by stores shared by several servers, so that
// one server at a time runs the guard. GuardLeader reports whether this
// server holds the guard lock, taking it when it is free; a lost database
// connection loses the lock, and another server takes it.
// ReleaseGuard gives it up.
type GuardLocker interface {
	GuardLeader(ctx context.Context) (bool, error)
	ReleaseGuard()
}

// Package sqlstore is the SQL implementation of server.Store shared by the
// sqlite and postgres adapters: the statements are written in the SQL both
// speak ($1 placeholders, ON CONFLICT ... DO UPDATE, RETURNING), and a
// [Dialect] carries the few differences. Merges lock their rows with the
// upsert itself, so concurrent writers (PostgreSQL replicas) serialise on
// the row and never lose an addition. Each adapter owns its schema migrations.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/server"
)

// Dialect is what differs between the databases.
type Dialect struct {
	// AfterChange, if set, runs in the transaction that appends a change
	// (PostgreSQL: NOTIFY the other servers).
	AfterChange func(ctx context.Context, tx *sql.Tx, id int64) error
	// Lock, if set, is run first in transactions that must not run at the
	// same time on several servers (PostgreSQL: an advisory transaction
	// lock; SQLite's one writer needs none). Such transactions run at
	// LockIsolation.
	Lock string
	// LockIsolation is the isolation of the transactions that take Lock.
	// What they read after the lock must be what the last holder
	// committed: on PostgreSQL that is READ COMMITTED, whatever the
	// server's default_transaction_isolation (at REPEATABLE READ the
	// snapshot would be taken by the lock statement itself, before it
	// waits). Zero: the driver's default.
	LockIsolation sql.IsolationLevel
	// GroupCommit commits report batches that arrive together in one
	// transaction (SQLite: one writer, and a sync per commit is most of an
	// ingest's cost). Each caller still returns only after its batch is
	// committed.
	GroupCommit bool
}

// Store implements server.Store over database/sql.
type Store struct {
	w, r *sql.DB // writes go to w, reads to r (the same pool, or SQLite's reader pool)
	d    Dialect

	ingestQ    chan *ingestReq // to the group-commit goroutine; nil without GroupCommit
	closing    chan struct{}   // closed by Close: the goroutine stops
	ingestDone chan struct{}   // closed when the goroutine has stopped
	closeOnce  sync.Once
}

// maxGroup bounds the batches committed together.
const maxGroup = 64

// ingestReq is one Ingest call waiting for the group commit.
type ingestReq struct {
	batchID, instance string
	received          time.Time
	buckets           []server.BucketDelta
	groups            []server.GroupDelta
	maxSamples        int
	dup               bool
	err               error
	done              chan struct{}
}

// New returns a store writing through w and reading through r.
func New(w, r *sql.DB, d Dialect) *Store {
	s := &Store{w: w, r: r, d: d, closing: make(chan struct{}), ingestDone: make(chan struct{})}
	if d.GroupCommit {
		s.ingestQ = make(chan *ingestReq) // unbuffered: a sent request is always answered
		go s.groupCommit()
	} else {
		close(s.ingestDone)
	}
	return s
}

// errClosed answers the calls made after Close.
var errClosed = errors.New("the store is closed")

// groupCommit takes the waiting Ingest calls together and commits them in
// one transaction.
func (s *Store) groupCommit() {
	defer close(s.ingestDone)
	for {
		var group []*ingestReq
		select {
		case <-s.closing:
			return
		case req := <-s.ingestQ:
			group = append(group, req)
		}
	more:
		for len(group) < maxGroup {
			select {
			case req := <-s.ingestQ:
				group = append(group, req)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := inTx(ctx, s.w, func(tx *sql.Tx) error {
			for _, req := range group {
				dup, err := s.ingestTx(ctx, tx, req.batchID, req.instance, req.received, req.buckets, req.groups, req.maxSamples)
				if err != nil {
					return err
				}
				req.dup = dup
			}
			return nil
		})
		if err != nil && len(group) > 1 {
			// One bad batch must not fail the others: commit one by one.
			for _, req := range group {
				req.err = inTx(ctx, s.w, func(tx *sql.Tx) error {
					var err error
					req.dup, err = s.ingestTx(ctx, tx, req.batchID, req.instance, req.received, req.buckets, req.groups, req.maxSamples)
					return err
				})
			}
		} else {
			for _, req := range group {
				req.err = err
			}
		}
		cancel()
		for _, req := range group {
			close(req.done)
		}
	}
}

// Writer returns the pool writes go through.
func (s *Store) Writer() *sql.DB { return s.w }

var _ server.Store = (*Store)(nil)

// ---- schema ----

// Migrate applies the schema migrations in files (named NNNN_what.sql,
// applied in order of NNNN) that the schema_migrations table does not list
// yet, each in its own transaction. lock, if set, is run first in each
// transaction to keep several servers from migrating at once.
func Migrate(ctx context.Context, db *sql.DB, files fs.FS, lock string) error {
	err := inTx(ctx, db, func(tx *sql.Tx) error {
		if lock != "" {
			if _, err := tx.ExecContext(ctx, lock); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		return err
	}
	type mig struct {
		version int64
		name    string
	}
	var ms []mig
	for _, n := range names {
		num, _, ok := strings.Cut(n, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil {
			return fmt.Errorf("schema migration %q: name it NNNN_what.sql", n)
		}
		ms = append(ms, mig{v, n})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for _, m := range ms {
		body, err := fs.ReadFile(files, m.name)
		if err != nil {
			return err
		}
		err = inTx(ctx, db, func(tx *sql.Tx) error {
			if lock != "" {
				if _, err := tx.ExecContext(ctx, lock); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, m.version, m.name, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("applying schema migration %s: %w", m.name, err)
		}
	}
	return nil
}

// SchemaVersion returns the highest applied schema migration.
func SchemaVersion(ctx context.Context, db *sql.DB) (int64, error) {
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return v.Int64, err
}

func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	return inTxOpts(ctx, db, nil, fn)
}

// inLockedTx runs fn in a write transaction that holds the dialect's Lock,
// at its LockIsolation.
func (s *Store) inLockedTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return inTxOpts(ctx, s.w, &sql.TxOptions{Isolation: s.d.LockIsolation}, func(tx *sql.Tx) error {
		if s.d.Lock != "" {
			if _, err := tx.ExecContext(ctx, s.d.Lock); err != nil {
				return err
			}
		}
		return fn(tx)
	})
}

func inTxOpts(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ---- encoding helpers ----

func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromTS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("sqlstore: encoding a stored value: " + err.Error())
	}
	return string(b)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// ---- migrations ----

const migrationCols = `name, description, rollout, version, gates, guard, full_since, evidence_since, created_at, updated_at`

func scanMigration(row interface{ Scan(...any) error }) (server.Migration, error) {
	var m server.Migration
	var rollout, gates, guard string
	var full, evidence, created, updated int64
	if err := row.Scan(&m.Name, &m.Description, &rollout, &m.Version, &gates, &guard, &full, &evidence, &created, &updated); err != nil {
		return m, err
	}
	if err := json.Unmarshal([]byte(rollout), &m.Rollout); err != nil {
		return m, fmt.Errorf("stored rollout of %s: %w", m.Name, err)
	}
	if err := json.Unmarshal([]byte(gates), &m.Gates); err != nil {
		return m, fmt.Errorf("stored gates of %s: %w", m.Name, err)
	}
	if err := json.Unmarshal([]byte(guard), &m.Guard); err != nil {
		return m, fmt.Errorf("stored guard of %s: %w", m.Name, err)
	}
	m.FullSince, m.EvidenceSince, m.CreatedAt, m.UpdatedAt = fromTS(full), fromTS(evidence), fromTS(created), fromTS(updated)
	return m, nil
}

// CreateMigration implements server.Store.
func (s *Store) CreateMigration(ctx context.Context, m server.Migration, c api.Change) (api.Change, error) {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO migrations (`+migrationCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (name) DO NOTHING`,
			m.Name, m.Description, js(m.Rollout), m.Version, js(m.Gates), js(m.Guard), ts(m.FullSince), ts(m.EvidenceSince), ts(m.CreatedAt), ts(m.UpdatedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return server.Errorf(api.CodeConflict, "migration %q exists already: pick another name", m.Name)
		}
		c, err = s.appendChange(ctx, tx, c)
		return err
	})
	return c, err
}

func (s *Store) appendChange(ctx context.Context, tx *sql.Tx, c api.Change) (api.Change, error) {
	var figures string
	if c.Figures != nil {
		figures = js(c.Figures)
	}
	err := tx.QueryRowContext(ctx, `INSERT INTO changes (migration, version, actor, from_rollout, to_rollout, reason, forced, automatic, figures, kind, time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		c.Migration, c.Version, c.Actor, js(c.From), js(c.To), c.Reason, b2i(c.Forced), b2i(c.Automatic), figures, c.Kind, ts(c.Time)).Scan(&c.ID)
	if err != nil {
		return c, err
	}
	if s.d.AfterChange != nil {
		if err := s.d.AfterChange(ctx, tx, c.ID); err != nil {
			return c, err
		}
	}
	return c, nil
}

// Migration implements server.Store.
func (s *Store) Migration(ctx context.Context, name string) (server.Migration, error) {
	m, err := scanMigration(s.r.QueryRowContext(ctx, `SELECT `+migrationCols+` FROM migrations WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return m, server.NotFound(name)
	}
	return m, err
}

// Migrations implements server.Store.
func (s *Store) Migrations(ctx context.Context) ([]server.Migration, error) {
	return queryAll(ctx, s.r, scanMigration, `SELECT `+migrationCols+` FROM migrations ORDER BY name`)
}

// queryAll runs a query and scans each of its rows with scan; no rows is a
// nil slice.
func queryAll[T any](ctx context.Context, db *sql.DB, scan func(interface{ Scan(...any) error }) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// UpdateMigration implements server.Store.
func (s *Store) UpdateMigration(ctx context.Context, m server.Migration, expected int64, c api.Change) (api.Change, error) {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE migrations SET description = $1, rollout = $2, version = $3, gates = $4, guard = $5,
			full_since = $6, evidence_since = $7, updated_at = $8 WHERE name = $9 AND version = $10`,
			m.Description, js(m.Rollout), m.Version, js(m.Gates), js(m.Guard), ts(m.FullSince), ts(m.EvidenceSince), ts(m.UpdatedAt), m.Name, expected)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var cur int64
			err := tx.QueryRowContext(ctx, `SELECT version FROM migrations WHERE name = $1`, m.Name).Scan(&cur)
			if errors.Is(err, sql.ErrNoRows) {
				return server.NotFound(m.Name)
			}
			if err != nil {
				return err
			}
			return &server.Error{Code: api.CodeConflict, CurrentVersion: cur,
				Message: fmt.Sprintf("version %d is stale: the migration is at version %d; read it again and retry", expected, cur)}
		}
		c, err = s.appendChange(ctx, tx, c)
		return err
	})
	return c, err
}

// ---- history ----

const changeCols = `id, migration, version, actor, from_rollout, to_rollout, reason, forced, automatic, figures, kind, time`

func scanChange(row interface{ Scan(...any) error }) (api.Change, error) {
	var c api.Change
	var from, to, figures string
	var forced, automatic, t int64
	if err := row.Scan(&c.ID, &c.Migration, &c.Version, &c.Actor, &from, &to, &c.Reason, &forced, &automatic, &figures, &c.Kind, &t); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(from), &c.From); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(to), &c.To); err != nil {
		return c, err
	}
	if figures != "" {
		if err := json.Unmarshal([]byte(figures), &c.Figures); err != nil {
			return c, err
		}
	}
	c.Forced, c.Automatic, c.Time = forced != 0, automatic != 0, fromTS(t)
	return c, nil
}

// Changes implements server.Store.
func (s *Store) Changes(ctx context.Context, f server.ChangeFilter) ([]api.Change, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	in := func(col string, vals []string) {
		ph := make([]string, len(vals))
		for i, v := range vals {
			ph[i] = arg(v)
		}
		where = append(where, col+" IN ("+strings.Join(ph, ", ")+")")
	}
	where = append(where, "id > "+arg(f.AfterID))
	if len(f.Migrations) > 0 {
		in("migration", f.Migrations)
	}
	if len(f.Kinds) > 0 {
		in("kind", f.Kinds)
	}
	q := `SELECT ` + changeCols + ` FROM changes WHERE ` + strings.Join(where, " AND ")
	if f.Newest {
		q += " ORDER BY id DESC"
	} else {
		q += " ORDER BY id"
	}
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []api.Change{}
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if f.Newest {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, rows.Err()
}

// Change implements server.Store.
func (s *Store) Change(ctx context.Context, id int64) (api.Change, error) {
	c, err := scanChange(s.r.QueryRowContext(ctx, `SELECT `+changeCols+` FROM changes WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, server.Errorf(api.CodeNotFound, "change %d does not exist", id)
	}
	return c, err
}

// ---- reports ----

const bucketCols = `minute, mode, c_match, c_mismatch, c_error, c_timeout, c_fallback, c_shed, c_divergence, old_errors, new_errors, old_latency, new_latency`

func scanBucket(row interface{ Scan(...any) error }) (server.StatsBucket, error) {
	var b server.StatsBucket
	var minute, mode int64
	var oldL, newL []byte
	c := &b.Counts
	if err := row.Scan(&minute, &mode, &c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6], &b.OldErrors, &b.NewErrors, &oldL, &newL); err != nil {
		return b, err
	}
	b.Minute, b.Mode = fromTS(minute), cutover.Mode(mode)
	var err error
	if b.OldLatency, err = api.DecodeSketch(oldL); err != nil {
		return b, fmt.Errorf("stored old latency: %w", err)
	}
	if b.NewLatency, err = api.DecodeSketch(newL); err != nil {
		return b, fmt.Errorf("stored new latency: %w", err)
	}
	return b, nil
}

func encodeSketch(s *api.Sketch) []byte {
	if s == nil || s.Count() == 0 {
		return []byte{}
	}
	b, _ := s.MarshalBinary()
	return b
}

// Ingest implements server.Store.
func (s *Store) Ingest(ctx context.Context, batchID, instance string, received time.Time, buckets []server.BucketDelta, groups []server.GroupDelta, maxSamples int) (bool, error) {
	if s.ingestQ != nil {
		req := &ingestReq{batchID: batchID, instance: instance, received: received, buckets: buckets, groups: groups, maxSamples: maxSamples, done: make(chan struct{})}
		select {
		case s.ingestQ <- req:
		case <-s.closing:
			return false, errClosed
		case <-ctx.Done():
			return false, ctx.Err()
		}
		// Once taken, the batch is committed or refused whatever the caller's
		// context says; a caller that gives up retries, as a duplicate.
		<-req.done
		return req.dup, req.err
	}
	dup := false
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		var err error
		dup, err = s.ingestTx(ctx, tx, batchID, instance, received, buckets, groups, maxSamples)
		return err
	})
	return dup, err
}

// ingestTx records one batch in tx.
func (s *Store) ingestTx(ctx context.Context, tx *sql.Tx, batchID, instance string, received time.Time, buckets []server.BucketDelta, groups []server.GroupDelta, maxSamples int) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO batches (batch_id, instance, received_at) VALUES ($1, $2, $3) ON CONFLICT (batch_id) DO NOTHING`, batchID, instance, ts(received))
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, err
	} else if n == 0 {
		return true, nil
	}
	for i := range buckets {
		if err := s.mergeBucket(ctx, tx, &buckets[i]); err != nil {
			return false, err
		}
	}
	for i := range groups {
		if err := s.mergeGroup(ctx, tx, &groups[i], maxSamples); err != nil {
			return false, err
		}
	}
	return false, nil
}

// mergeBucket adds d to its stored bucket: one upsert adds the counts
// (and locks the row until the transaction ends) and returns the stored
// sketches; a second statement writes the merged sketches back, when d has
// any.
func (s *Store) mergeBucket(ctx context.Context, tx *sql.Tx, d *server.BucketDelta) error {
	minute, mode := ts(d.Minute), int64(d.Mode)
	c := &d.Counts
	var oldL, newL []byte
	err := tx.QueryRowContext(ctx, `INSERT INTO buckets (migration, `+bucketCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
		ON CONFLICT (migration, minute, mode) DO UPDATE SET
			c_match = buckets.c_match + excluded.c_match, c_mismatch = buckets.c_mismatch + excluded.c_mismatch,
			c_error = buckets.c_error + excluded.c_error, c_timeout = buckets.c_timeout + excluded.c_timeout,
			c_fallback = buckets.c_fallback + excluded.c_fallback, c_shed = buckets.c_shed + excluded.c_shed,
			c_divergence = buckets.c_divergence + excluded.c_divergence,
			old_errors = buckets.old_errors + excluded.old_errors, new_errors = buckets.new_errors + excluded.new_errors
		RETURNING old_latency, new_latency`,
		d.Migration, minute, mode, c[0], c[1], c[2], c[3], c[4], c[5], c[6], d.OldErrors, d.NewErrors, []byte{}).Scan(&oldL, &newL)
	if err != nil {
		return err
	}
	if d.OldLatency.Count() == 0 && d.NewLatency.Count() == 0 {
		return nil
	}
	cur := server.StatsBucket{}
	if cur.OldLatency, err = api.DecodeSketch(oldL); err != nil {
		return fmt.Errorf("stored old latency: %w", err)
	}
	if cur.NewLatency, err = api.DecodeSketch(newL); err != nil {
		return fmt.Errorf("stored new latency: %w", err)
	}
	cur.OldLatency.Merge(d.OldLatency)
	cur.NewLatency.Merge(d.NewLatency)
	_, err = tx.ExecContext(ctx, `UPDATE buckets SET old_latency = $1, new_latency = $2 WHERE migration = $3 AND minute = $4 AND mode = $5`,
		encodeSketch(cur.OldLatency), encodeSketch(cur.NewLatency), d.Migration, minute, mode)
	return err
}

// mergeGroup adds d to its stored group, the same way: an upsert of the
// count and sightings that returns the stored samples, then the merged
// samples when d brings some.
func (s *Store) mergeGroup(ctx context.Context, tx *sql.Tx, d *server.GroupDelta, maxSamples int) error {
	var samplesJSON string
	err := tx.QueryRowContext(ctx, `INSERT INTO mismatch_groups (migration, signature, outcome, count, first_seen, last_seen, samples)
		VALUES ($1, $2, $3, $4, $5, $6, '[]')
		ON CONFLICT (migration, signature, outcome) DO UPDATE SET
			count = mismatch_groups.count + excluded.count,
			first_seen = CASE WHEN excluded.first_seen < mismatch_groups.first_seen THEN excluded.first_seen ELSE mismatch_groups.first_seen END,
			last_seen = CASE WHEN excluded.last_seen > mismatch_groups.last_seen THEN excluded.last_seen ELSE mismatch_groups.last_seen END
		RETURNING samples`,
		d.Migration, d.Signature, int64(d.Outcome), d.Count, ts(d.FirstSeen), ts(d.LastSeen)).Scan(&samplesJSON)
	if err != nil {
		return err
	}
	if len(d.Samples) == 0 {
		return nil
	}
	var samples []api.Sample
	if err := json.Unmarshal([]byte(samplesJSON), &samples); err != nil {
		return fmt.Errorf("stored samples: %w", err)
	}
	samples = append(samples, d.Samples...)
	sort.SliceStable(samples, func(i, j int) bool { return samples[i].Time.Before(samples[j].Time) })
	if maxSamples > 0 && len(samples) > maxSamples {
		samples = samples[len(samples)-maxSamples:]
	}
	_, err = tx.ExecContext(ctx, `UPDATE mismatch_groups SET samples = $1 WHERE migration = $2 AND signature = $3 AND outcome = $4`,
		js(samples), d.Migration, d.Signature, int64(d.Outcome))
	return err
}

// Buckets implements server.Store.
func (s *Store) Buckets(ctx context.Context, migration string, from, to time.Time) ([]server.StatsBucket, error) {
	return queryAll(ctx, s.r, scanBucket, `SELECT `+bucketCols+` FROM buckets WHERE migration = $1 AND minute >= $2 AND minute < $3 ORDER BY minute, mode`,
		migration, from.UnixNano(), to.UnixNano())
}

// Groups implements server.Store.
func (s *Store) Groups(ctx context.Context, migration string, since time.Time) ([]api.MismatchGroup, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT signature, outcome, count, first_seen, last_seen, samples FROM mismatch_groups
		WHERE migration = $1 AND last_seen >= $2 ORDER BY count DESC, signature, outcome`, migration, ts(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []api.MismatchGroup{}
	for rows.Next() {
		var g api.MismatchGroup
		var outcome, first, last int64
		var samples string
		if err := rows.Scan(&g.Signature, &outcome, &g.Count, &first, &last, &samples); err != nil {
			return nil, err
		}
		g.Outcome, g.FirstSeen, g.LastSeen = cutover.Outcome(outcome), fromTS(first), fromTS(last)
		if err := json.Unmarshal([]byte(samples), &g.Samples); err != nil {
			return nil, fmt.Errorf("stored samples: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// ---- verifications ----

// AddVerification implements server.Store.
func (s *Store) AddVerification(ctx context.Context, migration string, r api.VerifyReport, c api.Change) (api.Change, error) {
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO verifications (migration, finished_at, report) VALUES ($1, $2, $3)`, migration, ts(r.FinishedAt), js(r)); err != nil {
			return err
		}
		var err error
		c, err = s.appendChange(ctx, tx, c)
		return err
	})
	return c, err
}

// LatestVerification implements server.Store.
func (s *Store) LatestVerification(ctx context.Context, migration string) (api.VerifyReport, bool, error) {
	var r api.VerifyReport
	var body string
	err := s.r.QueryRowContext(ctx, `SELECT report FROM verifications WHERE migration = $1 ORDER BY finished_at DESC, id DESC LIMIT 1`, migration).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	return r, true, json.Unmarshal([]byte(body), &r)
}

// ---- tokens ----

// CreateToken implements server.Store.
func (s *Store) CreateToken(ctx context.Context, t server.TokenRecord) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO tokens (hash, name, scope, created_at) VALUES ($1, $2, $3, $4)`, t.Hash, t.Name, string(t.Scope), ts(t.CreatedAt))
	return err
}

// CreateFirstToken implements server.Store.
func (s *Store) CreateFirstToken(ctx context.Context, t server.TokenRecord) (bool, error) {
	made := false
	err := s.inLockedTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens WHERE scope = $1`, string(t.Scope)).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (hash, name, scope, created_at) VALUES ($1, $2, $3, $4)`, t.Hash, t.Name, string(t.Scope), ts(t.CreatedAt))
		made = err == nil
		return err
	})
	return made, err
}

// TokenByHash implements server.Store.
func (s *Store) TokenByHash(ctx context.Context, hash string) (server.TokenRecord, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT hash, name, scope, created_at FROM tokens WHERE hash = $1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, server.Errorf(api.CodeNotFound, "no such token")
	}
	return t, err
}

// Tokens implements server.Store.
func (s *Store) Tokens(ctx context.Context) ([]server.TokenRecord, error) {
	return queryAll(ctx, s.r, scanToken, `SELECT hash, name, scope, created_at FROM tokens ORDER BY created_at, hash`)
}

func scanToken(row interface{ Scan(...any) error }) (server.TokenRecord, error) {
	var t server.TokenRecord
	var scope string
	var created int64
	err := row.Scan(&t.Hash, &t.Name, &scope, &created)
	t.Scope, t.CreatedAt = api.Scope(scope), fromTS(created)
	return t, err
}

// DeleteToken implements server.Store.
func (s *Store) DeleteToken(ctx context.Context, hash string, keepOneAdmin bool) (server.TokenRecord, error) {
	var t server.TokenRecord
	err := s.inLockedTx(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRowContext(ctx, `SELECT hash, name, scope, created_at FROM tokens WHERE hash = $1`, hash))
		if errors.Is(err, sql.ErrNoRows) {
			return server.Errorf(api.CodeNotFound, "no such token")
		}
		if err != nil {
			return err
		}
		if keepOneAdmin && t.Scope == api.ScopeAdmin {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens WHERE scope = $1`, string(api.ScopeAdmin)).Scan(&n); err != nil {
				return err
			}
			if n <= 1 {
				return server.Errorf(api.CodeConflict, "%q is the last admin token: create another admin token first, so that someone can still administer the server", t.Name)
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM tokens WHERE hash = $1`, hash)
		return err
	})
	return t, err
}

// CountTokens implements server.Store.
func (s *Store) CountTokens(ctx context.Context, scope api.Scope) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens WHERE scope = $1`, string(scope)).Scan(&n)
	return n, err
}

// Ping implements server.Store.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// Close implements server.Store. Calls of Ingest still waiting are
// refused; those being committed finish first.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	<-s.ingestDone
	err := s.w.Close()
	if s.r != s.w {
		if e := s.r.Close(); err == nil {
			err = e
		}
	}
	return err
}

package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
)

// Limits on what a request may carry.
const (
	// MaxReasonLength bounds a change's reason.
	MaxReasonLength = 1000
	// MaxBatchAggregates bounds the aggregates of one report batch.
	MaxBatchAggregates = 10000
	// MaxWindow bounds a stats window.
	MaxWindow = 31 * 24 * time.Hour
	// MaxSeriesPoints bounds the points of a stats series.
	MaxSeriesPoints = 2000
)

// DefaultMaxSamples is the number of samples kept per mismatch group.
const DefaultMaxSamples = 5

// AdminEnvActor is the actor name of changes made with the administrator
// token taken from the environment (CUTOVER_ADMIN_TOKEN).
const AdminEnvActor = "admin (environment)"

// GuardActor is the actor of the guard's automatic changes.
const GuardActor = "guard"

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ValidName reports whether name may name a migration: 1 to 100 letters,
// digits, '.', '_' or '-', starting with a letter or digit.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Config configures a [Service]. Only Store is required; every other zero
// field has the default its comment states.
type Config struct {
	Store Store
	// Now tells the time. Zero: time.Now.
	Now func() time.Time
	// Logger receives the service's own trouble. Zero: slog.Default().
	Logger *slog.Logger
	// Metrics counts ingest and guard actions. Zero: unregistered metrics.
	Metrics *Metrics
	// Gates and Guard are the defaults for the zero fields of a new
	// migration's gates and guard. Zero: DefaultGates(), DefaultGuard().
	Gates *api.Gates
	Guard *api.Guard
	// MaxSamples is the number of samples kept per mismatch group.
	// Zero: DefaultMaxSamples.
	MaxSamples int
	// AdminToken, if set, is accepted as an administrator token besides the
	// stored ones (the CUTOVER_ADMIN_TOKEN environment variable).
	AdminToken string
	// Webhook configures the delivery of guard notifications.
	Webhook WebhookConfig
}

// Service is the control plane's logic over a [Store]: migrations, rollout
// changes with transition rules and promotion gates, the audit history,
// report ingest, statistics, tokens, the watch broadcast and the guard.
//
// Create one with [New], call [Service.Start] to run its background work
// (webhook delivery, database notifications), and [Service.Close] at the
// end. A Service is safe for concurrent use.
type Service struct {
	store      Store
	now        func() time.Time
	log        *slog.Logger
	metrics    *Metrics
	gates      api.Gates
	guard      api.Guard
	maxSamples int
	adminHash  []byte // SHA-256 of Config.AdminToken, nil if unset
	bcast      *broadcaster
	notify     *notifier

	guardMu sync.Mutex // serialises guard rounds

	startOnce sync.Once
	cancel    context.CancelFunc // stops background work; set by Start
	wg        sync.WaitGroup     // background goroutines
	closeOnce sync.Once
}

// New returns a service over cfg.Store.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("server.New: Config.Store is required")
	}
	s := &Service{
		store:      cfg.Store,
		now:        cfg.Now,
		log:        cfg.Logger,
		metrics:    cfg.Metrics,
		gates:      DefaultGates(),
		guard:      DefaultGuard(),
		maxSamples: cfg.MaxSamples,
		bcast:      newBroadcaster(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	if cfg.Gates != nil {
		s.gates = fillGates(*cfg.Gates, s.gates)
	}
	if cfg.Guard != nil {
		s.guard = fillGuard(*cfg.Guard, s.guard)
	}
	if s.maxSamples <= 0 {
		s.maxSamples = DefaultMaxSamples
	}
	if cfg.AdminToken != "" {
		h := sha256.Sum256([]byte(cfg.AdminToken))
		s.adminHash = h[:]
	}
	s.notify = newNotifier(cfg.Webhook, s.log, s.metrics)
	return s, nil
}

// Store returns the service's store.
func (s *Service) Store() Store { return s.store }

// Metrics returns the service's metrics.
func (s *Service) Metrics() *Metrics { return s.metrics }

// Start runs the background work: webhook delivery and, with a store that
// implements [ChangeNotifier], the relay of other servers' changes to this
// server's watchers. It returns at once; Close stops the work.
func (s *Service) Start() {
	s.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		s.cancel = cancel
		s.notify.start()
		if n, ok := s.store.(ChangeNotifier); ok {
			// The highest change id is read now, before Start returns: a
			// change another server commits from here on is after it, and
			// so is relayed even if the relay's goroutine starts late.
			high, err := s.newestChangeID(ctx)
			if err != nil {
				s.log.Warn("reading the newest change id; the relay will read it again", "err", err)
				high = -1
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.relayNotifications(ctx, n, high)
			}()
		}
	})
}

func (s *Service) newestChangeID(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	last, err := s.store.Changes(ctx, ChangeFilter{Limit: 1, Newest: true})
	if err != nil || len(last) == 0 {
		return 0, err
	}
	return last[0].ID, nil
}

// relayNotifications relays changes with an id above high (-1: unknown,
// read it now) to this server's watchers.
func (s *Service) relayNotifications(ctx context.Context, n ChangeNotifier, high int64) {
	// Changes committed from now on by any server must reach this one's
	// watchers. Notifications sent before LISTEN is in place (at start, or
	// while reconnecting) are lost, so every time it is, catch up from the
	// history after the highest id seen.
	if high < 0 {
		high, _ = s.newestChangeID(ctx)
	}
	relay := func(c api.Change) {
		high = max(high, c.ID)
		s.publish(c)
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := n.ListenChanges(ctx, func() {
			backoff = 100 * time.Millisecond
			missed, err := s.store.Changes(ctx, ChangeFilter{AfterID: high})
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("catching up on changes after listening", "after", high, "err", err)
				}
				return
			}
			for _, c := range missed {
				relay(c)
			}
		}, func(id int64) {
			c, err := s.store.Change(ctx, id)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("reading a notified change", "id", id, "err", err)
				}
				return
			}
			relay(c)
		})
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("listening for change notifications; retrying", "err", err, "in", backoff)
		t := time.NewTimer(backoff + jitter(backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// Close ends every watch subscription, stops the notification relay,
// delivers the guard notifications still queued (for at most
// WebhookConfig.DrainTimeout), and waits for all of it. It does not close the
// store, which the caller opened. Close is idempotent.
func (s *Service) Close() {
	s.closeOnce.Do(func() {
		s.bcast.close()
		s.startOnce.Do(func() {}) // no Start after Close
		if s.cancel != nil {
			s.cancel()
		}
		s.wg.Wait()
		s.notify.stop()
		if l, ok := s.store.(GuardLocker); ok {
			l.ReleaseGuard()
		}
	})
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return mathrand.N(d)
}

// ---- migrations ----

// CreateMigration creates a migration at mode old, version 1.
func (s *Service) CreateMigration(ctx context.Context, actor string, req api.CreateMigration) (api.Migration, error) {
	if !ValidName(req.Name) {
		return api.Migration{}, Invalid("name", "%q is not a valid migration name: use 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit", req.Name)
	}
	if len(req.Description) > 2000 {
		return api.Migration{}, Invalid("description", "is %d bytes long, at most 2000 allowed", len(req.Description))
	}
	gates := s.gates
	if req.Gates != nil {
		if err := validateGates(*req.Gates); err != nil {
			return api.Migration{}, err
		}
		gates = fillGates(*req.Gates, s.gates)
	}
	guard := s.guard
	if req.Guard != nil {
		if err := validateGuard(*req.Guard); err != nil {
			return api.Migration{}, err
		}
		guard = fillGuard(*req.Guard, s.guard)
	}
	now := s.now().UTC()
	m := Migration{
		Migration: api.Migration{
			Name: req.Name, Description: req.Description,
			Rollout: cutover.Rollout{Mode: cutover.ModeOld, Treatment: cutover.ModeOld},
			Version: 1, Gates: gates, Guard: guard,
			FullSince: now, CreatedAt: now, UpdatedAt: now,
		},
		EvidenceSince: now,
	}
	c := api.Change{
		Migration: m.Name, Version: 1, Actor: actor, To: m.Rollout,
		Reason: "created", Kind: "created", Time: now,
	}
	c, err := s.store.CreateMigration(ctx, m, c)
	if err != nil {
		return api.Migration{}, err
	}
	s.publish(c)
	return m.Migration, nil
}

func validateGates(g api.Gates) error {
	switch {
	case g.MinComparisons < 0:
		return Invalid("gates.min_comparisons", "must not be negative")
	case g.MinTimeAtFull < 0:
		return Invalid("gates.min_time_at_full", "must not be negative")
	case g.MaxMismatchRate < 0 || g.MaxMismatchRate > 1:
		return Invalid("gates.max_mismatch_rate", "must be a proportion between 0 and 1 (0.001 is 0.1%%)")
	case g.MaxNewErrorRate < 0 || g.MaxNewErrorRate > 1:
		return Invalid("gates.max_new_error_rate", "must be a proportion between 0 and 1 (0.01 is 1%%)")
	case g.VerifyWithin < 0:
		return Invalid("gates.verify_within", "must not be negative")
	}
	return nil
}

func validateGuard(g api.Guard) error {
	switch {
	case g.Window < 0:
		return Invalid("guard.window", "must not be negative")
	case g.Window > 0 && time.Duration(g.Window) < time.Minute:
		return Invalid("guard.window", "must be at least 1m: reports are kept per minute")
	case g.MinSamples < 0:
		return Invalid("guard.min_samples", "must not be negative")
	case g.MaxMismatchRate < 0 || g.MaxMismatchRate > 1:
		return Invalid("guard.max_mismatch_rate", "must be a proportion between 0 and 1 (0.01 is 1%%)")
	case g.MaxNewErrorRate < 0 || g.MaxNewErrorRate > 1:
		return Invalid("guard.max_new_error_rate", "must be a proportion between 0 and 1 (0.05 is 5%%)")
	}
	if g.Webhook != "" {
		u, err := url.Parse(g.Webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Invalid("guard.webhook", "%q is not an http or https URL", g.Webhook)
		}
	}
	return nil
}

// Migration returns one migration.
func (s *Service) Migration(ctx context.Context, name string) (api.Migration, error) {
	m, err := s.store.Migration(ctx, name)
	if err != nil {
		return api.Migration{}, err
	}
	return m.Migration, nil
}

// Migrations returns every migration, by name.
func (s *Service) Migrations(ctx context.Context) ([]api.Migration, error) {
	ms, err := s.store.Migrations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.Migration, len(ms))
	for i := range ms {
		out[i] = ms[i].Migration
	}
	return out, nil
}

// ---- rollouts ----

// SetRollout changes a migration's rollout: the change must name the
// current version, keep to adjacent modes unless forced, give a reason, and
// pass the promotion gates when it moves forward (unless forced). It
// returns the updated migration and the audited change.
func (s *Service) SetRollout(ctx context.Context, actor, name string, req api.RolloutChange) (api.Migration, api.Change, error) {
	to := req.Rollout()
	if err := validateRollout(to); err != nil {
		return api.Migration{}, api.Change{}, err
	}
	reason := strings.TrimSpace(req.Reason)
	if reason == "" {
		return api.Migration{}, api.Change{}, Invalid("reason", "is required: say why the rollout changes, it goes into the audit history")
	}
	if len(reason) > MaxReasonLength {
		return api.Migration{}, api.Change{}, Invalid("reason", "is %d bytes long, at most %d allowed", len(reason), MaxReasonLength)
	}
	if req.Version <= 0 {
		return api.Migration{}, api.Change{}, Invalid("version", "is required: send the version of the migration you read (GET /api/v1/migrations/%s)", name)
	}
	m, err := s.store.Migration(ctx, name)
	if err != nil {
		return api.Migration{}, api.Change{}, err
	}
	if req.Version != m.Version {
		return api.Migration{}, api.Change{}, &Error{Code: api.CodeConflict, CurrentVersion: m.Version,
			Message: fmt.Sprintf("version %d is stale: the migration is at version %d; read it again and retry", req.Version, m.Version)}
	}
	from := m.Rollout
	if err := checkTransition(from, to, req.Force); err != nil {
		return api.Migration{}, api.Change{}, err
	}
	now := s.now().UTC()
	if topMode(to) > topMode(from) && !req.Force {
		st, err := s.evaluateGates(ctx, m, now)
		if err != nil {
			return api.Migration{}, api.Change{}, err
		}
		if !st.Pass {
			var failing []string
			for _, c := range st.Criteria {
				if !c.Pass {
					failing = append(failing, c.Criterion+": "+c.Message)
				}
			}
			return api.Migration{}, api.Change{}, &Error{Code: api.CodeGateRefused, Gate: st,
				Message: fmt.Sprintf("promotion from %s to %s refused by the gates: %s (or force it with a reason)", topMode(from), topMode(to), strings.Join(failing, "; "))}
		}
	}
	c := api.Change{
		Migration: name, Actor: actor, From: from, To: to, Reason: reason,
		Forced: req.Force, Kind: "rollout", Time: now,
	}
	m, c, err = s.apply(ctx, m, c)
	return m.Migration, c, err
}

// apply stores the change of m's rollout to c.To and publishes it.
func (s *Service) apply(ctx context.Context, m Migration, c api.Change) (Migration, api.Change, error) {
	prev := m.Version
	from, to, now := m.Rollout, c.To, c.Time
	if topMode(to) != topMode(from) {
		m.EvidenceSince = now
	}
	switch {
	case !atFull(to):
		m.FullSince = time.Time{}
	case !atFull(from) || topMode(from) != topMode(to) || m.FullSince.IsZero():
		m.FullSince = now
	}
	m.Rollout = to.Clone()
	m.Version = prev + 1
	m.UpdatedAt = now
	c.Version = m.Version
	c, err := s.store.UpdateMigration(ctx, m, prev, c)
	if err != nil {
		return Migration{}, api.Change{}, err
	}
	s.publish(c)
	return m, c, nil
}

func validateRollout(r cutover.Rollout) error {
	if err := r.Validate(); err != nil {
		field := "rollout"
		msg := err.Error()
		if rest, ok := strings.CutPrefix(msg, "rollout: "); ok {
			if i := strings.IndexAny(rest, ":["); i > 0 {
				field = rest[:i]
			}
			msg = rest
		}
		return Invalid(field, "%s", msg)
	}
	return nil
}

// checkTransition applies the library's rule to the control mode, to the
// furthest mode in use, and between control and treatment.
func checkTransition(from, to cutover.Rollout, force bool) error {
	type step struct {
		field    string
		from, to cutover.Mode
	}
	steps := []step{
		{"mode", from.Mode, to.Mode},
		{"mode", topMode(from), topMode(to)},
	}
	if to.Percent > 0 {
		steps = append(steps, step{"treatment", to.Mode, to.Treatment})
	}
	for _, st := range steps {
		if err := cutover.CheckTransition(st.from, st.to, force); err != nil {
			if errors.Is(err, cutover.ErrTransitionJump) {
				return &Error{Code: api.CodeTransition, Field: st.field,
					Message: fmt.Sprintf("%s → %s skips a mode: move one step at a time (old ↔ shadow ↔ reverse-shadow ↔ new), or set force with a reason", st.from, st.to)}
			}
			return Invalid(st.field, "%v", err)
		}
	}
	return nil
}

// History returns a migration's audit history, newest last. limit bounds
// it to the newest entries (zero: all); afterID returns only later ones.
func (s *Service) History(ctx context.Context, name string, afterID int64, limit int) ([]api.Change, error) {
	if _, err := s.store.Migration(ctx, name); err != nil {
		return nil, err
	}
	return s.store.Changes(ctx, ChangeFilter{Migrations: []string{name}, AfterID: afterID, Limit: limit, Newest: afterID == 0 && limit > 0})
}

// ---- watch ----

// Subscribe returns a subscription to every rollout change ("created" and
// "rollout" history entries) published from now on.
func (s *Service) Subscribe() *Subscription { return s.bcast.subscribe() }

func (s *Service) publish(c api.Change) {
	if c.Kind == "verify" {
		return
	}
	s.bcast.publish(c)
}

// ChangesAfter returns the rollout changes with an id above afterID for
// the given migrations (all when none), oldest first: the replay of a
// resumed watch stream.
func (s *Service) ChangesAfter(ctx context.Context, afterID int64, migrations []string) ([]api.Change, error) {
	return s.store.Changes(ctx, ChangeFilter{Migrations: migrations, AfterID: afterID, Kinds: []string{"created", "rollout"}})
}

// Snapshot returns the current rollout of the given migrations (all when
// none) as watch events, ordered by change id. Unknown names are an error.
func (s *Service) Snapshot(ctx context.Context, migrations []string) ([]api.RolloutEvent, error) {
	var ms []Migration
	if len(migrations) == 0 {
		all, err := s.store.Migrations(ctx)
		if err != nil {
			return nil, err
		}
		ms = all
	} else {
		for _, n := range migrations {
			m, err := s.store.Migration(ctx, n)
			if err != nil {
				return nil, err
			}
			ms = append(ms, m)
		}
	}
	out := make([]api.RolloutEvent, 0, len(ms))
	for _, m := range ms {
		last, err := s.store.Changes(ctx, ChangeFilter{Migrations: []string{m.Name}, Kinds: []string{"created", "rollout"}, Limit: 1, Newest: true})
		if err != nil {
			return nil, err
		}
		ev := api.RolloutEvent{Migration: m.Name, Rollout: m.Rollout, Version: m.Version}
		if len(last) > 0 {
			ev.ChangeID = last[0].ID
		}
		out = append(out, ev)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ChangeID < out[j].ChangeID })
	return out, nil
}

// Event turns a change into its watch event.
func Event(c api.Change) api.RolloutEvent {
	return api.RolloutEvent{Migration: c.Migration, Rollout: c.To, Version: c.Version, ChangeID: c.ID}
}

// ---- tokens ----

// Principal is who a request acts as.
type Principal struct {
	Name  string
	Scope api.Scope
}

// HashSecret is the hex SHA-256 of a token's secret: the hash the store
// keeps ([TokenRecord.Hash]) and looks tokens up by.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Authenticate returns the principal of a bearer token's secret, or an
// *Error with api.CodeUnauthorized.
func (s *Service) Authenticate(ctx context.Context, secret string) (Principal, error) {
	if secret == "" {
		return Principal{}, Errorf(api.CodeUnauthorized, "no token: send Authorization: Bearer TOKEN")
	}
	h := sha256.Sum256([]byte(secret))
	if s.adminHash != nil && subtle.ConstantTimeCompare(h[:], s.adminHash) == 1 {
		return Principal{Name: AdminEnvActor, Scope: api.ScopeAdmin}, nil
	}
	hexHash := hex.EncodeToString(h[:])
	t, err := s.store.TokenByHash(ctx, hexHash)
	if err != nil {
		if ErrorCode(err) == api.CodeNotFound {
			return Principal{}, Errorf(api.CodeUnauthorized, "unknown token: ask an administrator for one (cutover token create --scope sdk|operator|admin)")
		}
		return Principal{}, err
	}
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hexHash)) != 1 {
		return Principal{}, Errorf(api.CodeUnauthorized, "unknown token")
	}
	return Principal{Name: t.Name, Scope: t.Scope}, nil
}

// newSecret returns a fresh token secret: "cutover_" and 32 random bytes
// in base64url.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "cutover_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// CreateToken makes a token; its secret is in the answer only.
func (s *Service) CreateToken(ctx context.Context, req api.CreateToken) (api.Token, error) {
	name := strings.TrimSpace(req.Name)
	if name == "" || len(name) > 100 {
		return api.Token{}, Invalid("name", "is required, 1 to 100 characters: say who or what will use the token")
	}
	if !req.Scope.Valid() {
		return api.Token{}, Invalid("scope", "%q is not a scope: use sdk, operator or admin", req.Scope)
	}
	secret, err := newSecret()
	if err != nil {
		return api.Token{}, err
	}
	rec := TokenRecord{Hash: HashSecret(secret), Name: name, Scope: req.Scope, CreatedAt: s.now().UTC()}
	if err := s.store.CreateToken(ctx, rec); err != nil {
		return api.Token{}, err
	}
	t := tokenInfo(rec)
	t.Secret = secret
	return t, nil
}

// tokenIDLength is how many hex digits of a token's hash make its ID.
const tokenIDLength = 12

// tokenInfo describes a stored token, without its secret.
func tokenInfo(t TokenRecord) api.Token {
	return api.Token{ID: t.Hash[:min(tokenIDLength, len(t.Hash))], Name: t.Name, Scope: t.Scope, CreatedAt: t.CreatedAt}
}

// Tokens lists the stored tokens, oldest first (never their secrets).
func (s *Service) Tokens(ctx context.Context) ([]api.Token, error) {
	recs, err := s.store.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.Token, 0, len(recs))
	for _, r := range recs {
		out = append(out, tokenInfo(r))
	}
	return out, nil
}

// RevokeToken deletes the token whose ID (or hash) starts with id, at
// least 8 hex digits of it; requests with it are refused from then on,
// and dashboard sessions signed in with it end. The last admin token is
// kept unless the server has one from its configuration, so that someone
// can still administer it.
func (s *Service) RevokeToken(ctx context.Context, actor, id string) (api.Token, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if len(id) < 8 || strings.Trim(id, "0123456789abcdef") != "" {
		return api.Token{}, Invalid("id", "%q is not a token ID: give at least 8 of the hex digits `cutover token list` shows", id)
	}
	recs, err := s.store.Tokens(ctx)
	if err != nil {
		return api.Token{}, err
	}
	var match []TokenRecord
	for _, r := range recs {
		if strings.HasPrefix(r.Hash, id) {
			match = append(match, r)
		}
	}
	switch len(match) {
	case 0:
		return api.Token{}, Errorf(api.CodeNotFound, "no token has the ID %s: see cutover token list", id)
	case 1:
	default:
		return api.Token{}, Invalid("id", "%s is the start of %d tokens' IDs: give more of it", id, len(match))
	}
	t, err := s.store.DeleteToken(ctx, match[0].Hash, s.adminHash == nil)
	if err != nil {
		return api.Token{}, err
	}
	s.log.Info("cutover: token revoked", "id", tokenInfo(t).ID, "name", t.Name, "scope", t.Scope, "by", actor)
	return tokenInfo(t), nil
}

// EnsureAdminToken makes the first administrator token when there is no
// administrator token anywhere (none stored, none in Config.AdminToken),
// and returns its secret to show once; otherwise it returns "".
func (s *Service) EnsureAdminToken(ctx context.Context) (string, error) {
	if s.adminHash != nil {
		return "", nil
	}
	n, err := s.store.CountTokens(ctx, api.ScopeAdmin)
	if err != nil || n > 0 {
		return "", err
	}
	secret, err := newSecret()
	if err != nil {
		return "", err
	}
	// Replicas starting together on one database make one token between
	// them.
	made, err := s.store.CreateFirstToken(ctx, TokenRecord{Hash: HashSecret(secret), Name: "initial admin", Scope: api.ScopeAdmin, CreatedAt: s.now().UTC()})
	if err != nil || !made {
		return "", err
	}
	return secret, nil
}

// ---- verification ----

// AddVerification records a verify report as promotion evidence.
func (s *Service) AddVerification(ctx context.Context, actor, name string, r api.VerifyReport) (api.Change, error) {
	if r.FinishedAt.IsZero() {
		return api.Change{}, Invalid("finished_at", "is required")
	}
	if r.StartedAt.After(r.FinishedAt) {
		return api.Change{}, Invalid("started_at", "is after finished_at")
	}
	m, err := s.store.Migration(ctx, name)
	if err != nil {
		return api.Change{}, err
	}
	verdict := "identical"
	if !r.Identical {
		verdict = fmt.Sprintf("%d missing, %d extra, %d differing", r.Missing, r.Extra, r.Differing)
	}
	c := api.Change{
		Migration: name, Version: m.Version, Actor: actor, From: m.Rollout, To: m.Rollout,
		Reason: "verify: " + verdict, Kind: "verify", Time: s.now().UTC(),
		Figures: map[string]float64{"old_rows": float64(r.OldRows), "new_rows": float64(r.NewRows),
			"missing_in_new": float64(r.Missing), "extra_in_new": float64(r.Extra), "differing": float64(r.Differing)},
	}
	return s.store.AddVerification(ctx, name, r, c)
}

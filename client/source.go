package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/api"
)

// Defaults for the zero fields of [SourceOptions].
const (
	DefaultStartTimeout = 2 * time.Second
	DefaultMinBackoff   = 250 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
	DefaultIdleTimeout  = time.Minute
)

// SourceOptions configures a [Source]. Every zero field has the default its
// comment states.
type SourceOptions struct {
	// CacheFile, if set, is where the source keeps the last known rollout of
	// every migration it has heard of, rewritten atomically (a temporary
	// file renamed over it) whenever one changes. A process that starts
	// while the server is away reads it, and runs each migration as it was
	// last set. Zero: no cache; a cold start without the server knows
	// nothing.
	CacheFile string

	// Fallback is the mode a subscription gets when nothing is known of its
	// migration: not in the cache, and the server did not answer within
	// StartTimeout (or does not know the migration). The real rollout
	// replaces it as soon as it arrives. Zero: ModeOld, the safe baseline.
	Fallback cutover.Mode

	// StartTimeout bounds how long Subscribe waits for the server's first
	// answer when the cache does not know the migration, so that a service
	// starting normally takes its first calls in the right mode. A refused
	// connection ends the wait at once. Zero: DefaultStartTimeout; negative:
	// no wait.
	StartTimeout time.Duration

	// MinBackoff and MaxBackoff bound the jittered exponential wait between
	// reconnection attempts: the n-th consecutive failure waits between
	// half and all of MinBackoff·2ⁿ, at most MaxBackoff.
	// Zero: DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration

	// IdleTimeout drops and reopens a watch stream that has been silent
	// (not even a heartbeat comment; the server sends one every 15 s by
	// default) this long: a guard against connections that die without
	// closing. Zero: DefaultIdleTimeout; negative: no limit.
	IdleTimeout time.Duration

	// OnStatus, if set, is called on the source's goroutine whenever the
	// connection state changes, with the new status. It must not block.
	OnStatus func(SourceStatus)
}

// SourceStatus is the state of a [Source]'s connection to the server.
type SourceStatus struct {
	// Connected is true while the watch stream is open.
	Connected bool
	// Connects counts the watch streams opened so far.
	Connects int
	// LastEvent is when the source last heard a rollout from the server
	// (an event or the list fetched on connecting); zero if never.
	LastEvent time.Time
	// LastError is the latest trouble (a failed connection, a dropped
	// stream, an unwritable cache), and LastErrorTime when it happened.
	LastError     error
	LastErrorTime time.Time
}

// Source is a [cutover.Source] that follows the control plane's watch
// stream. Make one with [Client.Source] and give it to every migration of
// the process in [cutover.Config].Source; one stream serves them all.
//
// The source keeps the last known rollout of each migration in memory and,
// with [SourceOptions].CacheFile, on disk: when the server goes away the
// migrations keep their modes, and a process started without the server
// takes its modes from the cache. Only a migration of which nothing is
// known at all gets [SourceOptions].Fallback.
//
// The stream reconnects by itself with jittered exponential backoff and
// resumes from the last event it saw (Last-Event-ID); on every connection
// the source also fetches the current list of migrations, so nothing missed
// while away is lost. Close it when done.
type Source struct {
	c    *Client
	opts SourceOptions

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	firstAnswer     chan struct{} // closed when the first connection attempt is over
	firstAnswerOnce sync.Once

	mu          sync.Mutex // protects the fields below
	known       map[string]*knownRollout
	subs        map[string]map[*subscription]struct{}
	seq         uint64
	status      SourceStatus
	lastEventID string
	started     bool
	closed      bool
}

// knownRollout is what the source knows of one migration.
type knownRollout struct {
	rollout  cutover.Rollout
	version  int64
	received time.Time
	seq      uint64 // the source's change counter when it was learned
}

// subscription is one Subscribe call.
type subscription struct {
	update func(cutover.Rollout)

	mu        sync.Mutex // serializes update; protects the fields below
	delivered bool
	lastSeq   uint64
	stopped   bool
}

// Source returns a rollout source that follows the server's watch stream.
// It connects on the first Subscribe. A cache file that cannot be read is
// reported in [Source.Status] and otherwise ignored.
func (c *Client) Source(opts SourceOptions) *Source {
	if opts.StartTimeout == 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = opts.MinBackoff
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if !opts.Fallback.Valid() {
		opts.Fallback = cutover.ModeOld
	}
	s := &Source{
		c:           c,
		opts:        opts,
		firstAnswer: make(chan struct{}),
		known:       map[string]*knownRollout{},
		subs:        map[string]map[*subscription]struct{}{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if opts.CacheFile != "" {
		entries, err := readCache(opts.CacheFile)
		if err != nil {
			s.status.LastError, s.status.LastErrorTime = err, time.Now()
			c.logger.Error("cutover client: ignoring the rollout cache", "err", err)
		}
		for name, e := range entries {
			s.seq++
			s.known[name] = &knownRollout{rollout: e.Rollout, version: e.Version, received: e.Received, seq: s.seq}
		}
	}
	return s
}

// Subscribe follows one migration, as [cutover.Source] describes: update
// gets the migration's rollout before Subscribe returns when it is known
// (from the cache, or from the server within StartTimeout) and otherwise
// the Fallback rollout, and again on every change, until stop is called.
// It fails only after Close.
func (s *Source) Subscribe(migration string, update func(cutover.Rollout)) (stop func(), err error) {
	sub := &subscription{update: update}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("cutover client: subscribing to %q: the source is closed", migration)
	}
	if s.subs[migration] == nil {
		s.subs[migration] = map[*subscription]struct{}{}
	}
	s.subs[migration][sub] = struct{}{}
	if !s.started {
		s.started = true
		s.wg.Add(1)
		go s.run()
	}
	_, known := s.known[migration]
	s.mu.Unlock()

	if !known && s.opts.StartTimeout > 0 {
		t := time.NewTimer(s.opts.StartTimeout)
		select {
		case <-s.firstAnswer:
		case <-t.C:
		}
		t.Stop()
	}
	s.mu.Lock()
	k := s.known[migration]
	var kr knownRollout
	if k != nil {
		kr = *k
	}
	s.mu.Unlock()
	if k != nil {
		sub.deliver(kr.rollout, kr.seq)
	} else {
		sub.deliverFallback(cutover.Rollout{Mode: s.opts.Fallback, Treatment: s.opts.Fallback})
	}
	stop = func() {
		s.mu.Lock()
		delete(s.subs[migration], sub)
		if len(s.subs[migration]) == 0 {
			delete(s.subs, migration)
		}
		s.mu.Unlock()
		sub.mu.Lock()
		sub.stopped = true
		sub.mu.Unlock()
	}
	return stop, nil
}

// deliver calls update with r unless a newer rollout was delivered already.
func (sub *subscription) deliver(r cutover.Rollout, seq uint64) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.stopped || sub.delivered && seq <= sub.lastSeq {
		return
	}
	sub.delivered, sub.lastSeq = true, seq
	sub.update(r.Clone())
}

// deliverFallback calls update with r unless anything was delivered.
func (sub *subscription) deliverFallback(r cutover.Rollout) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.stopped || sub.delivered {
		return
	}
	sub.delivered = true
	sub.update(r)
}

// Rollout returns the last known rollout of a migration and its version,
// and false if nothing is known of it.
func (s *Source) Rollout(migration string) (r cutover.Rollout, version int64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.known[migration]
	if k == nil {
		return cutover.Rollout{}, 0, false
	}
	return k.rollout.Clone(), k.version, true
}

// Status returns the state of the connection to the server.
func (s *Source) Status() SourceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Close stops following the server and waits for the source's goroutine to
// end. Subscriptions get no further updates; the migrations keep the last
// rollout they got. Close is idempotent.
func (s *Source) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// run keeps a watch stream open until Close.
func (s *Source) run() {
	defer s.wg.Done()
	defer s.firstAnswerOnce.Do(func() { close(s.firstAnswer) })
	failures := 0
	for {
		connected, err := s.watch()
		if s.ctx.Err() != nil {
			return
		}
		s.setError(err)
		// Status tells why before Subscribe stops waiting.
		s.firstAnswerOnce.Do(func() { close(s.firstAnswer) })
		if connected {
			failures = 0
		}
		if failures == 0 || failures%10 == 0 {
			s.c.logger.Warn("cutover client: watch stream lost; reconnecting", "server", s.c.URL(), "err", err)
		}
		d := backoff(failures, s.opts.MinBackoff, s.opts.MaxBackoff)
		failures++
		t := time.NewTimer(d)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff is the wait before reconnection attempt n (from 0): a random
// duration between half and all of lo·2ⁿ, capped at hi. The jitter keeps
// a fleet of clients from reconnecting in step after a server restart.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 0; i < n && d < hi; i++ {
		d *= 2
	}
	if d > hi || d <= 0 {
		d = hi
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

func (s *Source) setError(err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	s.status.LastError, s.status.LastErrorTime = err, time.Now()
	s.mu.Unlock()
}

func (s *Source) setConnected(connected bool) {
	s.mu.Lock()
	s.status.Connected = connected
	if connected {
		s.status.Connects++
	}
	st := s.status
	s.mu.Unlock()
	if s.opts.OnStatus != nil {
		s.opts.OnStatus(st)
	}
}

// errStreamEnded is the error of a watch stream the server closed.
var errStreamEnded = errors.New("the server closed the watch stream")

// watch opens one watch stream and follows it until it ends. connected
// reports whether the stream was opened.
func (s *Source) watch() (connected bool, err error) {
	req, err := s.c.newRequest(s.ctx, http.MethodGet, "/api/v1/watch", nil, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	s.mu.Lock()
	if s.lastEventID != "" {
		req.Header.Set("Last-Event-ID", s.lastEventID)
	}
	s.mu.Unlock()
	resp, err := s.c.http.Do(req)
	if err != nil {
		return false, &transportError{url: s.c.URL(), err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("opening the watch stream: %w", readAPIError(resp))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return false, fmt.Errorf("opening the watch stream: the server answered %q, not text/event-stream: is %s a cutover server?", mt, s.c.URL())
	}
	s.setConnected(true)
	defer s.setConnected(false)

	var body io.Reader = resp.Body
	if s.opts.IdleTimeout > 0 {
		idle := &idleReader{r: resp.Body, d: s.opts.IdleTimeout}
		idle.t = time.AfterFunc(s.opts.IdleTimeout, func() {
			idle.fired.Store(true)
			resp.Body.Close()
		})
		defer idle.t.Stop()
		body = idle
		defer func() {
			if idle.fired.Load() && s.ctx.Err() == nil {
				err = fmt.Errorf("the watch stream was silent for %v; reconnecting", s.opts.IdleTimeout)
			}
		}()
	}

	// The stream is open, so every change from now on reaches it: what
	// the list says is at least as new as anything missed while away.
	if err := s.syncAll(); err != nil && s.ctx.Err() == nil {
		s.setError(err)
		s.c.logger.Warn("cutover client: listing the migrations on connecting failed; following the stream only", "err", err)
	}
	s.firstAnswerOnce.Do(func() { close(s.firstAnswer) })

	events := newSSEReader(body)
	for {
		ev, err := events.next()
		if err != nil {
			if s.ctx.Err() != nil {
				return true, s.ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return true, errStreamEnded
			}
			return true, fmt.Errorf("reading the watch stream: %w", err)
		}
		if ev.Type != "rollout" {
			continue
		}
		var re api.RolloutEvent
		if err := json.Unmarshal(ev.Data, &re); err != nil {
			s.c.logger.Error("cutover client: skipping an unreadable watch event", "id", ev.ID, "err", err)
			continue
		}
		changed := s.apply(re.Migration, re.Rollout, re.Version, false)
		s.mu.Lock()
		s.lastEventID = ev.ID
		s.status.LastEvent = time.Now()
		s.mu.Unlock()
		if changed {
			s.saveCache()
		}
	}
}

// syncAll fetches every migration's current rollout.
func (s *Source) syncAll() error {
	ms, err := s.c.Migrations(s.ctx)
	if err != nil {
		return fmt.Errorf("listing the migrations: %w", err)
	}
	changed := false
	for _, m := range ms {
		if s.apply(m.Name, m.Rollout, m.Version, true) {
			changed = true
		}
	}
	s.mu.Lock()
	s.status.LastEvent = time.Now()
	s.mu.Unlock()
	if changed {
		s.saveCache()
	}
	return nil
}

// apply records a rollout heard from the server and delivers it to the
// migration's subscriptions. An event older than what is known is skipped;
// the list fetched on connecting is the server's present state and wins
// whatever its version (the server's database may have been replaced).
func (s *Source) apply(name string, r cutover.Rollout, version int64, authoritative bool) (changed bool) {
	if err := r.Validate(); err != nil {
		s.c.logger.Error("cutover client: the server sent an invalid rollout; keeping the last good one",
			"migration", name, "version", version, "err", err)
		return false
	}
	s.mu.Lock()
	k := s.known[name]
	switch {
	case k == nil:
	case k.version == version && k.rollout.Equal(r):
		s.mu.Unlock()
		return false
	case !authoritative && version <= k.version:
		s.mu.Unlock()
		return false
	}
	s.seq++
	k = &knownRollout{rollout: r.Clone(), version: version, received: time.Now(), seq: s.seq}
	s.known[name] = k
	subs := make([]*subscription, 0, len(s.subs[name]))
	for sub := range s.subs[name] {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	for _, sub := range subs {
		sub.deliver(k.rollout, k.seq)
	}
	return true
}

// saveCache writes every known rollout to the cache file.
func (s *Source) saveCache() {
	if s.opts.CacheFile == "" {
		return
	}
	s.mu.Lock()
	entries := make(map[string]cachedEntry, len(s.known))
	for name, k := range s.known {
		entries[name] = cachedEntry{Rollout: k.rollout, Version: k.version, Received: k.received.UTC()}
	}
	s.mu.Unlock()
	if err := writeCache(s.opts.CacheFile, s.c.URL(), entries, time.Now()); err != nil {
		s.setError(err)
		s.c.logger.Error("cutover client: the rollout cache is not up to date", "file", s.opts.CacheFile, "err", err)
	}
}

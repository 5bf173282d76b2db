package rolloutfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cutover/cutover"
)

// DefaultDebounce is how long the watcher waits for a burst of file events
// to end before it reads the file, when [Options].Debounce is zero.
const DefaultDebounce = 100 * time.Millisecond

// ErrClosed is returned (wrapped) by [Source.Subscribe] and [Source.Reload]
// after [Source.Close].
var ErrClosed = errors.New("rolloutfile: source is closed")

// Options configure [Open]. Every zero field has the default its comment
// states.
type Options struct {
	// Logger receives reload failures, removed migrations and watcher
	// trouble. Zero: slog.Default().
	Logger *slog.Logger

	// Registerer, if set, gets the source's metrics, labelled with the
	// file's path: cutover_rollout_file_reloads_total,
	// cutover_rollout_file_reload_errors_total and
	// cutover_rollout_file_last_success_timestamp_seconds. They are
	// unregistered by Close. Zero: no metrics.
	Registerer prometheus.Registerer

	// Debounce is how long a burst of file events must be quiet before the
	// file is read: an editor's save or a ConfigMap update makes several
	// events, and one read after them is enough. Zero: DefaultDebounce.
	Debounce time.Duration

	// OnReload, if set, is called after every read of the file but the
	// first (a file event's, or Reload's), successful or not, with the
	// status after it: for alerting, and for tests that wait for a reload.
	// Subscribers have their new rollouts by then. It runs on the watcher's
	// goroutine (or Reload's caller's) and must not block.
	OnReload func(Status)
}

// Status describes the file as the source last read it.
type Status struct {
	// Path is the watched file's path, as given to Open.
	Path string
	// LoadedAt is when the rollouts in force were read.
	LoadedAt time.Time
	// Checksum identifies the content in force: "sha256:" and the hex
	// SHA-256 of the file's bytes.
	Checksum string
	// Migrations are the names the file in force defines, sorted.
	Migrations []string
	// LastError is why the latest read failed (often a [*ParseError]), or
	// nil when it succeeded; the rollouts of the last good file stay in
	// force meanwhile. LastErrorAt is when it happened.
	LastError   error
	LastErrorAt time.Time
	// Reloads counts the reads that found new content (a new checksum),
	// not counting the first; ReloadErrors the reads that failed.
	Reloads, ReloadErrors uint64
}

// Source is a [cutover.Source] backed by a JSON file that it watches and
// reloads when it changes; see the package doc. It is safe for concurrent
// use. Close it when done.
type Source struct {
	path     string // as given, for messages
	abs      string // absolute, for reading
	dir      string // watched directory
	base     string // file name within dir
	logger   *slog.Logger
	debounce time.Duration
	onReload func(Status)
	metrics  *fileMetrics
	reg      prometheus.Registerer

	watcher   *fsnotify.Watcher
	done      chan struct{} // closed by Close
	exited    chan struct{} // closed when the watcher goroutine returns
	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool

	reloadMu sync.Mutex // serializes reads of the file and deliveries, and changes of target

	// target is the file path resolves to, when path is a symlink to a
	// file in another directory; that directory is watched too, so that
	// edits made there are seen.
	target atomic.Pointer[string]

	mu       sync.Mutex // protects the fields below
	rollouts map[string]cutover.Rollout
	gen      uint64 // bumped each time rollouts changes
	subs     map[string]map[*subscription]struct{}
	status   Status
}

// Open reads the rollout file at path and starts watching it. A file that
// is missing or invalid now is an error, which says what is wrong and where
// (a [*ParseError] names the line, column and field). Later, an invalid
// file keeps the last good rollouts in force; see the package doc.
func Open(path string, opts Options) (*Source, error) {
	if path == "" {
		return nil, errors.New("rolloutfile: Open needs the path of a rollout file")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("rolloutfile: %s: %w", path, err)
	}
	s := &Source{
		path:     path,
		abs:      abs,
		dir:      filepath.Dir(abs),
		base:     filepath.Base(abs),
		logger:   opts.Logger,
		debounce: opts.Debounce,
		onReload: opts.OnReload,
		done:     make(chan struct{}),
		exited:   make(chan struct{}),
		subs:     make(map[string]map[*subscription]struct{}),
		status:   Status{Path: path},
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.debounce <= 0 {
		s.debounce = DefaultDebounce
	}
	// Watch first, then read: a change made in between is then seen.
	if s.watcher, err = fsnotify.NewWatcher(); err != nil {
		return nil, fmt.Errorf("rolloutfile: starting a file watcher for %s: %w", path, err)
	}
	if err := s.watcher.Add(s.dir); err != nil {
		s.watcher.Close()
		return nil, fmt.Errorf("rolloutfile: watching directory %s (of %s): %w", s.dir, path, err)
	}
	s.followTarget()
	data, err := os.ReadFile(abs)
	if err == nil {
		var rollouts map[string]cutover.Rollout
		if rollouts, err = parse(path, data); err == nil {
			s.rollouts = rollouts
			s.status.LoadedAt = time.Now()
			s.status.Checksum = checksum(data)
			s.status.Migrations = names(rollouts)
		}
	}
	if err != nil {
		s.watcher.Close()
		return nil, fmt.Errorf("rolloutfile: %w", err)
	}
	if opts.Registerer != nil {
		if s.metrics, err = registerMetrics(opts.Registerer, path); err != nil {
			s.watcher.Close()
			return nil, err
		}
		s.reg = opts.Registerer
		s.metrics.lastSuccess.Set(float64(s.status.LoadedAt.UnixNano()) / 1e9)
	}
	go s.watch()
	return s, nil
}

func checksum(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func names(rollouts map[string]cutover.Rollout) []string {
	ns := make([]string, 0, len(rollouts))
	for n := range rollouts {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

// watch runs on its own goroutine until Close: it coalesces bursts of
// events about the file into one read, Debounce after the last of them.
func (s *Source) watch() {
	defer close(s.exited)
	timer := time.NewTimer(s.debounce)
	timer.Stop()
	defer timer.Stop()
	var pending <-chan time.Time // timer.C while a read is due, else nil
	for {
		select {
		case <-s.done:
			return
		case ev, ok := <-s.watcher.Events:
			if !ok {
				return
			}
			if !s.concerns(ev) {
				continue
			}
			timer.Reset(s.debounce)
			pending = timer.C
		case err, ok := <-s.watcher.Errors:
			if !ok {
				return
			}
			// An overflow loses events: read the file anyway to catch up.
			s.logger.Warn("rolloutfile: file watcher trouble; reading the file again to catch up",
				"path", s.path, "err", err)
			timer.Reset(s.debounce)
			pending = timer.C
		case <-pending:
			pending = nil
			s.reload()
		}
	}
}

// concerns reports whether an event in a watched directory may have
// changed the file: an event on the file's own name (a write, or an
// editor's rename of a temporary file onto it), on a name starting with
// "..", which is how Kubernetes swaps a ConfigMap volume's content (the
// "..data" symlink is replaced; the file's own name never gets an event),
// or on the file a symlink at path points to.
func (s *Source) concerns(ev fsnotify.Event) bool {
	dir, name := filepath.Dir(ev.Name), filepath.Base(ev.Name)
	if dir == s.dir {
		return name == s.base || strings.HasPrefix(name, "..")
	}
	t := s.target.Load()
	return t != nil && ev.Name == *t
}

// followTarget watches the directory of the file path resolves to, when
// that is not path's own directory, and stops watching the directory of
// the previous target. Errors are logged, not returned: the file can still
// be followed through events in its own directory. It runs with reloadMu
// held, or before the watcher starts.
func (s *Source) followTarget() {
	real, err := filepath.EvalSymlinks(s.abs)
	if err != nil {
		return // no file now: the event that brings it back reads it again
	}
	if real, err = filepath.Abs(real); err != nil {
		return
	}
	old := s.target.Load()
	if old != nil && *old == real {
		return
	}
	newDir := filepath.Dir(real)
	if newDir == s.dir {
		s.target.Store(nil)
	} else {
		if old == nil || filepath.Dir(*old) != newDir {
			if err := s.watcher.Add(newDir); err != nil {
				s.logger.Warn("rolloutfile: cannot watch the directory the rollout file's symlink points into; "+
					"edits made there are seen only when the symlink itself changes",
					"path", s.path, "target", real, "err", err)
				return
			}
		}
		s.target.Store(&real)
	}
	if old != nil && filepath.Dir(*old) != newDir {
		// It may be gone already (a ConfigMap's old version): nothing to undo then.
		_ = s.watcher.Remove(filepath.Dir(*old))
	}
}

// Reload reads the file now, as a file event would make the watcher do,
// and returns the error that kept it from taking effect, if any. It is for
// programs that want to reload on a signal too; the watcher makes it
// unnecessary otherwise.
func (s *Source) Reload() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.reload()
}

// reload reads and applies the file, or records why it could not.
func (s *Source) reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.followTarget()
	data, err := os.ReadFile(s.abs)
	var rollouts map[string]cutover.Rollout
	if err == nil {
		rollouts, err = parse(s.path, data)
	}
	if err != nil {
		s.fail(err)
		return err
	}
	s.apply(data, rollouts)
	return nil
}

func (s *Source) fail(err error) {
	s.mu.Lock()
	s.status.LastError = err
	s.status.LastErrorAt = time.Now()
	s.status.ReloadErrors++
	st := s.statusLocked()
	s.mu.Unlock()
	s.logger.Error("rolloutfile: the rollout file is invalid; keeping the last good rollouts",
		"path", s.path, "err", err, "loaded_at", st.LoadedAt, "checksum", st.Checksum)
	if s.metrics != nil {
		s.metrics.errors.Inc()
	}
	s.reported(st)
}

// delivery is one rollout due to one subscription.
type delivery struct {
	sub *subscription
	r   cutover.Rollout
}

func (s *Source) apply(data []byte, rollouts map[string]cutover.Rollout) {
	sum := checksum(data)
	now := time.Now()
	s.mu.Lock()
	changed := sum != s.status.Checksum
	var removed []string
	var due []delivery
	if changed {
		for name := range s.rollouts {
			if _, ok := rollouts[name]; !ok {
				removed = append(removed, name)
			}
		}
		s.rollouts = rollouts
		s.gen++
		s.status.Checksum = sum
		s.status.Migrations = names(rollouts)
		s.status.Reloads++
		for name, subs := range s.subs {
			if r, ok := rollouts[name]; ok {
				for sub := range subs {
					due = append(due, delivery{sub, r})
				}
			}
		}
	}
	gen := s.gen
	s.status.LoadedAt = now
	s.status.LastError = nil
	s.status.LastErrorAt = time.Time{}
	st := s.statusLocked()
	s.mu.Unlock()

	slices.Sort(removed)
	for _, name := range removed {
		s.logger.Warn("rolloutfile: a migration is no longer in the rollout file; "+
			"its running subscribers keep their last rollout until it is back or the process restarts",
			"path", s.path, "migration", name)
	}
	for _, d := range due {
		d.sub.deliver(gen, d.r)
	}
	if s.metrics != nil {
		if changed {
			s.metrics.reloads.Inc()
		}
		s.metrics.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	}
	s.reported(st)
}

func (s *Source) reported(st Status) {
	if s.onReload == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			s.logger.Error("rolloutfile: Options.OnReload panicked", "path", s.path, "panic", p)
		}
	}()
	s.onReload(st)
}

// Status returns the state of the file as last read.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statusLocked()
}

func (s *Source) statusLocked() Status {
	st := s.status
	st.Migrations = slices.Clone(st.Migrations)
	return st
}

// Rollout returns the rollout the file in force gives migration, and
// whether it has one.
func (s *Source) Rollout(migration string) (cutover.Rollout, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rollouts[migration]
	return r.Clone(), ok
}

// Subscribe follows migration's rollout, as [cutover.Source] describes: it
// calls update with the rollout before returning, if the file has one, and
// again each time a reload changes it ([cutover.Rollout.Equal] tells); never
// concurrently for one subscription. If the file does not name the
// migration, update is not called until a reload adds it.
//
// After stop returns, no new call of update starts (one already running
// may finish). Subscribe fails only after Close.
func (s *Source) Subscribe(migration string, update func(cutover.Rollout)) (stop func(), err error) {
	if update == nil {
		return nil, errors.New("rolloutfile: Subscribe needs an update function")
	}
	sub := &subscription{source: s, migration: migration, update: update}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: cannot follow migration %q", ErrClosed, migration)
	}
	if s.subs[migration] == nil {
		s.subs[migration] = make(map[*subscription]struct{})
	}
	s.subs[migration][sub] = struct{}{}
	r, ok := s.rollouts[migration]
	gen := s.gen
	s.mu.Unlock()
	if ok {
		sub.deliver(gen, r)
	}
	return sub.stop, nil
}

// subscription is one Subscribe call.
type subscription struct {
	source    *Source
	migration string
	update    func(cutover.Rollout)
	stopped   atomic.Bool

	mu   sync.Mutex // serializes update; protects gen, last, have
	gen  uint64     // generation of the last rollout considered
	last cutover.Rollout
	have bool
}

// deliver calls update with r, the rollout of generation gen, unless the
// subscription has stopped, has seen a later generation already, or
// already has an equal rollout.
func (sub *subscription) deliver(gen uint64, r cutover.Rollout) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.stopped.Load() || (sub.have && gen < sub.gen) {
		return
	}
	sub.gen = gen
	if sub.have && sub.last.Equal(r) {
		return
	}
	sub.last, sub.have = r.Clone(), true
	defer func() {
		if p := recover(); p != nil {
			sub.source.logger.Error("rolloutfile: a subscriber's update function panicked",
				"path", sub.source.path, "migration", sub.migration, "panic", p)
		}
	}()
	sub.update(r.Clone())
}

func (sub *subscription) stop() {
	if sub.stopped.Swap(true) {
		return
	}
	s := sub.source
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.subs[sub.migration], sub)
	if len(s.subs[sub.migration]) == 0 {
		delete(s.subs, sub.migration)
	}
}

// Close stops watching the file and waits for the watcher's goroutine to
// return. Subscribers keep the rollouts they have. Close is idempotent.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed.Store(true)
		s.mu.Unlock()
		close(s.done)
		if err := s.watcher.Close(); err != nil {
			s.closeErr = fmt.Errorf("rolloutfile: closing the watcher of %s: %w", s.path, err)
		}
		<-s.exited
		if s.metrics != nil {
			s.metrics.unregister(s.reg)
		}
	})
	return s.closeErr
}

// fileMetrics are the source's Prometheus metrics.
type fileMetrics struct {
	reloads, errors prometheus.Counter
	lastSuccess     prometheus.Gauge
}

func registerMetrics(reg prometheus.Registerer, path string) (*fileMetrics, error) {
	labels := prometheus.Labels{"path": path}
	m := &fileMetrics{
		reloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cutover_rollout_file_reloads_total", ConstLabels: labels,
			Help: "Reloads of the rollout file that found new content.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cutover_rollout_file_reload_errors_total", ConstLabels: labels,
			Help: "Reads of the rollout file that failed (missing, invalid or half-written file); the last good rollouts stayed in force.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cutover_rollout_file_last_success_timestamp_seconds", ConstLabels: labels,
			Help: "When the rollout file was last read successfully, in seconds since the Unix epoch.",
		}),
	}
	cs := []prometheus.Collector{m.reloads, m.errors, m.lastSuccess}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) {
				return nil, fmt.Errorf("rolloutfile: metrics for %s are already registered on this Registerer; "+
					"open each file once per Registerer, or Close the other Source first: %w", path, err)
			}
			return nil, fmt.Errorf("rolloutfile: registering metrics for %s: %w", path, err)
		}
	}
	return m, nil
}

func (m *fileMetrics) unregister(reg prometheus.Registerer) {
	reg.Unregister(m.reloads)
	reg.Unregister(m.errors)
	reg.Unregister(m.lastSuccess)
}

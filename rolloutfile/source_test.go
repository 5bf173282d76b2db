package rolloutfile_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/internal/testenv"
	"github.com/cutover/cutover/rolloutfile"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// failAfter only guards against a hang: every wait below ends as soon as
// what it waits for happens.
const failAfter = 20 * time.Second

const shadow5 = `{"migrations": {
  "orders": {"mode": "shadow", "treatment": "reverse-shadow", "percent": 5, "overrides": {"tenant-test": "new"}},
  "invoices": {"mode": "old"}
}}`

// fixture is an open source on a file in a fresh directory.
type fixture struct {
	t       *testing.T
	path    string
	src     *rolloutfile.Source
	reloads chan rolloutfile.Status // every status OnReload reported
	logs    *testenv.SyncBuffer
}

func open(t *testing.T, content string, opts rolloutfile.Options) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rollouts.json")
	writeFile(t, path, content)
	return openPath(t, path, opts)
}

// openPath opens the file (or symlink) at path, which exists already.
func openPath(t *testing.T, path string, opts rolloutfile.Options) *fixture {
	t.Helper()
	f := &fixture{t: t, path: path, reloads: make(chan rolloutfile.Status, 1000), logs: &testenv.SyncBuffer{}}
	opts.Debounce = 5 * time.Millisecond
	opts.Logger = slog.New(slog.NewTextHandler(f.logs, nil))
	opts.OnReload = func(st rolloutfile.Status) { f.reloads <- st }
	src, err := rolloutfile.Open(f.path, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.src = src
	t.Cleanup(func() {
		if err := src.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

// waitStatus waits for a reload whose status satisfies ok.
func (f *fixture) waitStatus(what string, ok func(rolloutfile.Status) bool) rolloutfile.Status {
	f.t.Helper()
	timeout := time.After(failAfter)
	for {
		select {
		case st := <-f.reloads:
			if ok(st) {
				return st
			}
		case <-timeout:
			f.t.Fatalf("no reload %s within %v; status now %+v", what, failAfter, f.src.Status())
		}
	}
}

// replace swaps the file's content atomically, as editors do: write a
// temporary file beside it, then rename it over the old one.
func (f *fixture) replace(content string) {
	f.t.Helper()
	tmp := filepath.Join(filepath.Dir(f.path), ".rollouts.json.tmp")
	writeFile(f.t, tmp, content)
	if err := os.Rename(tmp, f.path); err != nil {
		f.t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// subscribe follows a migration, feeding its updates to a channel.
func subscribe(t *testing.T, src *rolloutfile.Source, migration string) (<-chan cutover.Rollout, func()) {
	t.Helper()
	ch := make(chan cutover.Rollout, 100)
	stop, err := src.Subscribe(migration, func(r cutover.Rollout) { ch <- r })
	if err != nil {
		t.Fatal(err)
	}
	return ch, stop
}

func waitRollout(t *testing.T, ch <-chan cutover.Rollout, want cutover.Rollout) {
	t.Helper()
	timeout := time.After(failAfter)
	for {
		select {
		case r := <-ch:
			if r.Equal(want) {
				return
			}
		case <-timeout:
			t.Fatalf("rollout %v not delivered within %v", want, failAfter)
		}
	}
}

func noDelivery(t *testing.T, ch <-chan cutover.Rollout) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("unexpected delivery %v", r)
	default:
	}
}

var (
	orders5 = cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeReverseShadow, Percent: 5,
		Overrides: map[string]cutover.Mode{"tenant-test": cutover.ModeNew}}
	orders20 = cutover.Rollout{Mode: cutover.ModeShadow, Treatment: cutover.ModeReverseShadow, Percent: 20,
		Overrides: map[string]cutover.Mode{"tenant-test": cutover.ModeNew}}
)

const shadow20 = `{"migrations": {
  "orders": {"mode": "shadow", "treatment": "reverse-shadow", "percent": 20, "overrides": {"tenant-test": "new"}},
  "invoices": {"mode": "old"}
}}`

func TestOpenLoadsTheFile(t *testing.T) {
	f := open(t, shadow5, rolloutfile.Options{})
	st := f.src.Status()
	if st.Path != f.path || !strings.HasPrefix(st.Checksum, "sha256:") || st.LoadedAt.IsZero() || st.LastError != nil ||
		strings.Join(st.Migrations, ",") != "invoices,orders" || st.Reloads != 0 || st.ReloadErrors != 0 {
		t.Fatalf("status after Open: %+v", st)
	}
	ch, stop := subscribe(t, f.src, "orders")
	defer stop()
	select { // delivered before Subscribe returned
	case r := <-ch:
		if !r.Equal(orders5) {
			t.Fatalf("Subscribe delivered %v, want %v", r, orders5)
		}
	default:
		t.Fatal("Subscribe returned before delivering the known rollout")
	}
	unknown, stop2 := subscribe(t, f.src, "payments")
	defer stop2()
	noDelivery(t, unknown)
}

func TestOpenFailsOnAMissingOrInvalidFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	if _, err := rolloutfile.Open(missing, rolloutfile.Options{}); !errors.Is(err, os.ErrNotExist) ||
		!strings.Contains(err.Error(), missing) {
		t.Fatalf("Open(missing) = %v; want a not-exist error naming the file", err)
	}
	bad := filepath.Join(dir, "bad.json")
	writeFile(t, bad, "{\"migrations\": {\n  \"orders\": {\"mode\": \"shaddow\"}}}")
	_, err := rolloutfile.Open(bad, rolloutfile.Options{})
	var pe *rolloutfile.ParseError
	if !errors.As(err, &pe) || pe.Line != 2 || pe.Field != `migrations["orders"].mode` ||
		!strings.Contains(err.Error(), bad+`:2:22: migrations["orders"].mode: invalid mode "shaddow"`) {
		t.Fatalf("Open(bad) = %v; want a ParseError at line 2 naming the field", err)
	}
	if _, err := rolloutfile.Open(filepath.Join(dir, "no-such-dir", "r.json"), rolloutfile.Options{}); err == nil ||
		!strings.Contains(err.Error(), "no-such-dir") {
		t.Fatalf("Open in a missing directory = %v; want an error naming it", err)
	}
}

func TestChangesAreDelivered(t *testing.T) {
	t.Run("write in place", func(t *testing.T) {
		f := open(t, shadow5, rolloutfile.Options{})
		ch, stop := subscribe(t, f.src, "orders")
		defer stop()
		waitRollout(t, ch, orders5)
		writeFile(t, f.path, shadow20)
		waitRollout(t, ch, orders20)
	})
	t.Run("atomic rename", func(t *testing.T) {
		f := open(t, shadow5, rolloutfile.Options{})
		ch, stop := subscribe(t, f.src, "orders")
		defer stop()
		waitRollout(t, ch, orders5)
		f.replace(shadow20)
		waitRollout(t, ch, orders20)
		st := f.waitStatus("counting the change", func(st rolloutfile.Status) bool { return st.Reloads == 1 })
		if st.ReloadErrors != 0 || st.LastError != nil {
			t.Fatalf("an atomic rename caused errors: %+v", st)
		}
	})
	t.Run("kubernetes configmap symlink swap", func(t *testing.T) {
		// A ConfigMap volume: rollouts.json -> ..data/rollouts.json,
		// ..data -> ..<timestamp>/; an update writes a new timestamped
		// directory and renames a new ..data symlink over the old one.
		dir := t.TempDir()
		version := func(name, content string) {
			if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, name, "rollouts.json"), content)
			if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
				t.Fatal(err)
			}
		}
		version("..2026_11_25_13_00_00.1", shadow5)
		path := filepath.Join(dir, "rollouts.json")
		if err := os.Symlink(filepath.Join("..data", "rollouts.json"), path); err != nil {
			t.Fatal(err)
		}
		f := openPath(t, path, rolloutfile.Options{})
		ch, stop := subscribe(t, f.src, "orders")
		defer stop()
		waitRollout(t, ch, orders5)
		version("..2026_11_25_13_05_00.2", shadow20)
		waitRollout(t, ch, orders20)
	})
}

func TestAnInvalidFileKeepsTheLastGoodRollout(t *testing.T) {
	for _, tc := range []struct{ name, content, problem string }{
		{"invalid JSON", `{"migrations": {"orders": {"mode": "reverse-sh`, "not valid JSON"},
		{"invalid mode", `{"migrations": {"orders": {"mode": "reverse"}}}`, `migrations["orders"].mode: invalid mode "reverse"`},
		{"unknown field", `{"migrations": {"orders": {"mode": "new", "precent": 5}}}`, `unknown field "precent"`},
		{"empty", ``, "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := open(t, shadow5, rolloutfile.Options{})
			m, err := cutover.New(cutover.Config{Name: "orders", Source: f.src})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(context.Background())
			if got := m.ModeFor("some-customer"); got != cutover.ModeShadow {
				t.Fatalf("ModeFor before the change = %v, want shadow", got)
			}
			ch, stop := subscribe(t, f.src, "orders")
			defer stop()
			waitRollout(t, ch, orders5)

			f.replace(tc.content)
			st := f.waitStatus("failing", func(st rolloutfile.Status) bool { return st.ReloadErrors > 0 })
			if st.LastError == nil || !strings.Contains(st.LastError.Error(), tc.problem) ||
				!strings.Contains(st.LastError.Error(), f.path) {
				t.Fatalf("LastError = %v; want it to name the file and %q", st.LastError, tc.problem)
			}
			if r, _ := f.src.Rollout("orders"); !r.Equal(orders5) {
				t.Fatalf("rollout after a bad file = %v, want the last good one", r)
			}
			noDelivery(t, ch)
			if got := m.ModeFor("some-customer"); got != cutover.ModeShadow {
				t.Fatalf("ModeFor after a bad file = %v, want shadow still", got)
			}
			if !strings.Contains(f.logs.String(), "keeping the last good rollouts") {
				t.Fatalf("the failure was not logged: %s", f.logs)
			}

			f.replace(`{"migrations": {"orders": {"mode": "reverse-shadow"}}}`)
			st = f.waitStatus("fixing", func(st rolloutfile.Status) bool { return st.LastError == nil })
			waitRollout(t, ch, cutover.Rollout{Mode: cutover.ModeReverseShadow})
			if got := m.ModeFor("some-customer"); got != cutover.ModeReverseShadow {
				t.Fatalf("ModeFor after the fix = %v, want reverse-shadow", got)
			}
			if st.ReloadErrors == 0 || st.Reloads != 1 {
				t.Fatalf("status after the fix: %+v; want the error still counted and one reload", st)
			}
		})
	}
}

func TestHotPathFollowsTheFile(t *testing.T) {
	f := open(t, shadow5, rolloutfile.Options{})
	m, err := cutover.New(cutover.Config{Name: "orders", Source: f.src})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	for key, want := range map[string]cutover.Mode{"tenant-test": cutover.ModeNew, "c-1": cutover.ModeShadow} {
		if got := m.ModeFor(key); got != want {
			t.Fatalf("ModeFor(%q) = %v, want %v", key, got, want)
		}
	}
	f.replace(`{"migrations": {"orders": {"mode": "new"}}}`)
	// Subscribers get the rollout before OnReload reports the reload.
	f.waitStatus("to mode new", func(st rolloutfile.Status) bool { return st.Reloads == 1 })
	for _, key := range []string{"tenant-test", "c-1"} {
		if got := m.ModeFor(key); got != cutover.ModeNew {
			t.Fatalf("ModeFor(%q) after the reload = %v, want new", key, got)
		}
	}
}

func TestOnlyChangedRolloutsAreDelivered(t *testing.T) {
	f := open(t, shadow5, rolloutfile.Options{})
	orders, stopOrders := subscribe(t, f.src, "orders")
	invoices, stopInvoices := subscribe(t, f.src, "invoices")
	defer stopInvoices()
	<-orders
	<-invoices

	f.replace(strings.Replace(shadow5, `"invoices": {"mode": "old"}`, `"invoices": {"mode": "shadow"}`, 1))
	f.waitStatus("of invoices", func(st rolloutfile.Status) bool { return st.Reloads == 1 })
	waitRollout(t, invoices, cutover.Rollout{Mode: cutover.ModeShadow})
	noDelivery(t, orders)

	stopOrders()
	f.replace(`{"migrations": {"orders": {"mode": "new"}, "invoices": {"mode": "shadow"}}}`)
	f.waitStatus("after stop", func(st rolloutfile.Status) bool { return st.Reloads == 2 })
	noDelivery(t, orders)
	noDelivery(t, invoices)
}

func TestARemovedMigrationKeepsItsLastRollout(t *testing.T) {
	f := open(t, shadow5, rolloutfile.Options{})
	m, err := cutover.New(cutover.Config{Name: "orders", Source: f.src})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	f.replace(`{"migrations": {"invoices": {"mode": "old"}}}`)
	st := f.waitStatus("removing orders", func(st rolloutfile.Status) bool { return st.Reloads == 1 })
	if strings.Join(st.Migrations, ",") != "invoices" {
		t.Fatalf("Migrations = %v, want [invoices]", st.Migrations)
	}
	if r := m.Rollout(); !r.Equal(orders5) {
		t.Fatalf("rollout after removal = %v, want the last one, %v", r, orders5)
	}
	if logs := f.logs.String(); !strings.Contains(logs, "no longer in the rollout file") || !strings.Contains(logs, "migration=orders") {
		t.Fatalf("no warning about the removal: %s", logs)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := open(t, shadow5, rolloutfile.Options{Registerer: reg})
	f.replace(shadow20)
	f.waitStatus("of the good file", func(st rolloutfile.Status) bool { return st.Reloads == 1 })
	f.replace(`{`)
	f.waitStatus("of the bad file", func(st rolloutfile.Status) bool { return st.ReloadErrors == 1 })

	want := `
# HELP cutover_rollout_file_reload_errors_total Reads of the rollout file that failed (missing, invalid or half-written file); the last good rollouts stayed in force.
# TYPE cutover_rollout_file_reload_errors_total counter
cutover_rollout_file_reload_errors_total{path="PATH"} 1
# HELP cutover_rollout_file_reloads_total Reloads of the rollout file that found new content.
# TYPE cutover_rollout_file_reloads_total counter
cutover_rollout_file_reloads_total{path="PATH"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(strings.ReplaceAll(want, "PATH", f.path)),
		"cutover_rollout_file_reloads_total", "cutover_rollout_file_reload_errors_total"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var last float64
	for _, mf := range mfs {
		if mf.GetName() == "cutover_rollout_file_last_success_timestamp_seconds" {
			last = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	if loaded := f.src.Status().LoadedAt; last != float64(loaded.UnixNano())/1e9 {
		t.Fatalf("last success timestamp %v, want LoadedAt %v", last, loaded)
	}

	// A second source on the same file and registry is refused clearly.
	f.replace(shadow5)
	f.waitStatus("of the good file", func(st rolloutfile.Status) bool { return st.LastError == nil })
	_, err = rolloutfile.Open(f.path, rolloutfile.Options{Registerer: reg})
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) || !strings.Contains(err.Error(), "open each file once per Registerer") {
		t.Fatalf("second Open on one registry = %v; want an AlreadyRegisteredError", err)
	}
	// Close unregisters, so the file can be opened again.
	if err := f.src.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := rolloutfile.Open(f.path, rolloutfile.Options{Registerer: reg})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	again.Close()
}

func TestClose(t *testing.T) {
	f := open(t, shadow5, rolloutfile.Options{})
	if err := f.src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.src.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := f.src.Subscribe("orders", func(cutover.Rollout) {}); !errors.Is(err, rolloutfile.ErrClosed) {
		t.Fatalf("Subscribe after Close = %v, want ErrClosed", err)
	}
	if err := f.src.Reload(); !errors.Is(err, rolloutfile.ErrClosed) {
		t.Fatalf("Reload after Close = %v, want ErrClosed", err)
	}
	// goleak, in TestMain, checks that the watcher's goroutine is gone.
}

func TestReload(t *testing.T) {
	f := open(t, shadow5, rolloutfile.Options{})
	ch, stop := subscribe(t, f.src, "orders")
	defer stop()
	<-ch
	// Change the file behind the watcher's back: the directory's watch
	// sees it too, but Reload does not wait for it.
	writeFile(t, f.path, `{"migrations": {"orders": {"mode": "percent"}}}`)
	var pe *rolloutfile.ParseError
	if err := f.src.Reload(); !errors.As(err, &pe) {
		t.Fatalf("Reload of a bad file = %v, want a *ParseError", err)
	}
	writeFile(t, f.path, shadow20)
	if err := f.src.Reload(); err != nil {
		t.Fatal(err)
	}
	waitRollout(t, ch, orders20)
}

// Subscriptions made while reloads happen get every change in order,
// never two calls at once, and end on the file's last content.
func TestSubscribeRacesWithReloads(t *testing.T) {
	f := open(t, shadow5, rolloutfile.Options{})
	const subscribers = 20
	var wg sync.WaitGroup
	type result struct {
		mu         sync.Mutex // protects last and concurrent
		last       cutover.Rollout
		concurrent bool
	}
	results := make([]*result, subscribers)
	stops := make([]func(), subscribers)
	var mu sync.Mutex // protects stops
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			content := shadow5
			if i%2 == 0 {
				content = shadow20
			}
			// Not writeFile: t.Fatal must not be called off the test's goroutine.
			if err := os.WriteFile(f.path, []byte(content), 0o644); err != nil {
				t.Error(err)
				return
			}
			if err := f.src.Reload(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := 0; i < subscribers; i++ {
		res := &result{}
		results[i] = res
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inUpdate sync.Mutex
			stop, err := f.src.Subscribe("orders", func(r cutover.Rollout) {
				if !inUpdate.TryLock() {
					res.mu.Lock()
					res.concurrent = true
					res.mu.Unlock()
					return
				}
				res.mu.Lock()
				res.last = r
				res.mu.Unlock()
				inUpdate.Unlock()
			})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			stops[i] = stop
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow() // a subscriber may have no stop function
	}
	// The last write was shadow5 (i = 49); make sure every subscriber has
	// been offered it, whatever the watcher did meanwhile.
	writeFile(t, f.path, shadow5)
	if err := f.src.Reload(); err != nil {
		t.Fatal(err)
	}
	for i, res := range results {
		stops[i]()
		res.mu.Lock()
		defer res.mu.Unlock()
		if res.concurrent {
			t.Errorf("subscriber %d: update was called concurrently", i)
		}
		if !res.last.Equal(orders5) {
			t.Errorf("subscriber %d ended with %v, want %v", i, res.last, orders5)
		}
	}
}

func TestASymlinkIntoAnotherDirectoryIsFollowed(t *testing.T) {
	realDir, otherDir, linkDir := t.TempDir(), t.TempDir(), t.TempDir()
	realFile := filepath.Join(realDir, "real.json")
	writeFile(t, realFile, shadow5)
	path := filepath.Join(linkDir, "rollouts.json")
	if err := os.Symlink(realFile, path); err != nil {
		t.Fatal(err)
	}
	f := openPath(t, path, rolloutfile.Options{})
	ch, stop := subscribe(t, f.src, "orders")
	defer stop()
	waitRollout(t, ch, orders5)

	// An edit of the real file, in its own directory.
	writeFile(t, realFile, shadow20)
	waitRollout(t, ch, orders20)

	// The symlink moves to a file in a third directory, atomically; then
	// that file is edited.
	otherFile := filepath.Join(otherDir, "other.json")
	writeFile(t, otherFile, `{"migrations": {"orders": {"mode": "reverse-shadow"}}}`)
	if err := os.Symlink(otherFile, path+".tmp"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	waitRollout(t, ch, cutover.Rollout{Mode: cutover.ModeReverseShadow})
	writeFile(t, otherFile, `{"migrations": {"orders": {"mode": "new"}}}`)
	waitRollout(t, ch, cutover.Rollout{Mode: cutover.ModeNew})
}

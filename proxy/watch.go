package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/cutover/cutover"
	"github.com/fsnotify/fsnotify"
)

// WatchFile calls onChange, on a goroutine of its own, each time the file at
// path is written, created or replaced (editors and config managers often
// replace a file by renaming another over it, so the directory is watched).
// Calls are never concurrent. stop ends the watch and waits for a call in
// progress.
func WatchFile(path string, onChange func()) (stop func(), err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", path, err)
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		w.Close()
		return nil, fmt.Errorf("watching %s: %w", path, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
					onChange()
				}
			case _, ok := <-w.Errors:
				if !ok {
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			w.Close()
			<-done
		})
	}, nil
}

// RolloutFile is a [cutover.Source] reading rollouts from a JSON file that it
// watches: either one rollout, for whichever migration subscribes,
//
//	{"mode": "shadow", "treatment": "reverse-shadow", "percent": 5}
//
// or rollouts by migration name:
//
//	{"orders": {"mode": "shadow"}, "payments": {"mode": "old"}}
//
// A file that cannot be read or is invalid is logged and the last good
// rollout stays in force. (It stands in until the library's own watched-file
// source exists; both read the same format.)
type RolloutFile struct {
	Path   string
	Logger *slog.Logger // zero: slog.Default()
}

// Subscribe delivers the migration's rollout from the file now, and again
// each time the file changes, until stop is called. It fails when the file
// cannot be read or parsed at start: a proxy must not start on a guess.
func (f RolloutFile) Subscribe(migration string, update func(cutover.Rollout)) (func(), error) {
	logger := f.Logger
	if logger == nil {
		logger = slog.Default()
	}
	r, ok, err := readRolloutFile(f.Path, migration)
	if err != nil {
		return nil, err
	}
	if ok {
		update(r)
	}
	last := r
	return WatchFile(f.Path, func() {
		r, ok, err := readRolloutFile(f.Path, migration)
		switch {
		case err != nil:
			logger.Error("cutover proxy: rollout file is invalid; keeping the last good rollout", "file", f.Path, "err", err)
		case ok && !r.Equal(last):
			last = r
			logger.Info("cutover proxy: rollout changed", "file", f.Path, "migration", migration, "rollout", r.String())
			update(r)
		}
	})
}

// readRolloutFile reads the migration's rollout; ok is false when the file
// names other migrations only.
func readRolloutFile(path, migration string) (cutover.Rollout, bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return cutover.Rollout{}, false, fmt.Errorf("reading the rollout file: %w", err)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return cutover.Rollout{}, false, fmt.Errorf("%s: invalid JSON: %v", path, err)
	}
	raw := json.RawMessage(data)
	if _, single := probe["mode"]; !single {
		var ok bool
		if raw, ok = probe[migration]; !ok {
			return cutover.Rollout{}, false, nil
		}
	}
	var fr FileRollout
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fr); err != nil {
		return cutover.Rollout{}, false, fmt.Errorf("%s: rollout of %s: %v", path, migration, err)
	}
	r, err := fr.rollout()
	if err != nil {
		return cutover.Rollout{}, false, fmt.Errorf("%s: rollout of %s: %v", path, migration, err)
	}
	return r, true, nil
}

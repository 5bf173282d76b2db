package proxy

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchDebounce is how long a burst of file events must be quiet before
// WatchFile calls back: an editor's save or a ConfigMap update makes
// several events, and one reload after them is enough (and never reads a
// half-written file between them). It is rolloutfile.DefaultDebounce.
const watchDebounce = 100 * time.Millisecond

// WatchFile calls onChange, on a goroutine of its own, after the file at
// path is written, created or replaced. It watches the file's directory, as
// package rolloutfile does for rollout files and for the same reasons:
// editors rename a new file over the old one, and Kubernetes updates a
// ConfigMap volume by swapping its "..data" symlink, so events on the
// file's name and on names beginning with ".." count. A burst of events
// makes one call, once they have been quiet for 100ms; a watcher error
// (events lost) makes one too. Calls are never concurrent. stop ends the
// watch and waits for a call in progress.
func WatchFile(path string, onChange func()) (stop func(), err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	dir, base := filepath.Split(abs)
	dir = filepath.Clean(dir)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", path, err)
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("watching %s: %w", path, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		timer := time.NewTimer(watchDebounce)
		timer.Stop()
		defer timer.Stop()
		var pending <-chan time.Time // timer.C while a call is due
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				name := filepath.Base(ev.Name)
				if filepath.Dir(ev.Name) == dir && (name == base || strings.HasPrefix(name, "..")) {
					timer.Reset(watchDebounce)
					pending = timer.C
				}
			case _, ok := <-w.Errors:
				if !ok {
					return
				}
				timer.Reset(watchDebounce)
				pending = timer.C
			case <-pending:
				pending = nil
				onChange()
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

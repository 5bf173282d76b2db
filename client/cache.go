package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/cutover/cutover"
)

// cacheFormat is the version of the cache file's layout.
const cacheFormat = 1

// cacheFile is the source's cache on disk: the last known rollout of each
// migration, so that a process started while the server is away still runs
// each migration in the mode it was last set to.
type cacheFile struct {
	Format     int                    `json:"format"`
	Server     string                 `json:"server"`
	SavedAt    time.Time              `json:"saved_at"`
	Migrations map[string]cachedEntry `json:"migrations"`
}

// cachedEntry is one migration's last known rollout.
type cachedEntry struct {
	Rollout cutover.Rollout `json:"rollout"`
	Version int64           `json:"version"`
	// Received is when the source learned this rollout from the server.
	Received time.Time `json:"received"`
}

// readCache reads a cache file. A missing file is an empty cache, not an
// error; an unreadable or invalid one is an error that names the file.
func readCache(path string) (map[string]cachedEntry, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]cachedEntry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the rollout cache: %w", err)
	}
	var f cacheFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("the rollout cache %s is not valid JSON (%v): delete it, the source rewrites it from the server", path, err)
	}
	if f.Format != cacheFormat {
		return nil, fmt.Errorf("the rollout cache %s has format %d, this client reads %d: delete it, the source rewrites it from the server", path, f.Format, cacheFormat)
	}
	out := make(map[string]cachedEntry, len(f.Migrations))
	for name, e := range f.Migrations {
		if err := e.Rollout.Validate(); err != nil {
			return nil, fmt.Errorf("the rollout cache %s holds an invalid rollout for %q (%v): delete it, the source rewrites it from the server", path, name, err)
		}
		out[name] = e
	}
	return out, nil
}

// writeCache replaces the cache file atomically: it writes a temporary file
// in the same directory, syncs it, and renames it over the old one, so a
// crash leaves either the old cache or the new one, never half of one.
func writeCache(path, server string, entries map[string]cachedEntry, now time.Time) (err error) {
	f := cacheFile{Format: cacheFormat, Server: server, SavedAt: now.UTC(), Migrations: entries}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the rollout cache: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing the rollout cache: %w (is the directory %s writable?)", err, dir)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the rollout cache: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the rollout cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the rollout cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing the rollout cache: %w", err)
	}
	// Make the rename itself durable; not every platform can sync a
	// directory, and the cache is still correct without it.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

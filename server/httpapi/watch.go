package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/api"
	"github.com/cutover/cutover/server"
)

// watch serves GET /api/v1/watch?migration=a&migration=b as server-sent
// events: first the current rollout of each watched migration (or, with
// Last-Event-ID, the changes after that id from the history), then every
// change, each as
//
//	id: <change id>
//	event: rollout
//	data: <api.RolloutEvent>
//
// with a comment line as heartbeat. Events reach a watcher in order of
// version per migration, each version once.
func (h *Handler) watch(w http.ResponseWriter, r *http.Request, _ server.Principal) error {
	ctx := r.Context()
	names := r.URL.Query()["migration"]
	for _, n := range names {
		if !server.ValidName(n) {
			return server.Invalid("migration", "%q is not a valid migration name", n)
		}
	}
	var lastID int64
	if s := strings.TrimSpace(r.Header.Get("Last-Event-ID")); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id < 0 {
			return server.Invalid("Last-Event-ID", "%q is not an event id of this server", s)
		}
		lastID = id
	}
	rc := http.NewResponseController(w)

	// Subscribe before reading the state, so that no change falls between.
	sub := h.svc.Subscribe()
	defer sub.Cancel()

	var first []api.RolloutEvent
	if lastID > 0 {
		for _, n := range names {
			if _, err := h.svc.Migration(ctx, n); err != nil {
				return err
			}
		}
		cs, err := h.svc.ChangesAfter(ctx, lastID, names)
		if err != nil {
			return err
		}
		for _, c := range cs {
			first = append(first, server.Event(c))
		}
	} else {
		evs, err := h.svc.Snapshot(ctx, names)
		if err != nil {
			return err
		}
		first = evs
	}

	h.metrics.Watchers.Inc()
	defer h.metrics.Watchers.Dec()
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 1000\n: watching\n\n"); err != nil {
		return nil
	}

	watched := map[string]bool{}
	for _, n := range names {
		watched[n] = true
	}
	sent := map[string]int64{} // migration → last version sent
	send := func(ev api.RolloutEvent) error {
		if len(watched) > 0 && !watched[ev.Migration] {
			return nil
		}
		if ev.Version <= sent[ev.Migration] {
			return nil
		}
		data, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "id: %d\nevent: rollout\ndata: %s\n\n", ev.ChangeID, data); err != nil {
			return err
		}
		sent[ev.Migration] = ev.Version
		return nil
	}
	for _, ev := range first {
		if err := send(ev); err != nil {
			return nil
		}
	}
	if err := rc.Flush(); err != nil {
		return nil
	}
	heartbeat := time.NewTicker(h.heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.done:
			return nil
		case <-heartbeat.C:
			// A token revoked (or a scope lowered) since the stream
			// opened ends it here: its reconnection will be refused.
			if _, err := h.authenticate(r, api.ScopeSDK); err != nil {
				if c := server.ErrorCode(err); c == api.CodeUnauthorized || c == api.CodeForbidden {
					return nil
				}
			}
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return nil
			}
		case c, ok := <-sub.C:
			if !ok {
				// Cut off (too slow) or shutting down: the client resumes
				// from its last event id.
				return nil
			}
			if err := send(server.Event(c)); err != nil {
				return nil
			}
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

package server

import (
	"sync"

	"github.com/cutover/cutover/api"
)

// subscriberBuffer is how many changes a watcher may fall behind before
// it is cut off; a cut-off watcher reconnects and replays from its last
// event id, so nothing is lost, only redelivered.
const subscriberBuffer = 256

// seenChanges is how many recent change ids the broadcaster remembers to
// publish each change once, whether it arrives from this server or from a
// database notification.
const seenChanges = 4096

// broadcaster fans changes out to in-process watchers.
type broadcaster struct {
	mu     sync.Mutex // protects the fields below
	subs   map[*Subscription]struct{}
	seen   map[int64]struct{}
	order  []int64 // ring of the ids in seen, oldest first
	closed bool
}

// Subscription receives rollout changes; see [Service.Subscribe].
type Subscription struct {
	// C delivers changes. It is closed when the subscription is cancelled,
	// when the service closes, or when the watcher fell more than a buffer
	// behind (it should then resume from its last change id).
	C  <-chan api.Change
	ch chan api.Change
	b  *broadcaster
}

// Cancel stops the subscription and closes C. It is idempotent.
func (s *Subscription) Cancel() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if _, ok := s.b.subs[s]; ok {
		delete(s.b.subs, s)
		close(s.ch)
	}
}

func newBroadcaster() *broadcaster {
	return &broadcaster{subs: make(map[*Subscription]struct{}), seen: make(map[int64]struct{})}
}

func (b *broadcaster) subscribe() *Subscription {
	ch := make(chan api.Change, subscriberBuffer)
	s := &Subscription{C: ch, ch: ch, b: b}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(ch)
		return s
	}
	b.subs[s] = struct{}{}
	return s
}

// publish delivers c to every subscriber, once per change id.
func (b *broadcaster) publish(c api.Change) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if _, dup := b.seen[c.ID]; dup {
		return
	}
	b.seen[c.ID] = struct{}{}
	b.order = append(b.order, c.ID)
	if len(b.order) > seenChanges {
		delete(b.seen, b.order[0])
		b.order = b.order[1:]
	}
	for s := range b.subs {
		select {
		case s.ch <- c:
		default:
			// Too far behind: cut it off rather than block every publisher.
			delete(b.subs, s)
			close(s.ch)
		}
	}
}

// close ends every subscription.
func (b *broadcaster) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		delete(b.subs, s)
		close(s.ch)
	}
}

package testenv

import (
	"strings"
	"sync"
)

// SyncBuffer is a buffer that a command or logger writes from its own
// goroutines while the test reads it. The zero value is ready to use.
type SyncBuffer struct {
	mu sync.Mutex // protects b
	b  strings.Builder
}

// Write appends p to the buffer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

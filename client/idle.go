package client

import (
	"io"
	"sync/atomic"
	"time"
)

// idleReader pushes back a timer on every read that returns data; the timer
// closes the stream when it fires.
type idleReader struct {
	r     io.Reader
	d     time.Duration
	t     *time.Timer
	fired atomic.Bool
}

func (i *idleReader) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if n > 0 {
		i.t.Reset(i.d)
	}
	return n, err
}

package proxy

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestCaptureReadBody(t *testing.T) {
	broken := errors.New("connection reset")
	for _, tc := range []struct {
		name      string
		r         io.Reader
		size      int64
		limit     int64
		want      string
		truncated bool
		err       error
	}{
		{"empty", strings.NewReader(""), 0, 10, "", false, nil},
		{"at the limit", strings.NewReader("0123456789"), 10, 10, "0123456789", false, nil},
		{"at the limit, length unknown", iotest.OneByteReader(strings.NewReader("0123456789")), -1, 10, "0123456789", false, nil},
		{"one byte over, length unknown", strings.NewReader("0123456789x"), -1, 10, "", true, nil},
		{"declared over the limit", strings.NewReader("0123456789x"), 11, 10, "", true, nil},
		{"larger than a pooled buffer", strings.NewReader(strings.Repeat("z", 10000)), -1, 1 << 20, strings.Repeat("z", 10000), false, nil},
		{"larger than any pooled buffer", strings.NewReader(strings.Repeat("y", 100000)), 100000, 1 << 20, strings.Repeat("y", 100000), false, nil},
		{"broken mid-way", io.MultiReader(strings.NewReader("01234"), iotest.ErrReader(broken)), -1, 10, "01234", false, broken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c capture
			err := c.readBody(tc.r, tc.size, tc.limit)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if c.resp.Truncated != tc.truncated {
				t.Fatalf("Truncated = %v, want %v", c.resp.Truncated, tc.truncated)
			}
			if !tc.truncated && string(c.resp.Body) != tc.want {
				t.Fatalf("Body = %d bytes %.20q…, want %d bytes", len(c.resp.Body), c.resp.Body, len(tc.want))
			}
			c.release()
			if c.pooled != nil || c.resp.Body != nil {
				t.Fatal("release left the buffer in the capture")
			}
			c.release() // a second release is harmless
		})
	}
}

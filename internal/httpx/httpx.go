// Package httpx holds small HTTP helpers shared by the server's handlers.
package httpx

import "net/http"

// StatusWriter records the first status code written through it (200 if
// the handler writes a body without one; 0 if nothing was written yet). It
// passes Flush and the like on through Unwrap, for http.ResponseController.
type StatusWriter struct {
	http.ResponseWriter
	Status int
}

func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

package proxy

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/cutover/cutover/diff"
)

// DefaultIgnoreHeaders are the response headers never compared: they differ
// between any two servers, or between two answers of the same server, without
// saying anything about the service. Config.IgnoreHeaders extends the list.
// Content-Length is also ignored whenever the bodies are compared as JSON,
// since two encodings of one document may differ in length.
var DefaultIgnoreHeaders = []string{
	"Date", "Server", "Set-Cookie", "X-Request-Id", "X-Correlation-Id", "Request-Id",
	"Traceparent", "Tracestate", "B3", "X-B3-Traceid", "X-B3-Spanid", "X-Amzn-Trace-Id",
	"Age", "Via", "Alt-Svc", "Connection", "Keep-Alive", "Transfer-Encoding",
	"X-Envoy-Upstream-Service-Time",
}

// Response is one side's HTTP answer as the proxy keeps it for comparison:
// the body is a bounded prefix of what the upstream sent.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Header holds the response headers; it is read, never written.
	Header http.Header
	// Body is what was read of the body, at most the configured limit.
	Body []byte
	// Truncated reports that the body was longer than the limit, so Body is
	// only its beginning and bodies are not compared.
	Truncated bool
}

// Comparator compares two HTTP responses: status, headers (minus the
// ignored ones) and bodies, structurally when both are JSON and byte for
// byte otherwise. It is safe for concurrent use; build one and reuse it.
type Comparator struct {
	ignore   map[string]bool // canonical header names
	comparer *diff.Comparer
}

// NewComparator returns a comparator that skips DefaultIgnoreHeaders and
// ignoreHeaders, and ignores the JSON body paths ignorePaths (diff syntax,
// with "[*]" wildcards: ".meta.generatedAt", ".items[*].etag"; a leading
// "body" is accepted and stripped). It fails naming a path that is invalid.
func NewComparator(ignoreHeaders, ignorePaths []string) (*Comparator, error) {
	c := &Comparator{ignore: make(map[string]bool, len(DefaultIgnoreHeaders)+len(ignoreHeaders))}
	for _, h := range DefaultIgnoreHeaders {
		c.ignore[http.CanonicalHeaderKey(h)] = true
	}
	for _, h := range ignoreHeaders {
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, fmt.Errorf("ignore header: empty name; remove it from the list")
		}
		c.ignore[http.CanonicalHeaderKey(h)] = true
	}
	paths := make([]string, 0, len(ignorePaths))
	for _, p := range ignorePaths {
		p = strings.TrimSpace(p)
		p = strings.TrimPrefix(p, "body")
		if p == "" {
			return nil, fmt.Errorf("ignore path: empty path; write a JSON path such as .items[*].etag")
		}
		paths = append(paths, p)
	}
	cmp, err := diff.New(diff.Options{IgnorePaths: paths})
	if err != nil {
		return nil, fmt.Errorf("ignore paths: %w", err)
	}
	c.comparer = cmp
	return c, nil
}

// Compare lists the differences between two responses, ordered: status
// first, then headers by name, then the body. Paths read `status`,
// `header["X-Foo"]`, `body.items[3].price`, or `body` for bodies compared as
// bytes (their lengths and hashes are shown). Bodies are not compared when
// either was truncated. nil means the responses are equal.
func (c *Comparator) Compare(old, new *Response) []diff.Difference {
	var out []diff.Difference
	if old.Status != new.Status {
		out = append(out, diff.Difference{Path: "status", Old: strconv.Itoa(old.Status), New: strconv.Itoa(new.Status)})
	}
	if !old.Truncated && !new.Truncated && bytes.Equal(old.Body, new.Body) {
		// The common case, cheaply: equal bytes need no decoding. A JSON
		// Content-Type still relaxes the Content-Type comparison.
		asJSON := isJSONType(old.Header) && isJSONType(new.Header)
		return c.compareHeaders(out, old.Header, new.Header, asJSON, asJSON || isGzip(old) || isGzip(new))
	}
	oldBody, oldEnc := decodedBody(old)
	newBody, newEnc := decodedBody(new)
	asJSON := !old.Truncated && !new.Truncated && isJSON(old.Header, oldBody) && isJSON(new.Header, newBody)
	out = c.compareHeaders(out, old.Header, new.Header, asJSON, asJSON || oldEnc || newEnc)
	if old.Truncated || new.Truncated {
		return out
	}
	if asJSON {
		ds, err := c.comparer.DiffJSON(oldBody, newBody)
		if err == nil {
			for _, d := range ds {
				d.Path = "body" + d.Path
				out = append(out, d)
			}
			return out
		}
	}
	if !bytes.Equal(oldBody, newBody) {
		out = append(out, diff.Difference{Path: "body", Old: describeBytes(oldBody), New: describeBytes(newBody)})
	}
	return out
}

// compareHeaders appends the header differences. skipLength leaves out
// Content-Length (bodies compared semantically, or re-encoded); asJSON
// compares only the media type of Content-Type ("application/json" and
// "application/json; charset=utf-8" say the same of a JSON body).
func (c *Comparator) compareHeaders(out []diff.Difference, old, new http.Header, asJSON, skipLength bool) []diff.Difference {
	names := make([]string, 0, len(old)+len(new))
	for k := range old {
		names = append(names, k)
	}
	for k := range new {
		if _, ok := old[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		ck := http.CanonicalHeaderKey(k)
		if c.ignore[ck] || (skipLength && ck == "Content-Length") {
			continue
		}
		ov, oOK := old[k]
		nv, nOK := new[k]
		if oOK && nOK && equalStrings(ov, nv) {
			continue
		}
		if asJSON && ck == "Content-Type" && oOK && nOK && len(ov) == 1 && len(nv) == 1 && sameMediaType(ov[0], nv[0]) {
			continue
		}
		d := diff.Difference{Path: `header[` + strconv.Quote(ck) + `]`, Old: diff.Missing, New: diff.Missing}
		if oOK {
			d.Old = strconv.Quote(strings.Join(ov, ", "))
		}
		if nOK {
			d.New = strconv.Quote(strings.Join(nv, ", "))
		}
		out = append(out, d)
	}
	return out
}

func sameMediaType(a, b string) bool {
	ma, _, errA := mime.ParseMediaType(a)
	mb, _, errB := mime.ParseMediaType(b)
	return errA == nil && errB == nil && ma == mb
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// maxDecodedBody bounds a gzip body's decoded size, so that a compressed
// body cannot expand without limit in the comparator.
const maxDecodedBody = 8 << 20

// decodedBody returns the body to compare: gunzipped when the side sent it
// gzip-encoded (re-encoding says nothing about the service), as is otherwise.
// decoded reports that it was decoded.
func decodedBody(r *Response) (body []byte, decoded bool) {
	if r.Truncated || !isGzip(r) {
		return r.Body, false
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.Body))
	if err != nil {
		return r.Body, false
	}
	b, err := io.ReadAll(io.LimitReader(zr, maxDecodedBody))
	if err != nil {
		return r.Body, false
	}
	return b, true
}

func isGzip(r *Response) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("Content-Encoding")), "gzip")
}

// isJSON reports whether a body is to be compared as JSON: its Content-Type
// says JSON (application/json or any +json type), or it has none and the
// body is valid JSON.
func isJSON(h http.Header, body []byte) bool {
	if h.Get("Content-Type") == "" {
		return len(body) > 0 && json.Valid(body)
	}
	return isJSONType(h)
}

// isJSONType reports whether the Content-Type says JSON.
func isJSONType(h http.Header) bool {
	ct := h.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// describeBytes shows a body compared as bytes: its length and the start of
// its SHA-256, never its content (which may be sensitive).
func describeBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%d bytes sha256:%s", len(b), hex.EncodeToString(sum[:6]))
}

// Signature groups the differences of an HTTP comparison: body paths with
// indices and map keys collapsed to [*] (`body.items[*].price`), header
// names kept (`header["X-Foo"]`: a header name is not data), deduplicated,
// sorted and joined by spaces.
func Signature(diffs []diff.Difference) string {
	if len(diffs) == 0 {
		return ""
	}
	seen := make(map[string]bool, len(diffs))
	parts := make([]string, 0, len(diffs))
	for _, d := range diffs {
		s := collapse(d.Path)
		if !seen[s] {
			seen[s] = true
			parts = append(parts, s)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func collapse(path string) string {
	if rest, ok := strings.CutPrefix(path, "body"); ok {
		return "body" + diff.CollapsePath(rest)
	}
	return path
}

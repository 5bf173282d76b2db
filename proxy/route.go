package proxy

import (
	"fmt"
	"net/http"
	"strings"
)

// OtherRoute is the operation name of requests that match no route. Raw
// paths never become operation names or metric labels: they are unbounded.
const OtherRoute = "other"

// Route names a family of requests and says how to treat them. The first
// route whose pattern matches a request applies; a request that matches
// none is named [OtherRoute] and gets the defaults.
type Route struct {
	// Name is the operation name in observations and metric labels
	// ("getOrder"). Zero: the pattern itself ("GET /orders/{id}").
	Name string `json:"name,omitempty"`
	// Pattern is "[METHOD ]/path/template": literal segments, "{name}" for
	// exactly one segment, and a final "{name...}" for the rest of the path.
	// Without a method it matches every method.
	Pattern string `json:"pattern"`
	// ShadowWrites sends unsafe methods (POST, PUT, PATCH, DELETE…) that
	// match this route to both sides in shadow and reverse-shadow, in the
	// write order of the design: the authoritative side first, the other
	// only after it answered 2xx. Zero: unsafe methods go to the
	// authoritative side only.
	ShadowWrites bool `json:"shadow_writes,omitempty"`
	// IgnoreHeaders and IgnorePaths extend the proxy-wide ignore lists for
	// this route.
	IgnoreHeaders []string `json:"ignore_headers,omitempty"`
	IgnorePaths   []string `json:"ignore_paths,omitempty"`
}

// compiledRoute is a Route ready to match.
type compiledRoute struct {
	Route
	method   string // "" for any
	segments []segment
	rest     bool // the template ended with {name...}
	cmp      *Comparator
	counters *routeCounters
}

// segment is one segment of a route template: a literal, or a wildcard.
type segment struct {
	literal  string
	wildcard bool
}

// compileRoute parses a route's pattern. The error names what is wrong.
func compileRoute(r Route) (*compiledRoute, error) {
	p := strings.TrimSpace(r.Pattern)
	c := &compiledRoute{Route: r}
	if m, path, ok := strings.Cut(p, " "); ok {
		c.method, p = strings.ToUpper(strings.TrimSpace(m)), strings.TrimSpace(path)
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("pattern %q: the path must start with /, as in \"GET /orders/{id}\"", r.Pattern)
	}
	if c.Name == "" {
		c.Name = strings.TrimSpace(r.Pattern)
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "...}"):
			if i != len(parts)-1 {
				return nil, fmt.Errorf("pattern %q: {name...} must be the last segment", r.Pattern)
			}
			c.rest = true
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			if len(s) < 3 {
				return nil, fmt.Errorf("pattern %q: segment %d: a wildcard needs a name, as in {id}", r.Pattern, i+1)
			}
			c.segments = append(c.segments, segment{wildcard: true})
		case strings.ContainsAny(s, "{}"):
			return nil, fmt.Errorf("pattern %q: segment %q: a wildcard must be a whole segment, as in /orders/{id}", r.Pattern, s)
		default:
			c.segments = append(c.segments, segment{literal: s})
		}
	}
	return c, nil
}

// match reports whether the route matches method and path. HEAD matches a
// GET route. It allocates nothing.
func (c *compiledRoute) match(method, path string) bool {
	if c.method != "" && c.method != method && !(c.method == http.MethodGet && method == http.MethodHead) {
		return false
	}
	if !strings.HasPrefix(path, "/") {
		return false
	}
	path = path[1:]
	for i, seg := range c.segments {
		if i > 0 {
			// The previous segment consumed a "/"; there must be more path.
			j := strings.IndexByte(path, '/')
			if j < 0 {
				return false
			}
			path = path[j+1:]
		}
		part := path
		if j := strings.IndexByte(path, '/'); j >= 0 {
			part = path[:j]
		}
		if seg.wildcard {
			if part == "" {
				return false
			}
		} else if seg.literal != part {
			return false
		}
	}
	// Everything after the last matched segment.
	rest := path
	if len(c.segments) > 0 {
		if j := strings.IndexByte(path, '/'); j >= 0 {
			rest = path[j:]
		} else {
			rest = ""
		}
	}
	return rest == "" || c.rest
}

// KeyFrom says where a request's sticky key comes from: "header:NAME",
// "cookie:NAME", "query:NAME" or "path:N" (the Nth path segment, from 0:
// in /users/42/orders, path:1 is "42").
type KeyFrom struct {
	kind string // header, cookie, query, path
	name string
	seg  int
}

// ParseKeyFrom parses a key attribute such as "header:X-User-Id". The empty
// string means no key attribute: every request is keyless.
func ParseKeyFrom(s string) (KeyFrom, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return KeyFrom{}, nil
	}
	kind, name, ok := strings.Cut(s, ":")
	kind, name = strings.ToLower(strings.TrimSpace(kind)), strings.TrimSpace(name)
	if !ok || name == "" {
		return KeyFrom{}, fmt.Errorf("key %q: want header:NAME, cookie:NAME, query:NAME or path:N", s)
	}
	k := KeyFrom{kind: kind, name: name}
	switch kind {
	case "header":
		k.name = http.CanonicalHeaderKey(name)
	case "cookie", "query":
	case "path":
		n := 0
		for _, ch := range name {
			if ch < '0' || ch > '9' {
				return KeyFrom{}, fmt.Errorf("key %q: path:N needs a segment index from 0, as in path:1", s)
			}
			n = n*10 + int(ch-'0')
			if n > 1000 {
				return KeyFrom{}, fmt.Errorf("key %q: segment index too large", s)
			}
		}
		k.seg = n
	default:
		return KeyFrom{}, fmt.Errorf("key %q: unknown kind %q; want header, cookie, query or path", s, kind)
	}
	return k, nil
}

// String returns the attribute as ParseKeyFrom reads it.
func (k KeyFrom) String() string {
	if k.kind == "" {
		return ""
	}
	return k.kind + ":" + k.name
}

// MarshalText encodes the attribute as ParseKeyFrom reads it.
func (k KeyFrom) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes the attribute with ParseKeyFrom.
func (k *KeyFrom) UnmarshalText(b []byte) error {
	v, err := ParseKeyFrom(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// extract returns the request's key, or "" when it has none.
func (k KeyFrom) extract(r *http.Request) string {
	switch k.kind {
	case "header":
		if v := r.Header[k.name]; len(v) > 0 {
			return v[0]
		}
	case "cookie":
		if c, err := r.Cookie(k.name); err == nil {
			return c.Value
		}
	case "query":
		if r.URL.RawQuery != "" {
			return r.URL.Query().Get(k.name)
		}
	case "path":
		return pathSegment(r.URL.Path, k.seg)
	}
	return ""
}

// pathSegment returns the nth segment of path (from 0), or "".
func pathSegment(path string, n int) string {
	path = strings.TrimPrefix(path, "/")
	for i := 0; ; i++ {
		j := strings.IndexByte(path, '/')
		if i == n {
			if j < 0 {
				return path
			}
			return path[:j]
		}
		if j < 0 {
			return ""
		}
		path = path[j+1:]
	}
}

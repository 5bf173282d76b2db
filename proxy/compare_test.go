package proxy

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/cutover/cutover/diff"
)

func TestCompare(t *testing.T) {
	c, err := NewComparator([]string{"X-Build"}, []string{"body.meta.generatedAt", ".items[*].etag"})
	if err != nil {
		t.Fatal(err)
	}
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		old, new Response
		want     []string
	}{
		{"equal", Response{Status: 200, Body: []byte("a")}, Response{Status: 200, Body: []byte("a")}, nil},
		{"status", Response{Status: 200}, Response{Status: 404}, []string{"status: 200 != 404"}},
		{"ignored headers", Response{Status: 200, Header: h("Date", "1", "X-Build", "a", "Server", "x")},
			Response{Status: 200, Header: h("Date", "2", "X-Build", "b")}, nil},
		{"header", Response{Status: 200, Header: h("X-Foo", "1")}, Response{Status: 200, Header: h("X-Bar", "2")},
			[]string{`header["X-Bar"]: <missing> != "2"`, `header["X-Foo"]: "1" != <missing>`}},
		{"json ignores length and ignored paths",
			Response{Status: 200, Header: h("Content-Type", "application/json", "Content-Length", "40"),
				Body: []byte(`{"meta":{"generatedAt":1},"items":[{"etag":"a","n":1}]}`)},
			Response{Status: 200, Header: h("Content-Type", "application/json; charset=utf-8", "Content-Length", "41"),
				Body: []byte(`{"meta":{"generatedAt":2},"items":[{"etag":"b","n":2}]}`)},
			[]string{"body.items[0].n: 1 != 2"}},
		{"bytes", Response{Status: 200, Header: h("Content-Type", "text/plain"), Body: []byte("abc")},
			Response{Status: 200, Header: h("Content-Type", "text/plain"), Body: []byte("abd")},
			[]string{"body: 3 bytes sha256:ba7816bf8f01 != 3 bytes sha256:a52d159f262b"}},
		{"truncated bodies not compared", Response{Status: 200, Truncated: true}, Response{Status: 200, Body: []byte("x")}, nil},
		{"gzip decoded", Response{Status: 200, Header: h("Content-Encoding", "gzip", "Content-Length", "30"), Body: gz("hello")},
			Response{Status: 200, Header: h("Content-Encoding", "gzip", "Content-Length", "31"), Body: gz("hello")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, d := range c.Compare(&tc.old, &tc.new) {
				got = append(got, d.String())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.Bytes()
}

func TestSignature(t *testing.T) {
	got := Signature([]diff.Difference{{Path: "body.items[3].price"}, {Path: `header["X-Foo"]`}, {Path: "body.items[1].price"}, {Path: "status"}})
	if want := `body.items[*].price header["X-Foo"] status`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestRouteMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, method, path string
		want                  bool
	}{
		{"/orders/{id}", "GET", "/orders/42", true},
		{"/orders/{id}", "GET", "/orders/", false},
		{"/orders/{id}", "GET", "/orders/42/items", false},
		{"/orders/{id}", "GET", "/orders", false},
		{"GET /orders/{id}", "HEAD", "/orders/1", true},
		{"GET /orders/{id}", "POST", "/orders/1", false},
		{"/files/{path...}", "GET", "/files/a/b/c", true},
		{"/files/{path...}", "GET", "/files", true},
		{"/", "GET", "/", true},
		{"/", "GET", "/x", false},
		{"/{rest...}", "GET", "/x/y", true},
		{"/a/{b}/c", "GET", "/a/1/c", true},
		{"/a/{b}/c", "GET", "/a/1/d", false},
	} {
		c, err := compileRoute(Route{Pattern: tc.pattern})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.match(tc.method, tc.path); got != tc.want {
			t.Errorf("%q matches %s %s = %v, want %v", tc.pattern, tc.method, tc.path, got, tc.want)
		}
	}
	for _, bad := range []string{"orders", "/a/{}/b", "/a/x{id}", "/{rest...}/x"} {
		if _, err := compileRoute(Route{Pattern: bad}); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

func TestRouteMatchAllocatesNothing(t *testing.T) {
	c, _ := compileRoute(Route{Pattern: "GET /orders/{id}/items/{item}"})
	if n := testing.AllocsPerRun(100, func() { c.match("GET", "/orders/1/items/2") }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func FuzzCompare(f *testing.F) {
	f.Add(200, 200, "application/json", `{"a":[1,2]}`, `{"a":[1,3]}`, "X-A", "1")
	f.Add(200, 500, "text/plain", "x", "y", "Date", "now")
	f.Add(204, 204, "", `[]`, `{}`, "", "")
	f.Add(200, 200, "application/problem+json", `{"a":1e999}`, `not json`, "X-B", "")
	c, err := NewComparator([]string{"X-Ignore"}, []string{".ignored", ".list[*].x"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s1, s2 int, ct, b1, b2, hk, hv string) {
		mk := func(s int, body string, extra bool) *Response {
			h := http.Header{}
			if ct != "" {
				h.Set("Content-Type", ct)
			}
			if extra && hk != "" {
				h[hk] = []string{hv}
			}
			return &Response{Status: s, Header: h, Body: []byte(body)}
		}
		a, b := mk(s1, b1, true), mk(s2, b2, false)
		if d := c.Compare(a, a); len(d) != 0 {
			t.Fatalf("self-compare not equal: %v", d)
		}
		ab, ba := paths(c.Compare(a, b)), paths(c.Compare(b, a))
		if !reflect.DeepEqual(ab, ba) {
			t.Fatalf("not symmetric:\n%v\n%v", ab, ba)
		}
		for _, d := range c.Compare(a, b) {
			if !(d.Path == "status" || strings.HasPrefix(d.Path, "header[") || strings.HasPrefix(d.Path, "body")) {
				t.Fatalf("unexpected path %q", d.Path)
			}
		}
		_ = Signature(c.Compare(a, b))
	})
}

func paths(ds []diff.Difference) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Path
	}
	sort.Strings(out)
	return out
}

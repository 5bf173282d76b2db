package proxy_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/cutover/cutover"
	"github.com/cutover/cutover/proxy"
)

// A proxy in shadow mode in front of two versions of a service: the client
// gets old's answer, and the difference with new's is observed.
func Example() {
	oldSvc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id": 42, "total": 3490}`)
	}))
	defer oldSvc.Close()
	newSvc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id": 42, "total": 3500}`)
	}))
	defer newSvc.Close()

	oldURL, _ := url.Parse(oldSvc.URL)
	newURL, _ := url.Parse(newSvc.URL)
	key, _ := proxy.ParseKeyFrom("header:X-User-Id")
	rec := &cutover.Recorder{}
	p, err := proxy.New(proxy.Config{
		Migration: "orders",
		Old:       oldURL,
		New:       newURL,
		Rollout:   cutover.Rollout{Mode: cutover.ModeShadow},
		Key:       key,
		Routes:    []proxy.Route{{Name: "getOrder", Pattern: "GET /orders/{id}"}},
		Sinks:     []cutover.Sink{rec},
	})
	if err != nil {
		log.Fatal(err)
	}
	front := httptest.NewServer(p)
	defer front.Close()

	req, _ := http.NewRequest("GET", front.URL+"/orders/42", nil)
	req.Header.Set("X-User-Id", "u-17")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println("client got:", string(body))

	if err := p.Close(context.Background()); err != nil { // waits for the comparison
		log.Fatal(err)
	}
	for _, o := range rec.Observations() {
		fmt.Println(o.Operation, o.Key, o.Outcome, o.Diffs)
	}
	// Output:
	// client got: {"id": 42, "total": 3490}
	// getOrder u-17 mismatch [body.total: 3490 != 3500]
}

// Command benchupstream serves the upstreams of proxy/bench.sh on loopback:
// an old service answering after -delay and a new one ten times slower; it
// prints their addresses, one per line, then serves until killed. With
// -baseline URL it is instead the baseline: a plain httputil.ReverseProxy in
// front of URL, in a process of its own like `cutover proxy`, printing its
// address.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

const body = `{"id":42,"status":"paid","items":[{"sku":"a-1","qty":2,"price":1250},{"sku":"b-7","qty":1,"price":990}],"total":3490}`

func main() {
	delay := flag.Duration("delay", time.Millisecond, "old's service time; new's is ten times longer")
	baseline := flag.String("baseline", "", "serve a plain ReverseProxy in front of this URL instead")
	flag.Parse()
	serve := func(h http.Handler) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		go func() { log.Fatal(http.Serve(ln, h)) }()
		return "http://" + ln.Addr().String()
	}
	upstream := func(d time.Duration) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(d)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, body)
		})
	}
	if *baseline != "" {
		u, err := url.Parse(*baseline)
		if err != nil {
			log.Fatal(err)
		}
		rp := httputil.NewSingleHostReverseProxy(u)
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 256
		rp.Transport = t
		fmt.Println(serve(rp))
		select {}
	}
	fmt.Println(serve(upstream(*delay)))
	fmt.Println(serve(upstream(10 * *delay)))
	select {}
}

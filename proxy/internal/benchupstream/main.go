// Command benchupstream serves the upstreams of proxy/bench.sh on loopback:
// an old service answering after -delay, a new one ten times slower, and a
// plain httputil.ReverseProxy in front of old as the baseline. It prints
// the three addresses, one per line, then serves until killed.
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
	oldURL := serve(upstream(*delay))
	newURL := serve(upstream(10 * *delay))
	u, _ := url.Parse(oldURL)
	rp := httputil.NewSingleHostReverseProxy(u)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 256
	rp.Transport = t
	baseline := serve(rp)
	fmt.Println(oldURL)
	fmt.Println(newURL)
	fmt.Println(baseline)
	select {}
}

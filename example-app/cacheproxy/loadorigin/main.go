// Command loadorigin is the origin of the cacheproxy load run (see
// loadrun.sh and docs/responsecache.md): a minimal net/http server that
// answers every path with the same 2 KiB body and
// "Cache-Control: public, max-age=3600", so that every cache in front of it
// serves hits.
//
//	go run ./example-app/cacheproxy/loadorigin -addr 127.0.0.1:19080
package main

import (
	"bytes"
	"flag"
	"log"
	"net/http"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:19080", "listen address")
	size := flag.Int("size", 2048, "body size in bytes")
	flag.Parse()
	body := bytes.Repeat([]byte("<p>rediware responsecache benchmark</p>\n"), *size/40+1)[:*size]
	n := strconv.Itoa(len(body))
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Content-Length", n)
		w.Write(body)
	})))
}

// Command bench-mercure is the Mercure baseline of the bench suite: a Mercure hub (in-memory
// transport, anonymous subscribers, HS256 publisher key) on a loopback address. It lives in its own
// module so the product's go.mod does not carry Mercure.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/dunglas/mercure"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	key := flag.String("key", "bench-publisher-key-0123456789abcdef", "publisher JWT HS256 key")
	flag.Parse()
	h, err := mercure.NewHub(mercure.WithAnonymous(), mercure.WithPublisherJWT([]byte(*key), "HS256"),
		mercure.WithTransport(mercure.NewLocalTransport()))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/.well-known/mercure", h)
	log.Fatal(http.ListenAndServe(*addr, mux))
}

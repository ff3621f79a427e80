package main

// The reference broadcaster: a minimal SSE server, the practical ceiling of fan-out on this
// machine. One goroutine per client (its handler), a bounded queue each, and one ~1 KB
// Datastar-shaped fragment built once per publish and handed to every queue; a client whose
// queue is full is dropped, a stalled one is cut by its write deadline.

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

type refHub struct {
	mu      sync.Mutex
	clients map[chan []byte]struct{}
}

func refPayload(ch string, at int64) []byte {
	card := fmt.Sprintf(`<article id="channel-%s" class="rounded-lg border border-gray-200 bg-white p-4 shadow-sm" data-channel="%s" data-status="IN_PROGRESS" data-updated-at="%d">`, strings.ToLower(ch), ch, at)
	body := `<div class="flex items-center justify-between"><h3 class="text-sm font-semibold">` + ch + `</h3><span class="rounded-full bg-blue-100 px-2 text-xs text-blue-800">In progress</span></div>` +
		`<div role="progressbar" aria-valuenow="42" aria-valuemin="0" aria-valuemax="100" class="h-2 w-full overflow-hidden rounded-full bg-gray-200"><div class="h-full w-[42%] rounded-full bg-blue-600 transition-[width] duration-300 ease-out"></div></div>`
	pad := strings.Repeat(`<span class="sr-only"></span>`, max(0, (1000-len(card)-len(body))/29))
	return []byte("event: datastar-patch-elements\ndata: elements " + card + body + pad + "</article>\n\n")
}

func refMain(args []string) {
	fs := flag.NewFlagSet("ref", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	_ = fs.Parse(args)
	h := &refHub{clients: map[chan []byte]struct{}{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sse", func(w http.ResponseWriter, r *http.Request) {
		q := make(chan []byte, 64)
		h.mu.Lock()
		h.clients[q] = struct{}{}
		h.mu.Unlock()
		defer func() {
			h.mu.Lock()
			delete(h.clients, q)
			h.mu.Unlock()
		}()
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		_ = rc.Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case b, ok := <-q:
				if !ok {
					return
				}
				_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := w.Write(b); err != nil {
					return
				}
				if rc.Flush() != nil {
					return
				}
			}
		}
	})
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		at, _ := strconv.ParseInt(r.URL.Query().Get("at"), 10, 64)
		b := refPayload(r.URL.Query().Get("ch"), at)
		h.mu.Lock()
		for q := range h.clients {
			select {
			case q <- b:
			default:
				delete(h.clients, q)
				close(q)
			}
		}
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	log.Fatal(http.ListenAndServe(*addr, mux))
}

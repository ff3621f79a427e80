package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
)

// profileDir holds the product's profiles of the last run (pprof format; `go tool pprof -top
// bin/distribution FILE`). They are what the closing notes quote when a target is missed.
const profileDir = "bench/results/profiles"

// saveProfile fetches /debug/pprof/{kind} from the product's profiler into profileDir/name.pb.gz
// (and, for the heap, its text form with the MemStats into name.txt).
// It is best effort: a missing profile never fails the suite.
func saveProfile(debugAddr, kind, name string) {
	if debugAddr == "" {
		return
	}
	q := ""
	if kind == "heap" {
		q = "?gc=1" // live objects after a collection, the figure that idle memory tracks
	}
	fetchProfile(fmt.Sprintf("http://%s/debug/pprof/%s%s", debugAddr, kind, q), name+".pb.gz")
	if kind == "heap" { // the text form ends with runtime.MemStats: stacks, heap in use, GC target
		fetchProfile(fmt.Sprintf("http://%s/debug/pprof/heap?debug=1", debugAddr), name+".txt")
	}
}

// startCPUProfile starts a CPU profile of the product that ends when the returned func is called.
func startCPUProfile(debugAddr, name string) (stop func()) {
	if debugAddr == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fetchProfile(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=10", debugAddr), name+".pb.gz")
	}()
	return func() { <-done }
}

func fetchProfile(url, name string) {
	r, err := http.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: profile:", err)
		return
	}
	defer r.Body.Close()
	if err := os.MkdirAll(profileDir, 0o755); err != nil {
		return
	}
	f, err := os.Create(filepath.Join(profileDir, name))
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, r.Body)
}

package engine

import (
	"context"
	"sync"
)

// loop is one background goroutine of an engine (the reconciler, the scheduler, the liveness
// check): start runs it until stop, which cancels it and waits for it to return. Starting a
// running loop and stopping a stopped one do nothing.
type loop struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs run(ctx) in a goroutine; ctx ends at stop.
func (l *loop) start(ctx context.Context, run func(ctx context.Context)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		return
	}
	ctx, l.cancel = context.WithCancel(ctx)
	done := make(chan struct{})
	l.done = done
	go func() {
		defer close(done)
		run(ctx)
	}()
}

// stop cancels the goroutine and waits for it to return.
func (l *loop) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel == nil {
		return
	}
	l.cancel()
	<-l.done
	l.cancel = nil
}

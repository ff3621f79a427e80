package engine

import (
	"context"
	"sync"
	"time"

	"github.com/marketing-platform/distribution/db"
)

// Group commit for starts. A start is a transaction of a few round trips and a commit; under
// concurrent starts most of that is waiting, and the job insert (River's indexes) dominates. So
// starts that arrive while one is being written wait for it and then go together, in one
// transaction (db.StartDistributions: one round trip for all their rows, one job insert, one
// commit). Alone, a start goes at once: nothing waits for a batch to fill.
//
// There is no batching goroutine: a caller that finds fewer than startLeaders batches in flight
// leads, writing its own start and whatever queued meanwhile; when it is done it hands the lead
// to the first caller still queued, so no caller writes more than one batch.

// maxStartBatch bounds one group commit.
const maxStartBatch = 64

// startLeaders is how many group commits are written at once: more than one keeps the database
// busy while a batch's round trips are in flight, and batching only pays once more callers wait
// than this. make bench, distributions started/s against the raw 1+6 INSERT + InsertMany at 2 to
// 32 clients (2 cores, shared): at 4 clients every setting from 1 to 4 reads 0.58-0.64x (one
// start's work, alone, is the limit); at 8 and 16 clients two leaders read 0.76-0.80x and
// 0.93-0.96x where four read 0.67-0.71x and 0.85-0.91x; at 32 all reach 0.99-1.09x.
const startLeaders = 2

// startBatchTimeout bounds one group commit, which no single caller's context may cancel.
const startBatchTimeout = 30 * time.Second

type startCall struct {
	req  db.StartRequest
	res  db.StartResult
	done chan struct{} // closed when res is set
	lead chan struct{} // signalled when this caller is to write the next batch
}

type startBatcher struct {
	store   *db.DB
	enqueue db.EnqueueFunc

	leaders int // batches written at once (at least 1)

	mu      sync.Mutex
	queue   []*startCall
	leading int // callers writing a batch now
}

// start runs req in the next group commit and returns its result. The caller's context bounds
// nothing once its start is queued: the batch it joined is written for every caller in it.
func (b *startBatcher) start(ctx context.Context, req db.StartRequest) db.StartResult {
	c := &startCall{req: req, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	b.mu.Lock()
	if b.leading < b.leaders {
		b.leading++
	} else {
		b.queue = append(b.queue, c)
		b.mu.Unlock()
		select {
		case <-c.done: // a leader took it into its batch
			return c.res
		case <-c.lead: // a leader finished and took it off the queue: lead the next batch
		}
		b.mu.Lock()
	}
	batch := b.take(c)
	b.mu.Unlock()

	b.write(ctx, batch)

	b.mu.Lock()
	if len(b.queue) > 0 {
		next := b.queue[0]
		b.queue = b.queue[1:]
		next.lead <- struct{}{}
	} else {
		b.leading--
	}
	b.mu.Unlock()
	return c.res
}

// take returns c and up to maxStartBatch-1 queued calls, off the queue (b.mu held).
func (b *startBatcher) take(c *startCall) []*startCall {
	n := min(len(b.queue), maxStartBatch-1)
	batch := append([]*startCall{c}, b.queue[:n]...)
	b.queue = b.queue[n:]
	return batch
}

func (b *startBatcher) write(ctx context.Context, batch []*startCall) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), startBatchTimeout)
	defer cancel()
	reqs := make([]db.StartRequest, len(batch))
	for i, c := range batch {
		reqs[i] = c.req
	}
	for i, r := range b.store.StartDistributions(ctx, reqs, b.enqueue) {
		batch[i].res = r
		close(batch[i].done)
	}
}

// Package testkit holds what tests share that is neither a database (dbtest) nor a process
// (proctest): waiting for a condition that has no signal to wait on. It is imported only by
// _test.go files and by the other testkit packages.
package testkit

import (
	"fmt"
	"testing"
	"time"
)

// Polling starts fast, so a condition that is nearly true costs a millisecond, and backs off to
// maxPoll, so a long wait does not hammer the database or API it reads.
const (
	firstPoll = time.Millisecond
	maxPoll   = 20 * time.Millisecond
)

// Eventually polls cond until it returns true; after timeout the test fails with
// "timed out after <timeout> waiting for <what>". cond is always checked at least once, and runs
// on the test's goroutine, so it may call t.Fatal itself.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	EventuallyErr(t, timeout, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

var errNotYet = fmt.Errorf("condition not met")

// EventuallyErr polls cond until it returns nil and returns how long that took; after timeout
// the test fails with what it waited for and cond's last error (what the last check saw).
func EventuallyErr(t testing.TB, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	timeout = max(timeout, 0) // a deadline already past (proctest.WaitFor) still gets one check
	deadline := start.Add(timeout)
	wait := firstPoll
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if !time.Now().Before(deadline) {
			if err == errNotYet {
				t.Fatalf("timed out after %s waiting for %s", timeout, what)
			} else {
				t.Fatalf("timed out after %s waiting for %s; last seen: %v", timeout, what, err)
			}
			return time.Since(start) // only reached when Fatalf does not stop the goroutine (a fake TB)
		}
		// The one sanctioned sleep: a poll with a deadline, never a synchronisation.
		time.Sleep(min(wait, time.Until(deadline)))
		wait = min(2*wait, maxPoll)
	}
}

package testkit_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/testkit"
)

// fakeTB records a Fatalf and stops the goroutine as the real one does.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a fake TB on its own goroutine (Goexit must not end the real test) and
// returns the failure message, "" when fn passed.
func run(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.failed
}

func TestEventuallyPassesWhenTheConditionTurnsTrue(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	msg := run(t, func(tb testing.TB) {
		testkit.Eventually(tb, 10*time.Second, "the third check", func() bool { return n.Add(1) >= 3 })
	})
	if msg != "" {
		t.Fatalf("failed: %s", msg)
	}
	if got := n.Load(); got != 3 {
		t.Errorf("cond checked %d times, want 3 (it must stop once true)", got)
	}
}

func TestEventuallyFailsNamingWhatItWaitedFor(t *testing.T) {
	t.Parallel()
	start := time.Now()
	var checks atomic.Int32
	msg := run(t, func(tb testing.TB) {
		testkit.Eventually(tb, 100*time.Millisecond, "the moon", func() bool { checks.Add(1); return false })
	})
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("gave up after %s, before the 100ms timeout", took)
	}
	if want := "timed out after 100ms waiting for the moon"; msg != want {
		t.Errorf("failure %q, want %q", msg, want)
	}
	if checks.Load() < 2 {
		t.Errorf("cond checked %d times, want a poll", checks.Load())
	}
}

func TestEventuallyChecksOnceEvenWithNoTime(t *testing.T) {
	t.Parallel()
	if msg := run(t, func(tb testing.TB) {
		testkit.Eventually(tb, -time.Second, "already true", func() bool { return true })
	}); msg != "" {
		t.Fatalf("failed: %s", msg)
	}
}

func TestEventuallyErrReportsTheLastError(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	var took time.Duration
	if msg := run(t, func(tb testing.TB) {
		took = testkit.EventuallyErr(tb, 10*time.Second, "no error", func() error {
			if n.Add(1) < 2 {
				return errors.New("not yet")
			}
			return nil
		})
	}); msg != "" || took <= 0 {
		t.Fatalf("failed %q after %s", msg, took)
	}

	n.Store(0)
	msg := run(t, func(tb testing.TB) {
		testkit.EventuallyErr(tb, 50*time.Millisecond, "the row", func() error {
			return fmt.Errorf("check %d: no rows", n.Add(1))
		})
	})
	last := fmt.Sprintf("check %d: no rows", n.Load())
	if !strings.HasPrefix(msg, "timed out after 50ms waiting for the row; last seen: ") || !strings.HasSuffix(msg, last) {
		t.Errorf("failure %q, want the last error %q", msg, last)
	}
}

package cache

import (
	"context"
	"slices"
	"testing"

	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// One script call writes several keys, each by its own version rule; field values travel as
// bytes (line breaks, NUL, invalid UTF-8); a Redis that lost its scripts (restart, SCRIPT FLUSH)
// is answered by EVAL, with nothing lost.
func TestVersionedWritesManyKeysInOneCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := dbtest.StartRedis(t)
	rc, err := NewClient(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	hostile := "a\r\nb\x00c\xff\xfe"
	w := func(key string, id, ver int64, v string) versioned {
		return versioned{key, 60, id, ver, modeWrite, []any{"id", id, "version", ver, "v", v}}
	}
	// newer: holds version 5; equal: holds version 3; absent: nothing; older id: a lower row id.
	if _, err := runVersionedResults(ctx, rc, []versioned{w("newer", 1, 5, "kept"), w("equal", 1, 3, "kept"), w("olderid", 1, 9, "old row")}); err != nil {
		t.Fatal(err)
	}
	if err := rc.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := runVersionedResults(ctx, rc, []versioned{
		w("newer", 1, 4, "lost"), w("equal", 1, 3, "not rewritten"), w("absent", 7, 0, hostile), w("olderid", 2, 1, "new row"),
	})
	if err != nil {
		t.Fatalf("after SCRIPT FLUSH: %v", err)
	}
	if want := []int64{0, 1, 2, 2}; !slices.Equal(got, want) {
		t.Fatalf("results %v, want %v (newer kept, equal renewed, absent written, higher id written)", got, want)
	}
	for key, want := range map[string]string{"newer": "kept", "equal": "kept", "absent": hostile, "olderid": "new row"} {
		if v, err := rc.HGet(ctx, key, "v").Result(); err != nil || v != want {
			t.Errorf("%s: v = %q (%v), want %q", key, v, err, want)
		}
	}
	if ttl := rc.TTL(ctx, "equal").Val(); ttl <= 0 {
		t.Errorf("equal version: TTL %s, want renewed", ttl)
	}
}

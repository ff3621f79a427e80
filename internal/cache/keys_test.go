package cache_test

import (
	"slices"
	"testing"

	"github.com/marketing-platform/distribution/internal/cache"
	"github.com/marketing-platform/distribution/internal/model"
)

func TestKeys(t *testing.T) {
	t.Parallel()
	if k := cache.EventKey("ev-1"); k != "event:ev-1:distribution" {
		t.Errorf("EventKey = %q", k)
	}
	if k := cache.CreatedKey("ev-1"); k != "event:ev-1:created" {
		t.Errorf("CreatedKey = %q", k)
	}
	if k := cache.ChannelKey("ev-1", model.ChannelKakao); k != "distribution:channel:ev-1:KAKAO" {
		t.Errorf("ChannelKey = %q", k)
	}
	if got := cache.KeyspacePatterns(0); !slices.Equal(got, []string{"__keyspace@0__:event:*:distribution", "__keyspace@0__:distribution:channel:*", "__keyspace@0__:event:*:created"}) {
		t.Errorf("KeyspacePatterns(0) = %v", got)
	}
	if got := cache.KeyspacePatterns(12); got[0] != "__keyspace@12__:event:*:distribution" {
		t.Errorf("KeyspacePatterns(12) = %v", got)
	}
	if cache.EventTTL != 3600e9 || cache.ChannelTTL != 1800e9 {
		t.Errorf("TTLs %v %v", cache.EventTTL, cache.ChannelTTL)
	}

	uuid := "0b7e3f4c-9a51-4e1e-8f0e-2f8d3c1a5b6d"
	for _, tc := range []struct {
		in string
		id string
		ch model.Channel
		ok bool
	}{
		{"event:ev-1:distribution", "ev-1", "", true},
		{"event:" + uuid + ":distribution", uuid, "", true},
		{"distribution:channel:ev-1:KAKAO", "ev-1", model.ChannelKakao, true},
		{"distribution:channel:" + uuid + ":URIDONGNETV", uuid, model.ChannelUridongneTV, true},
		{"__keyspace@0__:event:ev-1:distribution", "ev-1", "", true},
		{"__keyspace@15__:distribution:channel:ev_2:NAVER", "ev_2", model.ChannelNaver, true},
		{"event:ev-1:created", "ev-1", "", true},
		{"__keyspace@3__:event:ev_3:created", "ev_3", "", true},
		{"event:ev-1:created:x", "", "", false},
		{"event:ev-1", "", "", false},
		{"event::distribution", "", "", false},
		{"event:a:b:distribution", "", "", false},
		{"event:ev-1:distribution:x", "", "", false},
		{"distribution:channel:ev-1:TWITTER", "", "", false},
		{"distribution:channel:ev-1", "", "", false},
		{"distribution:channel:ev-1:KAKAO:x", "", "", false},
		{"distribution:channel:*:KAKAO", "", "", false},
		{"session:abc", "", "", false},
		{"__keyspace@0__", "", "", false},
		{"__keyspace@0__:session:x", "", "", false},
		{"", "", "", false},
	} {
		id, ch, ok := cache.ParseKey(tc.in)
		if id != tc.id || ch != tc.ch || ok != tc.ok {
			t.Errorf("ParseKey(%q) = %q, %q, %v; want %q, %q, %v", tc.in, id, ch, ok, tc.id, tc.ch, tc.ok)
		}
		if eid, ok := cache.EventIDOf(tc.in); eid != tc.id || ok != tc.ok {
			t.Errorf("EventIDOf(%q) = %q, %v", tc.in, eid, ok)
		}
	}
	// Keys parse back.
	for _, ch := range model.AllChannels {
		if id, c, ok := cache.ParseKey(cache.ChannelKey("x", ch)); id != "x" || c != ch || !ok {
			t.Errorf("round trip of %s: %q %q %v", ch, id, c, ok)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"event:ev-1:distribution", "distribution:channel:ev-1:KAKAO", "__keyspace@0__:event:a:distribution", "__keyspace@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ch, ok := cache.ParseKey(s)
		if !ok {
			return
		}
		if !model.ValidEventID(id) || (ch != "" && !ch.Valid()) {
			t.Fatalf("ParseKey(%q) accepted %q %q", s, id, ch)
		}
	})
}

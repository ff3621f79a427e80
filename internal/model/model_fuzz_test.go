package model

import (
	"strings"
	"testing"
)

// Event ids and channel names arrive in URLs and bodies: the checks never panic and accept only
// the allowlisted forms (no path separators, no wildcards, bounded length).
func FuzzValidEventID(f *testing.F) {
	for _, s := range []string{"ev-1", "", "../x", "*", "a/b", strings.Repeat("a", 37), strings.Repeat("x", 10240), "%00", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if !ValidEventID(id) {
			return
		}
		if len(id) == 0 || len(id) > 36 || strings.ContainsAny(id, "./\\*%?# \x00") {
			t.Fatalf("ValidEventID accepted %q", id)
		}
	})
}

func FuzzParseChannel(f *testing.F) {
	for _, s := range []string{"NAVER", "kakao", "", "NAVER,KAKAO", "INSTAGRAM\x00", strings.Repeat("N", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ch, err := ParseChannel(s)
		if err != nil {
			if ErrorCode(err) != EINVALID {
				t.Fatalf("ParseChannel(%q) error %v is not EINVALID", s, err)
			}
			return
		}
		if !ch.Valid() {
			t.Fatalf("ParseChannel(%q) = %q, not a known channel", s, ch)
		}
	})
}

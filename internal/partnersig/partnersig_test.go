package partnersig

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	t.Parallel()
	sec := NewSecret()
	if j, err := json.Marshal(struct{ S Secret }{sec}); err != nil || string(j) != `{"S":"[redacted]"}` {
		t.Errorf("json: %s %v", j, err)
	}
	if len(sec) != 64 || fmt.Sprint(sec) != "[redacted]" || string(NewSecret()) == string(sec) {
		t.Fatalf("NewSecret: %d bytes, prints %v", len(sec), sec)
	}
	now := time.Unix(1_700_000_000, 0)
	ts, sig := Sign(sec, now, "POST", "/p", []byte("b"))
	if ts != "1700000000" || !strings.HasPrefix(sig, "v1=") || len(sig) != 3+64 {
		t.Fatalf("Sign = %q %q", ts, sig)
	}
	if err := Verify(sec, now, "POST", "/p", []byte("b"), ts, sig); err != nil {
		t.Fatal(err)
	}
	// Method, path and body are all covered: "POST /p\nb" must not verify as "POST /p\n" + "b" moved.
	for _, c := range [][3]string{{"GET", "/p", "b"}, {"POST", "/q", "b"}, {"POST", "/p", "c"}, {"POST", "/p\nb", ""}} {
		if err := Verify(sec, now, c[0], c[1], []byte(c[2]), ts, sig); err == nil {
			t.Errorf("Verify accepted %q", c)
		}
	}
	if _, err := CheckSecret([]byte(" \n" + strings.Repeat("a", 31) + "\n")); err == nil {
		t.Error("CheckSecret accepted 31 bytes")
	}
	if s, err := CheckSecret([]byte(" \n" + strings.Repeat("a", 32) + "\r\n")); err != nil || string(s) != strings.Repeat("a", 32) {
		t.Errorf("CheckSecret(32 bytes with spaces) = %q %v", s, err)
	}
	// The window is inclusive at 5 minutes both ways and refuses a second more.
	for _, d := range []time.Duration{Window, -Window} {
		if err := Verify(sec, now.Add(d), "POST", "/p", []byte("b"), ts, sig); err != nil {
			t.Errorf("skew %s: %v", d, err)
		}
	}
	for _, d := range []time.Duration{Window + time.Second, -Window - time.Second} {
		var ve *VerifyError
		if err := Verify(sec, now.Add(d), "POST", "/p", []byte("b"), ts, sig); !errors.As(err, &ve) || ve.Code != CodeTimestamp {
			t.Errorf("skew %s: %v, want %s", d, err, CodeTimestamp)
		}
	}
}

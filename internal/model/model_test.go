package model

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"go.uber.org/goleak"
)

func TestRollup(t *testing.T) {
	t.Parallel()
	S, F, P, I := StatusSuccess, StatusFailed, StatusPending, StatusInProgress
	for _, tc := range []struct {
		in   []ChannelStatus
		want OverallStatus
	}{
		{nil, OverallInProgress},
		{[]ChannelStatus{S}, OverallCompleted},
		{[]ChannelStatus{S, S, S, S, S, S}, OverallCompleted},
		{[]ChannelStatus{F, F}, OverallFailed},
		{[]ChannelStatus{S, F}, OverallPartialSuccess},
		{[]ChannelStatus{F, S, S}, OverallPartialSuccess},
		{[]ChannelStatus{S, S, P}, OverallInProgress},
		{[]ChannelStatus{F, I}, OverallInProgress},
		{[]ChannelStatus{P, P}, OverallInProgress},
	} {
		if got := Rollup(tc.in); got != tc.want {
			t.Errorf("Rollup(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestValidEventID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"3a366f06-d3b0-43d0-bbec-3ce4dde798a3": true,
		"demo_spring-sale":                     true,
		strings.Repeat("a", 36):                true,
		strings.Repeat("a", 37):                false,
		"":                                     false,
		"../x":                                 false,
		"*":                                    false,
		"a b":                                  false,
		"이벤트":                                  false,
		"a\x00":                                false,
	} {
		if got := ValidEventID(id); got != want {
			t.Errorf("ValidEventID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestParseChannelAndNames(t *testing.T) {
	t.Parallel()
	for _, c := range AllChannels {
		got, err := ParseChannel(string(c))
		if err != nil || got != c {
			t.Errorf("ParseChannel(%s) = %v, %v", c, got, err)
		}
		if c.Name("ko") == "" || c.Name("en") == "" {
			t.Errorf("%s has no display name", c)
		}
	}
	if ChannelKakao.Name("ko") != "카카오톡 채널" || ChannelNaver.Name("en") != "Naver Blog" {
		t.Error("display names changed")
	}
	for _, bad := range []string{"", "kakao", "TWITTER", strings.Repeat("X", 500)} {
		_, err := ParseChannel(bad)
		if ErrorCode(err) != EINVALID {
			t.Errorf("ParseChannel(%q) error code = %q, want invalid", bad, ErrorCode(err))
		}
		if len(ErrorMessage(err)) > 80 {
			t.Errorf("error message for a long input is not truncated: %d bytes", len(ErrorMessage(err)))
		}
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r                 Role
		retry, manage, ok bool
	}{
		{RoleMarketer, false, false, true},
		{RoleStaff, true, false, true},
		{RoleManager, true, true, true},
		{Role("admin"), false, false, false},
	} {
		if tc.r.CanRetry() != tc.retry || tc.r.CanManage() != tc.manage {
			t.Errorf("%s: CanRetry=%v CanManage=%v", tc.r, tc.r.CanRetry(), tc.r.CanManage())
		}
		if _, err := ParseRole(string(tc.r)); (err == nil) != tc.ok {
			t.Errorf("ParseRole(%s) err = %v", tc.r, err)
		}
	}
	if Role("").AtLeast(RoleMarketer) {
		t.Error("the empty role must have no permissions")
	}
}

func TestErrorVocabulary(t *testing.T) {
	t.Parallel()
	wrapped := fmt.Errorf("start distribution: %w", Errorf(ECONFLICT, "already started"))
	if ErrorCode(wrapped) != ECONFLICT || ErrorMessage(wrapped) != "already started" {
		t.Errorf("wrapped error: code %q message %q", ErrorCode(wrapped), ErrorMessage(wrapped))
	}
	internal := errors.New("pq: password authentication failed for user secret")
	if ErrorCode(internal) != EINTERNAL || strings.Contains(ErrorMessage(internal), "secret") {
		t.Errorf("internal error leaks: %q", ErrorMessage(internal))
	}
	if ErrorCode(nil) != "" {
		t.Error("nil error has a code")
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Long hostile input quoted back in an error is cut by model.Truncate: whole characters only
// (an earlier byte-counting copy cut a three-byte Korean character in half).
func TestParseErrorsQuoteWholeCharacters(t *testing.T) {
	t.Parallel()
	long := "xy" + strings.Repeat("가", 60) // byte 40 falls inside a character
	for name, err := range map[string]error{
		"channel": func() error { _, err := ParseChannel(long); return err }(),
		"role":    func() error { _, err := ParseRole(long); return err }(),
	} {
		msg := ErrorMessage(err)
		// %q shows the bytes of a half character as \x escapes.
		if !utf8.ValidString(msg) || strings.Contains(msg, `\x`) || !strings.Contains(msg, "…") {
			t.Errorf("%s: message %q holds part of a character or is not cut", name, msg)
		}
	}
}

// Every code of the vocabulary has its own HTTP status, and the reverse map finds the code again.
func TestHTTPStatusRoundTrip(t *testing.T) {
	t.Parallel()
	for _, code := range []string{EINVALID, EUNAUTHORIZED, EFORBIDDEN, ENOTFOUND, ECONFLICT, ETOOLARGE, ETOOMANY, EUNAVAILABLE, EINTERNAL} {
		st := HTTPStatus(code)
		if got, ok := CodeOfHTTPStatus(st); !ok || got != code {
			t.Errorf("CodeOfHTTPStatus(HTTPStatus(%q) = %d) = %q, %v", code, st, got, ok)
		}
	}
	if st := HTTPStatus("no_such_code"); st != 500 {
		t.Errorf("unknown code: %d, want 500", st)
	}
}

func TestParseChannels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      []string
		want    []Channel
		wantErr string
	}{
		{[]string{"KAKAO", "URIDONGNETV"}, []Channel{ChannelUridongneTV, ChannelKakao}, ""},
		{nil, nil, "choose at least one channel"},
		{[]string{"KAKAO", "FAX"}, nil, `unknown channel "FAX"`},
		{[]string{"NAVER", "KAKAO", "NAVER"}, nil, "channel NAVER is listed twice"},
	} {
		got, err := ParseChannels(tc.in)
		if tc.wantErr != "" {
			if ErrorCode(err) != EINVALID || !strings.Contains(ErrorMessage(err), tc.wantErr) {
				t.Errorf("ParseChannels(%q) error %v, want invalid %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("ParseChannels(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestChannelOrder(t *testing.T) {
	t.Parallel()
	for i, c := range AllChannels {
		if c.Order() != i {
			t.Errorf("%s.Order() = %d, want %d", c, c.Order(), i)
		}
	}
	if o := Channel("FAX").Order(); o != len(AllChannels) {
		t.Errorf("unknown channel Order() = %d, want last (%d)", o, len(AllChannels))
	}
}

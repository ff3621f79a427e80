package model

import (
	"strings"
	"testing"
)

// ParseCredentials validates each channel's credential JSON, derives the public account ref,
// and never quotes a secret in its errors.
func TestParseCredentials(t *testing.T) {
	t.Parallel()
	const secret = "EAAG-very-secret-token"
	for _, tc := range []struct {
		ch      Channel
		raw     string
		ref     string
		expires bool
	}{
		{ChannelInstagram, `{"igUserId":"17841400000000001","accessToken":"` + secret + `"}`, "17841400000000001", false},
		{ChannelInstagram, `{"igUserId":17841400000000001,"accessToken":"` + secret + `","expiresAt":"2030-01-01T09:00:00+09:00"}`, "17841400000000001", true},
		{ChannelNaver, `{"clubId":"31","menuId":"7","accessToken":"a","refreshToken":"` + secret + `"}`, "31/7", false},
		{ChannelKakao, `{"senderKey":"sk-1","appKey":"x","secretKey":"` + secret + `","nested":{"a":1}}`, "sk-1", false},
	} {
		c, err := ParseCredentials(tc.ch, []byte(tc.raw))
		if err != nil || c.AccountRef != tc.ref || (c.ExpiresAt != nil) != tc.expires || !strings.Contains(string(c.Secret), secret) {
			t.Errorf("%s %s: %+v, %v", tc.ch, tc.raw, c, err)
		}
	}
	for _, tc := range []struct {
		ch  Channel
		raw string
	}{
		{ChannelGiniTV, `{"x":"` + secret + `"}`},
		{"TIKTOK", `{}`},
		{ChannelInstagram, `{"igUserId":"1"}`},
		{ChannelInstagram, `{"igUserId":"1","accessToken":"   "}`},
		{ChannelInstagram, `{"igUserId":"1","accessToken":"` + secret + `","scope":"` + secret + `"}`},
		{ChannelInstagram, `{"igUserId":"1","accessToken":"a\n` + secret + `"}`},
		{ChannelInstagram, `{"igUserId":"1","accessToken":"a\u0000` + secret + `"}`},
		{ChannelInstagram, `{"igUserId":"1","accessToken":"` + secret + `","expiresAt":"tomorrow"}`},
		{ChannelInstagram, `{"igUserId":"1","accessToken":"` + secret + `"} {}`},
		{ChannelInstagram, `["` + secret + `"]`},
		{ChannelInstagram, `null`},
		{ChannelInstagram, "{\"igUserId\":\"1\",\"accessToken\":\"\xff" + secret + "\"}"},
		{ChannelNaver, `{"clubId":"31","menuId":"7","accessToken":"` + secret + `"}`},
		{ChannelKakao, `{"appKey":"` + secret + `"}`},
		{ChannelKakao, `{"senderKey":"a` + strings.Repeat("b", 300) + `"}`},
		{ChannelKakao, `{"senderKey":"sk","pad":"` + strings.Repeat("x", 20000) + `"}`},
	} {
		_, err := ParseCredentials(tc.ch, []byte(tc.raw))
		if ErrorCode(err) != EINVALID {
			t.Errorf("%s %.80s: %v, want EINVALID", tc.ch, tc.raw, err)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error quotes the secret: %v", tc.ch, err)
		}
	}
}

func TestParseCredentialsNaverMembers(t *testing.T) {
	t.Parallel()
	base := `{"clubId":"1","menuId":"2","accessToken":"a","refreshToken":"r"`
	for in, ok := range map[string]bool{
		base + `,"members":1500}`: true, base + `,"members":0}`: true, base + `}`: true,
		base + `,"members":-1}`: false, base + `,"members":1.5}`: false, base + `,"members":"1500"}`: false,
		base + `,"members":100000001}`: false, base + `,"members":null}`: false,
	} {
		c, err := ParseCredentials(ChannelNaver, []byte(in))
		if (err == nil) != ok {
			t.Errorf("%s: %v, want ok %v", in, err, ok)
			continue
		}
		if ok && strings.Contains(in, "1500") && !strings.Contains(string(c.Secret), `"members":1500`) {
			t.Errorf("%s: secret %s keeps no members", in, c.Secret)
		}
	}
}

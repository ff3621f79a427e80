package channels_test

import (
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/model"
)

// The OAuth fields of CHANNELS_CONFIG: instagram-graph takes authorizeUrl, tokenUrl, clientId and
// clientSecretFile together or none (the old form stays valid), naver-cafe adds authorizeUrl,
// partner-v1 refuses them; every URL passes the endpoint rules.
func TestParseConfigOAuthFields(t *testing.T) {
	t.Parallel()
	ig := func(extra string) string {
		return `{"channels":{"INSTAGRAM":{"protocol":"instagram-graph","url":"https://graph.instagram.com","version":"v23.0"` + extra + `}}}`
	}
	full := `,"authorizeUrl":"https://www.instagram.com/oauth/authorize","tokenUrl":"https://api.instagram.com/oauth/access_token","clientId":"990602627938098","clientSecretFile":"ig.secret"`
	fc, err := channels.ParseConfig([]byte(ig(full)))
	if err != nil {
		t.Fatal(err)
	}
	if cc := fc.Channels[model.ChannelInstagram]; cc.AuthorizeURL != "https://www.instagram.com/oauth/authorize" || cc.TokenURL != "https://api.instagram.com/oauth/access_token" || cc.ClientID != "990602627938098" {
		t.Errorf("parsed %+v", cc)
	}
	if fc, err := channels.ParseConfig([]byte(ig(""))); err != nil || fc.Channels[model.ChannelInstagram].AuthorizeURL != "" {
		t.Errorf("the form without OAuth: %v", err)
	}
	nv := `{"channels":{"NAVER":{"protocol":"naver-cafe","url":"https://openapi.naver.com","tokenUrl":"https://nid.naver.com/oauth2.0/token","clientId":"c","clientSecretFile":"s"%s}}}`
	if fc, err := channels.ParseConfig([]byte(strings.Replace(nv, "%s", `,"authorizeUrl":"https://nid.naver.com/oauth2.0/authorize"`, 1))); err != nil || fc.Channels[model.ChannelNaver].AuthorizeURL != "https://nid.naver.com/oauth2.0/authorize" {
		t.Errorf("naver authorizeUrl: %v", err)
	}
	for name, cfg := range map[string]string{
		"instagram partial":       ig(`,"authorizeUrl":"https://www.instagram.com/oauth/authorize"`),
		"instagram no secretfile": ig(strings.Replace(full, `,"clientSecretFile":"ig.secret"`, "", 1)),
		"http authorize":          ig(strings.Replace(full, "https://www.instagram.com", "http://www.instagram.com", 1)),
		"authorize with query":    ig(strings.Replace(full, "oauth/authorize", "oauth/authorize?x=1", 1)),
		"private token host":      ig(strings.Replace(full, "https://api.instagram.com", "https://10.0.0.1", 1)),
		"clientId with CRLF":      ig(strings.Replace(full, "990602627938098", `99\r\n0`, 1)),
		"naver bad authorize":     strings.Replace(nv, "%s", `,"authorizeUrl":"javascript:alert(1)"`, 1),
		"partner with authorize":  `{"channels":{"KAKAO":{"url":"https://k.example.com","secretFile":"k","authorizeUrl":"https://k.example.com/a"}}}`,
	} {
		if _, err := channels.ParseConfig([]byte(cfg)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

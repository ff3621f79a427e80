package views

import (
	"net/url"
	"strings"

	"github.com/marketing-platform/distribution/internal/model"
)

// naverMessages are the texts of the naver-cafe protocol (issue 14): NAVER keeps its channel
// name, and a result names where the article really is.
var naverMessages = map[string][2]string{
	"card.published_to":  {"Published to", "게시 위치"},
	"channel.naver_cafe": {"Naver Cafe", "네이버 카페"},
}

// naverCafePost reports whether c is a NAVER result written to a Naver Cafe (the naver-cafe
// protocol's articleUrl is on cafe.naver.com): the card then says "Naver Cafe", since the
// channel's name says blog and Naver's blog write API no longer exists.
func naverCafePost(c model.ChannelState) bool {
	if c.Channel != model.ChannelNaver {
		return false
	}
	u, err := url.Parse(httpsURL(c.PostURL))
	if err != nil || u.Scheme != "https" {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return h == "cafe.naver.com" || strings.HasSuffix(h, ".cafe.naver.com")
}

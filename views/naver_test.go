package views_test

import (
	"context"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// A NAVER result written to a Naver Cafe names the cafe; NAVER's channel name stays, and other
// results (a partner's blog URL, another channel, a hostile URL) show no such line.
func TestNaverCafeResultLabel(t *testing.T) {
	t.Parallel()
	render := func(lang string, c model.ChannelState) string {
		ev := model.Event{ID: "ev1", Title: "세일", Distribution: &model.Distribution{EventID: "ev1", OverallStatus: "COMPLETED", Channels: []model.ChannelState{c}}}
		var b strings.Builder
		if err := views.EventDetail(views.Page{Lang: lang, CSRF: "x"}, views.DetailView{Event: ev}).Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	str := func(s string) *string { return &s }
	cafe := model.ChannelState{Channel: model.ChannelNaver, Status: "SUCCESS", Progress: 100, PostID: str("12"), PostURL: str("https://cafe.naver.com/mycafe/12")}
	for lang, want := range map[string][2]string{"en": {"Naver Cafe", "Naver Blog"}, "ko": {"네이버 카페", "네이버 블로그"}} {
		html := render(lang, cafe)
		if strings.Count(html, `data-published-to="naver-cafe"`) != 1 || !strings.Contains(html, ">"+want[0]+"<") || !strings.Contains(html, want[1]) {
			t.Errorf("%s: want the %q result line and the channel name %q", lang, want[0], want[1])
		}
	}
	for name, c := range map[string]model.ChannelState{
		"blog":      {Channel: model.ChannelNaver, Status: "SUCCESS", PostURL: str("https://blog.naver.com/x/1")},
		"lookalike": {Channel: model.ChannelNaver, Status: "SUCCESS", PostURL: str("https://cafe.naver.com.evil.example/1")},
		"http":      {Channel: model.ChannelNaver, Status: "SUCCESS", PostURL: str("http://cafe.naver.com/x/1")},
		"other":     {Channel: model.ChannelInstagram, Status: "SUCCESS", PostURL: str("https://cafe.naver.com/x/1")},
		"no url":    {Channel: model.ChannelNaver, Status: "SUCCESS", PostID: str("1")},
	} {
		if strings.Contains(render("en", c), "data-published-to") {
			t.Errorf("%s: a Naver Cafe line", name)
		}
	}
}

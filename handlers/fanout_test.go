package handlers_test

import (
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
)

// Two viewers of one event share the rendered change (render once), yet each gets a retry form
// carrying its own CSRF token, never the shared placeholder.
func TestEventStreamSharedFeed(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, true)
	a.event("ev1", "Live", model.ChannelKakao, model.ChannelNaver)
	s1 := a.login("s1@example.com", model.RoleStaff)
	s2 := a.login("s2@example.com", model.RoleStaff)
	r1, _ := s1.openStream("/events/ev1/stream")
	r2, _ := s2.openStream("/events/ev1/stream")
	for _, r := range []*sseReader{r1, r2} {
		r.waitFor("the full fragment", isPatch)
		r.waitFor("connected", func(ev sseEvent) bool { return isSignals(ev) && strings.Contains(ev.data, `"_live":"connected"`) })
	}
	a.setChannel("ev1", model.ChannelKakao, model.StatusFailed, 60, "token expired")
	a.putCache("ev1")
	var tokens []string
	for _, r := range []*sseReader{r1, r2} {
		ev := r.waitFor("the FAILED card", func(ev sseEvent) bool { return isPatch(ev) && strings.Contains(ev.data, `data-status="FAILED"`) })
		if strings.Contains(ev.data, "csrf-shared-fragment-token") {
			t.Fatal("the shared placeholder reached a viewer")
		}
		tok, _ := patchDoc(t, ev).Find(`#ch-ev1-KAKAO input[name="_csrf"]`).Attr("value")
		if tok == "" {
			t.Fatal("retry form without a CSRF token")
		}
		tokens = append(tokens, tok)
	}
	if tokens[0] == tokens[1] {
		t.Error("both viewers got the same CSRF token")
	}

	// A viewer who joins now is sent the whole page as the feed last rendered it: the latest
	// state, with its own token in place of the placeholder.
	s3 := a.login("s3@example.com", model.RoleStaff)
	r3, _ := s3.openStream("/events/ev1/stream")
	ev := r3.waitFor("the full fragment", isPatch)
	if strings.Contains(ev.data, "csrf-shared-fragment-token") {
		t.Fatal("the shared placeholder reached a joining viewer")
	}
	doc := patchDoc(t, ev)
	if st, _ := doc.Find(`#ch-ev1-KAKAO`).Attr("data-status"); st != "FAILED" {
		t.Errorf("joining viewer sees KAKAO %q, want the latest state FAILED", st)
	}
	if tok, _ := doc.Find(`#ch-ev1-KAKAO input[name="_csrf"]`).Attr("value"); tok == "" || tok == tokens[0] || tok == tokens[1] {
		t.Errorf("joining viewer's retry form carries token %q, want its own", tok)
	}
}

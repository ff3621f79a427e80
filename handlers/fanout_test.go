package handlers_test

import (
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
)

// Two viewers of one event share the rendered change (render once): the same bytes, carrying
// nobody's CSRF token; the retry form sends the token as a header from the page's $_csrf signal.
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
	var got []string
	for _, r := range []*sseReader{r1, r2} {
		ev := r.waitFor("the FAILED card", func(ev sseEvent) bool { return isPatch(ev) && strings.Contains(ev.data, `data-status="FAILED"`) })
		wantNoViewerData(t, ev)
		got = append(got, ev.data)
	}
	if got[0] != got[1] {
		t.Error("two viewers of one view got different bytes for one change")
	}

	// A viewer who joins now is sent the whole page as the feed last rendered it: the latest
	// state, again with nobody's token in it.
	s3 := a.login("s3@example.com", model.RoleStaff)
	r3, _ := s3.openStream("/events/ev1/stream")
	ev := r3.waitFor("the full fragment", isPatch)
	wantNoViewerData(t, ev)
	if st, _ := patchDoc(t, ev).Find(`#ch-ev1-KAKAO`).Attr("data-status"); st != "FAILED" {
		t.Errorf("joining viewer sees KAKAO %q, want the latest state FAILED", st)
	}
}

// wantNoViewerData fails when a shared patch carries a CSRF token, or a retry form that does not
// send the page's token as a header.
func wantNoViewerData(t *testing.T, ev sseEvent) {
	t.Helper()
	doc := patchDoc(t, ev)
	if doc.Find(`input[name="_csrf"]`).Length() != 0 {
		t.Fatal("a shared fragment carries a CSRF token")
	}
	form := doc.Find(`#ch-ev1-KAKAO form`)
	if on, _ := form.Attr("data-on:submit"); form.Length() != 1 || !strings.Contains(on, "'X-CSRF-Token': $_csrf") {
		t.Fatalf("retry form does not send the page's token as a header: %q", on)
	}
}

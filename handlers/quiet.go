package handlers

import (
	"context"
	"time"

	"github.com/marketing-platform/distribution/views"
)

// withKakaoQuiet puts the KakaoTalk quiet hours in force now (Deps.KakaoQuietHours on Deps.Now's
// clock) into a render context, for the pre-flight notes of the detail page (issue 14).
func (h *Handlers) withKakaoQuiet(ctx context.Context) context.Context {
	now := time.Now
	if h.deps.Now != nil {
		now = h.deps.Now
	}
	until, _ := h.deps.KakaoQuietHours.Until(now())
	return views.WithKakaoQuiet(ctx, until)
}

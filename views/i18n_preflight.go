package views

import (
	"context"
	"strings"

	"github.com/marketing-platform/distribution/internal/model"
)

// preflightMessages are the pre-flight refusals next to a disabled start checkbox (issue 14), by
// reason code, and the error of a refused start or retry.
var preflightMessages = map[string][2]string{
	"preflight.no_store":             {"Unavailable: the event has no store. Set the event's store to publish here.", "사용 불가: 이벤트에 매장이 없습니다. 이 채널에 게시하려면 이벤트의 매장을 지정하세요."},
	"preflight.no_account":           {"Unavailable: the store has no connected account on this channel.", "사용 불가: 매장에 연결된 이 채널 계정이 없습니다."},
	"preflight.needs_reconnect":      {"Unavailable: the store's account must be reconnected.", "사용 불가: 매장 계정을 다시 연결해야 합니다."},
	"preflight.account_expired":      {"Unavailable: the store's account has expired. Connect it again.", "사용 불가: 매장 계정이 만료되었습니다. 다시 연결하세요."},
	"preflight.image_required_https": {"Unavailable: Instagram needs an image at an https address.", "사용 불가: 인스타그램에는 https 주소의 이미지가 필요합니다."},
	"preflight.quota_exhausted":      {"Publishing limit reached: available again at {t}", "게시 한도 도달: {t}부터 다시 가능합니다"},
	"preflight.unavailable":          {"Unavailable for this event.", "이 이벤트에는 사용할 수 없습니다."},
	"event.field.store_id":           {"Store (publishes as its accounts)", "매장 (매장 계정으로 게시)"},
	"flash.retry_skipped":            {"Not retried, as they cannot publish now (store account, image or quota): %s.", "지금 게시할 수 없어 재시도하지 않음(매장 계정, 이미지 또는 게시 한도): %s."},
	"event.store_none":               {"No store", "매장 없음"},
	"err.channel_unavailable":        {"These channels cannot be published for this event now: %s.", "지금 이 이벤트에 게시할 수 없는 채널: %s."},
}

// preflightChecks runs the page's pre-flight check of eventID's channels (nil when none is set).
func preflightChecks(ctx context.Context, p Page, eventID string) map[model.Channel]model.ChannelCheck {
	if p.Preflight == nil {
		return nil
	}
	return p.Preflight(ctx, eventID)
}

// refused reports whether the pre-flight check refuses ch.
func refused(checks map[model.Channel]model.ChannelCheck, ch model.Channel) bool {
	c, ok := checks[ch]
	return ok && !c.OK
}

// refusalText is the reader's sentence for a refused check.
func refusalText(p Page, c model.ChannelCheck) string {
	key := "preflight." + c.Reason
	if _, ok := lookup(key); !ok {
		key = "preflight.unavailable"
	}
	text := p.T(key)
	if c.AvailableAt != nil {
		text = strings.ReplaceAll(text, "{t}", c.AvailableAt.In(p.Loc()).Format("01-02 15:04"))
	}
	return text
}

package live

import (
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
)

// mayShow rules an event out of a filtered list only when db.FindEvents' status, channel and
// channel-status filters would (a filtered list then skips its list read for that change).
func TestMayShow(t *testing.T) {
	t.Parallel()
	d := &model.Distribution{OverallStatus: model.OverallInProgress, Channels: []model.ChannelState{
		{Channel: model.ChannelKakao, Status: model.StatusFailed},
		{Channel: model.ChannelNaver, Status: model.StatusSuccess},
	}}
	for _, tc := range []struct {
		name string
		f    model.EventFilter
		d    *model.Distribution
		want bool
	}{
		{"no filter, not started", model.EventFilter{}, nil, true},
		{"text only, not started", model.EventFilter{Q: "x"}, nil, true},
		{"status, not started", model.EventFilter{Status: model.OverallInProgress}, nil, false},
		{"channel, not started", model.EventFilter{Channel: model.ChannelKakao}, nil, false},
		{"status matches", model.EventFilter{Status: model.OverallInProgress}, d, true},
		{"status differs", model.EventFilter{Status: model.OverallCompleted}, d, false},
		{"channel included", model.EventFilter{Channel: model.ChannelNaver}, d, true},
		{"channel not included", model.EventFilter{Channel: model.ChannelInstagram}, d, false},
		{"channel status on any channel", model.EventFilter{ChannelStatus: model.StatusFailed}, d, true},
		{"channel status on none", model.EventFilter{ChannelStatus: model.StatusPending}, d, false},
		{"channel and its status", model.EventFilter{Channel: model.ChannelKakao, ChannelStatus: model.StatusFailed}, d, true},
		{"channel and another's status", model.EventFilter{Channel: model.ChannelNaver, ChannelStatus: model.StatusFailed}, d, false},
		{"status matches, channel status not", model.EventFilter{Status: model.OverallInProgress, ChannelStatus: model.StatusPending}, d, false},
	} {
		if got := mayShow(tc.f, tc.d); got != tc.want {
			t.Errorf("%s: mayShow = %v, want %v", tc.name, got, tc.want)
		}
	}
}

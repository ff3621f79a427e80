package model_test

import (
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

func TestStuck(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		ch     model.Channel
		status model.ChannelStatus
		idle   time.Duration
		want   bool
	}{
		{model.ChannelKakao, model.StatusInProgress, 4 * time.Minute, false},
		{model.ChannelKakao, model.StatusInProgress, 6 * time.Minute, true},
		{model.ChannelKakao, model.StatusPending, 6 * time.Minute, true},
		{model.ChannelGiniTV, model.StatusInProgress, 6 * time.Minute, false},
		{model.ChannelUridongneTV, model.StatusPending, 16 * time.Minute, true},
		{model.ChannelKakao, model.StatusFailed, time.Hour, false},
		{model.ChannelKakao, model.StatusSuccess, time.Hour, false},
	} {
		cs := model.ChannelState{Channel: tc.ch, Status: tc.status, UpdateTimestamp: now.Add(-tc.idle)}
		if got := model.Stuck(cs, now); got != tc.want {
			t.Errorf("Stuck(%s %s idle %s) = %v, want %v", tc.ch, tc.status, tc.idle, got, tc.want)
		}
	}
	if model.Stuck(model.ChannelState{Status: model.StatusPending}, now) {
		t.Error("a channel without timestamps is not stuck")
	}
}

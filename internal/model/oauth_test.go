package model_test

import (
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
)

func TestReconnectStore(t *testing.T) {
	t.Parallel()
	msg := func(s string) *string { return &s }
	for _, tc := range []struct {
		c    model.ChannelState
		want string
		ok   bool
	}{
		{model.ChannelState{Status: model.StatusFailed, ErrorMessage: msg(model.ReconnectPrefix("s-1") + "token expired")}, "s-1", true},
		{model.ChannelState{Status: model.StatusInProgress, ErrorMessage: msg(model.ReconnectPrefix("s1") + "x")}, "", false},
		{model.ChannelState{Status: model.StatusFailed, ErrorMessage: msg("the channel answered: " + model.ReconnectPrefix("s1") + "x")}, "", false},
		{model.ChannelState{Status: model.StatusFailed, ErrorMessage: msg("account needs reconnecting (store ../x): y")}, "", false},
		{model.ChannelState{Status: model.StatusFailed, ErrorMessage: msg("account needs reconnecting (store s1\n): y")}, "", false},
		{model.ChannelState{Status: model.StatusFailed}, "", false},
	} {
		got, ok := tc.c.ReconnectStore()
		if got != tc.want || ok != tc.ok {
			t.Errorf("ReconnectStore(%v) = %q, %v; want %q, %v", *orEmpty(tc.c.ErrorMessage), got, ok, tc.want, tc.ok)
		}
	}
}

func orEmpty(s *string) *string {
	if s == nil {
		e := ""
		return &e
	}
	return s
}

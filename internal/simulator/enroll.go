package simulator

import (
	"encoding/json"

	"github.com/marketing-platform/distribution/internal/model"
)

// EnrollAccount makes the simulator know a store's account from its credential JSON (the
// format of model.ParseCredentials), as the platform where it was connected knows it: an
// INSTAGRAM token of its igUserId, a NAVER member's tokens for its cafe board, a KAKAO channel
// (plusFriendId, else ref: the senderKey) of the SENS project. The embedded simulator calls it
// before publishing as an account (channels.EmbeddedSimulator.Enroll), so every account the
// database holds, however it was connected, is one the emulations accept; their faults
// (SIMULATOR_FAIL) still apply. Credentials that do not decode are ignored: the adapter
// reports them. A NAVER token already known is left as it is (a renewal keeps its state).
func (s *Server) EnrollAccount(ch model.Channel, ref string, credentials []byte) {
	var c struct {
		IGUserID     string `json:"igUserId"`
		AccessToken  string `json:"accessToken"`
		ClubID       string `json:"clubId"`
		MenuID       string `json:"menuId"`
		RefreshToken string `json:"refreshToken"`
		PlusFriendID string `json:"plusFriendId"`
	}
	if json.Unmarshal(credentials, &c) != nil {
		return
	}
	switch ch {
	case model.ChannelInstagram:
		if c.IGUserID != "" && c.AccessToken != "" {
			s.RegisterInstagramAccount(c.IGUserID, c.AccessToken)
		}
	case model.ChannelNaver:
		if c.ClubID == "" || c.MenuID == "" || c.AccessToken == "" {
			return
		}
		s.mu.Lock()
		_, known := s.naver.byAccess[c.AccessToken]
		s.mu.Unlock()
		if !known {
			s.RegisterNaverAccount(c.ClubID, c.MenuID, c.AccessToken, c.RefreshToken)
		}
	case model.ChannelKakao:
		if c.PlusFriendID == "" {
			c.PlusFriendID = ref
		}
		if c.PlusFriendID != "" {
			s.RegisterKakaoChannel(c.PlusFriendID)
		}
	}
}

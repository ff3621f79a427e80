package simulator

// Instagram token refresh, account fields and media insights (issue 14 points 6 and 7), as
// Meta documents them for the Instagram API with Instagram Login (graph.instagram.com):
//
//	GET /refresh_access_token?grant_type=ig_refresh_token&access_token=…   (no version in the path)
//	    → {"access_token", "token_type": "bearer", "expires_in": 5184000}
//	    https://developers.facebook.com/documentation/instagram-platform/reference/refresh_access_token
//	    "a long-lived access token that is at least 24 hours old but has not expired. Refreshed
//	    tokens are valid for 60 days".
//	GET /{version}/{ig-user-id}?fields=followers_count,…
//	    https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user
//	GET /{version}/{media-id}/insights?metric=views,reach
//	    → {"data":[{"name":"views","period":"lifetime","values":[{"value":N}],"title","description","id"}]}
//	    https://developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights
//	    (impressions was deprecated for all versions on 2025-04-21 in favour of views; an unknown
//	    metric is a code 100 error).
//
// A refresh issues a new token and leaves the old one valid (Meta does not say it revokes it),
// so a refresh whose answer was lost costs nothing. The docs give no error body for a token
// younger than 24 hours: the emulation answers code 100 (invalid parameter), and an expired or
// unknown token 190 as every Graph call does.
//
// SIMULATOR_FAIL for INSTAGRAM also takes "refresh-190" (every refresh answers 190: the token is
// dead), "refresh-500" (every refresh answers a transient code 2 with HTTP 500) and
// "refresh-lost" (every refresh renews the token and its answer is lost: the connection drops);
// for NAVER "refresh-500" (the token endpoint answers HTTP 500).

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// igTokenLifetime is a long-lived token's life: 60 days.
const igTokenLifetime = 60 * 24 * time.Hour

// igToken is what the simulator knows of a token registered with RegisterInstagramToken.
type igToken struct {
	issued, expires time.Time
}

type igUpkeepState struct {
	tokens    map[string]igToken
	followers map[string]int // ig user id → followers_count
	refreshes int
}

// upkeepLocked returns the state, made on first use. Caller holds s.mu.
func (s *Server) upkeepLocked() *igUpkeepState {
	if s.igUpkeep == nil {
		s.igUpkeep = &igUpkeepState{tokens: map[string]igToken{}, followers: map[string]int{}}
	}
	return s.igUpkeep
}

// parseInstagramFail adds the refresh rules to the Graph rules (parseGraphFail).
func parseInstagramFail(v string) (FailRule, bool, error) {
	if v == "refresh-190" || v == "refresh-500" || v == "refresh-lost" {
		return FailRule{Refresh: v}, true, nil
	}
	return parseGraphFail(v)
}

// parseNaverRefreshFail adds "refresh-500" to the Cafe rules (parseNaverFail).
func parseNaverRefreshFail(v string) (FailRule, bool, error) {
	if v == "refresh-500" {
		return FailRule{Refresh: v}, true, nil
	}
	return parseNaverFail(v)
}

// RegisterInstagramToken makes token a valid long-lived token of igUserID issued at issued and
// expiring at expires (refresh_access_token checks both).
func (s *Server) RegisterInstagramToken(igUserID, token string, issued, expires time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ig.accounts[token] = igUserID
	s.upkeepLocked().tokens[token] = igToken{issued: issued, expires: expires}
}

// InstagramRefreshes returns how many tokens refresh_access_token renewed.
func (s *Server) InstagramRefreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upkeepLocked().refreshes
}

// SetInstagramFollowers sets igUserID's followers_count.
func (s *Server) SetInstagramFollowers(igUserID string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upkeepLocked().followers[igUserID] = n
}

// InstagramFollowers is igUserID's followers_count: the value set, else a number from 1,000 to
// 9,999 derived from the id (deterministic).
func (s *Server) InstagramFollowers(igUserID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.followersLocked(igUserID)
}

func (s *Server) followersLocked(user string) int {
	if n, ok := s.upkeepLocked().followers[user]; ok {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(user))
	return 1000 + int(h.Sum32()%9000)
}

// InstagramInsightsAt is what the insights of a post of the given age answer: both grow by the
// hour, so tests can assert them.
func InstagramInsightsAt(age time.Duration) (views, reach int) {
	h := max(int(age/time.Hour), 0)
	return 100 + 40*h, 80 + 30*h
}

// refreshFaultLocked answers a scripted refresh fault of ch; false when none fires.
func (s *Server) refreshFault(w http.ResponseWriter, ch model.Channel) bool {
	s.mu.Lock()
	rule := s.fail[ch].Refresh
	s.mu.Unlock()
	switch {
	case rule == "refresh-190" && ch == model.ChannelInstagram:
		graphError(w, http.StatusBadRequest, "OAuthException", 190, 460, false,
			"Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.")
	case rule == "refresh-500" && ch == model.ChannelInstagram:
		graphError(w, http.StatusInternalServerError, "OAuthException", 2, 0, true, "An unexpected error has occurred. Please retry your request later.")
	case rule == "refresh-500":
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error", "error_description": "temporary error"})
	default:
		return false
	}
	return true
}

func (s *Server) igRefresh(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "ig_refresh_token" {
		graphError(w, http.StatusBadRequest, "OAuthException", 100, 0, false, "Invalid parameter: grant_type must be ig_refresh_token")
		return
	}
	if s.refreshFault(w, model.ChannelInstagram) {
		return
	}
	token := r.Form.Get("access_token")
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.upkeepLocked()
	user, known := s.ig.accounts[token]
	info, tracked := st.tokens[token]
	now := s.now()
	switch {
	case !known:
		graphError(w, http.StatusBadRequest, "OAuthException", 190, 0, false, "Invalid OAuth access token - Cannot parse access token")
		return
	case tracked && !now.Before(info.expires):
		graphError(w, http.StatusBadRequest, "OAuthException", 190, 463, false,
			"Error validating access token: Session has expired. The current time is later than the token's expiry.")
		return
	case tracked && now.Sub(info.issued) < 24*time.Hour:
		graphError(w, http.StatusBadRequest, "OAuthException", 100, 0, false,
			"Invalid parameter: the access token must be at least 24 hours old to be refreshed")
		return
	}
	st.refreshes++
	fresh := fmt.Sprintf("IGSIM%d%s", st.refreshes, strings.TrimPrefix(token, "IGSIM"))
	if len(fresh) > 200 {
		fresh = fresh[:200]
	}
	s.ig.accounts[fresh] = user
	st.tokens[fresh] = igToken{issued: now, expires: now.Add(igTokenLifetime)}
	if s.fail[model.ChannelInstagram].Refresh == "refresh-lost" {
		dropConn(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": fresh, "token_type": "bearer", "expires_in": int(igTokenLifetime / time.Second)})
}

// igUserNode answers GET /{ig-user-id}?fields=… for the token's own user. Caller holds s.mu.
func (s *Server) igUserNodeLocked(w http.ResponseWriter, r *http.Request, user string) {
	out := map[string]any{"id": user}
	for f := range strings.SplitSeq(r.Form.Get("fields"), ",") {
		switch strings.TrimSpace(f) {
		case "followers_count":
			out["followers_count"] = s.followersLocked(user)
		case "media_count":
			out["media_count"] = len(s.ig.byUser[user])
		case "username":
			out["username"] = "sim_" + user
		case "user_id":
			out["user_id"] = user
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// igInsights answers GET /{version}/{media-id}/insights?metric=… for the token's user's media.
func (s *Server) igInsights(w http.ResponseWriter, r *http.Request, user string) {
	id := r.PathValue("node")
	s.mu.Lock()
	m, ok := s.ig.media[id]
	now := s.now()
	s.mu.Unlock()
	if !ok || m.user != user {
		notFoundObject(w, id)
		return
	}
	metrics := strings.Split(r.Form.Get("metric"), ",")
	if r.Form.Get("metric") == "" {
		graphError(w, http.StatusBadRequest, "OAuthException", 100, 0, false, "(#100) The parameter metric is required")
		return
	}
	views, reach := InstagramInsightsAt(now.Sub(m.created))
	data := []map[string]any{}
	for _, name := range metrics {
		var v int
		switch strings.TrimSpace(name) {
		case "views":
			v = views
		case "reach":
			v = reach
		default:
			graphError(w, http.StatusBadRequest, "OAuthException", 100, 0, false,
				fmt.Sprintf("(#100) metric[0] must be one of the following values: views, reach, likes, comments, saved, shares, total_interactions (%s is not supported)", model.Truncate(name, 40)))
			return
		}
		data = append(data, map[string]any{"name": name, "period": "lifetime", "values": []map[string]int{{"value": v}},
			"title": strings.ToUpper(name[:1]) + name[1:], "description": "", "id": id + "/insights/" + name + "/lifetime"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// InstagramLatestMedia is the id of igUserID's newest media ("" without any).
func (s *Server) InstagramLatestMedia(igUserID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.ig.byUser[igUserID]
	if len(list) == 0 {
		return ""
	}
	return list[len(list)-1].id
}

package simulator

// Instagram Graph API content publishing emulation (the instagram-graph protocol of
// internal/channels/instagram.go), faithful to Meta's documentation:
// https://developers.facebook.com/docs/instagram-api/guides/content-publishing/ (flow),
// https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container
// (status_code values) and https://developers.facebook.com/docs/graph-api/guides/error-handling
// (error bodies: {"error":{"message","type","code","error_subcode","is_transient","fbtrace_id"}},
// HTTP 400 even for an expired token or throttling).
//
//	POST /{version}/{ig-user-id}/media          image_url, caption, access_token → {"id"}
//	GET  /{version}/{container-or-media-id}     ?fields=status_code,status | permalink
//	POST /{version}/{ig-user-id}/media_publish  creation_id, access_token → {"id"}
//	GET  /{version}/{ig-user-id}/media          the account's media, newest first
//	GET  /{version}/{ig-user-id}/content_publishing_limit
//
// Tokens are checked against the accounts registered with RegisterInstagramAccount. A container
// answers IN_PROGRESS to its first IGPollsToFinish status reads, then FINISHED.

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// IGPollsToFinish is how many status reads a container answers IN_PROGRESS.
const IGPollsToFinish = 2

// igQuotaTotal is the content publishing limit per 24 hours (quota_total 50, quota_duration
// 86400: https://developers.secure.facebook.com/docs/instagram-api/reference/ig-user/content_publishing_limit).
const igQuotaTotal = 50

// igContainerLifetime: a container not published within 24 hours EXPIRES.
const igContainerLifetime = 24 * time.Hour

// graphFaultCodes are the Graph error codes SIMULATOR_FAIL can script for INSTAGRAM.
var graphFaultCodes = map[int]bool{1: true, 2: true, 4: true, 17: true, 32: true, 100: true, 190: true, 613: true}

type igContainer struct {
	id, user, caption, imageURL string
	created                     time.Time
	reads                       int
	failed                      bool   // ends ERROR
	mediaID                     string // set once PUBLISHED
}

type igMedia struct {
	id, user, caption, permalink string
	created                      time.Time
}

type igState struct {
	accounts   map[string]string // access token → ig user id
	containers map[string]*igContainer
	media      map[string]*igMedia
	byUser     map[string][]*igMedia // oldest first
	// graphFaultsUsed counts the Graph calls a "<code>x<n>" rule has failed so far.
	graphFaultsUsed int
	// containerErrorUsed and publishLostUsed: the one-shot rules have fired.
	containerErrorUsed, publishLostUsed bool
}

func newIGState() *igState {
	return &igState{accounts: map[string]string{}, containers: map[string]*igContainer{},
		media: map[string]*igMedia{}, byUser: map[string][]*igMedia{}}
}

// parseGraphFail parses an INSTAGRAM value of SIMULATOR_FAIL that is a Graph rule. ok is false
// for a value that is not one (a plain count or "always": the partner protocol's rule).
func parseGraphFail(v string) (FailRule, bool, error) {
	switch v {
	case "container-error", "publish-lost":
		return FailRule{Graph: v}, true, nil
	}
	code, times, hasTimes := strings.Cut(v, "x")
	n, err := strconv.Atoi(code)
	if err != nil {
		return FailRule{}, false, nil
	}
	if !hasTimes {
		if !graphFaultCodes[n] {
			return FailRule{}, false, nil // a plain count
		}
		return FailRule{First: n, Graph: v}, true, nil
	}
	k, err := strconv.Atoi(times)
	if !graphFaultCodes[n] || err != nil || k < 1 || k > MaxFailCount {
		return FailRule{}, true, fmt.Errorf("want <graph code>x<count>, e.g. 613x2 (codes 1, 2, 4, 17, 32, 100, 190, 613; count 1 to %d)", MaxFailCount)
	}
	return FailRule{Graph: v}, true, nil
}

func graphHint(ch model.Channel) string {
	if ch == model.ChannelInstagram {
		return ", or for the Graph API a code (190), code x count (613x2), container-error or publish-lost"
	}
	if ch == model.ChannelNaver {
		return ", or for the Cafe API 024, code x count (429x2) or refresh-fail"
	}
	return ""
}

// RegisterInstagramAccount makes token a valid access token of the Instagram user igUserID.
func (s *Server) RegisterInstagramAccount(igUserID, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ig.accounts[token] = igUserID
}

// InstagramPosts returns how many media were published on the Instagram user igUserID.
func (s *Server) InstagramPosts(igUserID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ig.byUser[igUserID])
}

// InstagramContainers returns how many containers were made for igUserID.
func (s *Server) InstagramContainers(igUserID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.ig.containers {
		if c.user == igUserID {
			n++
		}
	}
	return n
}

func (s *Server) instagramRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /{version}/{node}/{edge}", s.igPost)
	mux.HandleFunc("GET /{version}/{node}/{edge}", s.igGetEdge)
	mux.HandleFunc("GET /{version}/{node}", s.igGetNode)
	mux.HandleFunc("GET /refresh_access_token", s.igRefresh) // instagram_upkeep.go
}

// graphError writes a Graph API error body.
func graphError(w http.ResponseWriter, status int, typ string, code, subcode int, transient bool, msg string) {
	e := map[string]any{"message": msg, "type": typ, "code": code, "fbtrace_id": "Sim" + strconv.Itoa(code) + "x" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)}
	if subcode != 0 {
		e["error_subcode"] = subcode
	}
	if transient {
		e["is_transient"] = true
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func validVersion(v string) bool {
	major, minor, ok := strings.Cut(strings.TrimPrefix(v, "v"), ".")
	_, e1 := strconv.Atoi(major)
	_, e2 := strconv.Atoi(minor)
	return strings.HasPrefix(v, "v") && ok && e1 == nil && e2 == nil
}

// igBegin checks the version, applies a scripted Graph fault and the access token. It returns
// the token's ig user id, or "" when it has answered. Caller must not hold s.mu.
func (s *Server) igBegin(w http.ResponseWriter, r *http.Request) (string, bool) {
	if !validVersion(r.PathValue("version")) {
		writeError(w, http.StatusNotFound, "not_found", "no such route", false)
		return "", false
	}
	if err := r.ParseForm(); err != nil {
		graphError(w, http.StatusBadRequest, "OAuthException", 100, 0, false, "Invalid parameter")
		return "", false
	}
	s.mu.Lock()
	rule := s.fail[model.ChannelInstagram]
	token := r.Form.Get("access_token")
	var (
		code int
		fire bool
	)
	// "190" kills the tokens an account had; one issued by the OAuth endpoints since (a
	// reconnect, oauth.go) works.
	if rule.Graph != "190" || !s.oauth.fresh[token] {
		code, fire = s.graphFaultLocked(rule)
	}
	user, known := s.ig.accounts[token]
	s.mu.Unlock()
	if fire {
		writeGraphFault(w, code)
		return "", false
	}
	if !known {
		graphError(w, http.StatusBadRequest, "OAuthException", 190, 0, false, "Invalid OAuth access token - Cannot parse access token")
		return "", false
	}
	return user, true
}

// graphFaultLocked reports whether a "<code>" or "<code>x<n>" rule fails this call.
func (s *Server) graphFaultLocked(rule FailRule) (int, bool) {
	if rule.Graph == "" || rule.Graph == "container-error" || rule.Graph == "publish-lost" {
		return 0, false
	}
	code, times, hasTimes := strings.Cut(rule.Graph, "x")
	n, _ := strconv.Atoi(code)
	if hasTimes {
		k, _ := strconv.Atoi(times)
		if s.ig.graphFaultsUsed >= k {
			return 0, false
		}
	}
	s.ig.graphFaultsUsed++
	return n, true
}

func writeGraphFault(w http.ResponseWriter, code int) {
	switch code {
	case 190:
		graphError(w, http.StatusBadRequest, "OAuthException", 190, 463, false,
			"Error validating access token: Session has expired. The current time is later than the token's expiry.")
	case 4:
		graphError(w, http.StatusBadRequest, "OAuthException", 4, 0, true, "Application request limit reached")
	case 17:
		graphError(w, http.StatusBadRequest, "OAuthException", 17, 0, true, "User request limit reached")
	case 32:
		graphError(w, http.StatusBadRequest, "OAuthException", 32, 0, true, "Page request limit reached")
	case 613:
		graphError(w, http.StatusBadRequest, "OAuthException", 613, 0, true, "Calls to this api have exceeded the rate limit.")
	case 1, 2:
		graphError(w, http.StatusInternalServerError, "OAuthException", code, 0, true, "An unexpected error has occurred. Please retry your request later.")
	default:
		graphError(w, http.StatusBadRequest, "OAuthException", code, 0, false, "Invalid parameter")
	}
}

func notFoundObject(w http.ResponseWriter, id string) {
	graphError(w, http.StatusBadRequest, "GraphMethodException", 100, 33, false,
		fmt.Sprintf("Unsupported get request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", model.Truncate(id, 40)))
}

func (s *Server) igPost(w http.ResponseWriter, r *http.Request) {
	if !validVersion(r.PathValue("version")) {
		writeError(w, http.StatusNotFound, "not_found", "no such route", false)
		return
	}
	switch r.PathValue("edge") {
	case "media":
		s.igCreateContainer(w, r)
	case "media_publish":
		s.igPublish(w, r)
	default:
		writeError(w, http.StatusNotFound, "not_found", "no such route", false)
	}
}

func (s *Server) igCreateContainer(w http.ResponseWriter, r *http.Request) {
	user, ok := s.igBegin(w, r)
	if !ok {
		return
	}
	if r.PathValue("node") != user {
		notFoundObject(w, r.PathValue("node"))
		return
	}
	img, caption := r.Form.Get("image_url"), r.Form.Get("caption")
	if img == "" {
		graphError(w, http.StatusBadRequest, "OAuthException", 100, 0, false, "The parameter image_url is required")
		return
	}
	if len([]rune(caption)) > 2200 {
		graphError(w, http.StatusBadRequest, "OAuthException", 100, 2207010, false, "The caption is too long")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats[model.ChannelInstagram].Submits++
	s.seq++
	c := &igContainer{id: fmt.Sprintf("1790%013d", s.seq), user: user, caption: caption, imageURL: img, created: s.now()}
	if s.fail[model.ChannelInstagram].Graph == "container-error" && !s.ig.containerErrorUsed {
		s.ig.containerErrorUsed, c.failed = true, true
	}
	s.ig.containers[c.id] = c
	writeJSON(w, http.StatusOK, map[string]string{"id": c.id})
}

// statusLocked is a container's status_code at now.
func (s *Server) statusLocked(c *igContainer, now time.Time) string {
	switch {
	case c.mediaID != "":
		return "PUBLISHED"
	case now.Sub(c.created) > igContainerLifetime:
		return "EXPIRED"
	case c.reads < IGPollsToFinish:
		return "IN_PROGRESS"
	case c.failed:
		return "ERROR"
	}
	return "FINISHED"
}

func (s *Server) igPublish(w http.ResponseWriter, r *http.Request) {
	user, ok := s.igBegin(w, r)
	if !ok {
		return
	}
	if r.PathValue("node") != user {
		notFoundObject(w, r.PathValue("node"))
		return
	}
	id := r.Form.Get("creation_id")
	s.mu.Lock()
	s.stats[model.ChannelInstagram].Submits++
	c, ok := s.ig.containers[id]
	if !ok || c.user != user {
		s.mu.Unlock()
		notFoundObject(w, id)
		return
	}
	now := s.now()
	if st := s.statusLocked(c, now); st != "FINISHED" {
		s.mu.Unlock()
		// "Media ID is not available" is what Meta answers for a container that is not ready.
		graphError(w, http.StatusBadRequest, "OAuthException", 9007, 2207027, false,
			fmt.Sprintf("The media is not ready for publishing, please wait for a moment (container %s)", st))
		return
	}
	s.seq++
	m := &igMedia{id: fmt.Sprintf("1791%013d", s.seq), user: user, caption: c.caption, created: now}
	m.permalink = "https://www.instagram.com/p/SIM" + strconv.FormatUint(s.seq, 36) + "/"
	c.mediaID = m.id
	s.ig.media[m.id] = m
	s.ig.byUser[user] = append(s.ig.byUser[user], m)
	s.stats[model.ChannelInstagram].Posts++
	lost := s.fail[model.ChannelInstagram].Graph == "publish-lost" && !s.ig.publishLostUsed
	if lost {
		s.ig.publishLostUsed = true
	}
	s.mu.Unlock()
	if lost {
		dropConn(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": m.id})
}

func (s *Server) igGetNode(w http.ResponseWriter, r *http.Request) {
	user, ok := s.igBegin(w, r)
	if !ok {
		return
	}
	id := r.PathValue("node")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats[model.ChannelInstagram].Polls++
	if c, ok := s.ig.containers[id]; ok && c.user == user {
		st := s.statusLocked(c, s.now())
		c.reads++
		out := map[string]string{"id": c.id, "status_code": st, "status": st}
		if st == "ERROR" {
			out["status"] = "Error: 2207026: the image could not be processed"
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	if m, ok := s.ig.media[id]; ok && m.user == user {
		writeJSON(w, http.StatusOK, mediaJSON(m))
		return
	}
	if id == user {
		s.igUserNodeLocked(w, r, user) // instagram_upkeep.go
		return
	}
	notFoundObject(w, id)
}

func mediaJSON(m *igMedia) map[string]string {
	return map[string]string{"id": m.id, "caption": m.caption, "permalink": m.permalink,
		"timestamp": m.created.UTC().Format("2006-01-02T15:04:05-0700"), "media_type": "IMAGE"}
}

func (s *Server) igGetEdge(w http.ResponseWriter, r *http.Request) {
	user, ok := s.igBegin(w, r)
	if !ok {
		return
	}
	if r.PathValue("edge") == "insights" {
		s.igInsights(w, r, user) // instagram_upkeep.go
		return
	}
	if r.PathValue("node") != user {
		notFoundObject(w, r.PathValue("node"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.ig.byUser[user]
	switch r.PathValue("edge") {
	case "media":
		limit, err := strconv.Atoi(r.Form.Get("limit"))
		if err != nil || limit <= 0 || limit > 100 {
			limit = 25
		}
		data := []map[string]string{}
		for i := len(list) - 1; i >= 0 && len(data) < limit; i-- {
			data = append(data, mediaJSON(list[i]))
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": data})
	case "content_publishing_limit":
		since := s.now().Add(-24 * time.Hour)
		n := 0
		for _, m := range list {
			if m.created.After(since) {
				n++
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": []any{map[string]any{
			"quota_usage": n, "config": map[string]int{"quota_total": igQuotaTotal, "quota_duration": 86400}}}})
	default:
		writeError(w, http.StatusNotFound, "not_found", "no such route", false)
	}
}

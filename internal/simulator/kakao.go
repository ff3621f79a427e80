package simulator

// NAVER Cloud SENS 브랜드 메시지 (brand message) emulation (the kakao-sens protocol of
// internal/channels/kakao_sens.go, whose header lists the pages read and what they could not
// confirm), as SENS documents it:
// https://api.ncloud-docs.com/docs/sens-brandmessage-send (send: plusFriendId, messageType,
// targeting M|N|I), https://api.ncloud-docs.com/docs/sens-brandmessage-list (the request list by
// requestId or time, pageSize, nextToken), https://api.ncloud-docs.com/docs/sens-brandmessage-get
// (one message's result) and https://api.ncloud-docs.com/docs/sens-overview (headers, signature,
// 5-minute window).
//
//	POST /brandmessage/v2/services/{serviceId}/messages   → 202 {"requestId","requestTime","statusCode":"202","statusName":"success","messages":[...]}
//	GET  /brandmessage/v2/services/{serviceId}/messages?requestId= | requestStartTime=&requestEndTime=&plusFriendId= [&pageSize=&nextToken=]
//	GET  /brandmessage/v2/services/{serviceId}/messages/{messageId}
//
// 친구톡 (/friendtalk/v2/...) ended on 2026-02-12 (https://guide.ncloud-docs.com/docs/sens-releasenote):
// its paths answer 404 here.
//
// Every call is checked against the project registered with RegisterSENSProject (access key,
// signature over "METHOD URI\ntimestamp\naccessKey", timestamp within 5 minutes) and answered
// 401 with the API gateway's {"error":{"errorCode","message","details"}} otherwise. A
// plusFriendId not registered with RegisterKakaoChannel is refused 403. Only the free-form TEXT
// type is emulated (another messageType answers 400). A message answers "processing" to its
// first status read, then "success" when the targeting reaches its recipient: I (the default)
// reaches the channel's friends, N those who are not friends, M everyone (every number is taken
// as having consented to advertising); SetKakaoNonFriends names a channel's non-friends (none
// by default). A recipient out of the targeting ends "fail" with messageStatusCode
// "SIM-TARGETING": the pages we could read list no result codes, so the emulation does not
// pretend to know Kakao's. M and N on a channel without a brand message subscription
// (SetKakaoNonFriends(..., false)) are refused 400, a guess at a rule the send page states
// ("브랜드 메시지 사용 신청이 완료된 채널에 한해") without its error.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

type sensMsg struct {
	messageID, to, content string
	reads                  int
	reached                bool // the targeting reaches the recipient
	completed              time.Time
}

type sensRequest struct {
	id, serviceID, friend, targeting string
	time                             time.Time
	msgs                             []*sensMsg
}

// kakaoChannel is a KakaoTalk channel of the SENS project.
type kakaoChannel struct {
	nonFriends map[string]bool // recipients who are not friends of the channel
	noBrand    bool            // the brand message subscription is not complete (M and N refused)
}

type sensState struct {
	serviceID, accessKey string
	secret               []byte
	friends              map[string]*kakaoChannel // by plusFriendId
	requests             map[string]*sensRequest
	messages             map[string]*sensRequest // by messageId
	order                []*sensRequest
	faultsUsed           int
	sendLostUsed         bool
}

func newSENSState() *sensState {
	return &sensState{friends: map[string]*kakaoChannel{}, requests: map[string]*sensRequest{}, messages: map[string]*sensRequest{}}
}

// sensMessageTypes are the brand message types of the send page; the emulation sends TEXT.
var sensMessageTypes = map[string]bool{"TEXT": true, "IMAGE": true, "WIDE_IMAGE": true, "WIDE_ITEM_LIST": true,
	"COMMERCE": true, "CAROUSEL_COMMERCE": true, "CAROUSEL_FEED": true, "PREMIUM_VIDEO": true}

// maxSENSTextRunes is the TEXT content limit (1,300 characters; see kakao_sens.go).
const maxSENSTextRunes = 1300

// parseDealerFail parses a KAKAO value of SIMULATOR_FAIL that is a dealer rule; ok is false for
// a plain count.
func parseDealerFail(v string) (FailRule, bool, error) {
	switch v {
	case "auth", "throttle", "send-lost":
		return FailRule{Dealer: v}, true, nil
	}
	if rest, ok := strings.CutPrefix(v, "throttlex"); ok {
		k, err := strconv.Atoi(rest)
		if err != nil || k < 1 || k > MaxFailCount {
			return FailRule{}, true, fmt.Errorf("want throttlex<count>, e.g. throttlex2 (count 1 to %d)", MaxFailCount)
		}
		return FailRule{Dealer: v}, true, nil
	}
	return FailRule{}, false, nil
}

func dealerHint(ch model.Channel) string {
	if ch == model.ChannelKakao {
		return ", or for the SENS dealer auth, throttle, throttlex<count> or send-lost"
	}
	return ""
}

// RegisterSENSProject sets the SENS project the emulation answers: its Biz Message service id
// and the access key with its secret key.
func (s *Server) RegisterSENSProject(serviceID, accessKey string, secret []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sens.serviceID, s.sens.accessKey, s.sens.secret = serviceID, accessKey, append([]byte(nil), secret...)
}

// RegisterKakaoChannel registers a KakaoTalk channel (plusFriendId) with the project, its brand
// message subscription complete and every recipient a friend. Registering it again keeps what
// SetKakaoNonFriends set.
func (s *Server) RegisterKakaoChannel(plusFriendID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sens.friends[plusFriendID] == nil {
		s.sens.friends[plusFriendID] = &kakaoChannel{nonFriends: map[string]bool{}}
	}
}

// SetKakaoNonFriends registers the channel plusFriendID (if need be) with the phone numbers that
// are not its friends (digits only) and whether its brand message subscription is complete.
func (s *Server) SetKakaoNonFriends(plusFriendID string, nonFriends []string, brandSubscribed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := &kakaoChannel{nonFriends: map[string]bool{}, noBrand: !brandSubscribed}
	for _, n := range nonFriends {
		ch.nonFriends[n] = true
	}
	s.sens.friends[plusFriendID] = ch
}

// KakaoTargetings returns the targeting of every send request of plusFriendID, oldest first.
func (s *Server) KakaoTargetings(plusFriendID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.sens.order {
		if r.friend == plusFriendID {
			out = append(out, r.targeting)
		}
	}
	return out
}

// KakaoSends returns how many send requests the channel plusFriendID made.
func (s *Server) KakaoSends(plusFriendID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.sens.order {
		if r.friend == plusFriendID {
			n++
		}
	}
	return n
}

// KakaoContents returns the content of every message sent by plusFriendID, oldest first.
func (s *Server) KakaoContents(plusFriendID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.sens.order {
		if r.friend == plusFriendID {
			for _, m := range r.msgs {
				out = append(out, m.content)
			}
		}
	}
	return out
}

func (s *Server) kakaoRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /brandmessage/v2/services/{serviceId}/messages", s.sensSend)
	mux.HandleFunc("GET /brandmessage/v2/services/{serviceId}/messages", s.sensList)
	mux.HandleFunc("GET /brandmessage/v2/services/{serviceId}/messages/{messageId}", s.sensGet)
}

func gatewayError(w http.ResponseWriter, status int, code, msg, details string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"errorCode": code, "message": msg, "details": details}})
}

// sensAuth checks the signature headers and the SIMULATOR_FAIL dealer rules; it answers and
// returns false when the call fails. Called with s.mu held.
func (s *Server) sensAuthLocked(w http.ResponseWriter, r *http.Request) bool {
	st := s.sens
	rule := s.fail[model.ChannelKakao].Dealer
	switch {
	case rule == "auth":
		gatewayError(w, http.StatusUnauthorized, "200", "Authentication Failed", "Invalid authentication information.")
		return false
	case rule == "throttle":
		gatewayError(w, http.StatusTooManyRequests, "400", "Rate Limit Exceeded", "Too many requests.")
		return false
	case strings.HasPrefix(rule, "throttlex"):
		n, _ := strconv.Atoi(strings.TrimPrefix(rule, "throttlex"))
		if st.faultsUsed < n {
			st.faultsUsed++
			w.Header().Set("Retry-After", "1")
			gatewayError(w, http.StatusTooManyRequests, "400", "Rate Limit Exceeded", "Too many requests.")
			return false
		}
	}
	ts := r.Header.Get("x-ncp-apigw-timestamp")
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || r.Header.Get("x-ncp-iam-access-key") == "" {
		gatewayError(w, http.StatusUnauthorized, "200", "Authentication Failed", "Invalid authentication information.")
		return false
	}
	if d := s.now().Sub(time.UnixMilli(ms)); d > 5*time.Minute || d < -5*time.Minute {
		gatewayError(w, http.StatusUnauthorized, "210", "Permission Denied", "The timestamp is outside the 5-minute window.")
		return false
	}
	key := r.Header.Get("x-ncp-iam-access-key")
	want := sensSignature(st.secret, r.Method, r.URL.RequestURI(), ts, key)
	if st.accessKey == "" || key != st.accessKey || !hmac.Equal([]byte(want), []byte(r.Header.Get("x-ncp-apigw-signature-v2"))) {
		gatewayError(w, http.StatusUnauthorized, "200", "Authentication Failed", "Invalid authentication information.")
		return false
	}
	if r.PathValue("serviceId") != st.serviceID {
		writeJSON(w, http.StatusNotFound, map[string]any{"status": 404, "errorMessage": "service not found"})
		return false
	}
	return true
}

func (s *Server) sensSend(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	s.mu.Lock()
	if !s.sensAuthLocked(w, r) {
		s.mu.Unlock()
		return
	}
	var body struct {
		PlusFriendID string `json:"plusFriendId"`
		MessageType  string `json:"messageType"`
		Targeting    string `json:"targeting"`
		Messages     []struct {
			To          string `json:"to"`
			CountryCode string `json:"countryCode"`
			Content     string `json:"content"`
		} `json:"messages"`
	}
	if json.Unmarshal(data, &body) != nil || body.PlusFriendID == "" || !sensMessageTypes[body.MessageType] || len(body.Messages) == 0 || len(body.Messages) > 100 {
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "errorMessage": "invalid request body: plusFriendId, messageType and 1 to 100 messages are required"})
		return
	}
	if body.Targeting == "" {
		body.Targeting = "I"
	}
	ch := s.sens.friends[body.PlusFriendID]
	if ch == nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusForbidden, map[string]any{"status": 403, "errorMessage": "plusFriendId is not registered or its sender key is blocked"})
		return
	}
	switch {
	case body.MessageType != "TEXT":
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "errorMessage": "the simulator emulates the TEXT messageType only"})
		return
	case body.Targeting != "I" && body.Targeting != "M" && body.Targeting != "N":
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "errorMessage": "targeting must be M, N or I"})
		return
	case body.Targeting != "I" && ch.noBrand:
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "errorMessage": "targeting M and N need the channel's brand message subscription"})
		return
	}
	for _, m := range body.Messages {
		if m.Content == "" || len([]rune(m.Content)) > maxSENSTextRunes || !sensDigits(m.To) || (m.CountryCode != "" && !sensDigits(m.CountryCode)) {
			s.mu.Unlock()
			writeJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "errorMessage": "invalid message: content empty or over 1300 characters, or a recipient that is not digits"})
			return
		}
	}
	s.seq++
	req := &sensRequest{id: fmt.Sprintf("RSENS%012d", s.seq), serviceID: s.sens.serviceID, friend: body.PlusFriendID, targeting: body.Targeting, time: s.now()}
	type out struct {
		MessageID         string `json:"messageId"`
		To                string `json:"to"`
		CountryCode       string `json:"countryCode"`
		Content           string `json:"content"`
		RequestStatusCode string `json:"requestStatusCode"`
		RequestStatusName string `json:"requestStatusName"`
		RequestStatusDesc string `json:"requestStatusDesc"`
	}
	var msgs []out
	for i, m := range body.Messages {
		friend := !ch.nonFriends[m.To]
		reached := body.Targeting == "M" || (body.Targeting == "I" && friend) || (body.Targeting == "N" && !friend)
		sm := &sensMsg{messageID: fmt.Sprintf("%s-%d", req.id, i), to: m.To, content: m.Content, reached: reached}
		req.msgs = append(req.msgs, sm)
		s.sens.messages[sm.messageID] = req
		msgs = append(msgs, out{MessageID: sm.messageID, To: m.To, CountryCode: "82", Content: m.Content, RequestStatusCode: "A000", RequestStatusName: "success", RequestStatusDesc: "성공"})
	}
	s.sens.requests[req.id] = req
	s.sens.order = append(s.sens.order, req)
	lost := s.fail[model.ChannelKakao].Dealer == "send-lost" && !s.sens.sendLostUsed
	if lost {
		s.sens.sendLostUsed = true
	}
	s.mu.Unlock()
	if lost {
		dropConn(w)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"requestId": req.id, "requestTime": req.time.Format("2006-01-02T15:04:05.000"),
		"statusCode": "202", "statusName": "success", "messages": msgs})
}

// sensDigits reports whether v is 1 to 20 ASCII digits.
func sensDigits(v string) bool {
	if v == "" || len(v) > 20 {
		return false
	}
	for _, r := range v {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// sensItem is one message of the list and of 메시지 발송 결과 조회.
type sensItem struct {
	RequestID         string `json:"requestId"`
	MessageID         string `json:"messageId"`
	RequestTime       string `json:"requestTime"`
	CompleteTime      string `json:"completeTime,omitempty"`
	PlusFriendID      string `json:"plusFriendId"`
	MessageType       string `json:"messageType"`
	CountryCode       string `json:"countryCode"`
	To                string `json:"to"`
	Content           string `json:"content"`
	RequestStatusCode string `json:"requestStatusCode"`
	RequestStatusName string `json:"requestStatusName"`
	RequestStatusDesc string `json:"requestStatusDesc"`
	MessageStatusCode string `json:"messageStatusCode,omitempty"`
	MessageStatusName string `json:"messageStatusName"`
	MessageStatusDesc string `json:"messageStatusDesc,omitempty"`
}

// sensReadLocked is one status read of m: "processing" first, then its end. Called with s.mu held.
func (s *Server) sensReadLocked(rq *sensRequest, m *sensMsg) sensItem {
	m.reads++
	it := sensItem{RequestID: rq.id, MessageID: m.messageID, RequestTime: rq.time.Format("2006-01-02T15:04:05.000"),
		PlusFriendID: rq.friend, MessageType: "TEXT", CountryCode: "82", To: m.to, Content: m.content,
		RequestStatusCode: "A000", RequestStatusName: "success", RequestStatusDesc: "성공", MessageStatusName: "processing"}
	if m.reads > 1 {
		if m.completed.IsZero() {
			m.completed = s.now()
		}
		it.CompleteTime = m.completed.Format("2006-01-02T15:04:05")
		if m.reached {
			it.MessageStatusCode, it.MessageStatusName, it.MessageStatusDesc = "0000", "success", "정상 발송"
		} else {
			it.MessageStatusCode, it.MessageStatusName, it.MessageStatusDesc = "SIM-TARGETING", "fail", "targeting "+rq.targeting+" does not reach this recipient (simulator)"
		}
	}
	return it
}

// sensListTime parses a list time: "YYYY-MM-DD HH:mm:ss" as the list's table writes it, or with
// the "T" of its curl example (KST).
func sensListTime(v string) (time.Time, error) {
	kst := time.FixedZone("KST", 9*3600)
	t, err := time.ParseInLocation("2006-01-02 15:04:05", v, kst)
	if err != nil {
		t, err = time.ParseInLocation("2006-01-02T15:04:05", v, kst)
	}
	return t, err
}

func (s *Server) sensList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.sensAuthLocked(w, r) {
		return
	}
	q := r.URL.Query()
	pageSize := 20
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "errorMessage": "pageSize must be 1 to 100"})
			return
		}
		pageSize = n
	}
	offset := 0
	if v := q.Get("nextToken"); v != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(v, "sim-"))
		if err != nil || !strings.HasPrefix(v, "sim-") || n < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "errorMessage": "invalid nextToken"})
			return
		}
		offset = n
	}
	var reqs []*sensRequest
	if id := q.Get("requestId"); id != "" {
		if rq, ok := s.sens.requests[id]; ok {
			reqs = append(reqs, rq)
		}
	} else {
		from, err1 := sensListTime(q.Get("requestStartTime"))
		to, err2 := sensListTime(q.Get("requestEndTime"))
		if err1 != nil || err2 != nil || to.Before(from) || to.Sub(from) > 31*24*time.Hour || q.Get("plusFriendId") == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "errorMessage": "requestId, or requestStartTime+requestEndTime (YYYY-MM-DD HH:mm:ss, within 31 days) with plusFriendId, is required"})
			return
		}
		// The times have seconds: a request of the end's second is inside the window.
		to = to.Add(time.Second)
		for _, rq := range s.sens.order {
			if rq.friend == q.Get("plusFriendId") && !rq.time.Before(from) && rq.time.Before(to) {
				reqs = append(reqs, rq)
			}
		}
	}
	type ref struct {
		rq *sensRequest
		m  *sensMsg
	}
	var all []ref
	for _, rq := range reqs {
		for _, m := range rq.msgs {
			all = append(all, ref{rq, m})
		}
	}
	items := []sensItem{}
	end := min(offset+pageSize, len(all))
	for i := offset; i < end; i++ {
		items = append(items, s.sensReadLocked(all[i].rq, all[i].m))
	}
	out := map[string]any{"statusCode": "202", "statusName": "success", "messages": items}
	if end < len(all) {
		out["nextToken"] = "sim-" + strconv.Itoa(end)
	}
	if id := q.Get("requestId"); id != "" {
		out["requestId"] = id
	}
	writeJSON(w, http.StatusOK, out)
}

// sensGet is 메시지 발송 결과 조회: one message by its id.
func (s *Server) sensGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.sensAuthLocked(w, r) {
		return
	}
	id := r.PathValue("messageId")
	rq := s.sens.messages[id]
	if rq == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"status": 404, "errorMessage": "message not found"})
		return
	}
	for _, m := range rq.msgs {
		if m.messageID == id {
			writeJSON(w, http.StatusOK, s.sensReadLocked(rq, m))
			return
		}
	}
}

// sensSignature is SENS's signature as NAVER Cloud's signature guide defines it:
// base64(HmacSHA256(secretKey, method + " " + uri + "\n" + timestamp + "\n" + accessKey)).
func sensSignature(secret []byte, method, uri, timestamp, accessKey string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(method + " " + uri + "\n" + timestamp + "\n" + accessKey))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// handleSENSProject sets the SENS project: {"serviceId","accessKey","secretKey"}.
func (s *Server) handleSENSProject(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ServiceID string `json:"serviceId"`
		AccessKey string `json:"accessKey"`
		SecretKey string `json:"secretKey"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.ServiceID == "" || body.AccessKey == "" || body.SecretKey == "" ||
		len(body.ServiceID) > 200 || len(body.AccessKey) > 200 || len(body.SecretKey) > 1000 {
		writeError(w, http.StatusBadRequest, "invalid_request", `want {"serviceId":"...","accessKey":"...","secretKey":"..."}`, false)
		return
	}
	s.RegisterSENSProject(body.ServiceID, body.AccessKey, []byte(body.SecretKey))
	w.WriteHeader(http.StatusNoContent)
}

// handleKakaoChannel registers a KakaoTalk channel: {"plusFriendId", "nonFriends"?: [digits...],
// "brandSubscribed"?: bool (default true)}.
func (s *Server) handleKakaoChannel(w http.ResponseWriter, r *http.Request) {
	var body struct {
		PlusFriendID    string   `json:"plusFriendId"`
		NonFriends      []string `json:"nonFriends"`
		BrandSubscribed *bool    `json:"brandSubscribed"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	bad := dec.Decode(&body) != nil || body.PlusFriendID == "" || len(body.PlusFriendID) > 200 || len(body.NonFriends) > 1000
	for _, n := range body.NonFriends {
		bad = bad || !sensDigits(n)
	}
	if bad {
		writeError(w, http.StatusBadRequest, "invalid_request", `want {"plusFriendId":"...","nonFriends"?:["01012345678"],"brandSubscribed"?:true}`, false)
		return
	}
	if body.NonFriends != nil || body.BrandSubscribed != nil {
		s.SetKakaoNonFriends(body.PlusFriendID, body.NonFriends, body.BrandSubscribed == nil || *body.BrandSubscribed)
	} else {
		s.RegisterKakaoChannel(body.PlusFriendID)
	}
	w.WriteHeader(http.StatusNoContent)
}

package simulator

// NAVER Cloud SENS 친구톡 emulation (the kakao-sens protocol of internal/channels/kakao_sens.go),
// as SENS documents it:
// https://api.ncloud-docs.com/release-20240321/docs/ai-application-service-sens-friendtalkv2
// (send, headers, HmacSHA256 signature, 5-minute window) and
// https://api.ncloud-docs.com/docs/sens-friendtalk-list (the request list by requestId or time).
//
//	POST /friendtalk/v2/services/{serviceId}/messages   → 202 {"requestId","requestTime","statusCode":"202","statusName":"success","messages":[...]}
//	GET  /friendtalk/v2/services/{serviceId}/messages?requestId= | requestStartTime=&requestEndTime=[&plusFriendId=]
//
// Every call is checked against the project registered with RegisterSENSProject (access key,
// signature over "METHOD URI\ntimestamp\naccessKey", timestamp within 5 minutes) and answered
// 401 with the API gateway's {"error":{"errorCode","message","details"}} otherwise. A
// plusFriendId not registered with RegisterKakaoChannel is refused 403. A message answers
// "processing" to its first status read, then "success".

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
}

type sensRequest struct {
	id, serviceID, friend string
	time                  time.Time
	msgs                  []*sensMsg
}

type sensState struct {
	serviceID, accessKey string
	secret               []byte
	friends              map[string]bool
	requests             map[string]*sensRequest
	order                []*sensRequest
	faultsUsed           int
	sendLostUsed         bool
}

func newSENSState() *sensState {
	return &sensState{friends: map[string]bool{}, requests: map[string]*sensRequest{}}
}

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

// RegisterKakaoChannel registers a KakaoTalk channel (plusFriendId) with the project.
func (s *Server) RegisterKakaoChannel(plusFriendID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sens.friends[plusFriendID] = true
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
	mux.HandleFunc("POST /friendtalk/v2/services/{serviceId}/messages", s.sensSend)
	mux.HandleFunc("GET /friendtalk/v2/services/{serviceId}/messages", s.sensList)
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
		Messages     []struct {
			// isAd is Boolean, default true (https://api.ncloud-docs.com/docs/sens-friendtalk-send);
			// the older page's example shows a string, also accepted here.
			IsAd    json.RawMessage `json:"isAd"`
			To      string          `json:"to"`
			Content string          `json:"content"`
		} `json:"messages"`
	}
	badAd := false
	if json.Unmarshal(data, &body) == nil {
		for _, m := range body.Messages {
			if _, ok := sensIsAd(m.IsAd); !ok {
				badAd = true
			}
		}
	}
	if json.Unmarshal(data, &body) != nil || len(body.Messages) == 0 || len(body.Messages) > 100 || badAd {
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "errorMessage": "invalid request body"})
		return
	}
	if !s.sens.friends[body.PlusFriendID] {
		s.mu.Unlock()
		writeJSON(w, http.StatusForbidden, map[string]any{"status": 403, "errorMessage": "plusFriendId is not registered or its sender key is blocked"})
		return
	}
	for _, m := range body.Messages {
		ad, _ := sensIsAd(m.IsAd)
		if len([]rune(m.Content)) > 1000 || m.To == "" || (ad && !strings.HasPrefix(m.Content, "(광고)")) {
			s.mu.Unlock()
			writeJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "errorMessage": "invalid message: content over 1000 characters, no recipient, or an ad without (광고)"})
			return
		}
	}
	s.seq++
	req := &sensRequest{id: fmt.Sprintf("RSENS%012d", s.seq), serviceID: s.sens.serviceID, friend: body.PlusFriendID, time: s.now()}
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
		sm := &sensMsg{messageID: fmt.Sprintf("%s-%d", req.id, i), to: m.To, content: m.Content}
		req.msgs = append(req.msgs, sm)
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

// sensIsAd reads a message's isAd: absent is the default true; a boolean, or the strings "true"
// and "false"; anything else is not valid.
func sensIsAd(raw json.RawMessage) (ad, ok bool) {
	switch strings.TrimSpace(string(raw)) {
	case "", "null", "true", `"true"`:
		return true, true
	case "false", `"false"`:
		return false, true
	}
	return false, false
}

func (s *Server) sensList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.sensAuthLocked(w, r) {
		return
	}
	q := r.URL.Query()
	var reqs []*sensRequest
	if id := q.Get("requestId"); id != "" {
		if rq, ok := s.sens.requests[id]; ok {
			reqs = append(reqs, rq)
		}
	} else {
		const layout = "2006-01-02T15:04:05"
		kst := time.FixedZone("KST", 9*3600)
		from, err1 := time.ParseInLocation(layout, q.Get("requestStartTime"), kst)
		to, err2 := time.ParseInLocation(layout, q.Get("requestEndTime"), kst)
		if err1 != nil || err2 != nil || to.Sub(from) > 31*24*time.Hour {
			writeJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "errorMessage": "requestId or requestStartTime+requestEndTime is required"})
			return
		}
		for _, rq := range s.sens.order {
			if (q.Get("plusFriendId") == "" || rq.friend == q.Get("plusFriendId")) && !rq.time.Before(from) && !rq.time.After(to) {
				reqs = append(reqs, rq)
			}
		}
	}
	type item struct {
		RequestID         string `json:"requestId"`
		MessageID         string `json:"messageId"`
		PlusFriendID      string `json:"plusFriendId"`
		To                string `json:"to"`
		Content           string `json:"content"`
		RequestStatusCode string `json:"requestStatusCode"`
		RequestStatusName string `json:"requestStatusName"`
		MessageStatusCode string `json:"messageStatusCode,omitempty"`
		MessageStatusName string `json:"messageStatusName"`
		MessageStatusDesc string `json:"messageStatusDesc,omitempty"`
	}
	items := []item{}
	for _, rq := range reqs {
		for _, m := range rq.msgs {
			m.reads++
			it := item{RequestID: rq.id, MessageID: m.messageID, PlusFriendID: rq.friend, To: m.to, Content: m.content,
				RequestStatusCode: "A000", RequestStatusName: "success", MessageStatusName: "processing"}
			if m.reads > 1 {
				it.MessageStatusCode, it.MessageStatusName, it.MessageStatusDesc = "0000", "success", "정상 발송"
			}
			items = append(items, it)
		}
	}
	out := map[string]any{"statusCode": "202", "statusName": "success", "messages": items, "pageIndex": 0, "pageSize": len(items), "itemCount": len(items), "hasMore": false}
	if id := q.Get("requestId"); id != "" {
		out["requestId"] = id
	}
	writeJSON(w, http.StatusOK, out)
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

// handleKakaoChannel registers a KakaoTalk channel: {"plusFriendId"}.
func (s *Server) handleKakaoChannel(w http.ResponseWriter, r *http.Request) {
	var body struct {
		PlusFriendID string `json:"plusFriendId"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.PlusFriendID == "" || len(body.PlusFriendID) > 200 {
		writeError(w, http.StatusBadRequest, "invalid_request", `want {"plusFriendId":"..."}`, false)
		return
	}
	s.RegisterKakaoChannel(body.PlusFriendID)
	w.WriteHeader(http.StatusNoContent)
}

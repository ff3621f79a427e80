package simulator

// Naver Cafe article API and Naver Login token endpoint emulation (the naver-cafe protocol of
// internal/channels/naver.go), as documented in
// https://developers.naver.com/docs/login/cafe-api/cafe-api.md:
//
//	POST /v1/cafe/{clubid}/menu/{menuid}/articles   Authorization: Bearer <token>
//	     subject, content: URL-encoded UTF-8 encoded again (decoded twice here)
//	     → 200 {"message":{"@type":"response","@service":"naverservice.cafe.api","@version":"1.0.0",
//	            "status":"200","result":{"msgId","cafeUrl","articleId","articleUrl"}}}
//	     → 401 {"errorMessage":"Authentication failed (인증 실패하였습니다.)","errorCode":"024"}
//	POST|GET /oauth2.0/token  grant_type=refresh_token, client_id, client_secret, refresh_token
//	     → {"access_token","token_type":"bearer","expires_in":"3600"} or {"error","error_description"}
//
// Tokens are checked against the accounts registered with RegisterNaverAccount. SIMULATOR_FAIL
// for NAVER takes, besides a count and always: "024" (the access token in use expires once:
// the next article call answers 024 and the refresh token renews it), "<code>x<n>" (the next n
// article calls answer 024, 403, 429 or 500) and "refresh-fail" (the token endpoint refuses
// every refresh).

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/marketing-platform/distribution/internal/model"
)

// naverFaultCodes are the article-call faults "<code>x<n>" can script.
var naverFaultCodes = map[string]bool{"024": true, "403": true, "429": true, "500": true}

type naverAccount struct {
	clubID, menuID string
	access         string
	refresh        string
}

type naverArticle struct {
	clubID, menuID, subject, content string
	id                               int
}

type naverState struct {
	byAccess  map[string]*naverAccount
	byRefresh map[string]*naverAccount
	articles  []naverArticle
	faultUsed int
	expired   bool // the "024" rule fired
	refreshes int
}

func newNaverState() *naverState {
	return &naverState{byAccess: map[string]*naverAccount{}, byRefresh: map[string]*naverAccount{}}
}

// parseNaverFail parses a NAVER value of SIMULATOR_FAIL that is a Cafe rule; ok is false for a
// plain count or always.
func parseNaverFail(v string) (FailRule, bool, error) {
	if v == "024" || v == "refresh-fail" {
		return FailRule{Naver: v}, true, nil
	}
	code, times, hasTimes := strings.Cut(v, "x")
	if !hasTimes {
		return FailRule{}, false, nil
	}
	k, err := strconv.Atoi(times)
	if !naverFaultCodes[code] || err != nil || k < 1 || k > MaxFailCount {
		return FailRule{}, true, fmt.Errorf("want <code>x<count>, e.g. 429x2 (codes 024, 403, 429, 500; count 1 to %d), 024 or refresh-fail", MaxFailCount)
	}
	return FailRule{Naver: v}, true, nil
}

// RegisterNaverAccount makes access a valid access token and refresh its refresh token for the
// board menuID of cafe clubID.
func (s *Server) RegisterNaverAccount(clubID, menuID, access, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &naverAccount{clubID: clubID, menuID: menuID, access: access, refresh: refresh}
	s.naver.byAccess[access] = a
	s.naver.byRefresh[refresh] = a
}

// ExpireNaverToken makes an access token invalid (expired), as Naver does after an hour.
func (s *Server) ExpireNaverToken(access string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.naver.byAccess, access)
}

// NaverArticles returns how many articles were written on cafe clubID.
func (s *Server) NaverArticles(clubID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, a := range s.naver.articles {
		if a.clubID == clubID {
			n++
		}
	}
	return n
}

// NaverArticle returns the subject and content of the i-th article (0-based) of cafe clubID.
func (s *Server) NaverArticle(clubID string, i int) (subject, content string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.naver.articles {
		if a.clubID == clubID {
			if i == 0 {
				return a.subject, a.content, true
			}
			i--
		}
	}
	return "", "", false
}

// NaverRefreshes returns how many refreshes the token endpoint granted.
func (s *Server) NaverRefreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.naver.refreshes
}

func (s *Server) naverRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/cafe/{clubid}/menu/{menuid}/articles", s.naverArticle)
	mux.HandleFunc("POST /oauth2.0/token", s.naverToken)
	mux.HandleFunc("GET /oauth2.0/token", s.naverToken)
	mux.HandleFunc("PUT /_admin/naver/accounts", s.loopbackOnly(s.handleNaverAccount))
}

// handleNaverAccount registers a Naver member for the Cafe API emulation: the credential JSON of
// `account set` ({"clubId","menuId","accessToken","refreshToken","expiresAt"?}).
func (s *Server) handleNaverAccount(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxSubmitBody))
	dec.UseNumber()
	var m map[string]any
	err := dec.Decode(&m)
	str := func(k string) string {
		switch v := m[k].(type) {
		case string:
			return v
		case json.Number:
			return v.String()
		}
		return ""
	}
	club, menu, access, refresh := str("clubId"), str("menuId"), str("accessToken"), str("refreshToken")
	if err != nil || club == "" || menu == "" || access == "" || refresh == "" || len(club)+len(menu) > 200 || len(access)+len(refresh) > 4000 {
		writeError(w, http.StatusBadRequest, "invalid_request", `want {"clubId":"...","menuId":"...","accessToken":"...","refreshToken":"..."}`, false)
		return
	}
	s.RegisterNaverAccount(club, menu, access, refresh)
	w.WriteHeader(http.StatusNoContent)
}

func naverError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"errorMessage": msg, "errorCode": code})
}

func writeNaverFault(w http.ResponseWriter, code string) {
	switch code {
	case "024":
		naverError(w, http.StatusUnauthorized, "024", "Authentication failed (인증 실패하였습니다.)")
	case "403":
		naverError(w, http.StatusForbidden, "403", "Forbidden (카페 회원이 아니거나 글쓰기 권한이 없습니다.)")
	case "429":
		naverError(w, http.StatusTooManyRequests, "429", "Quota Exceeded (호출 한도를 초과했습니다.)")
	default:
		naverError(w, http.StatusInternalServerError, "500", "Internal Server Error (서버 오류)")
	}
}

// naverDecode undoes the guide's double encoding of one already form-decoded value.
func naverDecode(v string) (string, bool) {
	s, err := url.QueryUnescape(v)
	return s, err == nil && utf8.ValidString(s)
}

func (s *Server) naverArticle(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		naverError(w, http.StatusBadRequest, "400", "Bad Request (잘못된 요청입니다.)")
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	rule := s.fail[model.ChannelNaver]
	fault := ""
	switch {
	case rule.Naver == "024" && !s.naver.expired:
		// The token in use expires now: it stays invalid, the refresh token renews it.
		s.naver.expired = true
		delete(s.naver.byAccess, token)
		fault = "024"
	case strings.Contains(rule.Naver, "x"):
		code, times, _ := strings.Cut(rule.Naver, "x")
		k, _ := strconv.Atoi(times)
		if s.naver.faultUsed < k {
			s.naver.faultUsed++
			fault = code
		}
	}
	acct, known := s.naver.byAccess[token]
	s.mu.Unlock()
	if fault != "" {
		writeNaverFault(w, fault)
		return
	}
	if !ok || !known {
		writeNaverFault(w, "024")
		return
	}
	club, menu := r.PathValue("clubid"), r.PathValue("menuid")
	if acct.clubID != "" && (club != acct.clubID || menu != acct.menuID) { // "": an OAuth token (oauth.go), any cafe
		writeNaverFault(w, "403")
		return
	}
	subject, ok1 := naverDecode(r.PostForm.Get("subject"))
	content, ok2 := naverDecode(r.PostForm.Get("content"))
	if !ok1 || !ok2 || strings.TrimSpace(subject) == "" || strings.TrimSpace(content) == "" {
		naverError(w, http.StatusBadRequest, "999", "subject and content are required (제목과 내용을 입력해 주세요.)")
		return
	}
	s.mu.Lock()
	id := len(s.naver.articles) + 1
	s.naver.articles = append(s.naver.articles, naverArticle{clubID: club, menuID: menu, subject: subject, content: content, id: id})
	s.mu.Unlock()
	cafeURL := "https://cafe.naver.com/simcafe" + club
	writeJSON(w, http.StatusOK, map[string]any{"message": map[string]any{
		"@type": "response", "@service": "naverservice.cafe.api", "@version": "1.0.0", "status": "200",
		"result": map[string]any{"msgId": fmt.Sprintf("sim-%s-%d", club, id), "cafeUrl": cafeURL,
			"articleId": id, "articleUrl": fmt.Sprintf("%s/%d", cafeURL, id)},
	}})
}

func (s *Server) naverToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusOK, map[string]string{"error": "invalid_request", "error_description": "bad form"})
		return
	}
	f := r.Form
	if f.Get("grant_type") == "authorization_code" {
		s.naverCodeGrant(w, f) // oauth.go
		return
	}
	if f.Get("grant_type") != "refresh_token" || f.Get("client_id") == "" || f.Get("client_secret") == "" {
		writeJSON(w, http.StatusOK, map[string]string{"error": "invalid_request", "error_description": "wrong grant_type or missing client credentials"})
		return
	}
	if s.refreshFault(w, model.ChannelNaver) { // instagram_upkeep.go
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	acct, ok := s.naver.byRefresh[f.Get("refresh_token")]
	if !ok || s.fail[model.ChannelNaver].Naver == "refresh-fail" {
		// Naver answers a refused refresh with HTTP 200 and an error object.
		writeJSON(w, http.StatusOK, map[string]string{"error": "invalid_grant", "error_description": "Invalid refresh token"})
		return
	}
	s.naver.refreshes++
	delete(s.naver.byAccess, acct.access)
	acct.access = fmt.Sprintf("sim-naver-access-%d-%s", s.naver.refreshes, acct.clubID)
	s.naver.byAccess[acct.access] = acct
	writeJSON(w, http.StatusOK, map[string]string{"access_token": acct.access, "token_type": "bearer", "expires_in": "3600"})
}

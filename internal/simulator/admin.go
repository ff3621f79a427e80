package simulator

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// adminRoutes registers the fault-programming endpoints. They answer only loopback clients, so
// a simulator bound to a wider address cannot be reprogrammed from the network.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /_admin/faults/{channel}", s.loopbackOnly(s.handleInject))
	mux.HandleFunc("DELETE /_admin/faults", s.loopbackOnly(func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("PUT /_admin/fail", s.loopbackOnly(s.handleSetFail))
	mux.HandleFunc("GET /_admin/stats", s.loopbackOnly(s.handleStats))
	mux.HandleFunc("PUT /_admin/instagram/accounts", s.loopbackOnly(s.handleIGAccount))
	mux.HandleFunc("PUT /_admin/kakao/project", s.loopbackOnly(s.handleSENSProject))
	mux.HandleFunc("PUT /_admin/kakao/channels", s.loopbackOnly(s.handleKakaoChannel))
}

// handleIGAccount registers an Instagram account for the Graph API emulation:
// {"igUserId":"...","accessToken":"..."} (the credential JSON of `account set`).
func (s *Server) handleIGAccount(w http.ResponseWriter, r *http.Request) {
	var body struct {
		IGUserID    string `json:"igUserId"`
		AccessToken string `json:"accessToken"`
		ExpiresAt   string `json:"expiresAt"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxSubmitBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.IGUserID == "" || body.AccessToken == "" || len(body.IGUserID) > 100 || len(body.AccessToken) > 2000 {
		writeError(w, http.StatusBadRequest, "invalid_request", `want {"igUserId":"...","accessToken":"..."}`, false)
		return
	}
	s.RegisterInstagramAccount(body.IGUserID, body.AccessToken)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) loopbackOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip, perr := netip.ParseAddr(host)
		if err != nil || perr != nil || !ip.Unmap().IsLoopback() {
			writeError(w, http.StatusForbidden, "forbidden", "the admin endpoint answers loopback clients only", false)
			return
		}
		h(w, r)
	}
}

// wireFault is Fault on the admin wire: delay is a Go duration string ("250ms").
type wireFault struct {
	Fault
	Delay string `json:"delay,omitempty"`
}

func (s *Server) handleInject(w http.ResponseWriter, r *http.Request) {
	ch, ok := s.channel(w, r)
	if !ok {
		return
	}
	var body struct {
		Faults []wireFault `json:"faults"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxSubmitBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "want {\"faults\":[{\"kind\":...}]}: "+err.Error(), false)
		return
	}
	faults := make([]Fault, len(body.Faults))
	for i, wf := range body.Faults {
		faults[i] = wf.Fault
		if wf.Delay != "" {
			d, err := time.ParseDuration(wf.Delay)
			if err != nil {
				writeError(w, http.StatusBadRequest, "invalid_request", "delay: want a duration like 250ms", false)
				return
			}
			faults[i].Delay = d
		}
	}
	if err := s.Inject(ch, faults...); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error(), false)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"pending": s.PendingFaults(ch)})
}

func (s *Server) handleSetFail(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "cannot read body", false)
		return
	}
	rules, err := ParseFail(string(b))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error(), false)
		return
	}
	s.SetFail(rules)
	writeJSON(w, http.StatusOK, map[string]string{"fail": FormatFail(rules)})
}

// StatsView is the body of GET /_admin/stats.
type StatsView struct {
	Channels map[model.Channel]ChannelStats `json:"channels"`
	// Posts counts real posts per event and channel: {"evt-1": {"KAKAO": 1}}.
	Posts map[string]map[model.Channel]int `json:"posts"`
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	v := StatsView{Channels: map[model.Channel]ChannelStats{}, Posts: map[string]map[model.Channel]int{}}
	for ch, st := range s.stats {
		v.Channels[ch] = *st
	}
	for k, n := range s.posts {
		if v.Posts[k.event] == nil {
			v.Posts[k.event] = map[model.Channel]int{}
		}
		v.Posts[k.event][k.ch] = n
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

package simulator

// One file on purpose: it is one HTTP server whose handlers share the publication state machine and
// its lock, which must be read together.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/partnersig"
)

// Publication statuses of the protocol.
const (
	StatusInProgress = "IN_PROGRESS"
	StatusSuccess    = "SUCCESS"
	StatusFailed     = "FAILED"
)

// StepPercent is how far a publication advances per Config.Step.
const StepPercent = 20

// failAtPercent is where a FaultFailPublication publication stops.
const failAtPercent = 40

const (
	maxSubmitBody   = 64 << 10
	maxIdemKeyLen   = 200
	maxEventIDLen   = 100
	defaultRedirect = "http://169.254.169.254/latest/meta-data/"
)

// Config configures a Server. The zero value is usable: no failures, instant publications.
type Config struct {
	// Step is the wall time per progress step (+20%); 0 completes publications at once.
	Step time.Duration
	// Fail holds SIMULATOR_FAIL rules (see ParseFail).
	Fail map[model.Channel]FailRule
	// Now is the clock progress and the signature replay window are computed from; nil means
	// time.Now.
	Now func() time.Time
	// Secrets are the partner v1 shared secrets: a channel with one answers only requests signed
	// with it (401 otherwise, see package partnersig); a channel without one accepts unsigned
	// requests (tests of other behaviours, and `distribution simulator` without
	// SIMULATOR_SECRET_FILE).
	Secrets map[model.Channel]partnersig.Secret
	Logger  *slog.Logger
}

// ChannelStats are counters of one channel, for tests and the admin endpoint.
type ChannelStats struct {
	Submits int `json:"submits"` // every submit request received
	Polls   int `json:"polls"`   // every status request received
	Posts   int `json:"posts"`   // publications created that did not fail (i.e. real posts)
	// Unauthorized counts requests refused for a missing or bad signature or timestamp (not
	// counted in Submits or Polls).
	Unauthorized int `json:"unauthorized"`
}

type evCh struct {
	event string
	ch    model.Channel
}

type chKey struct {
	ch  model.Channel
	key string
}

type publication struct {
	id        string
	ch        model.Channel
	eventID   string
	created   time.Time
	result    Result
	fail      *Fault // FaultFailPublication, or nil
	replayKey chKey
}

// Server is the simulator. Create it with New; it is safe for concurrent use.
type Server struct {
	step    time.Duration
	now     func() time.Time
	logger  *slog.Logger
	secrets map[model.Channel]partnersig.Secret

	closing   chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	fail     map[model.Channel]FailRule
	pubs     map[string]*publication
	byKey    map[chKey]*publication
	attempts map[evCh]int // submits counted for fail rules
	posts    map[evCh]int
	stats    map[model.Channel]*ChannelStats
	faults   map[model.Channel]map[Op][]Fault
	seq      uint64
	rng      *rand.Rand
	ig       *igState       // Instagram Graph API emulation (instagram.go)
	sens     *sensState     // NAVER Cloud SENS brand message emulation (kakao.go)
	naver    *naverState    // Naver Cafe API emulation (naver.go)
	oauth    *oauthState    // the platforms' OAuth endpoints (oauth.go)
	igUpkeep *igUpkeepState // token refresh, followers and insights (instagram_upkeep.go)
}

// New returns a simulator configured by cfg.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		step:     max(cfg.Step, 0),
		now:      cfg.Now,
		logger:   cfg.Logger.With(slog.String("component", "simulator")),
		closing:  make(chan struct{}),
		fail:     map[model.Channel]FailRule{},
		pubs:     map[string]*publication{},
		byKey:    map[chKey]*publication{},
		attempts: map[evCh]int{},
		posts:    map[evCh]int{},
		stats:    map[model.Channel]*ChannelStats{},
		faults:   map[model.Channel]map[Op][]Fault{},
		rng:      rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		secrets:  map[model.Channel]partnersig.Secret{},
		ig:       newIGState(),
		sens:     newSENSState(),
		naver:    newNaverState(),
		oauth:    newOAuthState(),
	}
	for ch, sec := range cfg.Secrets {
		if len(sec) > 0 {
			s.secrets[ch] = sec
		}
	}
	for ch, r := range cfg.Fail {
		s.fail[ch] = r
	}
	for _, ch := range model.AllChannels {
		s.stats[ch] = &ChannelStats{}
		s.faults[ch] = map[Op][]Fault{}
	}
	return s
}

// Close releases requests held by FaultHang and FaultLatency; call it before shutting an
// http.Server down so Shutdown does not wait for them.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.closing) }) }

// Handler returns the simulator's HTTP handler (protocol routes and the loopback-only admin
// routes).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/channels/{channel}/publications", s.handleSubmit)
	mux.HandleFunc("GET /v1/channels/{channel}/publications/{id}", s.handlePoll)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.adminRoutes(mux)
	s.instagramRoutes(mux)
	s.kakaoRoutes(mux)
	s.naverRoutes(mux)
	s.oauthRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route", false)
	})
	return mux
}

// Inject appends scripted faults to a channel's queues (each fault goes to the queue of its
// On operation, default submit). Each matching request consumes one fault, in order.
func (s *Server) Inject(ch model.Channel, faults ...Fault) error {
	if !ch.Valid() {
		return fmt.Errorf("inject faults: unknown channel %q", ch)
	}
	for i := range faults {
		if faults[i].On == "" {
			faults[i].On = OpSubmit
		}
		if err := faults[i].validate(); err != nil {
			return fmt.Errorf("inject faults into %s: %w", ch, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range faults {
		s.faults[ch][f.On] = append(s.faults[ch][f.On], f)
	}
	return nil
}

// MustInject is Inject for tests: it panics on a bad fault.
func (s *Server) MustInject(ch model.Channel, faults ...Fault) {
	if err := s.Inject(ch, faults...); err != nil {
		panic(err)
	}
}

// ClearFaults empties every scripted fault queue.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range model.AllChannels {
		s.faults[ch] = map[Op][]Fault{}
	}
}

// PendingFaults returns how many scripted faults of ch have not been consumed yet.
func (s *Server) PendingFaults(ch model.Channel) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.faults[ch][OpSubmit]) + len(s.faults[ch][OpPoll])
}

// SetFail replaces the SIMULATOR_FAIL rules.
func (s *Server) SetFail(rules map[model.Channel]FailRule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = map[model.Channel]FailRule{}
	for ch, r := range rules {
		s.fail[ch] = r
	}
	s.ig.graphFaultsUsed, s.ig.containerErrorUsed, s.ig.publishLostUsed = 0, false, false
	s.sens.faultsUsed, s.sens.sendLostUsed = 0, false
	s.naver.faultUsed, s.naver.expired = 0, false
}

// Stats returns the counters of a channel.
func (s *Server) Stats(ch model.Channel) ChannelStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stats[ch]; ok {
		return *st
	}
	return ChannelStats{}
}

// Posts returns how many real posts (publications that did not fail) were created for an event
// on a channel.
func (s *Server) Posts(ch model.Channel, eventID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts[evCh{eventID, ch}]
}

// Attempts returns how many submits of an event on a channel were counted for SIMULATOR_FAIL.
func (s *Server) Attempts(ch model.Channel, eventID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[evCh{eventID, ch}]
}

// submitRequest is the submit body.
type submitRequest struct {
	EventID     string `json:"eventId"`
	Title       string `json:"title"`
	Description string `json:"description"`
	ImageURL    string `json:"imageUrl"`
	StoreName   string `json:"storeName"`
}

// PublicationView is the JSON of a publication.
type PublicationView struct {
	ID       string    `json:"id"`
	Status   string    `json:"status"`
	Progress int       `json:"progress"`
	Result   *Result   `json:"result,omitempty"`
	Error    *APIError `json:"error,omitempty"`
}

// APIError is the error object of every error body and of a FAILED publication.
type APIError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

func (s *Server) channel(w http.ResponseWriter, r *http.Request) (model.Channel, bool) {
	ch := model.Channel(r.PathValue("channel"))
	if !ch.Valid() {
		writeError(w, http.StatusNotFound, "not_found", "unknown channel", false)
		return "", false
	}
	return ch, true
}

// authorized checks the request's partner v1 signature when the channel has a secret, answering
// 401 with the partnersig error code when it is missing or wrong. body is the exact request body
// (nil for a poll).
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, ch model.Channel, body []byte) bool {
	sec, ok := s.secrets[ch]
	if !ok {
		return true
	}
	err := partnersig.Verify(sec, s.now(), r.Method, r.URL.EscapedPath(), body,
		r.Header.Get(partnersig.HeaderTimestamp), r.Header.Get(partnersig.HeaderSignature))
	if err == nil {
		return true
	}
	s.mu.Lock()
	s.stats[ch].Unauthorized++
	s.mu.Unlock()
	code, msg := partnersig.CodeInvalid, err.Error()
	var ve *partnersig.VerifyError
	if errors.As(err, &ve) {
		code = ve.Code
	}
	s.logger.Debug("request refused", slog.String("channel", string(ch)), slog.String("code", code))
	writeError(w, http.StatusUnauthorized, code, msg, false)
	return false
}

// nextFault pops the next scripted fault of (ch, op) and counts the request.
func (s *Server) nextFault(ch model.Channel, op Op) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op == OpSubmit {
		s.stats[ch].Submits++
	} else {
		s.stats[ch].Polls++
	}
	q := s.faults[ch][op]
	if len(q) == 0 {
		return Fault{}, false
	}
	s.faults[ch][op] = q[1:]
	return q[0], true
}

// applyFault acts out a fault that answers instead of the normal handler. It returns true when
// the request has been fully handled.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	switch f.Kind {
	case FaultLatency:
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
			return false
		case <-r.Context().Done():
			return true
		case <-s.closing:
			return true
		}
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return true
	case FaultStatus:
		msg := f.Message
		if msg == "" {
			msg = http.StatusText(f.Status)
		}
		code := "unavailable"
		if f.Status < 500 {
			code = "rejected"
		}
		writeError(w, f.Status, code, msg, f.Retryable || f.Status >= 500)
		return true
	case FaultRateLimit:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		writeError(w, http.StatusTooManyRequests, "rate_limited", "too many requests, slow down", true)
		return true
	case FaultReset:
		resetConn(w)
		return true
	case FaultHugeBody:
		size := f.Size
		if size == 0 {
			size = DefaultHugeBodySize
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		chunk := []byte(`{"id":"` + strings.Repeat("x", 32<<10))
		for written := 0; written < size; {
			n := min(len(chunk), size-written)
			if _, err := w.Write(chunk[:n]); err != nil {
				return true
			}
			written += n
			chunk = []byte(strings.Repeat("y", 32<<10))
		}
		return true
	case FaultRedirect:
		loc := f.Location
		if loc == "" {
			loc = defaultRedirect
		}
		http.Redirect(w, r, loc, http.StatusFound)
		return true
	}
	return false // lose_response and fail_publication act during normal handling
}

func (s *Server) handleSubmit(w http.ResponseWriter, r *http.Request) {
	ch, ok := s.channel(w, r)
	if !ok {
		return
	}
	// Read the body first: the server notices a client hanging up only once the body is consumed,
	// and FaultHang relies on that to end when the client gives up.
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSubmitBody))
	var tooBig *http.MaxBytesError
	if !errors.As(readErr, &tooBig) && !s.authorized(w, r, ch, body) {
		return
	}
	fault, faulted := s.nextFault(ch, OpSubmit)
	if faulted && s.applyFault(w, r, fault) {
		return
	}
	if errors.As(readErr, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "request body is too large", false)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" || len(key) > maxIdemKeyLen {
		writeError(w, http.StatusBadRequest, "invalid_request", fmt.Sprintf("header Idempotency-Key is required (1-%d characters)", maxIdemKeyLen), false)
		return
	}
	var req submitRequest
	if readErr != nil || json.Unmarshal(body, &req) != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "request body is not valid JSON", false)
		return
	}
	if req.EventID == "" || len(req.EventID) > maxEventIDLen {
		writeError(w, http.StatusBadRequest, "invalid_request", "eventId is required", false)
		return
	}
	if strings.TrimSpace(req.Title) == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "title is required", false)
		return
	}

	now := s.now()
	s.mu.Lock()
	ck := chKey{ch, key}
	if p, ok := s.byKey[ck]; ok {
		if p.eventID != req.EventID {
			s.mu.Unlock()
			writeError(w, http.StatusConflict, "idempotency_conflict", "Idempotency-Key was already used for another event", false)
			return
		}
		if v := s.viewLocked(p, now); v.Status != StatusFailed {
			s.mu.Unlock()
			w.Header().Set("Idempotent-Replayed", "true")
			s.answerSubmit(w, fault, faulted, v)
			return
		}
		// A FAILED publication published nothing: the key is free for a new one.
		delete(s.byKey, ck)
	}
	ec := evCh{req.EventID, ch}
	s.attempts[ec]++
	attempt := s.attempts[ec]
	if rule, ok := s.fail[ch]; ok && rule.fails(attempt) {
		s.mu.Unlock()
		msg := fmt.Sprintf("%s is temporarily unavailable (simulated failure %d of %s)", ch, attempt, rule)
		s.logger.Debug("simulated failure", slog.String("channel", string(ch)), slog.String("event_id", req.EventID), slog.Int("attempt", attempt))
		writeError(w, http.StatusServiceUnavailable, "unavailable", msg, true)
		return
	}
	s.seq++
	p := &publication{
		id:        publicationID(s.seq, s.rng),
		ch:        ch,
		eventID:   req.EventID,
		created:   now,
		result:    ResultFor(req.EventID, ch, now),
		replayKey: ck,
	}
	if faulted && fault.Kind == FaultFailPublication {
		f := fault
		p.fail = &f
	} else {
		s.posts[ec]++
		s.stats[ch].Posts++
	}
	s.pubs[p.id] = p
	s.byKey[ck] = p
	v := s.viewLocked(p, now)
	s.mu.Unlock()
	s.logger.Debug("publication created", slog.String("channel", string(ch)), slog.String("event_id", req.EventID), slog.String("publication_id", p.id))
	s.answerSubmit(w, fault, faulted, v)
}

func (s *Server) answerSubmit(w http.ResponseWriter, fault Fault, faulted bool, v PublicationView) {
	if faulted && fault.Kind == FaultLoseResponse {
		dropConn(w)
		return
	}
	writeJSON(w, http.StatusAccepted, v)
}

func (s *Server) handlePoll(w http.ResponseWriter, r *http.Request) {
	ch, ok := s.channel(w, r)
	if !ok || !s.authorized(w, r, ch, nil) {
		return
	}
	fault, faulted := s.nextFault(ch, OpPoll)
	if faulted && s.applyFault(w, r, fault) {
		return
	}
	now := s.now()
	s.mu.Lock()
	p, ok := s.pubs[r.PathValue("id")]
	if !ok || p.ch != ch {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "not_found", "no such publication", false)
		return
	}
	v := s.viewLocked(p, now)
	s.mu.Unlock()
	if faulted && fault.Kind == FaultLoseResponse {
		dropConn(w)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// viewLocked computes a publication's state at now.
func (s *Server) viewLocked(p *publication, now time.Time) PublicationView {
	progress := 100
	if s.step > 0 {
		steps := int64(now.Sub(p.created) / s.step)
		progress = int(min(max(steps, 0)*StepPercent, 100))
	}
	v := PublicationView{ID: p.id, Status: StatusInProgress, Progress: progress}
	switch {
	case p.fail != nil && progress >= failAtPercent:
		msg := p.fail.Message
		if msg == "" {
			msg = "the publication was rejected by the channel"
		}
		v.Status, v.Progress = StatusFailed, failAtPercent
		v.Error = &APIError{Code: "publication_failed", Message: msg, Retryable: p.fail.Retryable}
	case progress >= 100:
		res := p.result
		v.Status, v.Result = StatusSuccess, &res
	}
	return v
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

func writeError(w http.ResponseWriter, status int, code, message string, retryable bool) {
	writeJSON(w, status, map[string]APIError{"error": {Code: code, Message: message, Retryable: retryable}})
}

// resetConn closes the client connection with a TCP RST (SO_LINGER 0).
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// dropConn closes the client connection without an answer (a lost response).
func dropConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

package channels

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/partnersig"
)

// Options tunes the adapters. Zero fields take the defaults in brackets.
type Options struct {
	DialTimeout           time.Duration // TCP connect [2s]
	TLSHandshakeTimeout   time.Duration // [5s]
	ResponseHeaderTimeout time.Duration // from request written to response headers [10s]
	RequestTimeout        time.Duration // one whole HTTP exchange including the body [15s]
	MaxPublishTime        time.Duration // one whole Publish: submit and every poll [10m]
	PollInterval          time.Duration // between status polls [250ms]
	PollRetries           int           // transient poll failures tolerated in a row [3]; negative = none
	MaxBodyBytes          int64         // largest response body read [1 MB]
	// AllowInsecureLoopback permits http:// endpoints and connections to loopback addresses
	// (the simulator). Private, link-local and other special addresses stay refused.
	AllowInsecureLoopback bool
	Now                   func() time.Time // clock of Retry-After dates [time.Now]
	Logger                *slog.Logger
	UserAgent             string // ["distribution-service/1"]
	// WrapTransport, when set, wraps the adapters' transport (otelhttp: a client span per call
	// and the trace context in the request headers).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// InstagramReachRate is the share of an Instagram account's followers a post is estimated
	// to reach (INSTAGRAM_REACH_RATE) [0.3] (views.go).
	InstagramReachRate float64
}

// WithDefaults returns o with zero fields replaced by the defaults.
func (o Options) WithDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.DialTimeout, 2*time.Second)
	def(&o.TLSHandshakeTimeout, 5*time.Second)
	def(&o.ResponseHeaderTimeout, 10*time.Second)
	def(&o.RequestTimeout, 15*time.Second)
	def(&o.MaxPublishTime, 10*time.Minute)
	def(&o.PollInterval, 250*time.Millisecond)
	if o.PollRetries == 0 {
		o.PollRetries = 3
	} else if o.PollRetries < 0 {
		o.PollRetries = 0
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.InstagramReachRate <= 0 || o.InstagramReachRate > 1 {
		o.InstagramReachRate = 0.3
	}
	if o.UserAgent == "" {
		o.UserAgent = "distribution-service/1"
	}
	return o
}

// Registry holds one adapter per channel, sharing one HTTP client (connection pool).
type Registry struct {
	adapters map[model.Channel]*HTTPAdapter
	graph    map[model.Channel]*GraphAdapter // channels speaking instagram-graph
	sens     map[model.Channel]*SENSAdapter  // channels speaking kakao-sens
	naver    map[model.Channel]*NaverAdapter // channels speaking naver-cafe
	oauth    map[model.Channel]*OAuthClient  // channels whose accounts connect through OAuth (oauth.go)
	// routes are the embedded simulator's account channels (embedded.go); nil otherwise.
	routes    map[model.Channel]Adapter
	transport *http.Transport
	client    *http.Client
	opts      Options
	logger    *slog.Logger
}

// Endpoint is where a channel publishes (partner protocol v1) and the secret it signs with.
type Endpoint struct {
	URL string // endpoint root; the adapter appends /v1/channels/{CHANNEL}/...
	// Secret is the channel's shared secret. Nil sends unsigned requests, which only a simulator
	// without secrets accepts (tests); CHANNELS_CONFIG and the embedded simulator always set it.
	Secret partnersig.Secret
	// Protocol is the endpoint's protocol ("" = partner-v1). With ProtocolInstagramGraph, URL is
	// the Graph host root (https://graph.instagram.com) and Version the API version (v23.0).
	Protocol Protocol
	Version  string
	// ServiceID and AccessKey are kakao-sens's (Secret is then the access key's secret key).
	ServiceID string
	AccessKey string
	// naver-cafe: URL is the Open API root (https://openapi.naver.com); TokenURL, ClientID and
	// ClientSecret renew the stores' access tokens.
	TokenURL     string
	ClientID     string
	ClientSecret ClientSecret
	// AuthorizeURL is the platform's OAuth authorization endpoint (instagram-graph, naver-cafe):
	// with it (and TokenURL, ClientID, ClientSecret) the stores pages connect accounts (oauth.go).
	AuthorizeURL string
}

// NewRegistry builds adapters for the given endpoints. Channels without an endpoint, or with an
// unusable one, get an adapter whose every Publish fails with a Permanent error saying so.
func NewRegistry(endpoints map[model.Channel]Endpoint, opts Options) *Registry {
	opts = opts.WithDefaults()
	logger := opts.Logger.With(slog.String("component", "channels"))
	dialer := &net.Dialer{
		Timeout:   opts.DialTimeout,
		KeepAlive: 30 * time.Second,
		Control:   dialGuard(opts.AllowInsecureLoopback),
	}
	tr := &http.Transport{
		Proxy:                  nil, // a proxy would dial for us and bypass the address guard
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    opts.TLSHandshakeTimeout,
		ResponseHeaderTimeout:  opts.ResponseHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    16,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      true,
	}
	var rt http.RoundTripper = tr
	if opts.WrapTransport != nil {
		rt = opts.WrapTransport(tr)
	}
	client := &http.Client{
		Transport: rt,
		// Redirects are never followed (SSRF, and an API that moves is misconfigured): the 3xx
		// answer itself comes back and is mapped to a Permanent error.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	r := &Registry{adapters: map[model.Channel]*HTTPAdapter{}, graph: map[model.Channel]*GraphAdapter{}, sens: map[model.Channel]*SENSAdapter{},
		naver: map[model.Channel]*NaverAdapter{}, oauth: map[model.Channel]*OAuthClient{}, transport: tr, client: client, opts: opts, logger: logger}
	for _, ch := range model.AllChannels {
		ep, ok := endpoints[ch]
		if !ok {
			continue
		}
		if ep.AuthorizeURL != "" {
			r.AddOAuth(ch, ep) // oauth.go
		}
		if ep.Protocol == ProtocolInstagramGraph {
			r.graph[ch] = newGraphAdapter(ch, ep, client, opts, logger)
			continue
		}
		if ep.Protocol == ProtocolKakaoSENS {
			r.sens[ch] = newSENSAdapter(ch, ep, client, opts, logger)
			continue
		}
		if ep.Protocol == ProtocolNaverCafe {
			r.naver[ch] = newNaverAdapter(ch, ep, client, opts, logger)
			continue
		}
		a := &HTTPAdapter{ch: ch, client: client, opts: opts, logger: logger, secret: ep.Secret}
		base, err := checkEndpoint(ep.URL, opts.AllowInsecureLoopback)
		if err != nil {
			a.badCfg = permanent(0, "the channel endpoint is misconfigured", err.Error())
		}
		a.base = base
		r.adapters[ch] = a
	}
	return r
}

// NewSimulatorRegistry points every channel at the simulator at baseURL (e.g.
// "http://127.0.0.1:43121") and permits loopback connections. Its requests are unsigned: for
// tests against a simulator configured without secrets.
func NewSimulatorRegistry(baseURL string, opts Options) *Registry {
	return NewSignedSimulatorRegistry(baseURL, nil, opts)
}

// NewSignedSimulatorRegistry is NewSimulatorRegistry signing each channel's requests with its
// secret in secrets (the embedded simulator: the same secrets are given to both sides).
func NewSignedSimulatorRegistry(baseURL string, secrets map[model.Channel]partnersig.Secret, opts Options) *Registry {
	opts.AllowInsecureLoopback = true
	endpoints := map[model.Channel]Endpoint{}
	for _, ch := range model.AllChannels {
		endpoints[ch] = Endpoint{URL: baseURL, Secret: secrets[ch]}
	}
	return NewRegistry(endpoints, opts)
}

// NewRegistryFromConfig loads CHANNELS_CONFIG (LoadConfig) and builds the registry; the file's
// allowInsecureLoopback overrides opts.AllowInsecureLoopback.
func NewRegistryFromConfig(path string, opts Options) (*Registry, error) {
	fc, err := LoadConfig(path)
	if err != nil {
		return nil, err
	}
	opts.AllowInsecureLoopback = fc.AllowInsecureLoopback
	endpoints := map[model.Channel]Endpoint{}
	for ch, cc := range fc.Channels {
		endpoints[ch] = Endpoint{URL: cc.URL, Secret: cc.Secret, Protocol: cc.Protocol, Version: cc.Version, ServiceID: cc.ServiceID, AccessKey: cc.AccessKey,
			TokenURL: cc.TokenURL, ClientID: cc.ClientID, ClientSecret: cc.ClientSecret, AuthorizeURL: cc.AuthorizeURL}
	}
	return NewRegistry(endpoints, opts), nil
}

// Adapter returns the adapter of ch; it is never nil.
func (r *Registry) Adapter(ch model.Channel) Adapter {
	if a, ok := r.routes[ch]; ok {
		return a
	}
	if g, ok := r.graph[ch]; ok {
		return g
	}
	if s, ok := r.sens[ch]; ok {
		return s
	}
	if n, ok := r.naver[ch]; ok {
		return n
	}
	if a, ok := r.adapters[ch]; ok {
		return a
	}
	return unconfigured{ch}
}

// NeedsAccounts reports whether a channel speaks a protocol that publishes as a store's account
// (instagram-graph, kakao-sens, naver-cafe): the credentials' key (SECRETS_KEY) is then required.
func (r *Registry) NeedsAccounts() bool {
	return len(r.graph) > 0 || len(r.sens) > 0 || len(r.naver) > 0 || len(r.routes) > 0
}

// Close releases idle connections.
func (r *Registry) Close() { r.transport.CloseIdleConnections() }

type unconfigured struct{ ch model.Channel }

func (u unconfigured) Publish(context.Context, Request, func(int)) (Result, error) {
	return Result{}, errUnconfigured(u.ch)
}

// trimBase normalises an endpoint root: no trailing slash.
func trimBase(s string) string { return strings.TrimRight(s, "/") }

package channels

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// Other outgoing HTTP of the service (the failure alert webhook) goes through the same SSRF
// guards as the channel adapters: the URL check of CHANNELS_CONFIG endpoints and the dialer that
// refuses private, loopback and link-local addresses at connect time.

// CheckOutboundURL validates a URL the service will POST to: absolute https, no credentials, no
// fragment, not pointing at a private, loopback, link-local or otherwise special address. A query
// string is allowed (some webhook providers carry a key in it). allowInsecureLoopback also permits
// http:// and loopback hosts; only tests set it. It returns the URL in normalised form.
func CheckOutboundURL(raw string, allowInsecureLoopback bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("url %q is not a valid URL", model.Truncate(raw, 80))
	}
	if u.Fragment != "" {
		return "", fmt.Errorf("url %q must not have a fragment", model.Truncate(u.Redacted(), 80))
	}
	host := strings.ToLower(u.Hostname())
	ip, ipErr := netip.ParseAddr(host)
	loopback := host == "localhost" || strings.HasSuffix(host, ".localhost") || (ipErr == nil && ip.Unmap().IsLoopback())
	if loopback && !allowInsecureLoopback {
		return "", fmt.Errorf("url %q points to this machine, which is not allowed", model.Truncate(u.Redacted(), 80))
	}
	query := u.RawQuery
	u.RawQuery, u.ForceQuery = "", false
	base, err := checkEndpoint(u.String(), allowInsecureLoopback)
	if err != nil {
		return "", err
	}
	if query != "" {
		base += "?" + query
	}
	return base, nil
}

// OutboundOptions tunes NewOutboundClient. Zero fields take the defaults in brackets.
type OutboundOptions struct {
	DialTimeout           time.Duration // [2s]
	TLSHandshakeTimeout   time.Duration // [5s]
	ResponseHeaderTimeout time.Duration // [10s]
	// AllowInsecureLoopback permits connections to loopback addresses (tests only).
	AllowInsecureLoopback bool
}

// NewOutboundClient returns an HTTP client for calls to URLs checked by CheckOutboundURL: it dials
// only public addresses (checked on the resolved IP, so DNS tricks do not help), uses no proxy,
// never follows redirects (the 3xx answer is returned) and bounds connect, TLS and header waits.
// Callers bound the whole exchange with their context.
func NewOutboundClient(o OutboundOptions) *http.Client {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.DialTimeout, 2*time.Second)
	def(&o.TLSHandshakeTimeout, 5*time.Second)
	def(&o.ResponseHeaderTimeout, 10*time.Second)
	dialer := &net.Dialer{Timeout: o.DialTimeout, Control: dialGuard(o.AllowInsecureLoopback)}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil, // a proxy would dial for us and bypass the address guard
			DialContext:           dialer.DialContext,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   o.TLSHandshakeTimeout,
			ResponseHeaderTimeout: o.ResponseHeaderTimeout,
			// Outbound calls are rare (alerts): no idle connections, so nothing lingers.
			DisableKeepAlives:      true,
			MaxResponseHeaderBytes: 64 << 10,
			ForceAttemptHTTP2:      true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

package channels

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/partnersig"
)

// maxConfigSize bounds CHANNELS_CONFIG.
const maxConfigSize = 1 << 20

// Protocol is the wire protocol a channel's endpoint speaks.
type Protocol string

// Protocols. ProtocolPartnerV1, ProtocolInstagramGraph and ProtocolNaverCafe are implemented; the others are
// recognised names reserved for the platforms' own APIs, and a config naming them is refused so
// nobody believes they publish.
const (
	ProtocolPartnerV1      Protocol = "partner-v1"      // docs/partner-v1.openapi.yaml; the default
	ProtocolInstagramGraph Protocol = "instagram-graph" // Instagram Graph API content publishing (instagram.go)
	ProtocolNaverCafe      Protocol = "naver-cafe"      // Naver Cafe article API (naver.go)
	protocolKakaoPrefix             = "kakao-"          // kakao-<dealer>, e.g. kakao-nhn (reserved)
)

// FileConfig is the content of CHANNELS_CONFIG:
//
//	{
//	  "channels": {
//	    "URIDONGNETV": {"protocol": "partner-v1", "url": "https://udtv-gw.example.com",
//	                    "secretFile": "/run/secrets/udtv"},
//	    "KAKAO":       {"url": "https://kakao-gateway.example.com", "secretFile": "kakao.secret"}
//	  },
//	  "allowInsecureLoopback": false
//	}
//
// protocol defaults to partner-v1, so the old {"url": ...} form keeps its meaning, except that
// partner-v1 now requires secretFile: the file holding the channel's shared secret (trimmed, at
// least 32 bytes; relative paths are relative to the config file's directory), with which every
// request is signed. instagram-graph takes "url" (https://graph.instagram.com or
// https://graph.facebook.com) and "version" (e.g. "v23.0") and no secretFile: it publishes as
// each store's connected account. kakao-sens (KAKAO only) takes "url"
// (https://sens.apigw.ntruss.com), "serviceId", "accessKey" and "secretKeyFile" (kakao_sens.go).
// naver-cafe (NAVER only) takes "url" (https://openapi.naver.com),
// "tokenUrl" (https://nid.naver.com/oauth2.0/token), "clientId" and "clientSecretFile" (the
// Naver Developers application's client secret, read like secretFile and never logged): it
// writes cafe articles as each store's Naver member. Other kakao-<dealer> names are recognised
// but not implemented yet: a config naming them is refused.
//
// Each url is the root of a service speaking the channel's protocol. Only https is accepted,
// except that allowInsecureLoopback permits http:// and loopback hosts (a simulator run as its
// own process, e.g. "http://127.0.0.1:8081"). Channels not listed are unavailable.
type FileConfig struct {
	Channels map[model.Channel]ChannelConfig
	// Endpoints is the url of each configured channel (the same as Channels[ch].URL).
	Endpoints             map[model.Channel]string
	AllowInsecureLoopback bool
}

// ChannelConfig is one channel's entry.
type ChannelConfig struct {
	Protocol   Protocol
	URL        string // normalised: no trailing slash
	Version    string // instagram-graph API version
	SecretFile string // partner-v1: path of the shared secret, as written in the file (kakao-sens: secretKeyFile)
	ServiceID  string // kakao-sens: the SENS Biz Message service id
	AccessKey  string // kakao-sens: the NAVER Cloud access key id
	// Secret is the content of SecretFile, set by LoadConfig (not ParseConfig). It prints as
	// "[redacted]".
	Secret partnersig.Secret
	// naver-cafe: Naver Login's token endpoint, the application's client id, the file of its
	// client secret and (set by LoadConfig) the secret itself, printed "[redacted]".
	TokenURL         string
	ClientID         string
	ClientSecretFile string
	ClientSecret     ClientSecret
	// AuthorizeURL is the OAuth authorization endpoint with which the stores pages connect
	// accounts (instagram-graph, naver-cafe; oauth_config.go). "" = accounts only by `account set`.
	AuthorizeURL string
}

type channelJSON struct {
	Protocol   string `json:"protocol"`
	URL        string `json:"url"`
	Version    string `json:"version"`
	SecretFile string `json:"secretFile"`
	// kakao-sens (kakao_sens.go)
	ServiceID     string `json:"serviceId"`
	AccessKey     string `json:"accessKey"`
	SecretKeyFile string `json:"secretKeyFile"`
	// naver-cafe
	TokenURL         string `json:"tokenUrl"`
	ClientID         string `json:"clientId"`
	ClientSecretFile string `json:"clientSecretFile"`
	// OAuth connect (instagram-graph, naver-cafe; oauth_config.go)
	AuthorizeURL string `json:"authorizeUrl"`
}

type fileJSON struct {
	Channels              map[string]*channelJSON `json:"channels"`
	AllowInsecureLoopback bool                    `json:"allowInsecureLoopback"`
}

// LoadConfig reads and validates a CHANNELS_CONFIG file and reads the secret files it names.
// Errors name the file and the problem, never a secret.
func LoadConfig(path string) (FileConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileConfig{}, fmt.Errorf("CHANNELS_CONFIG: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return FileConfig{}, fmt.Errorf("CHANNELS_CONFIG %s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return FileConfig{}, fmt.Errorf("CHANNELS_CONFIG %s: file is larger than 1 MB", path)
	}
	fc, err := ParseConfig(data)
	if err != nil {
		return FileConfig{}, fmt.Errorf("CHANNELS_CONFIG %s: %w", path, err)
	}
	for _, ch := range model.AllChannels {
		cc, ok := fc.Channels[ch]
		if ok && cc.ClientSecretFile != "" {
			sf := cc.ClientSecretFile
			if !filepath.IsAbs(sf) {
				sf = filepath.Join(filepath.Dir(path), sf)
			}
			if cc.ClientSecret, err = ReadClientSecretFile(sf); err != nil {
				return FileConfig{}, fmt.Errorf("CHANNELS_CONFIG %s: channel %s: clientSecretFile: %w", path, ch, err)
			}
			fc.Channels[ch] = cc
		}
		if !ok || cc.SecretFile == "" {
			continue
		}
		sf := cc.SecretFile
		if !filepath.IsAbs(sf) {
			sf = filepath.Join(filepath.Dir(path), sf)
		}
		if cc.Secret, err = partnersig.ReadSecretFile(sf); err != nil {
			field := "secretFile"
			if cc.Protocol == ProtocolKakaoSENS {
				field = "secretKeyFile"
			}
			return FileConfig{}, fmt.Errorf("CHANNELS_CONFIG %s: channel %s: %s: %w", path, ch, field, err)
		}
		fc.Channels[ch] = cc
	}
	return fc, nil
}

// ParseConfig validates the JSON of a CHANNELS_CONFIG file. It does not read the secret files
// (LoadConfig does).
func ParseConfig(data []byte) (FileConfig, error) {
	var raw fileJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return FileConfig{}, fmt.Errorf("not valid JSON of the form {\"channels\":{\"KAKAO\":{\"url\":\"https://...\",\"secretFile\":\"...\"}}}: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return FileConfig{}, errors.New("unexpected data after the JSON object")
	}
	if len(raw.Channels) == 0 {
		return FileConfig{}, errors.New(`no channels configured (want "channels": {"KAKAO": {"url": "https://...", "secretFile": "..."}, ...})`)
	}
	fc := FileConfig{Channels: map[model.Channel]ChannelConfig{}, Endpoints: map[model.Channel]string{}, AllowInsecureLoopback: raw.AllowInsecureLoopback}
	for name, ep := range raw.Channels {
		ch := model.Channel(name)
		if !ch.Valid() {
			hint := ""
			if model.Channel(strings.ToUpper(name)).Valid() {
				hint = fmt.Sprintf("; did you mean %s?", strings.ToUpper(name))
			}
			return FileConfig{}, fmt.Errorf("unknown channel %q (want one of %s)%s", model.Truncate(name, 80), channelNames(), hint)
		}
		if ep == nil {
			ep = &channelJSON{}
		}
		cc, err := parseChannel(ch, *ep, raw.AllowInsecureLoopback)
		if err != nil {
			return FileConfig{}, fmt.Errorf("channel %s: %w", ch, err)
		}
		fc.Channels[ch] = cc
		fc.Endpoints[ch] = cc.URL
	}
	return fc, nil
}

// parseChannel validates one channel's entry: protocol first (an unimplemented one is refused
// whatever else the entry says), then url, then the protocol's own fields.
func parseChannel(ch model.Channel, ep channelJSON, allowInsecureLoopback bool) (ChannelConfig, error) {
	p := Protocol(ep.Protocol)
	if p == "" {
		p = ProtocolPartnerV1
	}
	switch {
	case p == ProtocolPartnerV1:
	case p == ProtocolInstagramGraph:
		return parseGraphChannel(ch, ep, allowInsecureLoopback)
	case p == ProtocolKakaoSENS:
		return parseSENSChannel(ch, ep, allowInsecureLoopback)
	case p == ProtocolNaverCafe:
		return parseNaverChannel(ch, ep, allowInsecureLoopback)
	case isKakaoDealer(string(p)):
		return ChannelConfig{}, fmt.Errorf("protocol %s is not implemented yet; this build publishes only with partner-v1, instagram-graph, naver-cafe and kakao-sens", p)
	default:
		return ChannelConfig{}, fmt.Errorf("unknown protocol %q (want partner-v1, instagram-graph, naver-cafe or kakao-<dealer>)", model.Truncate(string(p), 80))
	}
	if ep.URL == "" {
		return ChannelConfig{}, errors.New("url is required")
	}
	base, err := checkEndpoint(ep.URL, allowInsecureLoopback)
	if err != nil {
		return ChannelConfig{}, err
	}
	if ep.Version != "" {
		return ChannelConfig{}, fmt.Errorf("version applies to protocol instagram-graph, not %s", p)
	}
	if ep.TokenURL != "" || ep.ClientID != "" || ep.ClientSecretFile != "" || ep.AuthorizeURL != "" {
		return ChannelConfig{}, fmt.Errorf("authorizeUrl, tokenUrl, clientId and clientSecretFile apply to protocol naver-cafe, not %s (and to instagram-graph's OAuth connect)", p)
	}
	if strings.TrimSpace(ep.SecretFile) == "" {
		return ChannelConfig{}, errors.New("secretFile is required for protocol partner-v1 (the file holding the shared secret every request is signed with; unsigned requests are no longer sent)")
	}
	return ChannelConfig{Protocol: p, URL: base, SecretFile: ep.SecretFile}, nil
}

// isKakaoDealer reports whether p is kakao-<dealer> with a dealer of lowercase letters and digits.
func isKakaoDealer(p string) bool {
	dealer, ok := strings.CutPrefix(p, protocolKakaoPrefix)
	if !ok || dealer == "" || len(dealer) > 40 {
		return false
	}
	for _, r := range dealer {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// checkEndpoint validates an endpoint root URL and returns it without a trailing slash.
func checkEndpoint(raw string, allowInsecureLoopback bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("url %q is not a valid URL", model.Truncate(raw, 80))
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("url %q must be an absolute https:// URL", model.Truncate(raw, 80))
	}
	if u.User != nil {
		return "", fmt.Errorf("url %q must not contain credentials", model.Truncate(u.Redacted(), 80))
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("url %q must not have a query or fragment", model.Truncate(raw, 80))
	}
	host := strings.ToLower(u.Hostname())
	loopback := host == "localhost" || strings.HasSuffix(host, ".localhost")
	if ip, err := netip.ParseAddr(host); err == nil {
		loopback = ip.Unmap().IsLoopback()
		if reason := forbiddenAddr(ip, true); reason != "" {
			return "", fmt.Errorf("url %q points to a %s address, which is not allowed", model.Truncate(raw, 80), reason)
		}
	}
	switch {
	case loopback && !allowInsecureLoopback:
		return "", fmt.Errorf("url %q points to this machine; set \"allowInsecureLoopback\": true to use a local simulator", model.Truncate(raw, 80))
	case u.Scheme == "http" && !loopback:
		return "", fmt.Errorf("url %q must use https", model.Truncate(raw, 80))
	}
	return trimBase(u.Scheme + "://" + u.Host + u.EscapedPath()), nil
}

func channelNames() string {
	names := make([]string, len(model.AllChannels))
	for i, c := range model.AllChannels {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}

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
	"strings"

	"github.com/marketing-platform/distribution/internal/model"
)

// maxConfigSize bounds CHANNELS_CONFIG.
const maxConfigSize = 1 << 20

// FileConfig is the content of CHANNELS_CONFIG:
//
//	{
//	  "channels": {
//	    "KAKAO":     {"url": "https://kakao-gateway.example.com"},
//	    "INSTAGRAM": {"url": "https://ig-gateway.example.com/api"}
//	  },
//	  "allowInsecureLoopback": false
//	}
//
// Each url is the root of a service speaking the channel protocol (package simulator). Only
// https is accepted, except that allowInsecureLoopback permits http:// and loopback hosts (a
// simulator run as its own process, e.g. "http://127.0.0.1:8081"). Channels not listed are
// unavailable.
type FileConfig struct {
	Endpoints             map[model.Channel]string
	AllowInsecureLoopback bool
}

type fileJSON struct {
	Channels map[string]*struct {
		URL string `json:"url"`
	} `json:"channels"`
	AllowInsecureLoopback bool `json:"allowInsecureLoopback"`
}

// LoadConfig reads and validates a CHANNELS_CONFIG file. Errors name the file and the problem.
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
	return fc, nil
}

// ParseConfig validates the JSON of a CHANNELS_CONFIG file.
func ParseConfig(data []byte) (FileConfig, error) {
	var raw fileJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return FileConfig{}, fmt.Errorf("not valid JSON of the form {\"channels\":{\"KAKAO\":{\"url\":\"https://...\"}}}: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return FileConfig{}, errors.New("unexpected data after the JSON object")
	}
	if len(raw.Channels) == 0 {
		return FileConfig{}, errors.New(`no channels configured (want "channels": {"KAKAO": {"url": "https://..."}, ...})`)
	}
	fc := FileConfig{Endpoints: map[model.Channel]string{}, AllowInsecureLoopback: raw.AllowInsecureLoopback}
	for name, ep := range raw.Channels {
		ch := model.Channel(name)
		if !ch.Valid() {
			hint := ""
			if model.Channel(strings.ToUpper(name)).Valid() {
				hint = fmt.Sprintf("; did you mean %s?", strings.ToUpper(name))
			}
			return FileConfig{}, fmt.Errorf("unknown channel %q (want one of %s)%s", model.Truncate(name, 80), channelNames(), hint)
		}
		if ep == nil || ep.URL == "" {
			return FileConfig{}, fmt.Errorf("channel %s: url is required", ch)
		}
		base, err := checkEndpoint(ep.URL, raw.AllowInsecureLoopback)
		if err != nil {
			return FileConfig{}, fmt.Errorf("channel %s: %w", ch, err)
		}
		fc.Endpoints[ch] = base
	}
	return fc, nil
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

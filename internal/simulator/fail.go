package simulator

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/marketing-platform/distribution/internal/model"
)

// MaxFailCount bounds N in "CHANNEL=N".
const MaxFailCount = 10000

// FailRule says how many submits of every event a channel fails before it succeeds.
type FailRule struct {
	First  int  // fail the first First submits of every event
	Always bool // fail every submit
	// Graph is an INSTAGRAM rule for the Graph API emulation (instagram.go), as written:
	// "<code>" (every Graph call answers that error code; the number is also First for the
	// partner protocol, as before), "<code>x<n>" (the next n calls), "container-error" (the
	// next container ends ERROR) or "publish-lost" (the next media_publish publishes and the
	// answer is lost). "" = none.
	Graph string
	// Dealer is a KAKAO rule for the SENS brand message emulation (kakao.go): "auth" (every call 401),
	// "throttle" / "throttlex<n>" (every / the next n calls 429) or "send-lost" (the next send
	// is accepted and its answer lost). "" = none.
	Dealer string
	// Naver is a NAVER rule for the Cafe API emulation (naver.go): "024", "<code>x<n>" or
	// "refresh-fail". "" = none.
	Naver string
	// Refresh is a token refresh rule (instagram_upkeep.go): INSTAGRAM "refresh-190" or
	// "refresh-500", NAVER "refresh-500". "" = none.
	Refresh string
}

// fails reports whether the attempt-th submit (1-based) of an event fails.
func (r FailRule) fails(attempt int) bool { return r.Always || attempt <= r.First }

func (r FailRule) String() string {
	if r.Graph != "" {
		return r.Graph
	}
	if r.Dealer != "" {
		return r.Dealer
	}
	if r.Naver != "" {
		return r.Naver
	}
	if r.Refresh != "" {
		return r.Refresh
	}
	if r.Always {
		return "always"
	}
	return strconv.Itoa(r.First)
}

// protocolFail parses the rules of a channel's platform protocol (ok false: the value is not one
// of them, and means the partner protocol's count).
var protocolFail = map[model.Channel]func(string) (FailRule, bool, error){
	model.ChannelInstagram: parseInstagramFail,    // instagram.go, instagram_upkeep.go
	model.ChannelKakao:     parseDealerFail,       // kakao.go
	model.ChannelNaver:     parseNaverRefreshFail, // naver.go, instagram_upkeep.go
}

// ParseFail parses SIMULATOR_FAIL: comma-separated CHANNEL=N or CHANNEL=always items, e.g.
// "KAKAO=3,NAVER=always". Channel names are case-insensitive; spaces around items are ignored;
// "" means no failures. Every error names the bad item.
func ParseFail(s string) (map[model.Channel]FailRule, error) {
	rules := map[model.Channel]FailRule{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, val, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("SIMULATOR_FAIL: item %q: want CHANNEL=N or CHANNEL=always", model.Truncate(item, 40))
		}
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		ch := model.Channel(strings.ToUpper(name))
		if !ch.Valid() {
			return nil, fmt.Errorf("SIMULATOR_FAIL: item %q: unknown channel %q (want one of %s)", model.Truncate(item, 40), model.Truncate(name, 40), channelList())
		}
		if _, dup := rules[ch]; dup {
			return nil, fmt.Errorf("SIMULATOR_FAIL: channel %s is listed twice", ch)
		}
		if strings.EqualFold(val, "always") {
			rules[ch] = FailRule{Always: true}
			continue
		}
		if parse, ok := protocolFail[ch]; ok {
			if r, ok, err := parse(strings.ToLower(val)); ok || err != nil {
				if err != nil {
					return nil, fmt.Errorf("SIMULATOR_FAIL: item %q: %v", model.Truncate(item, 40), err)
				}
				rules[ch] = r
				continue
			}
		}
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 || n > MaxFailCount {
			return nil, fmt.Errorf("SIMULATOR_FAIL: item %q: bad count %q (want a whole number from 0 to %d, or always%s)", model.Truncate(item, 40), model.Truncate(val, 40), MaxFailCount, graphHint(ch)+dealerHint(ch))
		}
		rules[ch] = FailRule{First: n}
	}
	return rules, nil
}

// FormatFail is the inverse of ParseFail (channels in display order).
func FormatFail(rules map[model.Channel]FailRule) string {
	var parts []string
	for _, ch := range model.AllChannels {
		if r, ok := rules[ch]; ok {
			parts = append(parts, string(ch)+"="+r.String())
		}
	}
	return strings.Join(parts, ",")
}

func channelList() string {
	names := make([]string, len(model.AllChannels))
	for i, c := range model.AllChannels {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}

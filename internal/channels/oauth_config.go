package channels

import (
	"errors"
	"fmt"
	"strings"

	"github.com/marketing-platform/distribution/internal/model"
)

// OAuth fields of a CHANNELS_CONFIG channel entry: with them the stores pages connect a store's
// account through the platform's authorization-code flow (oauth.go); without them accounts are
// set with `bin/distribution account set` only, as before.
//
//	"INSTAGRAM": {"protocol": "instagram-graph", "url": "https://graph.instagram.com", "version": "v23.0",
//	              "authorizeUrl": "https://www.instagram.com/oauth/authorize",
//	              "tokenUrl": "https://api.instagram.com/oauth/access_token",
//	              "clientId": "<Instagram app id>", "clientSecretFile": "instagram-app.secret"}
//	"NAVER":     {"protocol": "naver-cafe", "url": "https://openapi.naver.com",
//	              "tokenUrl": "https://nid.naver.com/oauth2.0/token", "clientId": "...", "clientSecretFile": "...",
//	              "authorizeUrl": "https://nid.naver.com/oauth2.0/authorize"}
//
// instagram-graph takes the four together or none (its publishing needs none of them); naver-cafe
// already requires tokenUrl, clientId and clientSecretFile (token refresh) and adds authorizeUrl.

// withAuthorizeURL validates and sets the optional authorizeUrl of a naver-cafe entry.
func withAuthorizeURL(cc ChannelConfig, ep channelJSON, allowInsecureLoopback bool) (ChannelConfig, error) {
	if ep.AuthorizeURL == "" {
		return cc, nil
	}
	u, err := checkEndpoint(ep.AuthorizeURL, allowInsecureLoopback)
	if err != nil {
		return ChannelConfig{}, fmt.Errorf("authorizeUrl: %w", err)
	}
	cc.AuthorizeURL = u
	return cc, nil
}

// withGraphOAuth validates and sets the OAuth fields of an instagram-graph entry: all four or none.
func withGraphOAuth(cc ChannelConfig, ep channelJSON, allowInsecureLoopback bool) (ChannelConfig, error) {
	set := 0
	for _, v := range []string{ep.AuthorizeURL, ep.TokenURL, ep.ClientID, ep.ClientSecretFile} {
		if strings.TrimSpace(v) != "" {
			set++
		}
	}
	switch set {
	case 0:
		return cc, nil
	case 4:
	default:
		return ChannelConfig{}, errors.New("authorizeUrl, tokenUrl, clientId and clientSecretFile go together (the Instagram app of Business Login for Instagram), or none of them")
	}
	tok, err := checkEndpoint(ep.TokenURL, allowInsecureLoopback)
	if err != nil {
		return ChannelConfig{}, fmt.Errorf("tokenUrl: %w", err)
	}
	if err := model.CheckLine("clientId", ep.ClientID, 200); err != nil {
		return ChannelConfig{}, errors.New("clientId must be the Instagram app id on one line")
	}
	cc.TokenURL, cc.ClientID, cc.ClientSecretFile = tok, strings.TrimSpace(ep.ClientID), ep.ClientSecretFile
	return withAuthorizeURL(cc, ep, allowInsecureLoopback)
}

package channels

// Estimated and measured views (issue 14 point 6).
//
// Instagram: estimated views at publish are the account's followers_count times
// Options.InstagramReachRate (INSTAGRAM_REACH_RATE). followers_count is a field of the IG User
// node, readable with an Instagram User token on graph.instagram.com (Instagram API with
// Instagram Login, permission instagram_business_basic):
// https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user
// Measured views come from the media insights, metrics views and reach ("impressions" was
// deprecated for all versions on 2025-04-21; "views" replaces it; an unavailable metric comes
// back as an empty data set, not 0):
// https://developers.facebook.com/docs/instagram-platform/reference/instagram-media/insights
//
// Naver Cafe: the Cafe API (https://developers.naver.com/docs/login/cafe-api/cafe-api.md) offers
// the article write and the cafe join calls only, nothing that reads a cafe's member count, so
// the estimate comes from the account's configuration: the optional "members" of the NAVER
// credential JSON (bin/distribution account set). Without it the estimate is 0.
//
// KakaoTalk (kakao-sens): the message's recipients (kakao_sens.go).

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
)

// withEstimate adds the estimated views to a successful publication: followers_count times the
// reach rate. The post exists whatever happens here: a failed read leaves the estimate at 0
// (logged), never the publication.
func (c *graphCall) withEstimate(res Result, err *Error) (Result, *Error) {
	if err != nil {
		return res, err
	}
	var out struct {
		FollowersCount json.Number `json:"followers_count"`
	}
	if gerr := c.do(http.MethodGet, "/"+url.PathEscape(c.user), url.Values{"fields": {"followers_count"}}, nil, &out); gerr != nil {
		c.g.logger.Warn("could not read the Instagram followers count for the estimated views",
			"channel", string(c.g.ch), "error", gerr.Error.Error())
		return res, nil
	}
	n, perr := out.FollowersCount.Int64()
	if perr != nil || n < 0 {
		return res, nil
	}
	res.EstimatedViews = EstimateViews(n, c.g.opts.InstagramReachRate)
	return res, nil
}

// EstimateViews is followers times rate, rounded, bounded to the column's range.
func EstimateViews(followers int64, rate float64) int {
	v := math.Round(float64(followers) * rate)
	if v < 0 || math.IsNaN(v) {
		return 0
	}
	return int(min(v, math.MaxInt32))
}

func naverEstimatedViews(c naverCredentials) int {
	if c.Members == nil || *c.Members < 0 {
		return 0
	}
	return int(min(*c.Members, math.MaxInt32))
}

// Views is a post's measured reach: Views from the views metric, Reach from reach; -1 where the
// platform returned no value (not enough data yet).
type Views struct {
	Views, Reach int
}

// ViewsMeasurer is an adapter that reads a published post's own view count.
type ViewsMeasurer interface {
	// MeasureViews reads the insights of postID published as acct. Errors: NeedsReconnect when
	// the token is dead; others are left for the next measurement.
	MeasureViews(ctx context.Context, acct Account, postID string) (Views, *Error)
}

// MeasureViews implements ViewsMeasurer: GET /{media-id}/insights?metric=views,reach.
func (g *GraphAdapter) MeasureViews(ctx context.Context, acct Account, postID string) (Views, *Error) {
	if g.badCfg != nil {
		return Views{}, g.badCfg
	}
	cred, cerr := g.credentials(Request{Account: &acct})
	if cerr != nil {
		return Views{}, cerr
	}
	c := &graphCall{g: g, parent: ctx, ctx: ctx, token: cred.AccessToken, user: cred.IGUserID}
	var out struct {
		Data []struct {
			Name   string `json:"name"`
			Values []struct {
				Value json.Number `json:"value"`
			} `json:"values"`
		} `json:"data"`
	}
	if err := c.do(http.MethodGet, "/"+url.PathEscape(postID)+"/insights", url.Values{"metric": {"views,reach"}}, nil, &out); err != nil {
		return Views{}, err.Error
	}
	v := Views{Views: -1, Reach: -1}
	for _, d := range out.Data {
		if len(d.Values) == 0 {
			continue
		}
		n, err := d.Values[0].Value.Int64()
		if err != nil || n < 0 || n > math.MaxInt32 {
			continue
		}
		switch d.Name {
		case "views":
			v.Views = int(n)
		case "reach":
			v.Reach = int(n)
		}
	}
	return v, nil
}

var _ ViewsMeasurer = (*GraphAdapter)(nil)

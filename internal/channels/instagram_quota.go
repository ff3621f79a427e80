package channels

// Instagram's content publishing limit, read before a start (the engine's pre-flight check).
//
// GET /{ig-user-id}/content_publishing_limit?fields=quota_usage,config answers
// {"data":[{"quota_usage":2,"config":{"quota_total":50,"quota_duration":86400}}]}: the number of
// containers published in the rolling window of quota_duration seconds
// (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/content_publishing_limit/).
// The answer does not say when a slot frees up: when the quota is used up we read the account's
// media (GET /{ig-user-id}/media?fields=timestamp, newest first,
// https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media)
// and the oldest post still inside the window leaves it quota_duration after it was published.

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"time"
)

// Quota is an account's publishing quota now.
type Quota struct {
	Used, Total int
	Window      time.Duration
	// FreesAt is when the next slot frees up, set when Used >= Total (zero if unknown).
	FreesAt time.Time
}

// Exhausted reports whether no post can be published now.
func (q Quota) Exhausted() bool { return q.Total > 0 && q.Used >= q.Total }

// QuotaAdapter is an adapter whose platform limits how many posts an account publishes.
type QuotaAdapter interface {
	PublishingQuota(ctx context.Context, acct Account) (Quota, error)
}

// PublishingQuota implements QuotaAdapter.
func (g *GraphAdapter) PublishingQuota(ctx context.Context, acct Account) (Quota, error) {
	if g.badCfg != nil {
		return Quota{}, g.badCfg
	}
	var cred igCredentials
	if err := json.Unmarshal(acct.Credentials, &cred); err != nil || cred.AccessToken == "" {
		return Quota{}, &Error{Kind: NeedsReconnect, Message: "the store's Instagram credentials are unreadable"}
	}
	if cred.IGUserID == "" {
		cred.IGUserID = acct.Ref
	}
	c := &graphCall{g: g, parent: ctx, ctx: ctx, token: cred.AccessToken, user: cred.IGUserID}
	var lim struct {
		Data []struct {
			QuotaUsage int `json:"quota_usage"`
			Config     struct {
				QuotaTotal    int `json:"quota_total"`
				QuotaDuration int `json:"quota_duration"`
			} `json:"config"`
		} `json:"data"`
	}
	if err := c.do("GET", "/"+url.PathEscape(c.user)+"/content_publishing_limit", url.Values{"fields": {"quota_usage,config"}}, nil, &lim); err != nil {
		return Quota{}, err.Error
	}
	if len(lim.Data) == 0 {
		return Quota{}, temporary(200, "Instagram sent no publishing limit", "empty data")
	}
	d := lim.Data[0]
	q := Quota{Used: d.QuotaUsage, Total: d.Config.QuotaTotal, Window: time.Duration(d.Config.QuotaDuration) * time.Second}
	if q.Window <= 0 {
		q.Window = 24 * time.Hour
	}
	if !q.Exhausted() {
		return q, nil
	}
	var media struct {
		Data []struct {
			Timestamp string `json:"timestamp"`
		} `json:"data"`
	}
	if err := c.do("GET", "/"+url.PathEscape(c.user)+"/media", url.Values{"fields": {"timestamp"}, "limit": {strconv.Itoa(min(q.Total, 100))}}, nil, &media); err != nil {
		return q, nil // the quota is known; when it frees up is not
	}
	now := g.opts.Now()
	for _, m := range media.Data { // newest first: the last one inside the window is the oldest
		t, err := time.Parse("2006-01-02T15:04:05-0700", m.Timestamp)
		if err != nil || !t.Add(q.Window).After(now) {
			continue
		}
		q.FreesAt = t.Add(q.Window).UTC()
	}
	return q, nil
}

package engine

// The pre-flight check (issue 14, point 5): before a start or a retry, each channel is checked
// for what would make it fail for certain, so the page shows it unavailable before the click and
// the API refuses it up front (400 channel_unavailable, 409 quota_exhausted) with nothing written:
//
//   - a protocol that publishes as a store's account (channels.AccountAdapter): the event has a
//     store (no_store), the store has an account on the channel (no_account), not one to reconnect
//     (needs_reconnect) nor an expired one (account_expired). When the account is optional
//     (channels.OptionalAccountAdapter, the embedded simulator only) an event without a store or
//     without an account row passes; an account that exists is checked all the same;
//   - Instagram fetches the image itself from an https URL (image_required_https);
//   - a platform with a publishing quota (channels.QuotaAdapter, Instagram's 50 posts per rolling
//     24 h): quota_exhausted, with when it frees up. The answer is cached quotaTTL per account; a
//     quota read that fails does not block (fail open, logged).
//   - KakaoTalk's quiet hours are no refusal: the check is OK and says until when it waits.

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/model"
)

// quotaTTL is how long a publishing quota answer is reused (page renders must not hammer it).
const quotaTTL = 30 * time.Second

// quotaTimeout bounds one quota read: a slow platform does not hold a page or a start.
const quotaTimeout = 3 * time.Second

type quotaEntry struct {
	q   channels.Quota
	err error
	at  time.Time
}

// quotaCache is the zero-value-ready cache of publishing quotas, by channel and account.
type quotaCache struct {
	mu sync.Mutex
	m  map[string]quotaEntry
}

func (c *quotaCache) get(key string, now time.Time) (quotaEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	return e, ok && now.Sub(e.at) < quotaTTL && !now.Before(e.at)
}

func (c *quotaCache) put(key string, e quotaEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]quotaEntry{}
	}
	for k, v := range c.m { // keep it small: drop what is stale
		if e.at.Sub(v.at) >= quotaTTL {
			delete(c.m, k)
		}
	}
	c.m[key] = e
}

// Preflight checks chans for eventID (see the file comment), one ChannelCheck per channel in the
// order given. Errors: ENOTFOUND (unknown event), or database trouble.
func (e *Engine) Preflight(ctx context.Context, eventID string, chans []model.Channel) ([]model.ChannelCheck, error) {
	cctx, cancel := dbCtx(ctx)
	ev, err := e.store.FindEvent(cctx, eventID)
	cancel()
	if err != nil {
		return nil, err
	}
	out := make([]model.ChannelCheck, len(chans))
	for i, ch := range chans {
		out[i] = e.preflightChannel(ctx, ev, ch)
	}
	return out, nil
}

func (e *Engine) preflightChannel(ctx context.Context, ev model.Event, ch model.Channel) model.ChannelCheck {
	chk := model.ChannelCheck{Channel: ch, OK: true}
	refuse := func(reason, format string, args ...any) model.ChannelCheck {
		chk.OK, chk.Reason, chk.Detail = false, reason, fmt.Sprintf(format, args...)
		return chk
	}
	adapter := e.adapters(ch)
	if needsAccount(adapter) && !(ev.StoreID == "" && accountOptional(adapter)) {
		if ev.StoreID == "" {
			return refuse(model.PreflightNoStore, "the event has no store: set its store (storeId) so %s publishes as the store's account", channelName(ch))
		}
		cctx, cancel := dbCtx(ctx)
		var (
			secret []byte
			acct   model.ChannelAccount
			ok     bool
			err    error
		)
		if e.sealer != nil {
			secret, acct, ok, err = e.store.EventAccount(cctx, ev.ID, ch, e.sealer)
		} else {
			var st model.AccountStatus
			st, ok, err = e.store.EventAccountStatus(cctx, ev.ID, ch)
			acct.Status = st
		}
		cancel()
		switch {
		case err != nil:
			// Database or key trouble says nothing certain about the channel: the job will tell.
			e.log.WarnContext(ctx, "pre-flight: could not read the store's account", slog.String("event_id", ev.ID),
				slog.String("channel", string(ch)), slog.String("error", err.Error()))
		case !ok && accountOptional(adapter):
			return e.preflightQuiet(chk, ch) // no account row: the adapter publishes without one
		case !ok || acct.Status == model.AccountDisconnected:
			return refuse(model.PreflightNoAccount, "the store %s has no connected %s account", ev.StoreID, channelName(ch))
		case acct.Status == model.AccountNeedsReconnect:
			return refuse(model.PreflightNeedsReconnect, "the store's %s account must be reconnected", channelName(ch))
		case acct.ExpiresAt != nil && !acct.ExpiresAt.After(e.now()):
			return refuse(model.PreflightExpired, "the store's %s account expired at %s: connect it again", channelName(ch), acct.ExpiresAt.UTC().Format(time.RFC3339))
		}
		if ch == model.ChannelInstagram && !strings.HasPrefix(strings.ToLower(ev.ImageURL), "https://") {
			// Instagram fetches the image from a public URL (image_url of POST /{ig-user-id}/media,
			// https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media);
			// a post without an image cannot be made.
			return refuse(model.PreflightImageHTTPS, "Instagram needs an https image URL it can fetch; the event's image is %s", imageWord(ev.ImageURL))
		}
		if qa, isQuota := adapter.(channels.QuotaAdapter); isQuota && err == nil && secret != nil {
			if q, ok := e.publishingQuota(ctx, qa, ch, channels.Account{StoreID: acct.StoreID, Ref: acct.AccountRef, Credentials: secret}); ok && q.Exhausted() {
				chk = refuse(model.PreflightQuota, "the store's %s account has published %d of its %d posts in the last %s", channelName(ch), q.Used, q.Total, q.Window)
				at := q.FreesAt
				if at.IsZero() {
					at = e.now().Add(q.Window).UTC() // at the latest
				}
				chk.AvailableAt = &at
				return chk
			}
		}
	}
	return e.preflightQuiet(chk, ch)
}

// preflightQuiet adds KakaoTalk's quiet hours to an accepted check.
func (e *Engine) preflightQuiet(chk model.ChannelCheck, ch model.Channel) model.ChannelCheck {
	if until, quiet := e.quietUntil(ch); quiet {
		u := until.UTC()
		chk.WaitsUntil = &u
		chk.Detail = "quiet hours: the channel waits until they end"
	}
	return chk
}

func imageWord(u string) string {
	if u == "" {
		return "missing"
	}
	return "not https"
}

// publishingQuota is the account's quota, cached quotaTTL; ok false when it could not be read
// (fail open: logged, the start goes on).
func (e *Engine) publishingQuota(ctx context.Context, qa channels.QuotaAdapter, ch model.Channel, acct channels.Account) (channels.Quota, bool) {
	key := string(ch) + "\x00" + acct.StoreID + "\x00" + acct.Ref
	now := time.Now()
	if c, ok := e.quota.get(key, now); ok {
		return c.q, c.err == nil
	}
	qctx, cancel := context.WithTimeout(ctx, quotaTimeout)
	q, err := qa.PublishingQuota(qctx, acct)
	cancel()
	if err != nil {
		e.log.WarnContext(ctx, "pre-flight: could not read the publishing quota; not blocking", slog.String("channel", string(ch)),
			slog.String("store_id", acct.StoreID), slog.String("error", err.Error()))
	}
	e.quota.put(key, quotaEntry{q: q, err: err, at: now})
	return q, err == nil
}

// preflightRefusal runs Preflight and returns a *model.UnavailableError naming the refused
// channels, nil when every channel may go.
func (e *Engine) preflightRefusal(ctx context.Context, eventID string, chans []model.Channel) error {
	some := false
	for _, ch := range chans {
		some = some || needsAccount(e.adapters(ch))
	}
	if !some { // only account protocols can be refused: a start of partner channels costs no query
		return nil
	}
	checks, err := e.Preflight(ctx, eventID, chans)
	if err != nil {
		return err
	}
	var refused []model.ChannelCheck
	for _, c := range checks {
		if !c.OK {
			refused = append(refused, c)
		}
	}
	if refused != nil {
		return &model.UnavailableError{Checks: refused}
	}
	return nil
}

// retryRefusals checks the FAILED channels of eventID's distribution that publish as a store's
// account and returns those the pre-flight check refuses.
func (e *Engine) retryRefusals(ctx context.Context, eventID string) ([]model.Channel, []model.ChannelCheck, error) {
	cctx, cancel := dbCtx(ctx)
	d, err := e.store.FindDistribution(cctx, eventID)
	cancel()
	if err != nil {
		if model.ErrorCode(err) == model.ENOTFOUND {
			return nil, nil, nil // the retry answers it
		}
		return nil, nil, err
	}
	var failed []model.Channel
	for _, c := range d.Channels {
		if c.Status == model.StatusFailed && needsAccount(e.adapters(c.Channel)) {
			failed = append(failed, c.Channel)
		}
	}
	if len(failed) == 0 {
		return nil, nil, nil
	}
	checks, err := e.Preflight(ctx, eventID, failed)
	if err != nil {
		return nil, nil, err
	}
	var (
		skip    []model.Channel
		skipped []model.ChannelCheck
	)
	for _, c := range checks {
		if !c.OK {
			skip = append(skip, c.Channel)
			skipped = append(skipped, c)
		}
	}
	return skip, skipped, nil
}

package engine

// Measured views (issue 14 point 6): the upkeep loop (upkeep.go) reads the insights of the
// posts published in the last 7 days through the adapters that can (channels.ViewsMeasurer:
// instagram-graph) and stores the platform's view count on the channel row
// (db.MeasurePost: one pass per post across the replicas, once per interval). A failure never
// touches the distribution: it is logged and the post is measured again next pass; a dead token
// (Instagram 190) marks the store's account needs_reconnect.

import (
	"context"
	"log/slog"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/model"
)

// measureBatch bounds the posts of one channel one pass measures.
const measureBatch = 500

// MeasureViews runs one measurement pass and returns how many posts it measured.
func (e *Engine) MeasureViews(ctx context.Context) (int, error) {
	if e.sealer == nil {
		return 0, nil
	}
	measured := 0
	var lastErr error
	for _, ch := range model.AllChannels {
		m, ok := e.adapters(ch).(channels.ViewsMeasurer)
		if !ok {
			continue
		}
		posts, err := e.store.PostsToMeasure(ctx, ch, e.cfg.UpkeepInterval, measureBatch)
		if err != nil {
			return measured, err
		}
		dead := map[string]bool{} // stores whose account turned out dead in this pass
		for _, p := range posts {
			if ctx.Err() != nil {
				return measured, ctx.Err()
			}
			if dead[p.StoreID] {
				continue
			}
			ok, err := e.measureOne(ctx, m, p, dead)
			if err != nil {
				lastErr = err
				e.log.Warn("views measurement of a post failed", slog.String("event_id", p.EventID), slog.String("channel", string(ch)),
					slog.String("error", err.Error()))
			}
			if ok {
				measured++
			}
		}
	}
	return measured, lastErr
}

// measureOne measures one post; ok reports that a measurement was stored.
func (e *Engine) measureOne(ctx context.Context, m channels.ViewsMeasurer, p db.PostToMeasure, dead map[string]bool) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	stored := false
	st, claimed, err := e.store.MeasurePost(ctx, p, e.cfg.UpkeepInterval, func(ctx context.Context) (*int, bool) {
		secret, acct, err := e.store.AccountCredentials(ctx, p.StoreID, p.Channel, e.sealer)
		if err != nil || acct.Status == model.AccountNeedsReconnect || acct.Status == model.AccountDisconnected {
			return nil, false // no usable account: nothing to ask with
		}
		v, cerr := m.MeasureViews(ctx, channels.Account{StoreID: acct.StoreID, Ref: acct.AccountRef, Credentials: secret}, p.PostID)
		if cerr != nil {
			log := e.log.With(slog.String("event_id", p.EventID), slog.String("channel", string(p.Channel)), slog.String("store_id", p.StoreID))
			if cerr.Kind == channels.NeedsReconnect {
				dead[p.StoreID] = true
				e.markNeedsReconnect(ctx, log, p.StoreID, p.Channel, cerr, "channel account needs reconnecting (found measuring views)")
			} else {
				log.Info("views not measured this pass", slog.String("error", cerr.Error()))
			}
			e.metrics.upkeep.WithLabelValues(string(p.Channel), "measure_failed").Inc()
			return nil, false
		}
		stored = true
		switch {
		case v.Views >= 0:
			return &v.Views, true
		case v.Reach >= 0:
			// No views figure for this media (the metric is newer than some media): its reach,
			// the accounts that saw it, is the closest count.
			return &v.Reach, true
		}
		return nil, true // the platform has no number yet: stays unknown
	})
	if err != nil || !claimed {
		return false, err
	}
	if stored {
		e.metrics.upkeep.WithLabelValues(string(p.Channel), "measured").Inc()
		e.cacheChannel(ctx, st)
	}
	return stored, nil
}

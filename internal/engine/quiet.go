package engine

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"

	"github.com/marketing-platform/distribution/internal/model"
)

// quietJitter spreads the jobs that waited out the night over the first minute after the window
// ends, so they do not all reach the dealer at the same second.
const quietJitter = time.Minute

// quietUntil says whether a job of ch must not send now because of the channel's quiet hours, and
// until when. Only KakaoTalk has them: every KAKAO message is an advertisement (marketing events
// are advertisements), and advertisements are not sent at night (package quiethours).
func (e *Engine) quietUntil(ch model.Channel) (time.Time, bool) {
	if ch != model.ChannelKakao {
		return time.Time{}, false
	}
	return e.cfg.KakaoQuietHours.Until(e.now())
}

// now is the engine's clock (Config.Now, default time.Now).
func (e *Engine) now() time.Time {
	if e.cfg.Now != nil {
		return e.cfg.Now()
	}
	return time.Now()
}

// waitQuietHours snoozes a job until the quiet hours end (plus a little jitter): River gives the
// attempt back, the channel keeps its status (a fresh one stays PENDING) and says quiet_hours
// with the window's end as its next attempt, and the channel is not called.
func (e *Engine) waitQuietHours(ctx context.Context, log *slog.Logger, args PublishArgs, until time.Time) error {
	if !e.recordWait(ctx, log, args, model.WaitQuietHours, until, "quiet_hours", "quiet hours: the channel waits until they end") {
		return nil
	}
	r := rand.Float64
	if e.cfg.Rand != nil {
		r = e.cfg.Rand
	}
	wait := max(until.Sub(e.now()), 0) + time.Duration(r()*float64(quietJitter))
	return river.JobSnooze(max(wait, time.Second))
}

package db_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

func TestFindDistribution(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	mustCreateEvent(t, d, "ev-1", "one")
	mustCreateEvent(t, d, "ev-2", "two")

	_, err := d.FindDistribution(ctx, "ev-1")
	wantCode(t, err, model.ENOTFOUND)
	_, err = d.FindDistribution(ctx, "no-such-event")
	wantCode(t, err, model.ENOTFOUND)
	_, err = d.FindDistribution(ctx, "a:b*")
	wantCode(t, err, model.EINVALID)

	id := insertDistribution(t, d, "ev-1", model.OverallPartialSuccess,
		seedChannel{Channel: model.ChannelKakao, Status: model.StatusFailed},
		seedChannel{Channel: model.ChannelNaver, Status: model.StatusSuccess},
		seedChannel{Channel: model.ChannelGiniTV, Status: model.StatusSuccess},
		seedChannel{Channel: model.ChannelRingoBiz, Status: model.StatusSuccess},
		seedChannel{Channel: model.ChannelInstagram, Status: model.StatusSuccess},
		seedChannel{Channel: model.ChannelUridongneTV, Status: model.StatusSuccess})
	insertDistribution(t, d, "ev-2", model.OverallInProgress, seedChannel{Channel: model.ChannelKakao})
	if _, err := d.Pool.Exec(ctx, `UPDATE distribution_status SET completed_at = '2030-01-02 03:04:05.678901+00' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, `UPDATE channel_status SET progress = 100, distribution_id = 'GTV-1', estimated_views = 12345,
		impression_schedule = '[{"start":"2030-01-01T09:00:00Z","end":"2030-01-01T10:00:00Z","slot":"prime","spots":3}]',
		post_url = 'https://tv.example/1', retries = 2, last_retry_at = '2030-01-01 00:00:00+00',
		completed_at = '2030-01-02 00:00:00.000001+00', generation = 3, error_message = NULL
		WHERE distribution_status_id = $1 AND channel = 'GINITV'`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool.Exec(ctx, `UPDATE channel_status SET progress = NULL, retries = NULL, error_message = 'token expired',
		message_id = 'K-1', post_id = 'P-1' WHERE distribution_status_id = $1 AND channel = 'KAKAO'`, id); err != nil {
		t.Fatal(err)
	}

	dist, err := d.FindDistribution(ctx, "ev-1")
	if err != nil {
		t.Fatal(err)
	}
	if dist.ID != id || dist.EventID != "ev-1" || dist.OverallStatus != model.OverallPartialSuccess ||
		dist.StartedAt.IsZero() || dist.CreatedAt.IsZero() || dist.UpdatedAt.IsZero() {
		t.Errorf("distribution = %+v", dist)
	}
	if want := time.Date(2030, 1, 2, 3, 4, 5, 678901000, time.UTC); dist.CompletedAt == nil || !dist.CompletedAt.Equal(want) {
		t.Errorf("completed_at = %v, want %v (microseconds kept)", dist.CompletedAt, want)
	}
	var order []model.Channel
	for _, c := range dist.Channels {
		order = append(order, c.Channel)
	}
	if !slices.Equal(order, model.AllChannels) {
		t.Errorf("channel order = %v, want %v", order, model.AllChannels)
	}

	g := dist.Channel(model.ChannelGiniTV)
	if g.Progress != 100 || *g.DistributionID != "GTV-1" || *g.EstimatedViews != 12345 || g.ImpressionSchedule == nil ||
		*g.PostURL != "https://tv.example/1" || g.Retries != 2 || g.LastRetryAt == nil || g.CompletedAt == nil ||
		g.Generation != 3 || g.ErrorMessage != nil || g.EventID != "ev-1" || g.DistributionStatusID != id ||
		g.ID == 0 || g.UpdateTimestamp.IsZero() || g.UpdatedAt.IsZero() {
		t.Errorf("GINITV = %+v", g)
	}
	k := dist.Channel(model.ChannelKakao)
	if k.Progress != 0 || k.Retries != 0 || k.ErrorMessage == nil || *k.ErrorMessage != "token expired" ||
		*k.MessageID != "K-1" || *k.PostID != "P-1" || k.DistributionID != nil || k.EstimatedViews != nil || k.CompletedAt != nil {
		t.Errorf("KAKAO (NULL progress/retries read as 0) = %+v", k)
	}
}

func TestFindAttempts(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	mustCreateEvent(t, d, "ev-1", "one")
	mustCreateEvent(t, d, "ev-2", "two")

	_, err := d.FindAttempts(ctx, "ev-1")
	wantCode(t, err, model.ENOTFOUND)
	_, err = d.FindAttempts(ctx, "../etc")
	wantCode(t, err, model.EINVALID)

	id := insertDistribution(t, d, "ev-1", model.OverallInProgress,
		seedChannel{Channel: model.ChannelKakao}, seedChannel{Channel: model.ChannelUridongneTV}, seedChannel{Channel: model.ChannelNaver})
	got, err := d.FindAttempts(ctx, "ev-1")
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("no attempts yet: %v, %v (want an empty list)", got, err)
	}
	other := insertDistribution(t, d, "ev-2", model.OverallInProgress, seedChannel{Channel: model.ChannelKakao})

	insert := func(distID int64, eventID string, ch model.Channel, attempt int, outcome string, httpStatus any) {
		t.Helper()
		if _, err := d.Pool.Exec(ctx, `INSERT INTO channel_attempts (channel_status_id, event_id, channel, attempt, generation, trigger, outcome, error, http_status, finished_at)
			SELECT cs.id, $2, $3::text, $4, 0, 'system', $5::text, CASE WHEN $5::text = 'retry' THEN 'HTTP 503' END, $6::int, CASE WHEN $5::text <> 'running' THEN now() END
			FROM channel_status cs WHERE cs.distribution_status_id = $1 AND cs.channel = $3::text`,
			distID, eventID, string(ch), attempt, outcome, httpStatus); err != nil {
			t.Fatal(err)
		}
	}
	// Inserted out of order.
	insert(id, "ev-1", model.ChannelNaver, 2, "running", nil)
	insert(id, "ev-1", model.ChannelKakao, 1, "success", 200)
	insert(id, "ev-1", model.ChannelNaver, 1, "retry", 503)
	insert(id, "ev-1", model.ChannelUridongneTV, 1, "success", 200)
	insert(other, "ev-2", model.ChannelKakao, 1, "failed", 400)

	got, err = d.FindAttempts(ctx, "ev-1")
	if err != nil {
		t.Fatal(err)
	}
	var seq []string
	for _, a := range got {
		seq = append(seq, fmt.Sprintf("%s#%d:%s", a.Channel, a.Attempt, a.Outcome))
	}
	if want := []string{"URIDONGNETV#1:success", "NAVER#1:retry", "NAVER#2:running", "KAKAO#1:success"}; !slices.Equal(seq, want) {
		t.Errorf("attempts = %v, want %v", seq, want)
	}
	n1 := got[1]
	if n1.EventID != "ev-1" || n1.Trigger != "system" || n1.StartedAt.IsZero() || n1.FinishedAt == nil ||
		n1.Error == nil || *n1.Error != "HTTP 503" || n1.HTTPStatus == nil || *n1.HTTPStatus != 503 {
		t.Errorf("NAVER#1 = %+v", n1)
	}
	if r := got[2]; r.FinishedAt != nil || r.HTTPStatus != nil || r.Error != nil {
		t.Errorf("running attempt = %+v", r)
	}
}

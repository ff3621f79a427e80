package db_test

import (
	"context"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// BenchmarkFindEvents100k measures list pages over 100,000 events (80,000 distributions, 480,000
// channel rows): every filter must stay an index walk, not a scan of the big tables. The search
// with no match is the one unavoidable scan (a title substring needs pg_trgm, which is not assumed).
func BenchmarkFindEvents100k(b *testing.B) {
	d := dbtest.New(b)
	ctx := context.Background()
	for _, stmt := range []string{
		`INSERT INTO events (id, title, store_name, created_at)
		 SELECT 'ev-' || g, 'Event number ' || g || CASE WHEN g % 1000 = 0 THEN ' spring sale' ELSE '' END, 'Store ' || (g % 5000),
		        now() - g * interval '1 second'
		 FROM generate_series(1, 100000) g`,
		`INSERT INTO distribution_status (event_id, overall_status, started_at)
		 SELECT 'ev-' || g, CASE WHEN g % 100 = 0 THEN 'FAILED' WHEN g % 10 = 0 THEN 'PARTIAL_SUCCESS'
		        WHEN g < 200 THEN 'IN_PROGRESS' ELSE 'COMPLETED' END, now()
		 FROM generate_series(1, 100000) g WHERE g % 5 <> 1`,
		`INSERT INTO channel_status (distribution_status_id, channel, status, progress, event_id, distribution_id, post_id, message_id, post_url)
		 SELECT d.id, c, CASE WHEN d.overall_status = 'FAILED' OR (d.overall_status = 'PARTIAL_SUCCESS' AND c = 'KAKAO') THEN 'FAILED'
		        WHEN d.overall_status = 'IN_PROGRESS' THEN 'IN_PROGRESS' ELSE 'SUCCESS' END, 100, d.event_id,
		        CASE WHEN c IN ('URIDONGNETV', 'RINGOBIZ', 'GINITV') THEN 'dist-' || d.id || '-' || c END,
		        CASE WHEN c IN ('INSTAGRAM', 'NAVER') THEN 'post-' || d.id || '-' || c END,
		        CASE WHEN c = 'KAKAO' THEN 'msg-' || d.id END,
		        CASE WHEN c = 'INSTAGRAM' THEN 'https://www.instagram.com/p/Bench' || d.id || '/' END
		 FROM distribution_status d
		 CROSS JOIN unnest(ARRAY['URIDONGNETV', 'RINGOBIZ', 'GINITV', 'INSTAGRAM', 'NAVER', 'KAKAO']) c`,
		`ANALYZE`,
	} {
		if _, err := d.Pool.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	deep, err := d.FindEvents(ctx, model.EventFilter{Limit: 100})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		f    model.EventFilter
	}{
		{"first page", model.EventFilter{}},
		{"next page", model.EventFilter{Cursor: deep.NextCursor}},
		{"status failed", model.EventFilter{Status: model.OverallFailed}},
		{"status in progress", model.EventFilter{Status: model.OverallInProgress}},
		{"kakao failed", model.EventFilter{Channel: model.ChannelKakao, ChannelStatus: model.StatusFailed}},
		{"any pending", model.EventFilter{ChannelStatus: model.StatusPending}},
		{"q title", model.EventFilter{Q: "spring"}},
		{"q message id", model.EventFilter{Q: "msg-5000"}},
		{"q no match", model.EventFilter{Q: "zzzz"}},
		{"q id other case", model.EventFilter{Q: "EV-5000"}},
		{"q post id other case", model.EventFilter{Q: "POST-5000-NAVER"}},
		{"q store", model.EventFilter{Q: "store 7"}},
		{"q pasted post url", model.EventFilter{Q: "http://instagram.com/p/Bench5000?igsh=abc"}},
		{"not started", model.EventFilter{Status: model.OverallNotStarted}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := d.FindEvents(ctx, bc.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("count by status", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := d.CountEventsByStatus(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

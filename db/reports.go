package db

// The manager reports: per-channel totals, per-event rows (a keyset page for the page, a
// streamed cursor for the CSV export), per-day outcomes for the charts and the channel health
// strip. Every query selects distributions by started_at in [From, To) and optionally one channel,
// so the totals, the charts, the page and the CSV always describe the same rows.

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
)

// Report page sizes.
const (
	DefaultReportLimit = 200
	MaxReportLimit     = 500
	// MaxHealthHours bounds the health strip's window.
	MaxHealthHours = 24 * 7
)

// reportWhere is the filter every report query shares: $1 from, $2 to, $3 channel ("" = any).
const reportWhere = `d.started_at >= $1 AND d.started_at < $2 AND ($3::text = '' OR cs.channel = $3::text)`

// reportFrom joins a distribution, its channels and its event (the title; an event row may be
// missing when the distribution came from the upstream service alone).
const reportFrom = `FROM distribution_status d
	JOIN channel_status cs ON cs.distribution_status_id = d.id
	LEFT JOIN events e ON e.id = d.event_id`

// reportOrder is newest distribution first, then channels in display order.
var reportOrder = `d.started_at DESC, d.id DESC, ` + channelOrder

// reportRowColumns are channelColumns then the row's event fields and its keyset position.
var reportRowColumns = channelColumns + `, COALESCE(e.title, ''), d.overall_status, d.started_at, d.id, ` + channelOrder

func checkReportFilter(f model.ReportFilter) error {
	if f.From.IsZero() || f.To.IsZero() || !f.From.Before(f.To) {
		return model.Errork(model.EINVALID, "reports.bad_range", "the report needs a date range whose start is before its end")
	}
	if f.Channel != "" && !f.Channel.Valid() {
		return model.Errork(model.EINVALID, "err.unknown_channel", "unknown channel %q", model.Truncate(string(f.Channel), 40))
	}
	return nil
}

func reportArgs(f model.ReportFilter) []any { return []any{f.From, f.To, string(f.Channel)} }

// extraScanner appends destinations after those a shared scan function fills, so report rows reuse
// scanChannel for the channel part.
type extraScanner struct {
	s     scanner
	extra []any
}

func (e extraScanner) Scan(dest ...any) error { return e.s.Scan(append(dest, e.extra...)...) }

// reportKey is a report row's keyset position.
type reportKey struct {
	StartedAt time.Time
	DistID    int64
	Rank      int64
}

func scanReportRow(row scanner) (model.ReportRow, reportKey, error) {
	var (
		r   model.ReportRow
		k   reportKey
		ovr string
	)
	cs, err := scanChannel(extraScanner{row, []any{&r.Title, &ovr, &r.StartedAt, &k.DistID, &k.Rank}})
	r.ChannelState = cs
	r.OverallStatus = model.OverallStatus(ovr)
	k.StartedAt = r.StartedAt
	return r, k, err
}

// FindReport sums the rows of f per channel (display order) and overall.
func (db *DB) FindReport(ctx context.Context, f model.ReportFilter) (model.Report, error) {
	if err := checkReportFilter(f); err != nil {
		return model.Report{}, err
	}
	rows, err := db.Pool.Query(ctx, `SELECT cs.channel, count(*),
			count(*) FILTER (WHERE cs.status = 'SUCCESS'), count(*) FILTER (WHERE cs.status = 'FAILED'),
			COALESCE(sum(cs.estimated_views) FILTER (WHERE cs.status = 'SUCCESS'), 0)::bigint,
			count(DISTINCT d.id),
			sum(cs.measured_views) FILTER (WHERE cs.status = 'SUCCESS')::bigint
		`+reportFrom+` WHERE `+reportWhere+` GROUP BY ROLLUP (cs.channel)`, reportArgs(f)...)
	if err != nil {
		return model.Report{}, fmt.Errorf("report totals: %w", err)
	}
	defer rows.Close()
	var rep model.Report
	byChannel := map[model.Channel]model.ChannelTotals{}
	for rows.Next() {
		var (
			ch     *string
			t      model.ChannelTotals
			events int
		)
		if err := rows.Scan(&ch, &t.Distributions, &t.Succeeded, &t.Failed, &t.EstimatedViews, &events, &t.MeasuredViews); err != nil {
			return model.Report{}, fmt.Errorf("report totals: %w", err)
		}
		if ch == nil { // the ROLLUP line
			rep.Total, rep.Events = t, events
			continue
		}
		t.Channel = model.Channel(*ch)
		byChannel[t.Channel] = t
	}
	if err := rows.Err(); err != nil {
		return model.Report{}, fmt.Errorf("report totals: %w", err)
	}
	for _, c := range model.AllChannels {
		if t, ok := byChannel[c]; ok {
			rep.Channels = append(rep.Channels, t)
		}
	}
	return rep, nil
}

// reportOrderBack is reportOrder reversed: the rows before a position, nearest first.
var reportOrderBack = `d.started_at ASC, d.id ASC, ` + channelOrder + ` DESC`

// FindReportRows returns one keyset page of the rows of f: the f.Limit rows after f.Cursor, or
// (f.Before) the f.Limit rows just before that position, the previous page.
func (db *DB) FindReportRows(ctx context.Context, f model.ReportFilter) (model.ReportPage, error) {
	if f.Before != "" {
		return db.findReportRowsBefore(ctx, f)
	}
	if err := checkReportFilter(f); err != nil {
		return model.ReportPage{}, err
	}
	limit := reportLimit(f.Limit)
	args := reportArgs(f)
	var after *reportKey
	if f.Cursor != "" {
		k, err := decodeReportCursor(f.Cursor)
		if err != nil {
			return model.ReportPage{}, err
		}
		after = &k
	}
	var at *time.Time
	var id, rank int64
	if after != nil {
		at, id, rank = &after.StartedAt, after.DistID, after.Rank
	}
	args = append(args, at, id, rank, limit+1)
	rows, err := db.Pool.Query(ctx, `SELECT `+reportRowColumns+` `+reportFrom+` WHERE `+reportWhere+`
		AND ($4::timestamptz IS NULL OR d.started_at < $4 OR (d.started_at = $4 AND
			(d.id < $5 OR (d.id = $5 AND `+channelOrder+` > $6))))
		ORDER BY `+reportOrder+` LIMIT $7`, args...)
	if err != nil {
		return model.ReportPage{}, fmt.Errorf("report rows: %w", err)
	}
	var page model.ReportPage
	var keys []reportKey
	if page.Rows, keys, err = collectReportRows(rows); err != nil {
		return model.ReportPage{}, err
	}
	if len(page.Rows) > limit {
		page.Rows = page.Rows[:limit]
		page.NextCursor = encodeReportCursor(keys[limit-1])
	}
	if after != nil && len(keys) > 0 { // rows before this page exist: at least the cursor's own
		page.PrevCursor = encodeReportCursor(keys[0])
	}
	return page, nil
}

// collectReportRows reads (and closes) report rows with their keyset keys.
func collectReportRows(rows pgx.Rows) ([]model.ReportRow, []reportKey, error) {
	defer rows.Close()
	var (
		out  []model.ReportRow
		keys []reportKey
	)
	for rows.Next() {
		r, k, err := scanReportRow(rows)
		if err != nil {
			return nil, nil, fmt.Errorf("report rows: %w", err)
		}
		out = append(out, r)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("report rows: %w", err)
	}
	return out, keys, nil
}

func reportLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultReportLimit
	case n > MaxReportLimit:
		return MaxReportLimit
	}
	return n
}

// findReportRowsBefore is the page of f.Limit rows just before the position f.Before, read
// backwards and returned in report order.
func (db *DB) findReportRowsBefore(ctx context.Context, f model.ReportFilter) (model.ReportPage, error) {
	before, err := decodeReportCursor(f.Before)
	if err != nil {
		return model.ReportPage{}, err
	}
	limit := reportLimit(f.Limit)
	args := append(reportArgs(f), before.StartedAt, before.DistID, before.Rank, limit+1)
	rows, err := db.Pool.Query(ctx, `SELECT `+reportRowColumns+` `+reportFrom+` WHERE `+reportWhere+`
		AND (d.started_at > $4 OR (d.started_at = $4 AND (d.id > $5 OR (d.id = $5 AND `+channelOrder+` < $6))))
		ORDER BY `+reportOrderBack+` LIMIT $7`, args...)
	if err != nil {
		return model.ReportPage{}, fmt.Errorf("report rows: %w", err)
	}
	var page model.ReportPage
	var keys []reportKey
	if page.Rows, keys, err = collectReportRows(rows); err != nil {
		return model.ReportPage{}, err
	}
	more := len(page.Rows) > limit
	if more {
		page.Rows, keys = page.Rows[:limit], keys[:limit]
	}
	slices.Reverse(page.Rows)
	slices.Reverse(keys)
	if len(keys) > 0 {
		page.NextCursor = encodeReportCursor(keys[len(keys)-1]) // the rows from f.Before on follow
		if more {
			page.PrevCursor = encodeReportCursor(keys[0])
		}
	}
	return page, nil
}

// StreamReportRows calls fn for every row of f in report order (f.Cursor and f.Limit are ignored)
// as the rows arrive from the server: memory stays constant however many rows there are. An error
// from fn stops the iteration and is returned.
func (db *DB) StreamReportRows(ctx context.Context, f model.ReportFilter, fn func(model.ReportRow) error) error {
	if err := checkReportFilter(f); err != nil {
		return err
	}
	rows, err := db.Pool.Query(ctx, `SELECT `+reportRowColumns+` `+reportFrom+` WHERE `+reportWhere+`
		ORDER BY `+reportOrder, reportArgs(f)...)
	if err != nil {
		return fmt.Errorf("stream report rows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, _, err := scanReportRow(rows)
		if err != nil {
			return fmt.Errorf("stream report rows: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("stream report rows: %w", err)
	}
	return nil
}

// FindReportDaily counts the outcomes of f's rows per day of the distribution's start in the IANA
// time zone zone (the reader's; daylight saving included), and per channel. Days are ascending,
// channels in display order; days without rows are omitted.
func (db *DB) FindReportDaily(ctx context.Context, f model.ReportFilter, zone string) ([]model.DailyCount, error) {
	if err := checkReportFilter(f); err != nil {
		return nil, err
	}
	rows, err := db.Pool.Query(ctx, `SELECT (d.started_at AT TIME ZONE $4::text)::date AS day,
			cs.channel,
			count(*) FILTER (WHERE cs.status = 'SUCCESS'), count(*) FILTER (WHERE cs.status = 'FAILED'),
			count(*) FILTER (WHERE cs.status NOT IN ('SUCCESS', 'FAILED'))
		`+reportFrom+` WHERE `+reportWhere+`
		GROUP BY 1, 2 ORDER BY 1, `+channelOrder,
		append(reportArgs(f), zone)...)
	if err != nil {
		return nil, fmt.Errorf("report per day: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (model.DailyCount, error) {
		var c model.DailyCount
		err := row.Scan(&c.Day, &c.Channel, &c.Succeeded, &c.Failed, &c.InFlight)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("report per day: %w", err)
	}
	return out, nil
}

// FindChannelHealth counts every channel's finished attempts per hour over the last hours (by the
// database clock; bucket 0 is the last hour), and how many channel rows are FAILED right now (what
// "retry all failed on this channel" would retry).
func (db *DB) FindChannelHealth(ctx context.Context, hours int) ([]model.HealthBucket, map[model.Channel]int, error) {
	hours = max(1, min(hours, MaxHealthHours))
	rows, err := db.Pool.Query(ctx, `SELECT a.channel,
			LEAST(floor(extract(epoch FROM now() - a.finished_at) / 3600)::int, $1 - 1) AS ago,
			count(*) FILTER (WHERE a.outcome = 'success'),
			count(*) FILTER (WHERE a.outcome IN ('failed', 'retry', 'lost'))
		FROM channel_attempts a
		WHERE a.finished_at > now() - make_interval(hours => $1) AND a.finished_at <= now()
		GROUP BY 1, 2 ORDER BY 1, 2`, hours)
	if err != nil {
		return nil, nil, fmt.Errorf("channel health: %w", err)
	}
	buckets, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (model.HealthBucket, error) {
		var b model.HealthBucket
		err := row.Scan(&b.Channel, &b.HoursAgo, &b.Succeeded, &b.Failed)
		return b, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("channel health: %w", err)
	}
	failed := map[model.Channel]int{}
	frows, err := db.Pool.Query(ctx, `SELECT channel, count(*) FROM channel_status WHERE status = 'FAILED' GROUP BY channel`)
	if err != nil {
		return nil, nil, fmt.Errorf("count failed channels: %w", err)
	}
	defer frows.Close()
	for frows.Next() {
		var (
			ch string
			n  int
		)
		if err := frows.Scan(&ch, &n); err != nil {
			return nil, nil, fmt.Errorf("count failed channels: %w", err)
		}
		failed[model.Channel(ch)] = n
	}
	if err := frows.Err(); err != nil {
		return nil, nil, fmt.Errorf("count failed channels: %w", err)
	}
	return buckets, failed, nil
}

// Keyset cursors: base64url of comma-separated integers, the first a time in unix microseconds
// (PostgreSQL's precision, so positions are exact).

func encodeKeys(at time.Time, ints ...int64) string {
	parts := []string{strconv.FormatInt(at.UnixMicro(), 10)}
	for _, n := range ints {
		parts = append(parts, strconv.FormatInt(n, 10))
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, ",")))
}

func decodeKeys(s string, n int) (time.Time, []int64, error) {
	bad := model.Errork(model.EINVALID, "reports.bad_cursor", "malformed cursor")
	if len(s) > 120 {
		return time.Time{}, nil, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, nil, bad
	}
	parts := strings.Split(string(raw), ",")
	if len(parts) != n+1 {
		return time.Time{}, nil, bad
	}
	nums := make([]int64, len(parts))
	for i, p := range parts {
		// Ids and ranks are never negative; the time is a row's (cursorTimeOK).
		if nums[i], err = strconv.ParseInt(p, 10, 64); err != nil || nums[i] < 0 {
			return time.Time{}, nil, bad
		}
	}
	if !cursorTimeOK(nums[0]) {
		return time.Time{}, nil, bad
	}
	return time.UnixMicro(nums[0]).UTC(), nums[1:], nil
}

func encodeReportCursor(k reportKey) string { return encodeKeys(k.StartedAt, k.DistID, k.Rank) }

func decodeReportCursor(s string) (reportKey, error) {
	at, n, err := decodeKeys(s, 2)
	if err != nil {
		return reportKey{}, err
	}
	return reportKey{StartedAt: at, DistID: n[0], Rank: n[1]}, nil
}

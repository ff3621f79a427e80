package cache

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// Hash layout. Every field is written on every write, so a value cleared in Postgres (completed_at
// after a retry, error_message) is cleared here too. A NULL is stored as the empty string.
// Times are RFC 3339 with nanoseconds in UTC: exact at PostgreSQL's microsecond precision (so
// updated_at gives the same unix milliseconds from Redis as from Postgres) and readable in redis-cli.
//
//	event:{eventId}:distribution        id overall_status started_at completed_at created_at updated_at
//	                                    version channels (comma-separated codes, display order)
//	distribution:channel:{eventId}:{ch} id distribution_status_id status progress distribution_id
//	                                    estimated_views impression_schedule post_url post_id message_id
//	                                    error_message retries last_retry_at completed_at
//	                                    update_timestamp updated_at generation version
//	                                    waiting_reason next_attempt_at measured_views measured_at
//
// version is the row's version (migration 0009): writes never replace a newer one (version.go).
// waiting_reason and next_attempt_at (migration 0010) may be absent in a key written by an older
// binary during a rolling deploy: absent reads as NULL; so do measured_views and measured_at
// (migration 0021).
const fieldChannels = "channels"

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return fmtTime(*t)
}

func fmtStrPtr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func fmtIntPtr(n *int) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(*n)
}

// eventFields are the HSET arguments of the event key. The channel list is left out unless
// withChannels, so an overall-only write never erases it.
func eventFields(d model.Distribution, withChannels bool) []any {
	f := []any{
		"id", strconv.FormatInt(d.ID, 10),
		"overall_status", string(d.OverallStatus),
		"started_at", fmtTime(d.StartedAt),
		"completed_at", fmtTimePtr(d.CompletedAt),
		"created_at", fmtTime(d.CreatedAt),
		"updated_at", fmtTime(d.UpdatedAt),
		fieldVersion, strconv.FormatInt(d.Version, 10),
	}
	if withChannels {
		codes := make([]string, len(d.Channels))
		for i, c := range d.Channels {
			codes[i] = string(c.Channel)
		}
		f = append(f, fieldChannels, strings.Join(codes, ","))
	}
	return f
}

// channelFields are the HSET arguments of a channel key.
func channelFields(c model.ChannelState) []any {
	return []any{
		"id", strconv.FormatInt(c.ID, 10),
		"distribution_status_id", strconv.FormatInt(c.DistributionStatusID, 10),
		"status", string(c.Status),
		"progress", strconv.Itoa(c.Progress),
		"distribution_id", fmtStrPtr(c.DistributionID),
		"estimated_views", fmtIntPtr(c.EstimatedViews),
		"measured_views", fmtIntPtr(c.MeasuredViews),
		"measured_at", fmtTimePtr(c.MeasuredAt),
		"impression_schedule", fmtStrPtr(c.ImpressionSchedule),
		"post_url", fmtStrPtr(c.PostURL),
		"post_id", fmtStrPtr(c.PostID),
		"message_id", fmtStrPtr(c.MessageID),
		"error_message", fmtStrPtr(c.ErrorMessage),
		"retries", strconv.Itoa(c.Retries),
		"last_retry_at", fmtTimePtr(c.LastRetryAt),
		"completed_at", fmtTimePtr(c.CompletedAt),
		"update_timestamp", fmtTime(c.UpdateTimestamp),
		"updated_at", fmtTime(c.UpdatedAt),
		"generation", strconv.Itoa(c.Generation),
		fieldVersion, strconv.FormatInt(c.Version, 10),
		"waiting_reason", fmtStrPtr((*string)(c.WaitingReason)),
		"next_attempt_at", fmtTimePtr(c.NextAttemptAt),
	}
}

// decoder reads fields of one hash, remembering the first problem.
type decoder struct {
	m   map[string]string
	err error
}

func (d *decoder) fail(field, value string) {
	if d.err == nil {
		d.err = fmt.Errorf("field %s: bad value %.40q", field, value)
	}
}

func (d *decoder) required(field string) string {
	v, ok := d.m[field]
	if !ok || v == "" {
		d.fail(field, v)
	}
	return v
}

func (d *decoder) int64(field string) int64 {
	v := d.required(field)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		d.fail(field, v)
	}
	return n
}

func (d *decoder) int(field string) int { return int(d.int64(field)) }

func (d *decoder) intPtr(field string) *int {
	v := d.m[field]
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		d.fail(field, v)
		return nil
	}
	return &n
}

func (d *decoder) strPtr(field string) *string {
	v := d.m[field]
	if v == "" {
		return nil
	}
	return &v
}

func (d *decoder) time(field string) time.Time {
	v := d.required(field)
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		d.fail(field, v)
	}
	return t.Local() // as pgx returns timestamptz
}

func (d *decoder) timePtr(field string) *time.Time {
	if d.m[field] == "" {
		return nil
	}
	t := d.time(field)
	return &t
}

// decodeEvent reads an event key. The channel list is returned separately: the distribution's
// channels come from their own keys.
func decodeEvent(eventID string, m map[string]string) (model.Distribution, []model.Channel, error) {
	d := decoder{m: m}
	dist := model.Distribution{
		ID:            d.int64("id"),
		EventID:       eventID,
		OverallStatus: model.OverallStatus(d.required("overall_status")),
		StartedAt:     d.time("started_at"),
		CompletedAt:   d.timePtr("completed_at"),
		CreatedAt:     d.time("created_at"),
		UpdatedAt:     d.time("updated_at"),
		Version:       d.int64(fieldVersion),
	}
	if d.err == nil && !dist.OverallStatus.Valid() {
		d.fail("overall_status", string(dist.OverallStatus))
	}
	list, ok := m[fieldChannels]
	if !ok {
		d.fail(fieldChannels, "")
	}
	var chs []model.Channel
	if list != "" {
		for _, code := range strings.Split(list, ",") {
			c := model.Channel(code)
			if !c.Valid() {
				d.fail(fieldChannels, list)
				break
			}
			chs = append(chs, c)
		}
	}
	return dist, chs, d.err
}

// decodeChannel reads a channel key.
func decodeChannel(eventID string, ch model.Channel, m map[string]string) (model.ChannelState, error) {
	d := decoder{m: m}
	c := model.ChannelState{
		ID:                   d.int64("id"),
		DistributionStatusID: d.int64("distribution_status_id"),
		EventID:              eventID,
		Channel:              ch,
		Status:               model.ChannelStatus(d.required("status")),
		Progress:             d.int("progress"),
		DistributionID:       d.strPtr("distribution_id"),
		EstimatedViews:       d.intPtr("estimated_views"),
		MeasuredViews:        d.intPtr("measured_views"),
		MeasuredAt:           d.timePtr("measured_at"),
		ImpressionSchedule:   d.strPtr("impression_schedule"),
		PostURL:              d.strPtr("post_url"),
		PostID:               d.strPtr("post_id"),
		MessageID:            d.strPtr("message_id"),
		ErrorMessage:         d.strPtr("error_message"),
		Retries:              d.int("retries"),
		LastRetryAt:          d.timePtr("last_retry_at"),
		CompletedAt:          d.timePtr("completed_at"),
		UpdateTimestamp:      d.time("update_timestamp"),
		UpdatedAt:            d.time("updated_at"),
		Generation:           d.int("generation"),
		Version:              d.int64(fieldVersion),
		WaitingReason:        (*model.WaitingReason)(d.strPtr("waiting_reason")),
		NextAttemptAt:        d.timePtr("next_attempt_at"),
	}
	if d.err == nil && !c.Status.Valid() {
		d.fail("status", string(c.Status))
	}
	if d.err == nil && c.WaitingReason != nil && !c.WaitingReason.Valid() {
		d.fail("waiting_reason", string(*c.WaitingReason))
	}
	return c, d.err
}

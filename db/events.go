package db

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
)

// Limits of the event fields (DESIGN.md "Contracts"); lengths count characters, not bytes.
const (
	maxTitle       = 500
	maxDescription = 5000
	maxImageURL    = 2000
	maxStoreName   = 200
	maxQuery       = 200

	defaultPageSize = 25
	maxPageSize     = 100

	// exactCountBelow: CountEventsByStatus counts events exactly while the planner's estimate is
	// below this, and returns the estimate above it (a count(*) of a big table per page load is
	// the one scan the list page must not do).
	exactCountBelow = 10_000
)

// CreateEvent validates and stores a new event. An empty ID gets a random UUID v4; a client's id is
// kept. Text fields are trimmed. actor is recorded as the creator. The creation time comes from the
// database clock. Errors: EINVALID naming the field, ECONFLICT when the id is taken.
func (db *DB) CreateEvent(ctx context.Context, e model.Event, actor string) (model.Event, error) {
	return createEventTx(ctx, db.Pool, e, actor)
}

// createEventTx is CreateEvent in q (a pool or a transaction).
func createEventTx(ctx context.Context, q querier, e model.Event, actor string) (model.Event, error) {
	if err := normalizeEvent(&e); err != nil {
		return model.Event{}, err
	}
	if e.ID == "" {
		e.ID = newEventID()
	}
	if err := fillStoreName(ctx, q, &e); err != nil {
		return model.Event{}, err
	}
	rows, err := q.Query(ctx, `INSERT INTO events AS e (id, title, description, image_url, store_name, created_by, store_id)
		VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''))
		ON CONFLICT (id) DO NOTHING
		RETURNING `+eventColumns,
		e.ID, e.Title, e.Description, e.ImageURL, e.StoreName, actor, e.StoreID)
	if err != nil {
		return model.Event{}, fmt.Errorf("create event %s: %w", e.ID, err)
	}
	created, err := pgx.CollectExactlyOneRow(rows, collectEvent)
	if errors.Is(err, pgx.ErrNoRows) {
		return model.Event{}, model.Errork(model.ECONFLICT, "err.event_exists", "event %s already exists", e.ID)
	}
	if err != nil {
		return model.Event{}, fmt.Errorf("create event %s: %w", e.ID, err)
	}
	return created, nil
}

// normalizeEvent trims the text fields of e and checks them against the contract (model/text.go):
// title, store name and image URL are single lines (no control characters at all), the
// description is multi-line text with CRLF and CR stored as LF.
func normalizeEvent(e *model.Event) error {
	if e.ID != "" && !model.ValidEventID(e.ID) {
		return model.FieldErrorf("id", "err.field.event_id", "%s must be 1 to 36 letters, digits, '_' or '-'")
	}
	if e.StoreID != "" && !model.ValidEventID(e.StoreID) {
		return model.Errorf(model.EINVALID, "storeId must be 1 to 36 letters, digits, '_' or '-'")
	}
	e.Title = strings.TrimSpace(e.Title)
	e.Description = strings.TrimSpace(model.NormalizeText(e.Description))
	e.ImageURL = strings.TrimSpace(e.ImageURL)
	e.StoreName = strings.TrimSpace(e.StoreName)
	var errs []error
	badLine := map[string]bool{}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"title", e.Title, maxTitle},
		{"imageUrl", e.ImageURL, maxImageURL},
		{"storeName", e.StoreName, maxStoreName},
	} {
		if err := model.CheckLine(f.name, f.value, f.max); err != nil {
			errs = append(errs, err)
			badLine[f.name] = true
		}
	}
	if err := model.CheckText("description", e.Description, maxDescription); err != nil {
		errs = append(errs, err)
	}
	if e.Title == "" {
		errs = append(errs, model.FieldErrorf("title", "err.field.required", "%s is required"))
	}
	if e.ImageURL != "" && !badLine["imageUrl"] {
		u, err := url.Parse(e.ImageURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Contains(e.ImageURL, " ") {
			errs = append(errs, model.FieldErrorf("imageUrl", "err.field.url", "%s must be an http or https URL"))
		}
	}
	// Every problem at once, so a form shows them together; the first is the API's answer.
	return model.JoinErrors(errs)
}

// newEventID returns a random UUID v4 (RFC 9562) in its canonical text form.
func newEventID() string {
	var b [16]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// eventColumns is the select list of collectEvent; the table must be aliased e.
const eventColumns = `e.id, e.title, e.description, e.image_url, e.store_name, e.created_at, COALESCE(e.store_id, '')`

func collectEvent(row pgx.CollectableRow) (model.Event, error) {
	var e model.Event
	err := row.Scan(&e.ID, &e.Title, &e.Description, &e.ImageURL, &e.StoreName, &e.CreatedAt, &e.StoreID)
	return e, err
}

// eventWithDistribution selects an event and, when it has one, its distribution row (all
// distribution columns NULL otherwise); read with collectEventWithDistribution.
const eventWithDistribution = `SELECT ` + eventColumns + `, ` + distributionColumns + `
	FROM events e LEFT JOIN distribution_status d ON d.event_id = e.id`

// distributionWithEvent selects the same columns starting from the distributions (status filters).
const distributionWithEvent = `SELECT ` + eventColumns + `, ` + distributionColumns + `
	FROM distribution_status d JOIN events e ON e.id = d.event_id`

func collectEventWithDistribution(row pgx.CollectableRow) (model.Event, error) {
	var (
		e                              model.Event
		dID                            *int64
		dEventID, dStatus              *string
		dStarted, dCompleted, dCreated *time.Time
		dUpdated                       *time.Time
		dVersion                       *int64
	)
	err := row.Scan(&e.ID, &e.Title, &e.Description, &e.ImageURL, &e.StoreName, &e.CreatedAt, &e.StoreID,
		&dID, &dEventID, &dStatus, &dStarted, &dCompleted, &dCreated, &dUpdated, &dVersion)
	if err != nil || dID == nil {
		return e, err
	}
	e.Distribution = &model.Distribution{
		ID: *dID, EventID: *dEventID, OverallStatus: model.OverallStatus(*dStatus), StartedAt: *dStarted,
		CompletedAt: dCompleted, CreatedAt: *dCreated, UpdatedAt: *dUpdated, Version: *dVersion,
	}
	return e, nil
}

// attachChannels loads the channels of every distribution among events in one query.
func attachChannels(ctx context.Context, q querier, events []model.Event) error {
	var ids []int64
	for _, e := range events {
		if e.Distribution != nil {
			ids = append(ids, e.Distribution.ID)
		}
	}
	chs, err := findChannels(ctx, q, ids)
	if err != nil {
		return err
	}
	for i := range events {
		if d := events[i].Distribution; d != nil {
			d.Channels = chs[d.ID]
			if d.Channels == nil {
				d.Channels = []model.ChannelState{}
			}
		}
	}
	return nil
}

// FindEventByID returns an event with its distribution (and channels) when it has one.
// ENOTFOUND for an unknown id, EINVALID for an id that cannot exist.
func (db *DB) FindEventByID(ctx context.Context, id string) (model.Event, error) {
	e, err := db.oneEvent(ctx, id, eventWithDistribution+` WHERE e.id = $1`, collectEventWithDistribution)
	if err != nil {
		return model.Event{}, err
	}
	evs := []model.Event{e}
	if err := attachChannels(ctx, db.Pool, evs); err != nil {
		return model.Event{}, fmt.Errorf("find event %s: %w", id, err)
	}
	if err := attachSchedules(ctx, db.Pool, evs); err != nil {
		return model.Event{}, fmt.Errorf("find event %s: %w", id, err)
	}
	return evs[0], nil
}

// FindEvent returns the event's own row, without its distribution, channels or schedule, in one
// query (FindEventByID takes two or three): what the pre-flight check of every start reads.
// Errors as FindEventByID.
func (db *DB) FindEvent(ctx context.Context, id string) (model.Event, error) {
	return db.oneEvent(ctx, id, `SELECT `+eventColumns+` FROM events e WHERE e.id = $1`, collectEvent)
}

// oneEvent reads the event id with query ($1 = id) and collect.
func (db *DB) oneEvent(ctx context.Context, id, query string, collect pgx.RowToFunc[model.Event]) (model.Event, error) {
	if err := checkEventID(id); err != nil {
		return model.Event{}, err
	}
	rows, err := db.Pool.Query(ctx, query, id)
	if err != nil {
		return model.Event{}, fmt.Errorf("find event %s: %w", id, err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, collect)
	if errors.Is(err, pgx.ErrNoRows) {
		return model.Event{}, model.Errork(model.ENOTFOUND, "err.event_not_found", "event %s not found", id)
	}
	if err != nil {
		return model.Event{}, fmt.Errorf("find event %s: %w", id, err)
	}
	return e, nil
}

// FindEvents returns one page of events, newest first, each with its distribution and channels
// (loaded for the whole page in one more query). Pagination is keyset on (created_at, id) — the
// cursor names the last event of the previous page — so a page costs the same at any depth and
// concurrent inserts never shift or repeat rows. Before (when Cursor is empty) reads the page of
// rows just newer than its cursor, going back; when fewer than a page remain before it, the first
// page is returned instead. There is no total count (see CountEvents and CountEventsByStatus).
// EINVALID for a malformed cursor, an unknown status, channel or channel status, or a q that is
// longer than 200 characters or not text.
func (db *DB) FindEvents(ctx context.Context, f model.EventFilter) (model.EventPage, error) {
	lq, err := db.listQuery(ctx, f)
	if err != nil {
		return model.EventPage{}, err
	}
	back := false
	if f.Cursor != "" || f.Before != "" {
		c, op := f.Cursor, "<"
		if c == "" {
			c, op, back = f.Before, ">", true
		}
		at, id, err := decodeCursor(c)
		if err != nil {
			return model.EventPage{}, err
		}
		lq.where = append(lq.where, fmt.Sprintf("%s %s (%s, %s)", lq.keyset, op, lq.arg(at), lq.arg(id)))
	}

	limit := f.Limit
	if limit <= 0 {
		limit = defaultPageSize
	}
	limit = min(limit, maxPageSize)

	sql := lq.sql
	if len(lq.where) > 0 {
		sql += "\n\tWHERE " + strings.Join(lq.where, "\n\tAND ")
	}
	order := lq.orderBy(back)
	sql += "\n\tORDER BY " + order + " LIMIT " + lq.arg(limit+1)

	// QueryExecModeExec plans each call with its actual values (an unnamed statement): a cached
	// generic plan cannot tell a rare status or channel from a common one, and the best plan differs.
	rows, err := db.Pool.Query(ctx, sql, append([]any{pgx.QueryExecModeExec}, lq.args...)...)
	if err != nil {
		return model.EventPage{}, fmt.Errorf("find events: %w", err)
	}
	events, err := pgx.CollectRows(rows, collectEventWithDistribution)
	if err != nil {
		return model.EventPage{}, fmt.Errorf("find events: %w", err)
	}
	var page model.EventPage
	if back {
		if len(events) <= limit {
			// Less than a page before the cursor: that is the first page, read as such.
			f.Before = ""
			return db.FindEvents(ctx, f)
		}
		events = events[:limit]
		slices.Reverse(events)
		page.PrevCursor = encodeCursor(events[0].CreatedAt, events[0].ID)
		last := events[limit-1]
		page.NextCursor = encodeCursor(last.CreatedAt, last.ID)
	} else {
		if len(events) > limit {
			events = events[:limit]
			last := events[limit-1]
			page.NextCursor = encodeCursor(last.CreatedAt, last.ID)
		}
		if f.Cursor != "" && len(events) > 0 {
			page.PrevCursor = encodeCursor(events[0].CreatedAt, events[0].ID)
		}
	}
	if err := attachChannels(ctx, db.Pool, events); err != nil {
		return model.EventPage{}, fmt.Errorf("find events: %w", err)
	}
	if err := attachSchedules(ctx, db.Pool, events); err != nil {
		return model.EventPage{}, fmt.Errorf("find events: %w", err)
	}
	if events == nil {
		events = []model.Event{}
	}
	page.Events = events
	return page, nil
}

// maxCount bounds CountEvents: past it a list shows "more than 1000" rather than counting on.
const maxCount = 1000

// CountEvents counts the events f selects (its cursors aside), up to maxCount: n is exact when
// more is false, else the count passed maxCount. The same errors as FindEvents.
func (db *DB) CountEvents(ctx context.Context, f model.EventFilter) (n int, more bool, err error) {
	lq, err := db.listQuery(ctx, f)
	if err != nil {
		return 0, false, err
	}
	sql := lq.sql
	if len(lq.where) > 0 {
		sql += "\n\tWHERE " + strings.Join(lq.where, "\n\tAND ")
	}
	sql = "SELECT count(*) FROM (" + sql + " LIMIT " + lq.arg(maxCount+1) + ") x"
	if err := db.Pool.QueryRow(ctx, sql, append([]any{pgx.QueryExecModeExec}, lq.args...)...).Scan(&n); err != nil {
		return 0, false, fmt.Errorf("count events: %w", err)
	}
	if n > maxCount {
		return maxCount, true, nil
	}
	return n, false, nil
}

// ValidCursor reports whether s is a cursor FindEvents accepts (Cursor or Before).
func ValidCursor(s string) bool {
	_, _, err := decodeCursor(s)
	return err == nil
}

// listQuery is the list's query for a filter, without its cursor, order and limit.
type listQuery struct {
	sql    string // SELECT … FROM …
	where  []string
	args   []any
	keyset string // the order's columns, as a row
	cols   []string
}

func (lq *listQuery) arg(v any) string {
	lq.args = append(lq.args, v)
	return "$" + strconv.Itoa(len(lq.args))
}

// orderBy is the list order, newest first, or oldest first reading back.
func (lq *listQuery) orderBy(back bool) string {
	dir := " DESC"
	if back {
		dir = " ASC"
	}
	return strings.Join(lq.cols, dir+", ") + dir
}

// maxSearchIDs bounds the events a search by channel id or post URL collects (one id is one event
// in practice: ids are unique per channel).
const maxSearchIDs = 1000

func (db *DB) listQuery(ctx context.Context, f model.EventFilter) (*listQuery, error) {
	// List order is (created_at DESC, id DESC) of the event. With a status filter the page is read
	// from distribution_status's (overall_status, event_created_at, event_id) index, which holds
	// the same order (migration 0006), instead of walking every newer event. Not started is the
	// events without a distribution, walked in list order.
	lq := &listQuery{sql: eventWithDistribution, keyset: "(e.created_at, e.id)", cols: []string{"e.created_at", "e.id"}}
	if f.Status != "" && f.Status != model.OverallNotStarted {
		lq.sql, lq.keyset, lq.cols = distributionWithEvent, "(d.event_created_at, d.event_id)", []string{"d.event_created_at", "d.event_id"}
	}
	if f.Cursor != "" || f.Before != "" {
		if _, _, err := decodeCursor(cmp.Or(f.Cursor, f.Before)); err != nil {
			return nil, err
		}
	}
	if q := strings.TrimSpace(f.Q); q != "" {
		if err := model.CheckLine("q", q, maxQuery); err != nil {
			return nil, err
		}
		cond, err := db.searchCondition(ctx, lq, q)
		if err != nil {
			return nil, err
		}
		lq.where = append(lq.where, cond)
	}
	switch {
	case f.Status == model.OverallNotStarted:
		// A scalar subquery, not d.id IS NULL: that becomes an anti-join, which the planner hashes
		// over both tables (~100 ms at 100k). Walking events in list order and probing each one's
		// distribution stops at the page (events not started yet are mostly the newest).
		lq.where = append(lq.where, "(SELECT true FROM distribution_status ns WHERE ns.event_id = e.id) IS NULL")
	case f.Status != "":
		if !f.Status.Valid() {
			return nil, model.Errork(model.EINVALID, "err.unknown_value", "unknown status %q", model.Truncate(string(f.Status), 40))
		}
		lq.where = append(lq.where, "d.overall_status = "+lq.arg(string(f.Status)))
	}
	if f.Channel != "" && !f.Channel.Valid() {
		return nil, model.Errork(model.EINVALID, "err.unknown_channel", "unknown channel %q", model.Truncate(string(f.Channel), 40))
	}
	if f.ChannelStatus != "" && !f.ChannelStatus.Valid() {
		return nil, model.Errork(model.EINVALID, "err.unknown_value", "unknown channel status %q", model.Truncate(string(f.ChannelStatus), 40))
	}
	if f.Channel != "" || f.ChannelStatus != "" {
		var conds []string
		if f.Channel != "" {
			conds = append(conds, "cs.channel = "+lq.arg(string(f.Channel)))
		}
		if f.ChannelStatus != "" {
			conds = append(conds, "cs.status = "+lq.arg(string(f.ChannelStatus)))
		}
		lq.where = append(lq.where, `EXISTS (SELECT 1 FROM channel_status cs WHERE cs.event_id = e.id AND `+
			strings.Join(conds, " AND ")+`)`)
	}
	return lq, nil
}

// searchCondition is the WHERE condition of the search box's text q (trimmed, checked): an event
// id by prefix, a part of the title or the store name (all case-insensitive), a channel's
// distribution, post or message id (case-insensitive), or a post URL as pasted (the stored
// post_url, or an id inside it: a path segment or query value, e.g. a Naver post number).
//
// The channel ids are looked up first (indexed, migration 0014) and enter the condition as event
// ids, so the condition is an OR over events' own indexes alone (id, title and store trigrams,
// primary key) that the planner can answer with a bitmap of matches or a walk in list order,
// whichever the values make cheaper.
// searchIDsSQL finds the events of channels whose distribution, post or message id ($1, lower
// case) or post URL ($2) was pasted: a BitmapOr of four indexes (migrations 0014, 0022).
var searchIDsSQL = `SELECT DISTINCT event_id FROM channel_status
		WHERE event_id IS NOT NULL AND (lower(distribution_id) = ANY($1) OR lower(post_id) = ANY($1)
		   OR lower(message_id) = ANY($1) OR post_url = ANY($2))
		LIMIT ` + strconv.Itoa(maxSearchIDs)

func (db *DB) searchCondition(ctx context.Context, lq *listQuery, q string) (string, error) {
	ids, urls, isURL := searchTerms(q)
	// Planned with the values (QueryExecModeExec): a generic plan of "= ANY($1)" scans the table.
	rows, err := db.Pool.Query(ctx, searchIDsSQL, pgx.QueryExecModeExec, ids, urls)
	if err != nil {
		return "", fmt.Errorf("search channel ids: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("search channel ids: %w", err)
	}
	if isURL { // a URL stands for a post: its ids, never a title's words
		return fmt.Sprintf(`(lower(e.id) = ANY(%s) OR e.id = ANY(%s))`, lq.arg(ids), lq.arg(found)), nil
	}
	like := escapeLike(q)
	sub := lq.arg("%" + like + "%")
	return fmt.Sprintf(`(lower(e.id) LIKE %s OR lower(e.id) = ANY(%s) OR e.title ILIKE %s OR e.store_name ILIKE %s OR e.id = ANY(%s))`,
		lq.arg(strings.ToLower(like)+"%"), lq.arg(ids), sub, sub, lq.arg(found)), nil
}

// Bounds of what a pasted URL contributes to a search.
const (
	maxSearchTerms = 16
	minTermLen     = 5 // path words such as "p" or "reel" are not ids; ids in URLs are longer
	maxTermLen     = 100
)

// searchTerms are the ids (lower case) and post URLs a search text q stands for: q itself, and
// when q is a URL (with or without its scheme) its variants as a platform may store it (https or
// http, with or without www., a trailing slash, no query or fragment) and the ids inside it.
func searchTerms(q string) (ids, urls []string, isURL bool) {
	ids = []string{strings.ToLower(q)}
	urls = []string{q}
	raw := q
	if !strings.Contains(raw, "://") {
		host, _, _ := strings.Cut(raw, "/")
		if !strings.Contains(raw, "/") || !strings.Contains(host, ".") || strings.ContainsAny(host, " @") {
			return ids, urls, false
		}
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || strings.ContainsAny(q, " \t") {
		return ids, urls, false
	}
	add := func(list *[]string, v string) {
		if v != "" && len(*list) < maxSearchTerms && !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	host := strings.ToLower(u.Host)
	hosts := []string{host, "www." + host}
	if h, ok := strings.CutPrefix(host, "www."); ok {
		hosts = []string{host, h}
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	for _, scheme := range []string{"https", "http"} {
		for _, h := range hosts {
			add(&urls, scheme+"://"+h+path+"/")
			add(&urls, scheme+"://"+h+path)
		}
	}
	for _, seg := range strings.Split(path, "/") {
		if seg, err := url.PathUnescape(seg); err == nil && len(seg) >= minTermLen && len(seg) <= maxTermLen {
			add(&ids, strings.ToLower(seg))
		}
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			if len(v) >= minTermLen && len(v) <= maxTermLen {
				add(&ids, strings.ToLower(v))
			}
		}
	}
	return ids, urls, true
}

// escapeLike quotes LIKE's wildcards so user text matches literally (backslash is the default
// LIKE escape character).
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// encodeCursor makes the opaque keyset cursor: base64url("<created_at unix µs>,<event id>").
// Microseconds are PostgreSQL's timestamp precision, so the position is exact.
func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "," + id))
}

func decodeCursor(s string) (time.Time, string, error) {
	bad := model.Errork(model.EINVALID, "reports.bad_cursor", "malformed cursor")
	if len(s) > 100 {
		return time.Time{}, "", bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", bad
	}
	micros, id, ok := strings.Cut(string(raw), ",")
	if !ok || !model.ValidEventID(id) {
		return time.Time{}, "", bad
	}
	us, err := strconv.ParseInt(micros, 10, 64)
	if err != nil || !cursorTimeOK(us) {
		return time.Time{}, "", bad
	}
	return time.UnixMicro(us).UTC(), id, nil
}

// maxCursorMicros is the end of year 9999 UTC in unix microseconds. A cursor holds a row's
// creation time, so anything before 1970 or past that is forged; PostgreSQL refuses times outside
// its range with an error, and the cursor must be a 400 before that.
const maxCursorMicros = 253402300799999999

func cursorTimeOK(us int64) bool { return us >= 0 && us <= maxCursorMicros }

// CountEventsByStatus returns how many distributions are in each overall status, and the number of
// events. The per-status counts are exact: a GROUP BY over distribution_status, answered from the
// overall_status index of migration 0004. The total is exact while the table is small and the
// planner's row estimate (pg_class.reltuples, kept fresh by autovacuum/ANALYZE) once the events table
// passes 10,000 rows, so the list page never counts a big table per load. Callers showing it
// should present it as approximate beyond that size; it is never below the sum of the statuses.
func (db *DB) CountEventsByStatus(ctx context.Context) (map[model.OverallStatus]int, int, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT overall_status, count(*) FROM distribution_status GROUP BY overall_status`)
	b.Queue(`SELECT CASE WHEN c.reltuples >= $1 THEN c.reltuples::bigint
		ELSE (SELECT count(*) FROM events) END
		FROM pg_class c WHERE c.oid = 'events'::regclass`, exactCountBelow)
	br := db.Pool.SendBatch(ctx, b) // one round trip
	defer br.Close()

	counts := make(map[model.OverallStatus]int, 4)
	rows, err := br.Query()
	if err != nil {
		return nil, 0, fmt.Errorf("count events by status: %w", err)
	}
	var (
		status      string
		n, sum, all int
	)
	if _, err := pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		counts[model.OverallStatus(status)] = n
		sum += n
		return nil
	}); err != nil {
		return nil, 0, fmt.Errorf("count events by status: %w", err)
	}
	if err := br.QueryRow().Scan(&all); err != nil {
		return nil, 0, fmt.Errorf("count events: %w", err)
	}
	return counts, max(all, sum), nil
}

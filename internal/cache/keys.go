package cache

import (
	"strconv"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// Key formats (DESIGN.md "Redis"). Event ids match model.ValidEventID, so they never contain ':'
// and a key parses back unambiguously.
const (
	eventKeyPrefix   = "event:"
	eventKeySuffix   = ":distribution"
	createdKeySuffix = ":created"
	channelKeyPrefix = "distribution:channel:"
)

// TTLs of the two kinds of keys. Every write renews them.
const (
	EventTTL   = time.Hour
	ChannelTTL = 30 * time.Minute
	// CreatedTTL: the created key is only a change signal for open lists; it need not last.
	CreatedTTL = 10 * time.Minute
)

// EventKey is the hash holding the overall state of an event's distribution.
func EventKey(eventID string) string { return eventKeyPrefix + eventID + eventKeySuffix }

// CreatedKey is a short-lived hash written when an event is created, so that open lists learn of
// an event that has no distribution (and so no other key) yet.
func CreatedKey(eventID string) string { return eventKeyPrefix + eventID + createdKeySuffix }

// ChannelKey is the hash holding one channel's live state.
func ChannelKey(eventID string, ch model.Channel) string {
	return channelKeyPrefix + eventID + ":" + string(ch)
}

// ParseKey maps one of our keys back to its event id and, for a channel key, its channel (empty for
// the event key). It also accepts a keyspace-notification channel name ("__keyspace@N__:<key>").
// ok is false for anything else, including keys whose event id or channel is not valid.
func ParseKey(key string) (eventID string, ch model.Channel, ok bool) {
	if strings.HasPrefix(key, "__keyspace@") {
		_, rest, found := strings.Cut(key, "__:")
		if !found {
			return "", "", false
		}
		key = rest
	}
	if rest, found := strings.CutPrefix(key, channelKeyPrefix); found {
		id, c, found := strings.Cut(rest, ":")
		if !found || !model.ValidEventID(id) || !model.Channel(c).Valid() {
			return "", "", false
		}
		return id, model.Channel(c), true
	}
	if rest, found := strings.CutPrefix(key, eventKeyPrefix); found {
		id, found := strings.CutSuffix(rest, eventKeySuffix)
		if !found {
			id, found = strings.CutSuffix(rest, createdKeySuffix)
		}
		if !found || !model.ValidEventID(id) {
			return "", "", false
		}
		return id, "", true
	}
	return "", "", false
}

// EventIDOf maps a keyspace-notification channel name to the event id it concerns (the live
// package's EventIDOf option).
func EventIDOf(channel string) (string, bool) {
	id, _, ok := ParseKey(channel)
	return id, ok
}

// KeyspacePatterns are the PSUBSCRIBE patterns that receive keyspace notifications for our keys
// in Redis database db (the DB index of REDIS_URL).
func KeyspacePatterns(db int) []string {
	prefix := "__keyspace@" + strconv.Itoa(db) + "__:"
	return []string{
		prefix + eventKeyPrefix + "*" + eventKeySuffix,
		prefix + channelKeyPrefix + "*",
		prefix + eventKeyPrefix + "*" + createdKeySuffix,
	}
}

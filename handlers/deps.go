package handlers

import (
	"context"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
)

// Store is the part of the database the pages and the API read and write directly (db.DB).
type Store interface {
	CreateEvent(ctx context.Context, e model.Event, actor string) (model.Event, error)
	FindEventByID(ctx context.Context, id string) (model.Event, error)
	FindEvents(ctx context.Context, f model.EventFilter) (model.EventPage, error)
	CountEvents(ctx context.Context, f model.EventFilter) (n int, more bool, err error)
	FindAttempts(ctx context.Context, eventID string) ([]model.Attempt, error)
	CountEventsByStatus(ctx context.Context) (map[model.OverallStatus]int, int, error)
	AddAudit(ctx context.Context, e model.AuditEntry) error
	// CreateEventAudited creates an event and its audit entry in one transaction.
	CreateEventAudited(ctx context.Context, e model.Event, audit model.AuditEntry) (model.Event, error)
	// Editing events that have not started, copying and deleting them (db/events_edit.go).
	UpdateEvent(ctx context.Context, id string, patch model.EventPatch, audit model.AuditEntry) (model.Event, error)
	DuplicateEvent(ctx context.Context, id string, audit model.AuditEntry) (model.Event, error)
	DeleteEvent(ctx context.Context, id string, audit model.AuditEntry) error
	// FindRetryCandidates lists what a bulk retry would retry (db/retries_preview.go).
	FindRetryCandidates(ctx context.Context, f db.RetryFilter, limit int) ([]model.RetryCandidate, error)
	// Schedules (db/schedules.go): a start planned for later, started by the engine when due.
	ScheduleDistribution(ctx context.Context, eventID string, chans []model.Channel, startAt time.Time, actor string) (model.Schedule, bool, error)
	FindSchedule(ctx context.Context, eventID string) (model.Schedule, error)
	DeleteSchedule(ctx context.Context, eventID, actor string) error
	// Stores and their channel accounts' public fields (db/stores.go).
	CreateStore(ctx context.Context, s model.Store, audit model.AuditEntry) (model.Store, error)
	FindStores(ctx context.Context) ([]model.Store, error)
	ListStores(ctx context.Context) ([]model.Store, error) // without accounts: the forms' store select
	FindStoreByID(ctx context.Context, id string) (model.Store, error)
}

// Distributor starts, retries and cancels distributions (engine.Engine). Errors: *model.Error codes, and
// *model.AlreadyStartedError (ECONFLICT carrying the existing distribution) from StartDistribution.
type Distributor interface {
	StartDistribution(ctx context.Context, eventID string, chans []model.Channel, actor string) (model.Distribution, error)
	RetryChannel(ctx context.Context, eventID string, ch model.Channel, actor string) (model.Distribution, error)
	RetryFailed(ctx context.Context, eventID, actor string) ([]model.Channel, error)
	// RetryFailedChecked is RetryFailed skipping (and naming) the channels the pre-flight check
	// refuses; *model.UnavailableError when it refuses them all.
	RetryFailedChecked(ctx context.Context, eventID, actor string) ([]model.Channel, []model.ChannelCheck, error)
	// Preflight checks channels of an event before a start or a retry (engine/preflight.go).
	Preflight(ctx context.Context, eventID string, chans []model.Channel) ([]model.ChannelCheck, error)
	RetryMatching(ctx context.Context, f db.RetryFilter, actor string, preview bool) (int, error)
	CancelDistribution(ctx context.Context, eventID, actor string) (model.Distribution, error)
	CancelChannel(ctx context.Context, eventID string, ch model.Channel, actor string) (model.Distribution, error)
	// ProbeChannel is staff's "probe now" for a channel paused by its circuit breaker (audited);
	// ECONFLICT when it is not paused.
	ProbeChannel(ctx context.Context, ch model.Channel, actor, ip string) (model.BreakerStatus, error)
	// BreakerStatuses returns every channel's circuit breaker, in display order.
	BreakerStatuses(ctx context.Context) []model.BreakerStatus
}

// StatusReader reads a distribution's current state: Redis first, Postgres on a miss or outage
// (cache.Cache.Distribution over the db). ENOTFOUND when the event has no distribution.
type StatusReader interface {
	Distribution(ctx context.Context, eventID string) (model.Distribution, error)
}

// EventAnnouncer tells open pages that an event was created (cache.Cache.AnnounceEvent).
type EventAnnouncer interface {
	AnnounceEvent(ctx context.Context, eventID string) error
}

package model

// EventPatch is a partial change of an event's editable fields (PATCH /api/v1/events/{id} and
// the detail page's edit form): nil leaves a field as it is. The same rules as creation apply
// to the result.
type EventPatch struct {
	Title       *string
	Description *string
	ImageURL    *string
	StoreName   *string
	// StoreID moves the event to a store (its name replaces StoreName); "" detaches it.
	StoreID *string
}

// Empty reports whether p changes nothing.
func (p EventPatch) Empty() bool {
	return p.Title == nil && p.Description == nil && p.ImageURL == nil && p.StoreName == nil && p.StoreID == nil
}

// Apply returns e with p's fields set.
func (p EventPatch) Apply(e Event) Event {
	for _, f := range []struct {
		v   *string
		dst *string
	}{{p.Title, &e.Title}, {p.Description, &e.Description}, {p.ImageURL, &e.ImageURL}, {p.StoreName, &e.StoreName}, {p.StoreID, &e.StoreID}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	return e
}

// Audit actions of events (creation is recorded since events could be created; editing,
// duplicating and deleting an event that never started came later).
const (
	AuditEventCreate    = "event.create"
	AuditEventUpdate    = "event.update"
	AuditEventDuplicate = "event.duplicate"
	AuditEventDelete    = "event.delete"
)

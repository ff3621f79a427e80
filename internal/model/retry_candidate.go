package model

import "time"

// RetryCandidate is one FAILED channel a bulk retry would retry, as its preview lists it.
type RetryCandidate struct {
	ID         int64 // the channel row
	EventID    string
	EventTitle string
	Channel    Channel
	Error      string
	FailedAt   time.Time
}

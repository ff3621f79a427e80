// Package chaos holds the fault-injection suite that runs the real `distribution` binary against
// private Redis servers and the test PostgreSQL, and measures what RELIABILITY.md promises for
// rows R1, R2, R3, P3, S1, S2, C1, W1 and W5: bounded latency while Redis is stopped or hung,
// recovery without restarting the app, streams that hold no database connection, slow and
// vanishing SSE clients cleaned up, business times from the database clock, and a killed worker's
// channels resumed within seconds (by another worker, or after a restart) with one post each.
//
// It holds tests only (plus the report program in chaos/report). Every test records its figure
// with a line "CHAOS|row|guarantee|figure" in its log; `make chaos` runs the suite with
// `go test -json` and chaos/report prints the table (README "Reliability").
package chaos

package handlers

import "time"

// SetStreamTiming shortens the streams' clocks for a test and returns the restore function. It
// changes package state: only call it from tests that do not run in parallel.
func SetStreamTiming(tick time.Duration, heartbeatTicks, sessionTicks int) (restore func()) {
	old := timing
	timing.tick, timing.heartbeat, timing.session = tick, heartbeatTicks, sessionTicks
	timing.countsEvery = tick
	return func() { timing = old }
}

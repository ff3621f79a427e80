// Package system runs the real `distribution` binary as operating-system processes against
// real servers (PostgreSQL, Redis, the channel simulator as its own process) and checks what the
// design promises when processes are killed, stopped or scaled out, and when PostgreSQL restarts
// (DESIGN.md "Distribution engine" and "Scale-out", RELIABILITY.md rows W1, W2, P1, D4), which
// in-process tests cannot show.
//
// It holds tests only: TestMain builds the binary once (or uses SYSTEMTEST_BINARY), every test
// starts its own processes on free loopback ports with its own database and Redis, and every
// process is killed at cleanup, with its log shown when the test failed.
package system

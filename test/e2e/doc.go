// Package e2e holds the browser tests of the dashboard: headless Chromium (chromedp) driving the
// real application, wired in-process as main wires it (PostgreSQL, a private Redis, the live hub,
// the engine with workers, the channel simulator with a short step, the web server on a loopback
// port). The tests are in e2e_test.go; this package has no other code.
package e2e

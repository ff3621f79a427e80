// Command report reads `go test -json` output on stdin and prints the reliability table: one
// line per matrix row with its guarantee, PASS/FAIL and the figure the test measured. Chaos tests
// log "CHAOS|row|guarantee|figure"; tests elsewhere that cover a row are named in known.
// It exits non-zero when any test failed, or when a test named in known did not run at all (it was
// renamed or removed, so its row would silently drop out of the table).
//
// `report -list` prints the `go test -run` pattern of the suite: package chaos's TestChaos* and
// every test named in known. The Makefile's chaos target takes its list from there, so this map
// is the one place that says which test proves which row.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
)

// known maps tests outside package chaos to the matrix row they prove.
var known = map[string][2]string{
	"TestFinishRollupRace":                       {"W4", "6 channels finish together 1,000 times: overall status always correct"},
	"TestStaleJobWritesNothing":                  {"W3", "a stale attempt writes 0 rows (fence)"},
	"TestKillWorkerMidChannel":                   {"W1", "worker kill -9 mid-channel: rescued, never IN_PROGRESS forever"},
	"TestSIGTERMDuringWork":                      {"W2", "SIGTERM: short calls finish, long ones re-queued, exits on time"},
	"TestPostgresRestartMidDistribution":         {"P1", "Postgres restarted mid-distribution: every channel terminal, one post each"},
	"TestStartDistributionConcurrentStarts":      {"D1", "50 concurrent starts: exactly 1 distribution, others 409"},
	"TestAPIConcurrentRetry":                     {"D2", "20 concurrent retries: exactly one, others 409"},
	"TestLostResponseThenRetryMakesOnePost":      {"E6", "lost response: idempotency key, one post"},
	"TestStreamEndsWithSession":                  {"S6", "logout or role change closes the stream"},
	"TestStreamsCappedPerUser":                   {"S7", "one user over the stream cap: the oldest streams close, the newest stay live"},
	"TestListStreamsShareOneRead":                {"S7", "list streams with one filter: one list read per change, feed gone with the last stream"},
	"TestListFeedKeepsViewersApart":              {"S7", "shared list feeds: one read per view, no text or token crosses languages or roles"},
	"TestServerRestartRecovers":                  {"S3", "graceful restart: browsers reconnect and show current state"},
	"TestHangTimesOutAsTemporary":                {"E1", "channel API timeout: bounded, retried as temporary"},
	"TestServerErrorIsTemporary":                 {"E2", "5xx: temporary, retried with backoff"},
	"TestBreakerWindowRules":                     {"B1", "breaker opens on >= 5 calls, >= 50 % failed, >= 2 events in 60 s; Temporary only"},
	"TestBreakerSharedAcrossReplicasAndFallback": {"B1", "one breaker state for two replicas, one probe; per-process fallback with Redis down"},
	"TestBreakerDefersStaffRetryToSuccess":       {"B1", "KAKAO=3: staff retry while the breaker is open waits, then SUCCESS/COMPLETED, no attempt burnt"},
	"TestRateLimitSnoozesWithoutBurningAttempts": {"E3", "429 Retry-After: snoozed without burning an attempt"},
	"TestPermanentFailureFailsAtOnce":            {"E4", "permanent 4xx: FAILED at once, no retry"},
	"TestConnectionResetIsTemporary":             {"E5", "connection reset: temporary"},
	"TestHugeBodyIsNotReadWhole":                 {"E5", "huge body: bounded read"},
	"TestRedirectIsNotFollowed":                  {"E5", "redirect: not followed"},
	"TestRetryChannelConcurrentAndConflicts":     {"D3", "retry of a channel that is not FAILED: 409, nothing written"},
	"TestTemporaryFailuresThenManualRetry":       {"D4", "retry after the previous job completed really runs"},
	"TestCancelRaces":                            {"K2", "concurrent cancels, cancel vs finish, cancel vs retry: one wins, fence holds"},
	"TestCancelAfterPublishKeepsThePost":         {"K3", "published just before the cancel: SUCCESS with the post"},
	"TestCancelThenLateSuccessKeepsThePost":      {"K3", "late success of the cancelled attempt records the post; stale after a retry"},
	"TestStartRejectsBadInputWithoutWriting":     {"I4", "unknown, duplicate or no channel: 400, nothing written"},
	"TestAPIBadInput":                            {"I1-I5", "malformed, oversized, hostile input on every API route: 4xx, nothing written"},
	"FuzzRoutesNo5xx":                            {"I1-I5", "fuzzed query params, form fields, path ids, headers on every GET and form route: < 500, no ERROR log"},
	"TestBadInputIs4xx":                          {"I1-I5", "NUL/%ff filters and login email, forged cursors: 400 naming the field; non-UTF-8 User-Agent logs in"},
	"TestAPIDuplicateJSONKeys":                   {"I1", "duplicate JSON keys at any depth: 400 naming the key, nothing written"},
	"TestRouteRoleMatrix":                        {"SEC", "every route x role: expected status, security headers on every answer"},
	"TestGetChangesNothing":                      {"SEC", "no state change on GET"},
	"FuzzWriteEvent":                             {"X1", "any text in an SSE data line: exactly the intended event (fuzzed writer)"},
	"TestXSSLineBreaksCannotInjectStreamEvents":  {"X1", "CR, LF, CRLF in stored title/store/description: no SSE event injected in Chromium"},

	// Schedules (SC1; the chaos test TestChaosSC1… records the figure).
	"TestStartDueScheduleOnceWithConcurrentClaimers": {"SC1", "12 schedules due, 4 concurrent claimers: each starts exactly once, trigger schedule:<creator>"},
	"TestScheduledStartsRunOnceAcrossReplicas":       {"SC1", "two worker engines: each schedule starts once, never before startAt (DB clock), and runs to COMPLETED"},
	"TestScheduleRacesStartNow":                      {"SC1", "schedule vs start now, 20 races: never both a schedule and a distribution"},
}

type event struct {
	Action string
	Test   string
	Output string
}

type row struct{ id, guarantee, result, figure, test string }

func main() {
	list := flag.Bool("list", false, "print the go test -run pattern of the suite and exit")
	flag.Parse()
	if *list {
		fmt.Printf("^(TestChaos.*|%s)$\n", strings.Join(slices.Sorted(maps.Keys(known)), "|"))
		return
	}
	rows := map[string]*row{}
	order := []string{}
	get := func(test string) *row {
		if r, ok := rows[test]; ok {
			return r
		}
		r := &row{test: test, result: "?"}
		if k, ok := known[test]; ok {
			r.id, r.guarantee = k[0], k[1]
		}
		rows[test] = r
		order = append(order, test)
		return r
	}
	failed := false
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Test == "" || strings.Contains(e.Test, "/") {
			continue
		}
		switch e.Action {
		case "output":
			if _, rest, ok := strings.Cut(e.Output, "CHAOS|"); ok {
				parts := strings.SplitN(strings.TrimSpace(rest), "|", 3)
				if len(parts) == 3 {
					r := get(e.Test)
					r.id, r.guarantee, r.figure = parts[0], parts[1], parts[2]
				}
			}
		case "pass", "fail", "skip":
			r := get(e.Test)
			r.result = strings.ToUpper(e.Action)
			if e.Action == "fail" {
				failed = true
			}
		}
	}
	var table []*row
	for _, t := range order {
		if r := rows[t]; r.id != "" {
			table = append(table, r)
		}
	}
	slices.SortStableFunc(table, func(a, b *row) int { return strings.Compare(a.id, b.id) })
	fmt.Println("| row | guarantee | result | figure measured | test |")
	fmt.Println("|---|---|---|---|---|")
	for _, r := range table {
		fig := r.figure
		if fig == "" {
			fig = "(see test)"
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", r.id, r.guarantee, r.result, fig, r.test)
	}
	for _, t := range slices.Sorted(maps.Keys(known)) {
		if r, ok := rows[t]; !ok || r.result == "?" {
			fmt.Printf("\nrow %s has no test: %s did not run (renamed or removed? update known in chaos/report)\n", known[t][0], t)
			failed = true
		}
	}
	if failed {
		fmt.Println("\nSOME TESTS FAILED")
		os.Exit(1)
	}
}

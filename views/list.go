package views

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/marketing-platform/distribution/internal/model"
)

// ListSizes are the page sizes the events list offers (query `size`); DefaultListSize is the
// store's default page.
var ListSizes = []int{20, 25, 50, 100}

// DefaultListSize is the events list's page size when none is chosen.
const DefaultListSize = 25

// listStatuses are the status chips and filter values of the list, in display order.
var listStatuses = []model.OverallStatus{model.OverallNotStarted, model.OverallInProgress, model.OverallCompleted, model.OverallPartialSuccess, model.OverallFailed}

// ListStatusName is the display name of a list status filter (not started included).
func ListStatusName(lang string, s model.OverallStatus) string {
	if s == model.OverallNotStarted {
		return OverallName(lang, "")
	}
	return OverallName(lang, s)
}

// ListStatusCount is the count of a status chip: the distributions in status s, or for not
// started the events without one (the total less the distributions, so the chips add up to it).
func ListStatusCount(counts map[model.OverallStatus]int, total int, s model.OverallStatus) int {
	if s != model.OverallNotStarted {
		return counts[s]
	}
	n := total
	for k, c := range counts {
		if k.Valid() {
			n -= c
		}
	}
	return max(n, 0)
}

// BadFilterMessage explains the list's query parameters that were ignored (bad: their names), in
// the viewer's words, each with its name as typed in the URL.
func BadFilterMessage(lang string, bad []string) string {
	parts := make([]string, 0, len(bad))
	for _, name := range bad {
		key := map[string]string{"q": "events.search", "status": "events.filter.status", "channel": "events.filter.channel",
			"channel_status": "events.filter.channel_status", "cursor": "list.param.cursor", "before": "list.param.cursor",
			"size": "list.param.size"}[name]
		if key == "" {
			parts = append(parts, name)
			continue
		}
		parts = append(parts, T(lang, key)+" ("+name+")")
	}
	return strings.ReplaceAll(T(lang, "list.bad_filter"), "%s", strings.Join(parts, ", "))
}

// pageQuery is filterQuery with the chosen page size.
func pageQuery(f model.EventFilter) url.Values {
	v := filterQuery(f)
	if f.Limit != 0 && f.Limit != DefaultListSize {
		v.Set("size", strconv.Itoa(f.Limit))
	}
	return v
}

func prevURL(f model.EventFilter, before string) string {
	q := pageQuery(f)
	q.Set("before", before)
	return "/?" + q.Encode()
}

// listTotal is the pagination's "N events" (more: the count stopped at n).
func listTotal(p Page, n int, more bool) string {
	if more {
		return p.Tn("list.total_more", n)
	}
	return p.Tn("list.total", n)
}

// filterFields are f's filters as query fields, in a fixed order.
func filterFields(f model.EventFilter) [][2]string {
	q := filterQuery(f)
	var out [][2]string
	for _, k := range []string{"q", "status", "channel", "channel_status"} {
		if v := q.Get(k); v != "" {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

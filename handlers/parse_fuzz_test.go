package handlers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
)

// Fuzz targets for every parser of outside input in this package. Each must never panic, and a
// refusal must be a client error (EINVALID or a 4xx HTTP error), never something that would
// become a 500.

func fuzzContext(method, target, contentType, body string) echo.Context {
	req := httptest.NewRequest(method, "/", strings.NewReader(body))
	req.URL.RawQuery = target
	if contentType != "" {
		req.Header.Set(echo.HeaderContentType, contentType)
	}
	return echo.New().NewContext(req, httptest.NewRecorder())
}

func clientError(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		if he.Code < 400 || he.Code >= 500 {
			t.Fatalf("%s: HTTP error %d", what, he.Code)
		}
		return
	}
	if code := model.ErrorCode(err); code != model.EINVALID {
		t.Fatalf("%s: error %v (code %q) is not a client error", what, err, code)
	}
}

// JSON bodies of POST /api/v1/events, /distribution and /retries through the real decoder.
func FuzzDecodeAPIBody(f *testing.F) {
	for _, s := range []string{
		`{"id":"ev-1","title":"t","storeName":"s"}`, `{"channels":["NAVER","KAKAO"]}`, `{"channel":"NAVER","from":"2024-01-01"}`,
		``, `{`, `[]`, `null`, `{"id":1}`, `{"unknown":true}`, `{} {}`, `{"channels":"NAVER"}`, `{"title":"\u0000"}`, `{"title":"a","title":"b"}`, `{"channels":[{"a":1,"A":2}]}`,
		`{"channels":[` + strings.Repeat(`"NAVER",`, 1000) + `"NAVER"]}`,
	} {
		f.Add(s, "application/json")
	}
	f.Add(`{"id":"x"}`, "text/plain")
	f.Add(`{"id":"x"}`, "application/merge-patch+json; charset=utf-8")
	f.Fuzz(func(t *testing.T, body, ct string) {
		var ev apiEventInput
		clientError(t, "event body", decodeAPIBody(fuzzContext(http.MethodPost, "", ct, body), &ev))
		var st apiStartInput
		clientError(t, "start body", decodeAPIBody(fuzzContext(http.MethodPost, "", ct, body), &st))
		var rf apiRetryFilterInput
		clientError(t, "retry filter body", decodeAPIBody(fuzzContext(http.MethodPost, "", ct, body), &rf))
	})
}

// Query filters and cursors of the list page, its stream and GET /api/v1/events.
func FuzzEventFilters(f *testing.F) {
	for _, s := range []string{
		"", "q=sale&status=COMPLETED&channel=NAVER&channel_status=FAILED", "status=BOGUS", "cursor=%%%",
		"limit=-1", "limit=99999999999999999999", "q=" + strings.Repeat("a", 5000), "channel=naver&channel=KAKAO",
		"datastar=%7B%22q%22%3A1%7D", "cursor=LTEsLi4veA",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		// pageFilter never fails: it leaves out what it cannot use, and what it keeps is valid.
		pf, _ := pageFilter(fuzzContext(http.MethodGet, query, "", ""))
		if (pf.Status != "" && !pf.Status.ValidFilter()) || (pf.Channel != "" && !pf.Channel.Valid()) ||
			(pf.ChannelStatus != "" && !pf.ChannelStatus.Valid()) || (pf.Cursor != "" && !db.ValidCursor(pf.Cursor)) ||
			(pf.Before != "" && !db.ValidCursor(pf.Before)) || model.CheckLine("q", pf.Q, maxListQuery) != nil {
			t.Fatalf("pageFilter(%q) kept an invalid value: %+v", query, pf)
		}
		_, err := apiEventFilter(fuzzContext(http.MethodGet, query, "", ""))
		clientError(t, "apiEventFilter", err)
	})
}

// The report's date, channel and cursor parameters (reports page and CSV export).
func FuzzReportQuery(f *testing.F) {
	for _, s := range []string{
		"", "from=2024-01-01&to=2024-01-31", "from=2024-02-30", "from=2024-12-31&to=2024-01-01", "from=0001-01-01&to=9999-12-31",
		"channel=BOGUS", "cursor=@@", "from=2024-01-01T00:00:00Z", "to=" + strings.Repeat("9", 100),
	} {
		f.Add(s, "ko")
	}
	f.Add("from=2024-01-01", "xx")
	f.Fuzz(func(t *testing.T, query, lang string) {
		_, err := parseReportQuery(fuzzContext(http.MethodGet, query, "", ""), lang)
		clientError(t, "parseReportQuery", err)
	})
}

// The dashboard's form posts: the bulk-retry filter, the start form's channels, event ids from
// paths, and the login form's next parameter.
func FuzzDashboardForms(f *testing.F) {
	for _, s := range []string{
		"channel=NAVER&from=2024-01-01&to=2024-01-02", "channel=bogus", "from=yesterday", "channels=NAVER&channels=KAKAO",
		"channels=" + strings.Repeat("NAVER,", 100), "%zz", "next=//evil.example", "next=/events/x",
	} {
		f.Add(s, "ev-1")
	}
	f.Add("", "../x")
	f.Add("", strings.Repeat("x", 10240))
	f.Fuzz(func(t *testing.T, form, id string) {
		c := fuzzContext(http.MethodPost, "", echo.MIMEApplicationForm, form)
		_, _, err := bulkFilter(c, "en")
		clientError(t, "bulkFilter", err)
		c = fuzzContext(http.MethodPost, "", echo.MIMEApplicationForm, form)
		c.SetParamNames("id")
		c.SetParamValues(id)
		got, err := eventIDParam(c)
		clientError(t, "eventIDParam", err)
		if err == nil && !model.ValidEventID(got) {
			t.Fatalf("eventIDParam accepted %q", got)
		}
		if next := SafeNext(c.FormValue("next")); next != "" && (!strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\")) {
			t.Fatalf("SafeNext let %q through", next)
		}
	})
}

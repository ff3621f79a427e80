package deploy_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
)

const alertsFile = "prometheus/alerts.yaml"
const dashboardFile = "grafana/distribution.json"

var promParser = parser.NewParser(parser.Options{})

// metricNames are the metric names an expression selects.
func metricNames(t *testing.T, expr string) []string {
	t.Helper()
	e, err := promParser.ParseExpr(expr)
	if err != nil {
		t.Fatalf("parse %q: %v", expr, err)
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name == "" {
			t.Errorf("%q selects series without a metric name", expr)
		}
		names = append(names, name)
		return nil
	})
	return names
}

// checkMetricsExist fails for every name that neither the service (derived from its source) nor
// a named external exporter provides.
func checkMetricsExist(t *testing.T, where string, names []string) {
	t.Helper()
	exported := serviceMetrics(t)
	for _, n := range names {
		if _, ok := exported[n]; ok {
			continue
		}
		if _, ok := externalMetrics[n]; ok {
			continue
		}
		t.Errorf("%s uses %s, which the service does not export (and no listed exporter does)", where, n)
	}
}

func loadRules(t *testing.T) []rulefmt.Rule {
	t.Helper()
	groups, errs := rulefmt.ParseFile(alertsFile, false, model.UTF8Validation, promParser, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("rulefmt: %v", errs)
	}
	var rules []rulefmt.Rule
	for _, g := range groups.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

// TestAlertRules: alerts.yaml passes Prometheus' own rule validation (unknown fields refused,
// every expr parsed, templates checked), every alert has a severity and a summary, every metric
// it uses exists, and the on-call topics of the issue each have an alert on the right metric.
func TestAlertRules(t *testing.T) {
	rules := loadRules(t)
	used := map[string][]string{} // alert -> metrics
	for _, r := range rules {
		if r.Alert == "" {
			t.Errorf("recording rule %q: this file holds alerts only", r.Record)
			continue
		}
		switch r.Labels["severity"] {
		case "warning", "critical":
		default:
			t.Errorf("%s: severity %q, want warning or critical", r.Alert, r.Labels["severity"])
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s: needs summary and description annotations", r.Alert)
		}
		names := metricNames(t, r.Expr)
		checkMetricsExist(t, "alert "+r.Alert, names)
		used[r.Alert] = names
	}
	for alert, metric := range map[string]string{
		"DistributionChannelErrorRate":            "distribution_channel_errors_total",
		"DistributionChannelBreakerOpen":          "distribution_channel_breaker_state",
		"DistributionQueueWaitHigh":               "distribution_river_oldest_job_age_seconds",
		"DistributionLiveNotificationsNotFlowing": "distribution_live_notifications_total",
		"DistributionPodsNotReady":                "kube_deployment_status_replicas_available",
		"DistributionTargetDown":                  "up",
	} {
		if !slices.Contains(used[alert], metric) {
			t.Errorf("alert %s missing or not on %s (uses %v)", alert, metric, used[alert])
		}
	}
}

// TestAlertRulesRejectBadFiles: the validation above is not a formality: a misspelt field and a
// broken expression are refused by the same parse.
func TestAlertRulesRejectBadFiles(t *testing.T) {
	for name, src := range map[string]string{
		"unknown field": "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        fro: 5m\n",
		"bad expr":      "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: sum(rate(up[5m])\n",
	} {
		if _, errs := rulefmt.Parse([]byte(src), false, model.UTF8Validation, promParser, slog.New(slog.DiscardHandler)); len(errs) == 0 {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

// TestAlertsFire evaluates each alert's expression with Prometheus' engine on made-up series:
// it returns exactly the label sets that should alert (before `for:`), and nothing on healthy
// series. Series are loaded from time 0 at one sample a minute; evaluation is at 20m.
func TestAlertsFire(t *testing.T) {
	exprs := map[string]string{}
	for _, r := range loadRules(t) {
		exprs[r.Alert] = r.Expr
	}
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, 1_000_000)
	cases := []struct {
		alert string
		load  string
		want  []string // the firing series' labels, as {a="b", ...}
	}{
		{"DistributionChannelErrorRate", `
			distribution_channel_errors_total{instance="w1", channel="KAKAO", kind="temporary"} 0+3x20
			distribution_channel_errors_total{instance="w1", channel="NAVER", kind="temporary"} 0+0x20
			distribution_channel_publish_seconds_count{instance="w1", channel="KAKAO", outcome="success"} 0+4x20
			distribution_channel_publish_seconds_count{instance="w1", channel="NAVER", outcome="success"} 0+4x20`,
			[]string{`{channel="KAKAO"}`}},
		{"DistributionChannelErrorRate", `
			distribution_channel_errors_total{instance="w1", channel="KAKAO", kind="temporary"} 0+0x20`,
			nil}, // no publishes at all: no ratio, no alert
		{"DistributionChannelNeedsReconnect", `
			distribution_channel_errors_total{channel="INSTAGRAM", kind="needs-reconnect"} 0x15 1 1 1 1 1 1
			distribution_channel_errors_total{channel="KAKAO", kind="needs-reconnect"} 0x21`,
			[]string{`{channel="INSTAGRAM"}`}},
		{"DistributionChannelBreakerOpen", `
			distribution_channel_breaker_state{instance="w1", channel="GENIE", state="open"} 1x20
			distribution_channel_breaker_state{instance="w2", channel="GENIE", state="open"} 0x20
			distribution_channel_breaker_state{instance="w1", channel="KAKAO", state="open"} 0x20
			distribution_channel_breaker_state{instance="w1", channel="KAKAO", state="closed"} 1x20`,
			[]string{`{channel="GENIE"}`}},
		{"DistributionQueueWaitHigh", `
			distribution_river_oldest_job_age_seconds{instance="w1", queue="channels", state="available"} 300x20
			distribution_river_oldest_job_age_seconds{instance="w1", queue="channels", state="running"} 900x20`,
			[]string{`{queue="channels"}`}},
		{"DistributionQueueWaitHigh", `
			distribution_river_oldest_job_age_seconds{instance="w1", queue="channels", state="available"} 3x20`,
			nil},
		{"DistributionQueueMetricsFailing", `
			distribution_river_queue_up{instance="w1"} 0x20
			distribution_river_queue_up{instance="w2"} 1x20`,
			[]string{`{instance="w1"}`}},
		{"DistributionLiveNotificationsNotFlowing", `
			distribution_channel_jobs_total{instance="w1", channel="KAKAO", outcome="success"} 0+5x20
			distribution_live_notifications_total{instance="web1"} 7x20`,
			[]string{`{}`}},
		{"DistributionLiveNotificationsNotFlowing", `
			distribution_channel_jobs_total{instance="w1", channel="KAKAO", outcome="success"} 0+5x20
			distribution_live_notifications_total{instance="web1"} 0+20x20`,
			nil},
		{"DistributionLiveNotificationsNotFlowing", `
			distribution_channel_jobs_total{instance="w1", channel="KAKAO", outcome="success"} 9x20
			distribution_live_notifications_total{instance="web1"} 7x20`,
			nil}, // idle: no jobs, no notifications expected
		{"DistributionPublishSlow", `
			distribution_channel_publish_seconds_bucket{channel="NAVER", le="10"} 0x20
			distribution_channel_publish_seconds_bucket{channel="NAVER", le="60"} 0+10x20
			distribution_channel_publish_seconds_bucket{channel="NAVER", le="+Inf"} 0+10x20
			distribution_channel_publish_seconds_bucket{channel="KAKAO", le="10"} 0+10x20
			distribution_channel_publish_seconds_bucket{channel="KAKAO", le="60"} 0+10x20
			distribution_channel_publish_seconds_bucket{channel="KAKAO", le="+Inf"} 0+10x20`,
			[]string{`{channel="NAVER"}`}},
		{"DistributionHTTPErrors", `
			distribution_http_requests_total{route="/", method="GET", status="200"} 0+90x20
			distribution_http_requests_total{route="/", method="GET", status="503"} 0+10x20`,
			[]string{`{}`}},
		{"DistributionDBPoolExhausted", `
			distribution_db_pool_wait_seconds_total{instance="web1"} 0+60x20
			distribution_db_pool_wait_seconds_total{instance="web2"} 0+1x20`,
			[]string{`{instance="web1"}`}},
		{"DistributionLiveOverflows", `
			distribution_live_overflows_total{instance="web1"} 0+600x20`,
			[]string{`{}`}},
		{"DistributionTargetDown", `
			up{job="distribution", instance="10.0.0.1:9090"} 0x20
			up{job="distribution", instance="10.0.0.2:9090"} 1x20
			up{job="other", instance="10.0.0.3:9090"} 0x20`,
			[]string{`{instance="10.0.0.1:9090", job="distribution"}`}},
		{"DistributionAbsent", `
			up{job="distribution", instance="10.0.0.1:9090"} 0x20`,
			[]string{`{}`}},
		{"DistributionAbsent", `
			distribution_build_info{version="v1", commit="abc", go_version="go1.26.8"} 1x20`,
			nil},
		{"DistributionPodsNotReady", `
			kube_deployment_status_replicas_available{namespace="prod", deployment="distribution-web"} 1x20
			kube_deployment_spec_replicas{namespace="prod", deployment="distribution-web"} 3x20
			kube_deployment_status_replicas_available{namespace="prod", deployment="distribution-worker"} 2x20
			kube_deployment_spec_replicas{namespace="prod", deployment="distribution-worker"} 2x20
			kube_deployment_status_replicas_available{namespace="prod", deployment="billing-web"} 0x20
			kube_deployment_spec_replicas{namespace="prod", deployment="billing-web"} 3x20`,
			[]string{`{deployment="distribution-web", namespace="prod"}`}},
		{"DistributionWebUnavailable", `
			kube_deployment_status_replicas_available{namespace="prod", deployment="distribution-web"} 0x20
			kube_deployment_status_replicas_available{namespace="prod", deployment="distribution-worker"} 0x20`,
			[]string{`{deployment="distribution-web", namespace="prod"}`}},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		expr, ok := exprs[tc.alert]
		if !ok {
			t.Errorf("no alert %s in %s", tc.alert, alertsFile)
			continue
		}
		covered[tc.alert] = true
		var load strings.Builder
		load.WriteString("load 1m\n")
		for _, line := range strings.Split(strings.TrimSpace(tc.load), "\n") {
			load.WriteString("  " + strings.TrimSpace(line) + "\n")
		}
		storage := promqltest.LoadedStorage(t, load.String())
		q, err := engine.NewInstantQuery(context.Background(), storage, nil, expr, time.Unix(0, 0).Add(20*time.Minute))
		if err != nil {
			t.Fatalf("%s: %v", tc.alert, err)
		}
		res := q.Exec(context.Background())
		if res.Err != nil {
			t.Fatalf("%s: %v", tc.alert, res.Err)
		}
		vec, err := res.Vector()
		if err != nil {
			t.Fatalf("%s: %v", tc.alert, err)
		}
		var got []string
		for _, s := range vec {
			got = append(got, s.Metric.DropReserved(func(n string) bool { return n == model.MetricNameLabel }).String())
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s on%s\nfires for %v, want %v", tc.alert, tc.load, got, tc.want)
		}
		q.Close()
	}
	for alert := range exprs {
		if !covered[alert] {
			t.Errorf("alert %s has no case in TestAlertsFire", alert)
		}
	}
}

type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		GridPos struct{ H, W, X, Y int } `json:"gridPos"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// grafanaVars are Grafana's variables in a query; replaced by a duration or a regexp they parse.
var grafanaVars = regexp.MustCompile(`\$(__rate_interval|__interval|__range|\{[a-z_]+\}|[a-z_]+)`)

// TestDashboard: the Grafana dashboard is valid JSON with unique panel ids, every panel on the
// data source variable, every query parses as PromQL and uses only metrics that exist, and the
// on-call views are there (error rate by channel, queue depth and wait, breakers, publish
// duration, live hub, streams, pools, build info).
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" {
		t.Error("dashboard needs a title and a uid")
	}
	var hasDS bool
	for _, v := range d.Templating.List {
		hasDS = hasDS || (v.Name == "datasource" && v.Type == "datasource")
	}
	if !hasDS {
		t.Error("no datasource variable: the dashboard would be tied to one Prometheus")
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q not on ${datasource}", p.Title)
		}
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: bad gridPos %+v", p.Title, p.GridPos)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			expr := grafanaVars.ReplaceAllStringFunc(tg.Expr, func(v string) string {
				if strings.HasPrefix(v, "$__") {
					return "5m"
				}
				return ".*"
			})
			names := metricNames(t, expr)
			checkMetricsExist(t, "panel "+p.Title, names)
			for _, n := range names {
				used[n] = true
			}
		}
	}
	for _, want := range []string{
		"distribution_channel_errors_total", "distribution_channel_publish_seconds_bucket", "distribution_channel_breaker_state",
		"distribution_river_jobs", "distribution_river_oldest_job_age_seconds", "distribution_live_notifications_total",
		"distribution_live_overflows_total", "distribution_live_streams_open", "distribution_db_pool_in_use_connections",
		"distribution_redis_pool_in_use_connections", "distribution_build_info",
	} {
		if !used[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
}

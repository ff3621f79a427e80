package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
)

// syncBuffer is a log sink the app's goroutines write to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the JSON log records written so far.
func (b *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	data := bytes.Clone(b.buf.Bytes())
	b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func scopeSpans(spans []sdktrace.ReadOnlySpan, scope string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if strings.Contains(s.InstrumentationScope().Name, scope) {
			out = append(out, s)
		}
	}
	return out
}

// TestOneTraceFromRequestToChannel: with a tracer provider (an in-process span recorder), a
// distribution started through the HTTP API is one trace: the server span of the request, the
// River job's work span and the channel HTTP client span (the embedded simulator) share its
// trace id, and the queries and Redis commands of the request are in it too. The request's log
// lines (the request log of the web layer, the engine's "distribution started") carry its
// request id and trace id.
func TestOneTraceFromRequestToChannel(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background()) //nolint:errcheck // in-memory
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	a, err := app.New(testConfig(t, config.RoleAll), app.WithLogger(logger), app.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		stop(t, a)
		t.Fatal(err)
	}
	defer stop(t, a)

	e, err := a.Store.CreateEvent(ctx, model.Event{Title: "traced", StoreName: "app test"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	token, err := a.Auth.CreateToken(ctx, "tracing", model.RoleMarketer, "test")
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"channels":[%q]}`, model.ChannelInstagram)
	req, _ := http.NewRequest(http.MethodPost, a.URL()+"/api/v1/events/"+e.ID+"/distribution", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("start: %d, want 202", res.StatusCode)
	}
	requestID := res.Header.Get("X-Request-Id")
	if requestID == "" {
		t.Fatal("no X-Request-Id in the answer")
	}
	waitCompleted(t, a, e.ID)

	var server, job, channel []sdktrace.ReadOnlySpan
	testkit.Eventually(t, 10*time.Second, "the server, job and channel client spans", func() bool {
		spans := rec.Ended()
		server = nil
		for _, s := range scopeSpans(spans, "otelecho") {
			if s.SpanKind() == trace.SpanKindServer && strings.Contains(s.Name(), "/distribution") {
				server = append(server, s)
			}
		}
		job, channel = scopeSpans(spans, "otelriver"), scopeSpans(spans, "otelhttp")
		// The job's work span ends when the worker returns, a moment after the finish that made
		// the distribution COMPLETED: wait for it, not just for the insert's span.
		works := 0
		for _, s := range job {
			if strings.HasSuffix(s.Name(), "work") {
				works++
			}
		}
		return len(server) == 1 && works > 0 && len(channel) > 0
	})
	traceID := server[0].SpanContext().TraceID()
	var works int
	for _, s := range job {
		if strings.HasSuffix(s.Name(), "work") {
			works++
		}
		if s.SpanContext().TraceID() != traceID {
			t.Errorf("river span %q in trace %s, want the request's %s", s.Name(), s.SpanContext().TraceID(), traceID)
		}
	}
	if works == 0 {
		t.Errorf("no River work span among %d River spans", len(job))
	}
	for _, s := range channel {
		if s.SpanKind() != trace.SpanKindClient {
			t.Errorf("channel span %q kind %v, want client", s.Name(), s.SpanKind())
		}
		if s.SpanContext().TraceID() != traceID {
			t.Errorf("channel call span %q in trace %s, want the request's %s", s.Name(), s.SpanContext().TraceID(), traceID)
		}
	}
	var queries int
	for _, s := range scopeSpans(rec.Ended(), "otelpgx") {
		if s.SpanContext().TraceID() == traceID {
			queries++
		}
	}
	if queries == 0 {
		t.Error("no database query span in the request's trace")
	}
	// The trace as an operator's backend would show it (go test -v): scope, kind, name, parent.
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID() == traceID {
			t.Logf("span %s parent %s %-8s %-60s %q", s.SpanContext().SpanID(), s.Parent().SpanID(), s.SpanKind(),
				s.InstrumentationScope().Name, s.Name())
		}
	}

	// The request's log lines carry its request id (and trace id).
	found := map[string]bool{}
	for _, r := range logs.records(t) {
		if r["request_id"] != requestID {
			continue
		}
		msg, _ := r["msg"].(string)
		found[msg] = true
		if r["trace_id"] != traceID.String() {
			t.Errorf("log line %q: trace_id %v, want %s", msg, r["trace_id"], traceID)
		}
	}
	for _, msg := range []string{"request", "distribution started"} {
		if !found[msg] {
			t.Errorf("no %q log line with request_id %s (found %v)", msg, requestID, found)
		}
	}
}

// TestOTLPExporterStopsWithTheApp: with OTEL_EXPORTER_OTLP_ENDPOINT set, New builds the OTLP
// exporter and Stop shuts it down (TestMain's goleak: no batch processor left running).
func TestOTLPExporterStopsWithTheApp(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, config.RoleWorker)
	cfg.OTLPEndpoint = "http://127.0.0.1:1" // nothing listens: nothing is exported before Stop
	a, err := app.New(cfg, app.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	stop(t, a)
}

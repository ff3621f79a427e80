package logctx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/marketing-platform/distribution/internal/logctx"
)

func TestHandlerAddsRequestAndTraceID(t *testing.T) {
	var buf bytes.Buffer
	log := logctx.Wrap(slog.New(slog.NewJSONHandler(&buf, nil))).With(slog.String("component", "engine"))
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background()) //nolint:errcheck // nothing exported
	ctx, span := tp.Tracer("test").Start(logctx.WithRequestID(context.Background(), "req-1"), "op")
	defer span.End()

	log.InfoContext(ctx, "with")
	log.Info("without")
	var with, without map[string]any
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 || json.Unmarshal(lines[0], &with) != nil || json.Unmarshal(lines[1], &without) != nil {
		t.Fatalf("log: %s", buf.String())
	}
	if with["request_id"] != "req-1" || with["trace_id"] != span.SpanContext().TraceID().String() || with["component"] != "engine" {
		t.Errorf("with a context: %v", with)
	}
	if _, ok := without["request_id"]; ok {
		t.Errorf("without a context: %v", without)
	}
}

package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"go.opentelemetry.io/contrib/instrumentation/github.com/labstack/echo/otelecho"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// WithTracerProvider traces every part with tp (a test's SDK provider with a span recorder)
// instead of what OTEL_EXPORTER_OTLP_ENDPOINT asks for; the caller shuts tp down.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
}

// propagator is W3C trace context and baggage, what otelhttp injects into channel calls and
// otelriver into job metadata.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// setupTracing picks the tracer provider: the given one, else an OTLP/HTTP exporter when
// OTEL_EXPORTER_OTLP_ENDPOINT is set (shut down in Stop), else none: nothing is instrumented.
func (a *App) setupTracing(given trace.TracerProvider) error {
	if given != nil {
		a.tracer = given
		return nil
	}
	if a.Config.OTLPEndpoint == "" {
		return nil
	}
	// OTEL_EXPORTER_OTLP_ENDPOINT is the collector's base URL: traces go to its /v1/traces, as
	// the OTLP specification says. The exporter reads the other OTEL_EXPORTER_OTLP_* variables
	// (_HEADERS, _TIMEOUT, ...) itself.
	endpoint := strings.TrimRight(a.Config.OTLPEndpoint, "/") + "/v1/traces"
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(a.Config.ServiceName)))
	if err != nil {
		return fmt.Errorf("OTEL_SERVICE_NAME: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	// Every instrumentation gets tp explicitly: the otel globals stay untouched.
	a.tracer, a.shutdownTracer = tp, tp.Shutdown
	return nil
}

// The instrumentation of each part; each is nil (not installed) without a tracer provider.

func (a *App) pgxTracer() pgx.QueryTracer {
	if a.tracer == nil {
		return nil
	}
	return otelpgx.NewTracer(otelpgx.WithTracerProvider(a.tracer))
}

func (a *App) instrumentRedis() error {
	if a.tracer == nil {
		return nil
	}
	return redisotel.InstrumentTracing(a.Redis, redisotel.WithTracerProvider(a.tracer))
}

func (a *App) riverMiddleware() []rivertype.Middleware {
	if a.tracer == nil {
		return nil
	}
	return []rivertype.Middleware{
		&jobTraceParent{}, // outermost: the work span below is a child in the enqueuing trace
		otelriver.NewMiddleware(&otelriver.MiddlewareConfig{TracerProvider: a.tracer, EnableTracePropagation: true}),
	}
}

// jobTraceParent makes the job's work span a child of the span that inserted the job, so one
// trace runs from the HTTP request through the job to the channel call. otelriver writes the
// W3C traceparent into the job's metadata on insert but, on work, only links to it (a new trace
// per attempt); this puts that span context in the work context first, as the parent.
type jobTraceParent struct{ river.WorkerMiddlewareDefaults }

func (jobTraceParent) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	var meta map[string]any
	if len(job.Metadata) > 0 && json.Unmarshal(job.Metadata, &meta) == nil {
		carrier := propagation.MapCarrier{}
		for _, k := range (propagation.TraceContext{}).Fields() {
			if v, ok := meta[k].(string); ok {
				carrier[k] = v
			}
		}
		ctx = propagation.TraceContext{}.Extract(ctx, carrier)
	}
	return doInner(ctx)
}

func (a *App) echoTracing() echo.MiddlewareFunc {
	if a.tracer == nil {
		return nil
	}
	return otelecho.Middleware(a.Config.ServiceName, otelecho.WithTracerProvider(a.tracer), otelecho.WithPropagators(propagator))
}

func (a *App) wrapTransport() func(http.RoundTripper) http.RoundTripper {
	if a.tracer == nil {
		return nil
	}
	return func(rt http.RoundTripper) http.RoundTripper {
		return otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(a.tracer), otelhttp.WithPropagators(propagator))
	}
}

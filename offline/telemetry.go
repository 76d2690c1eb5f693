package offline

import (
	"context"
	"errors"
	"time"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/region"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/status"
)

const scope = "github.com/tandemfs/tandem/offline"

// telemetry holds the tracer and the instruments, made once in New.
type telemetry struct {
	tracer   trace.Tracer
	duration metric.Float64Histogram
	rows     metric.Int64Counter
	retries  metric.Int64Counter
}

func newTelemetry(tp trace.TracerProvider, mp metric.MeterProvider) (*telemetry, error) {
	m := mp.Meter(scope)
	t := &telemetry{tracer: tp.Tracer(scope)}
	var err error
	if t.duration, err = m.Float64Histogram("tandem.offline.operation.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of offline operations, a read counted to its last record batch.")); err != nil {
		return nil, err
	}
	if t.rows, err = m.Int64Counter("tandem.offline.rows",
		metric.WithUnit("{row}"), metric.WithDescription("Rows handed to callers by offline reads.")); err != nil {
		return nil, err
	}
	if t.retries, err = m.Int64Counter("tandem.offline.retries",
		metric.WithUnit("{retry}"), metric.WithDescription("Reads run again after a retryable failure.")); err != nil {
		return nil, err
	}
	return t, nil
}

// op is one traced operation. end is safe to call more than once; only the
// first call counts.
type op struct {
	t     *telemetry
	name  string
	span  trace.Span
	start time.Time
	attrs []attribute.KeyValue
	ended bool
}

func (t *telemetry) start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, *op) {
	base := []attribute.KeyValue{
		attribute.String("db.system", "hopsworks"),
		attribute.String("db.operation.name", name),
	}
	attrs = append(base, attrs...)
	ctx, span := t.tracer.Start(ctx, "offline."+name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx, &op{t: t, name: name, span: span, start: time.Now(), attrs: attrs}
}

func (o *op) setRegion(r region.ID, addr string) {
	kv := []attribute.KeyValue{attribute.String("tandem.region", string(r)), attribute.String("server.address", addr)}
	o.span.SetAttributes(kv...)
	o.attrs = append(o.attrs, kv[0])
}

func (o *op) end(err error, rows int64) {
	if o.ended {
		return
	}
	o.ended = true
	outcome := "ok"
	if err != nil {
		outcome = errorType(err)
		o.span.SetStatus(otelcodes.Error, err.Error())
		o.span.SetAttributes(attribute.String("error.type", outcome))
	}
	if rows > 0 {
		o.span.SetAttributes(attribute.Int64("tandem.rows", rows))
	}
	o.span.End()
	metricAttrs := []attribute.KeyValue{attribute.String("db.operation.name", o.name), attribute.String("tandem.outcome", outcome)}
	for _, kv := range o.attrs {
		if kv.Key == "tandem.region" {
			metricAttrs = append(metricAttrs, kv)
		}
	}
	set := metric.WithAttributes(metricAttrs...)
	ctx := context.Background()
	o.t.duration.Record(ctx, time.Since(o.start).Seconds(), set)
	if rows > 0 {
		o.t.rows.Add(ctx, rows, set)
	}
}

// errorType is the error.type attribute: a stable low-cardinality name.
func errorType(err error) string {
	for _, c := range []struct {
		err  error
		name string
	}{
		{ErrRegionChanged, "region_changed"},
		{aca.ErrNoActiveRegion, "no_active_region"},
		{aca.ErrStale, "stale_state"},
		{ErrClosed, "closed"},
		{ErrNoEndpoint, "no_endpoint"},
		{ErrNoQuerySource, "no_query_source"},
		{ErrBatchQuery, "batch_query"},
		{ErrBadQuery, "bad_query"},
		{ErrNotFound, "not_found"},
		{ErrUnauthorized, "unauthorized"},
		{ErrUnavailable, "unavailable"},
		{ErrTimeout, "timeout"},
		{context.Canceled, "canceled"},
		{context.DeadlineExceeded, "deadline_exceeded"},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	if s, ok := status.FromError(err); ok {
		return s.Code().String()
	}
	return "_OTHER"
}

package metadata

import (
	"context"
	"errors"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/tandemfs/tandem/internal/httpx"
	"github.com/tandemfs/tandem/region"
)

const scope = "github.com/tandemfs/tandem/metadata"

// telemetry holds the instruments, created once in New.
type telemetry struct {
	tracer    trace.Tracer
	requests  metric.Int64Counter
	duration  metric.Float64Histogram
	fallbacks metric.Int64Counter
	redirects metric.Int64Counter
}

func newTelemetry(tp trace.TracerProvider, mp metric.MeterProvider) (*telemetry, error) {
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	m := mp.Meter(scope)
	t := &telemetry{tracer: tp.Tracer(scope)}
	var errs [4]error
	t.requests, errs[0] = m.Int64Counter("tandem.metadata.requests",
		metric.WithDescription("Hopsworks REST requests, by region, operation and outcome."))
	t.duration, errs[1] = m.Float64Histogram("tandem.metadata.request.duration",
		metric.WithUnit("s"), metric.WithDescription("Hopsworks REST request latency per region attempt."))
	t.fallbacks, errs[2] = m.Int64Counter("tandem.metadata.fallbacks",
		metric.WithDescription("Reads that fell back from one region to another."))
	t.redirects, errs[3] = m.Int64Counter("tandem.metadata.write_redirects",
		metric.WithDescription("Writes refused as read-only and retried on the new active region."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return t, nil
}

// startAttempt starts a client span for one HTTP request to one region.
// Attributes follow the OTel HTTP client conventions; the URL's path is
// left out of url.full on purpose to keep spans small, and no header is
// recorded (the API key lives in one).
func (t *telemetry) startAttempt(ctx context.Context, op, method string, r region.ID, ep endpoint) (context.Context, trace.Span) {
	portNum, _ := strconv.Atoi(ep.port)
	return t.tracer.Start(ctx, "metadata "+op,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("http.request.method", method),
			attribute.String("server.address", ep.host),
			attribute.Int("server.port", portNum),
			attribute.String("url.scheme", ep.scheme),
			attribute.String("tandem.region", string(r)),
			attribute.String("tandem.metadata.op", op),
		))
}

func (t *telemetry) endAttempt(ctx context.Context, span trace.Span, op string, r region.ID, status int, start time.Time, err error) {
	outcome := "ok"
	if status != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	if err != nil {
		outcome = errorType(err)
		span.SetAttributes(attribute.String("error.type", outcome))
		// err.Error() never holds the API key: it is only ever in a header.
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	attrs := metric.WithAttributes(
		attribute.String("tandem.region", string(r)),
		attribute.String("tandem.metadata.op", op),
		attribute.String("outcome", outcome),
	)
	t.requests.Add(ctx, 1, attrs)
	t.duration.Record(ctx, time.Since(start).Seconds(), attrs)
}

// errorType is a low-cardinality name for err, for error.type and metrics.
func errorType(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, ErrInvalidQuery):
		return "invalid_query"
	case errors.Is(err, ErrOnlineDisabled):
		return "online_disabled"
	case errors.Is(err, ErrAlreadyExists):
		return "already_exists"
	case httpx.IsRedirect(err):
		return "redirect_refused"
	case errors.Is(err, ErrReadOnly):
		return "read_only"
	case errors.Is(err, ErrServer):
		return "server"
	case errors.Is(err, ErrBodyTooLarge):
		return "body_too_large"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return strconv.Itoa(ae.Status)
	}
	return "other"
}

package online

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/tandemfs/tandem/internal/hedge"
)

const scope = "github.com/tandemfs/tandem/online"

// telemetry holds the instruments, created once at construction
// (STYLE.md), and the per-server attribute sets, built once so the hot
// path does not allocate them.
type telemetry struct {
	tracer  trace.Tracer
	tracing bool // a tracer provider was given: spans are worth their cost

	duration    metric.Float64Histogram
	attemptDur  metric.Float64Histogram
	hedges      metric.Int64Counter
	ejections   metric.Int64Counter
	recoveries  metric.Int64Counter
	failovers   metric.Int64Counter
	reg         metric.Registration
	srvAttrs    map[*server]metric.MeasurementOption
	srvErrAttrs map[*server]metric.MeasurementOption
	// The same options as one-element slices, so recording does not
	// allocate a variadic slice per read.
	srvRec, srvErrRec     map[*server][]metric.RecordOption
	hedgedYesR, hedgedNoR []metric.RecordOption

	sent, won, suppressed metric.MeasurementOption
	hedgedYes, hedgedNo   metric.MeasurementOption
}

func newTelemetry(tp trace.TracerProvider, mp metric.MeterProvider) (*telemetry, error) {
	tracing := tp != nil
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	m := mp.Meter(scope)
	t := &telemetry{
		tracer:      tp.Tracer(scope),
		tracing:     tracing,
		srvRec:      map[*server][]metric.RecordOption{},
		srvErrRec:   map[*server][]metric.RecordOption{},
		srvAttrs:    map[*server]metric.MeasurementOption{},
		srvErrAttrs: map[*server]metric.MeasurementOption{},
		sent:        metric.WithAttributeSet(attribute.NewSet(attribute.String("tandem.hedge.event", "sent"))),
		won:         metric.WithAttributeSet(attribute.NewSet(attribute.String("tandem.hedge.event", "won"))),
		suppressed:  metric.WithAttributeSet(attribute.NewSet(attribute.String("tandem.hedge.event", "suppressed"))),
		hedgedYes:   metric.WithAttributeSet(attribute.NewSet(attribute.Bool("tandem.hedged", true))),
		hedgedNo:    metric.WithAttributeSet(attribute.NewSet(attribute.Bool("tandem.hedged", false))),
	}
	t.hedgedYesR = []metric.RecordOption{t.hedgedYes}
	t.hedgedNoR = []metric.RecordOption{t.hedgedNo}
	var err error
	if t.duration, err = m.Float64Histogram("tandem.online.duration", metric.WithUnit("s"),
		metric.WithDescription("Logical latency of online reads, as the caller saw it.")); err != nil {
		return nil, err
	}
	if t.attemptDur, err = m.Float64Histogram("tandem.online.attempt.duration", metric.WithUnit("s"),
		metric.WithDescription("Latency of each attempt, per region and server.")); err != nil {
		return nil, err
	}
	if t.hedges, err = m.Int64Counter("tandem.online.hedges",
		metric.WithDescription("Hedges by event: sent, won, suppressed (by the budget).")); err != nil {
		return nil, err
	}
	if t.ejections, err = m.Int64Counter("tandem.online.ejections",
		metric.WithDescription("Servers ejected for failures or slow attempts.")); err != nil {
		return nil, err
	}
	if t.recoveries, err = m.Int64Counter("tandem.online.recoveries",
		metric.WithDescription("Ejected servers whose probe succeeded.")); err != nil {
		return nil, err
	}
	if t.failovers, err = m.Int64Counter("tandem.online.failovers",
		metric.WithDescription("Attempts started at once after a transient error.")); err != nil {
		return nil, err
	}
	open, err := m.Int64ObservableGauge("tandem.online.connections.open",
		metric.WithDescription("Open connections per server."))
	if err != nil {
		return nil, err
	}
	delay, err := m.Float64ObservableGauge("tandem.online.hedge.delay", metric.WithUnit("s"),
		metric.WithDescription("Current adaptive hedge delay after an attempt on the server."))
	if err != nil {
		return nil, err
	}
	t.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for srv, a := range t.srvAttrs {
			o.ObserveInt64(open, int64(srv.pool.stats().open), a.(metric.ObserveOption))
			o.ObserveFloat64(delay, time.Duration(srv.hedgeNs.Load()).Seconds(), a.(metric.ObserveOption))
		}
		return nil
	}, open, delay)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// bind builds the per-server attribute sets once the servers exist.
func (t *telemetry) bind(servers []*server) {
	for _, srv := range servers {
		base := []attribute.KeyValue{
			attribute.String("tandem.region", string(srv.rs.Region)),
			attribute.String("tandem.server", srv.rs.Name),
		}
		t.srvAttrs[srv] = metric.WithAttributeSet(attribute.NewSet(base...))
		t.srvErrAttrs[srv] = metric.WithAttributeSet(attribute.NewSet(append(base, attribute.Bool("tandem.error", true))...))
		t.srvRec[srv] = []metric.RecordOption{t.srvAttrs[srv]}
		t.srvErrRec[srv] = []metric.RecordOption{t.srvErrAttrs[srv]}
	}
}

func (t *telemetry) close() {
	if t.reg != nil {
		_ = t.reg.Unregister()
	}
}

func (t *telemetry) start(ctx context.Context, n int) (context.Context, trace.Span) {
	if !t.tracing {
		return ctx, tracenoop.Span{}
	}
	return t.tracer.Start(ctx, "online.Query", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("db.system", "mysql"),
			attribute.String("db.operation.name", "SELECT"),
			attribute.Int("tandem.statements", n),
		))
}

func (t *telemetry) finish(ctx context.Context, span trace.Span, res *Result, out hedge.Outcome, err error) {
	if out.Hedges > 0 {
		t.hedges.Add(ctx, int64(out.Hedges), t.sent)
		if out.Winner > 0 && err == nil {
			t.hedges.Add(ctx, 1, t.won)
		}
	}
	if out.Suppressed {
		t.hedges.Add(ctx, 1, t.suppressed)
	}
	if n := out.Launched - 1 - out.Hedges; n > 0 {
		t.failovers.Add(ctx, int64(n))
	}
	hedged := t.hedgedNoR
	if res.Hedged {
		hedged = t.hedgedYesR
	}
	t.duration.Record(ctx, res.Latency.Seconds(), hedged...)
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("tandem.region", string(res.Region)),
			attribute.String("server.address", res.Server),
			attribute.Bool("tandem.hedged", res.Hedged),
			attribute.Int("tandem.attempts", res.Attempts),
		)
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
			span.SetAttributes(attribute.String("error.type", errorType(err)))
		}
	}
	span.End()
}

func (t *telemetry) attempt(srv *server, d time.Duration, err error) {
	a := t.srvRec[srv]
	if err != nil {
		a = t.srvErrRec[srv]
	}
	t.attemptDur.Record(context.Background(), d.Seconds(), a...)
}

func (t *telemetry) ejected(srv *server) {
	t.ejections.Add(context.Background(), 1, t.srvAttrs[srv].(metric.AddOption))
}

func (t *telemetry) recovered(srv *server) {
	t.recoveries.Add(context.Background(), 1, t.srvAttrs[srv].(metric.AddOption))
}

func errorType(err error) string {
	var re *RegionError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &re):
		if classify(err) == hedge.Fatal {
			return "statement"
		}
		return "unavailable"
	}
	return "other"
}

package featurestore

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
)

const scope = "github.com/tandemfs/tandem/featurestore"

// telemetry holds the instruments, created once at construction, and the
// attribute sets the hot path uses, built once so it does not allocate
// them.
type telemetry struct {
	tracer trace.Tracer

	vectors       metric.Int64Counter
	entities      metric.Int64Counter
	missing       metric.Int64Counter
	mixed         metric.Int64Counter
	duration      metric.Float64Histogram
	planLoads     metric.Int64Counter
	refreshErrors metric.Int64Counter
	cache         metric.Int64Counter
	unmatched     metric.Int64Counter

	// Option slices built once: passing a ready slice to a variadic
	// parameter allocates nothing on the hot path.
	spanOpts                    []trace.SpanStartOption
	addSingle, addBatch         []metric.AddOption
	addHit, addMiss             []metric.AddOption
	recSingleOK, recSingleError []metric.RecordOption
	recBatchOK, recBatchError   []metric.RecordOption
}

func newTelemetry(tp trace.TracerProvider, mp metric.MeterProvider) (*telemetry, error) {
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	m := mp.Meter(scope)
	set := func(kv ...attribute.KeyValue) metric.MeasurementOption {
		// Sets are built once here, never per measurement.
		return metric.WithAttributeSet(attribute.NewSet(kv...))
	}
	single := attribute.String("tandem.lookup", "single")
	batch := attribute.String("tandem.lookup", "batch")
	t := &telemetry{
		tracer:         tp.Tracer(scope),
		spanOpts:       []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)},
		addSingle:      []metric.AddOption{set(single)},
		addBatch:       []metric.AddOption{set(batch)},
		addHit:         []metric.AddOption{set(attribute.String("tandem.cache.result", "hit"))},
		addMiss:        []metric.AddOption{set(attribute.String("tandem.cache.result", "miss"))},
		recSingleOK:    []metric.RecordOption{set(single, attribute.Bool("tandem.error", false))},
		recSingleError: []metric.RecordOption{set(single, attribute.Bool("tandem.error", true))},
		recBatchOK:     []metric.RecordOption{set(batch, attribute.Bool("tandem.error", false))},
		recBatchError:  []metric.RecordOption{set(batch, attribute.Bool("tandem.error", true))},
	}
	var err error
	counter := func(dst *metric.Int64Counter, name, desc string) {
		if err == nil {
			*dst, err = m.Int64Counter(name, metric.WithDescription(desc))
		}
	}
	counter(&t.vectors, "tandem.featurestore.lookups", "Feature vector lookups (single and batch calls), by kind.")
	counter(&t.entities, "tandem.featurestore.entities", "Entities looked up, by lookup kind.")
	counter(&t.missing, "tandem.featurestore.entities.missing", "Entities with at least one feature group missing.")
	counter(&t.mixed, "tandem.featurestore.vectors.mixed", "Lookups whose feature groups were served by different regions.")
	counter(&t.planLoads, "tandem.featurestore.plan.loads", "Serving plans loaded from metadata.")
	counter(&t.refreshErrors, "tandem.featurestore.plan.refresh_errors", "Background plan refreshes that failed; the last good plan stays in use.")
	counter(&t.cache, "tandem.featurestore.cache", "Vector cache lookups, by result (hit, miss).")
	counter(&t.unmatched, "tandem.featurestore.rows.unmatched", "Batch rows that matched no entry's key (e.g. a collation that folds case).")
	if err != nil {
		return nil, err
	}
	if t.duration, err = m.Float64Histogram("tandem.featurestore.duration", metric.WithUnit("s"),
		metric.WithDescription("Latency of feature vector lookups, by kind and error.")); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *telemetry) startVector(ctx context.Context, name string, p *plan) (context.Context, trace.Span) {
	ctx, span := t.tracer.Start(ctx, name, t.spanOpts...)
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("tandem.feature_view", p.name),
			attribute.Int("tandem.feature_view.version", p.version),
			attribute.Int("tandem.feature_groups", len(p.groups)),
		)
	}
	return ctx, span
}

func (t *telemetry) endVector(ctx context.Context, span trace.Span, p *plan, v *Vector, err error, start time.Time) {
	t.vectors.Add(ctx, 1, t.addSingle...)
	t.entities.Add(ctx, 1, t.addSingle...)
	rec := t.recSingleOK
	if err != nil {
		rec = t.recSingleError
	}
	t.duration.Record(ctx, time.Since(start).Seconds(), rec...)
	if v != nil {
		if !v.Complete() {
			t.missing.Add(ctx, 1)
		}
		if v.MixedRegions {
			t.mixed.Add(ctx, 1)
		}
	}
	if span.IsRecording() {
		if v != nil {
			span.SetAttributes(
				attribute.String("tandem.region", string(v.Region)),
				attribute.Bool("tandem.hedged", v.Hedged),
				attribute.Bool("tandem.mixed_regions", v.MixedRegions),
				attribute.Bool("tandem.complete", v.Complete()),
				attribute.Bool("tandem.cached", v.Cached),
			)
		}
		t.fail(span, err)
	}
	span.End()
}

func (t *telemetry) endBatch(ctx context.Context, span trace.Span, b *Batch, n int, err error, start time.Time) {
	t.vectors.Add(ctx, 1, t.addBatch...)
	t.entities.Add(ctx, int64(n), t.addBatch...)
	rec := t.recBatchOK
	if err != nil {
		rec = t.recBatchError
	}
	t.duration.Record(ctx, time.Since(start).Seconds(), rec...)
	if b != nil {
		if b.Missing > 0 {
			t.missing.Add(ctx, int64(b.Missing))
		}
		if b.MixedRegions {
			t.mixed.Add(ctx, 1)
		}
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("tandem.entities", n))
		if b != nil {
			span.SetAttributes(
				attribute.String("tandem.region", string(b.Region)),
				attribute.Bool("tandem.hedged", b.Hedged),
				attribute.Bool("tandem.mixed_regions", b.MixedRegions),
				attribute.Int("tandem.entities.unique", b.Unique),
				attribute.Int("tandem.entities.missing", b.Missing),
			)
		}
		t.fail(span, err)
	}
	span.End()
}

func (t *telemetry) fail(span trace.Span, err error) {
	if err == nil {
		return
	}
	span.SetStatus(codes.Error, err.Error())
	span.SetAttributes(attribute.String("error.type", errorType(err)))
}

func (t *telemetry) cacheHit(ctx context.Context)  { t.cache.Add(ctx, 1, t.addHit...) }
func (t *telemetry) cacheMiss(ctx context.Context) { t.cache.Add(ctx, 1, t.addMiss...) }

func (t *telemetry) planLoaded(ctx context.Context)    { t.planLoads.Add(ctx, 1) }
func (t *telemetry) refreshFailed(ctx context.Context) { t.refreshErrors.Add(ctx, 1) }
func (t *telemetry) unmatchedRows(ctx context.Context, n int) {
	t.unmatched.Add(ctx, int64(n))
}

func errorType(err error) string {
	var ke *KeyError
	switch {
	case errors.As(err, &ke):
		return "serving_key"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, ErrInvalidPlan):
		return "plan"
	case errors.Is(err, ErrUnknownFeature):
		return "passed_feature"
	}
	return "online"
}

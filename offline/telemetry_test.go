package offline_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tandemfs/tandem/offline"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestTelemetry(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	e := newEnv(t, envOpts{opts: []offline.Option{
		offline.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))),
		offline.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
	}})
	ctx := ctxT(t, 10*time.Second)
	tbl, err := e.client.ReadBatchAll(ctx, testFV, testVersion, base.Add(100*time.Minute), base.Add(350*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	tbl.Release()
	if _, err := e.client.ReadBatch(ctx, "nope", 1, time.Time{}, time.Time{}); !errors.Is(err, offline.ErrNotFound) {
		t.Fatal(err)
	}

	ended := spans.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans, want 2", len(ended))
	}
	ok, failed := attrs(ended[0]), attrs(ended[1])
	if ended[0].Name() != "offline.ReadBatch" || ok["tandem.region"].AsString() != "eu" || ok["tandem.rows"].AsInt64() != 250 ||
		ok["db.operation.name"].AsString() != "ReadBatch" || ok["server.address"].AsString() != e.srv[eu].Addr() || ok["tandem.feature_view"].AsString() != testFV {
		t.Errorf("span %s attributes %v", ended[0].Name(), ok)
	}
	if ended[1].Status().Code != otelcodes.Error || failed["error.type"].AsString() != "not_found" {
		t.Errorf("failed span: status %v, attributes %v", ended[1].Status(), failed)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	var rows int64
	var durations uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if m.Name == "tandem.offline.rows" {
					for _, p := range d.DataPoints {
						rows += p.Value
					}
				}
			case metricdata.Histogram[float64]:
				if m.Name == "tandem.offline.operation.duration" {
					for _, p := range d.DataPoints {
						durations += p.Count
					}
				}
			}
		}
	}
	if rows != 250 || durations != 2 {
		t.Errorf("metrics: rows %d (want 250), durations recorded %d (want 2)", rows, durations)
	}
}

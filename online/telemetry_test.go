package online

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestTelemetryOfAHedgedRead(t *testing.T) {
	c := startCluster(t, 2)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())

	cfg := c.config("eu", "eu", "us")
	cfg.Hedge.Delay = 5 * time.Millisecond
	s := newStore(t, cfg, WithMeterProvider(mp), WithTracerProvider(tp))
	st := mustPrepare(t, s, qSingle)
	// Warm up without hedging: a cold first read (dial, prepare) may run
	// past the 5 ms delay.
	if _, err := s.Query(ctxT(t, 5*time.Second), st, []any{1}, NoHedge()); err != nil {
		t.Fatal(err)
	}
	c.servers[0].Proxy().SetStall(1, 300*time.Millisecond)
	res, err := s.Query(ctxT(t, 5*time.Second), st, []any{2})
	if err != nil || res.Region != "us" {
		t.Fatalf("res %+v err %v", res, err)
	}

	ended := spans.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans, want 2", len(ended))
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range ended[1].Attributes() {
		attrs[kv.Key] = kv.Value
	}
	if attrs["db.system"].AsString() != "mysql" || attrs["tandem.region"].AsString() != "us" || !attrs["tandem.hedged"].AsBool() {
		t.Fatalf("span attributes %v", attrs)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	hedges := map[string]int64{}
	var logical uint64
	openSeen := false
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch m.Name {
			case "tandem.online.hedges":
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					ev, _ := dp.Attributes.Value("tandem.hedge.event")
					hedges[ev.AsString()] += dp.Value
				}
			case "tandem.online.duration":
				for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
					logical += dp.Count
				}
			case "tandem.online.connections.open":
				openSeen = len(m.Data.(metricdata.Gauge[int64]).DataPoints) == 2
			}
		}
	}
	if hedges["sent"] != 1 || hedges["won"] != 1 {
		t.Fatalf("hedge counters %v, want sent 1 won 1", hedges)
	}
	if logical != 2 {
		t.Fatalf("logical latency count %d, want 2", logical)
	}
	if !openSeen {
		t.Fatal("no open-connections gauge per server")
	}
}

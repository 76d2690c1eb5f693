package aca

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != scopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, scopeName)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// intPoints returns the data points of an int64 gauge or sum; nil when the
// metric has none.
func intPoints(m map[string]metricdata.Metrics, name string) []metricdata.DataPoint[int64] {
	switch d := m[name].Data.(type) {
	case metricdata.Gauge[int64]:
		return d.DataPoints
	case metricdata.Sum[int64]:
		return d.DataPoints
	}
	return nil
}

func floatPoints(m map[string]metricdata.Metrics, name string) []metricdata.DataPoint[float64] {
	if d, ok := m[name].Data.(metricdata.Gauge[float64]); ok {
		return d.DataPoints
	}
	return nil
}

func attr(set attribute.Set, k attribute.Key) string {
	v, _ := set.Value(k)
	return v.AsString()
}

func TestClientMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	clk := newFakeClock()

	f, g := newFakeACA(t, euBody), newFakeACA(t, euBody)
	f.setFull(http.StatusServiceUnavailable, "text/plain", "not yet") // so no state is known at the first collection
	g.setFull(http.StatusServiceUnavailable, "text/plain", "not yet")
	bad := newFakeACA(t, euBody)
	bad.setFull(http.StatusServiceUnavailable, "text/plain", "no")
	badURL := strings.Replace(bad.URL, "http://", "http://u:hunter2@", 1) + "/judge?token=s3cret"
	c := newTestClient(t, Config{Endpoints: []string{f.URL, g.URL, badURL}, Local: "eu"},
		WithMeterProvider(mp), WithClock(clk))

	if m := collect(t, reader); len(intPoints(m, "tandem.aca.active")) != 0 {
		t.Fatalf("active-region gauge reports a region before any state is known: %+v", m["tandem.aca.active"])
	}
	f.set(euBody)
	g.set(euBody)
	waitReady(t, c)
	f.set(usBody)
	g.set(usBody)
	refresh(t, c)
	clk.Advance(3 * time.Second)

	m := collect(t, reader)
	active := intPoints(m, "tandem.aca.active")
	got := map[string]int64{}
	for _, dp := range active {
		got[attr(dp.Attributes, attrRegion)] = dp.Value
		if attr(dp.Attributes, attrLocalRegion) != "eu" {
			t.Errorf("active gauge point lacks the local region: %v", dp.Attributes)
		}
	}
	if len(got) != 2 || got["us"] != 1 || got["eu"] != 0 {
		t.Errorf("active gauge = %v, want us=1 eu=0", got)
	}

	stale := floatPoints(m, "tandem.aca.staleness")
	if len(stale) != 1 || stale[0].Value != 3 {
		t.Errorf("staleness = %+v, want 3s", stale)
	}

	changes := intPoints(m, "tandem.aca.changes")
	byRegion := map[string]int64{}
	for _, dp := range changes {
		byRegion[attr(dp.Attributes, attrRegion)] += dp.Value
	}
	if byRegion["eu"] != 1 || byRegion["us"] != 1 {
		t.Errorf("changes = %v, want eu=1 us=1", byRegion)
	}

	var badErrs int64
	for _, dp := range intPoints(m, "tandem.aca.poll.errors") {
		ep := attr(dp.Attributes, attrEndpoint)
		if strings.Contains(ep, "hunter2") || strings.Contains(ep, "s3cret") {
			t.Errorf("endpoint attribute %q leaks credentials or query", ep)
		}
		if typ := attr(dp.Attributes, attrErrorType); typ != "503" {
			t.Errorf("poll error of type %q, want 503", typ)
		}
		if strings.HasSuffix(ep, "/judge") {
			badErrs += dp.Value
		}
	}
	if badErrs < 2 { // the round that found eu, and the refresh that found us
		t.Errorf("poll errors of the bad endpoint = %d, want ≥ 2", badErrs)
	}
}

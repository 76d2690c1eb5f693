package featurestore_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tandemfs/tandem/featurestore"
)

// TestLocalOnlineStoreKilled: with the local MariaDB killed, every lookup
// still succeeds and names the remote region, whose rows it returns.
func TestLocalOnlineStoreKilled(t *testing.T) {
	e := newEnv(t)
	c := newClient(t, e.config("eu"))
	fv := mustView(t, c, viewName, 1)
	if _, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(1)); err != nil {
		t.Fatal(err)
	}
	if err := e.db["eu"].Kill(); err != nil {
		t.Fatal(err)
	}
	for aid := 1; aid <= 50; aid++ {
		v, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(aid))
		if err != nil {
			t.Fatalf("aid %d: %v", aid, err)
		}
		checkVector(t, v, aid, "us")
	}
	var entries []map[string]any
	for aid := 1; aid <= 100; aid++ {
		entries = append(entries, entry(aid))
	}
	b, err := fv.GetFeatureVectors(ctxT(t, 5*time.Second), entries)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b.Vectors {
		checkVector(t, &b.Vectors[i], i+1, "us")
	}
}

// TestMetadataDownAfterWarmUp: with both Hopsworks servers and the ACA
// stopped, lookups of a known view keep working, FeatureView still returns
// its handle at once, and failed refreshes are counted, well past the
// plan TTL.
func TestMetadataDownAfterWarmUp(t *testing.T) {
	e := newEnv(t)
	reader := metric.NewManualReader()
	mp := metric.NewMeterProvider(metric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	cfg := e.config("eu")
	cfg.PlanTTL = 200 * time.Millisecond
	cfg.MetadataTimeout = 200 * time.Millisecond
	c := newClient(t, cfg, featurestore.WithMeterProvider(mp))
	fv := mustView(t, c, viewName, 1)
	loaded := fv.LoadedAt()
	// Let one background refresh succeed first.
	waitFor(t, 5*time.Second, "a background refresh", func() bool { return fv.LoadedAt().After(loaded) })

	e.hw["eu"].Close()
	e.hw["us"].Close()
	e.aca.ts.Close()
	time.Sleep(3 * cfg.PlanTTL)
	for aid := 1; aid <= 20; aid++ {
		start := time.Now()
		fv2, err := c.FeatureView(ctxT(t, 5*time.Second), viewName, 1)
		if err != nil {
			t.Fatalf("FeatureView with metadata down: %v", err)
		}
		if el := time.Since(start); el > 50*time.Millisecond {
			t.Fatalf("FeatureView of a known view took %v with metadata down", el)
		}
		if fv2 != fv {
			t.Fatal("a new handle for a known view")
		}
		v, err := fv2.GetFeatureVector(ctxT(t, 5*time.Second), entry(aid))
		if err != nil {
			t.Fatal(err)
		}
		checkVector(t, v, aid, "eu")
		time.Sleep(10 * time.Millisecond)
	}
	waitFor(t, 5*time.Second, "refresh errors to be counted", func() bool {
		return counter(t, reader, "tandem.featurestore.plan.refresh_errors") > 0
	})
	// An unknown view cannot be served, and says why.
	if _, err := c.FeatureView(ctxT(t, 10*time.Second), "other", 1); err == nil {
		t.Fatal("loaded an unknown view with metadata down")
	}
}

// TestRegionConsistencyUnderStalls: with 20% of the local region's
// requests stalled by 30ms (docs/ARCHITECTURE.md §6, S2), default vectors never mix
// regions; with PerStatementHedging some do, and each is counted.
func TestRegionConsistencyUnderStalls(t *testing.T) {
	e := newEnv(t)
	reader := metric.NewManualReader()
	mp := metric.NewMeterProvider(metric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	c := newClient(t, e.config("eu"), featurestore.WithMeterProvider(mp))
	fv := mustView(t, c, viewName, 1)
	for aid := 1; aid <= 100; aid++ { // warm pools and the adaptive delay
		if _, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(aid)); err != nil {
			t.Fatal(err)
		}
	}
	e.db["eu"].Proxy().SetStall(0.2, 30*time.Millisecond)
	const n = 200
	run := func(opts ...featurestore.VectorOption) (mixed, hedged int) {
		for i := range n {
			aid := i%nRows + 1
			v, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(aid), opts...)
			if err != nil {
				t.Fatal(err)
			}
			b, cc, tier := account(aid)
			if v.Values[0] != b || v.Values[4] != cc {
				t.Fatalf("aid %d: %v", aid, v.Values)
			}
			// Each group's row names the region that served it.
			if v.Values[5] != string(v.Groups[0].Region) || (cc != "FR" && v.Values[3] != string(v.Groups[1].Region)) {
				t.Fatalf("aid %d: rows %v, groups %+v", aid, v.Values, v.Groups)
			}
			_ = tier
			if v.MixedRegions {
				mixed++
			}
			if v.Hedged {
				hedged++
			}
		}
		return mixed, hedged
	}
	mixed, hedged := run()
	t.Logf("one group per vector: %d/%d hedged, %d mixed", hedged, n, mixed)
	if mixed != 0 {
		t.Fatalf("%d vectors mixed regions by default", mixed)
	}
	if got := counter(t, reader, "tandem.featurestore.vectors.mixed"); got != 0 {
		t.Fatalf("mixed counter %d", got)
	}
	mixed, hedged = run(featurestore.PerStatementHedging())
	t.Logf("per-statement hedging: %d/%d hedged, %d mixed", hedged, n, mixed)
	if got := counter(t, reader, "tandem.featurestore.vectors.mixed"); got != int64(mixed) {
		t.Fatalf("mixed counter %d, counted %d", got, mixed)
	}
	if mixed == 0 {
		t.Fatalf("no vector mixed regions under per-statement hedging (%d hedged)", hedged)
	}
}

// counter sums an int64 counter over its attribute sets.
func counter(t testing.TB, r *metric.ManualReader, name string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			if s, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range s.DataPoints {
					n += dp.Value
				}
			}
		}
	}
	return n
}

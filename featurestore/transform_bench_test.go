package featurestore_test

import (
	"testing"
	"time"

	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/internal/hopsworkstest"
	"github.com/tandemfs/tandem/internal/mariadbtest"
)

// benchTransformView is a view of 10 features with 5 model-dependent
// built-ins (BenchmarkTransformVector).
func benchTransformView(e *env) {
	d := fraudView("bench_tf", 1)
	d.Features = []hopsworkstest.ViewFeatureDef{
		{Name: "balance", Join: 0}, {Name: "c_tax", Join: 1, FeatureGroupFeatureName: "tax"}, {Name: "aid", Join: 0},
		{Name: "c_src", Join: 1, FeatureGroupFeatureName: "src"}, {Name: "country", Join: 0}, {Name: "src", Join: 0},
		{Name: "tier", Join: 0}, {Name: "fraud", Join: 0}, {Name: "helper", Join: 0}, {Name: "c_cc", Join: 1, FeatureGroupFeatureName: "cc"},
	}
	e.store.AddFeatureView(d)
	fn := func(name, f string) hopsworkstest.TransformationDef {
		return hopsworkstest.TransformationDef{Name: name, Features: []string{f}, Dropped: []string{"feature"}, Statistics: true}
	}
	fl := hopsworkstest.F
	e.store.SetTransformations("bench_tf", 1, hopsworkstest.TransformationsDef{
		ModelDependent: []hopsworkstest.TransformationDef{
			fn("min_max_scaler", "balance"), fn("standard_scaler", "c_tax"), fn("label_encoder", "country"),
			fn("impute_mean", "tier"), fn("label_encoder", "src"),
		},
		Statistics: map[int][]hopsworkstest.FeatureStatisticsDef{1: {
			{Feature: "balance", Min: fl(0), Max: fl(1500)},
			{Feature: "c_tax", Mean: fl(0.2), StdDev: fl(0.1)},
			{Feature: "country", UniqueValues: []any{"SE", "US", "DE", "FR"}},
			{Feature: "tier", Mean: fl(1)},
			{Feature: "src", UniqueValues: []any{"eu", "us"}},
		}},
	})
}

// BenchmarkTransformVector reads a vector of 10 features through 5
// model-dependent built-ins (transformed) and the same vector with
// Transform(false) (raw); the difference is what the transformations add.
//
//	go test -run XXX -bench TransformVector -benchtime 3s ./featurestore/
func BenchmarkTransformVector(b *testing.B) {
	e := newEnvOpts(b, mariadbtest.Options{})
	benchTransformView(e)
	c := newClient(b, e.config("eu"))
	fv := mustView(b, c, "bench_tf", 1)
	for _, mode := range []struct {
		name string
		opts []featurestore.VectorOption
	}{{"raw", []featurestore.VectorOption{featurestore.Transform(false)}}, {"transformed", nil}} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := ctxT(b, time.Minute)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := fv.GetFeatureVector(ctx, entry(1+i%nRows), mode.opts...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, mode := range []struct {
		name string
		opts []featurestore.VectorOption
	}{{"batch100_raw", []featurestore.VectorOption{featurestore.Transform(false)}}, {"batch100_transformed", nil}} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := ctxT(b, time.Minute)
			entries := make([]map[string]any, 100)
			for i := range entries {
				entries[i] = entry(1 + i)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fv.GetFeatureVectors(ctx, entries, mode.opts...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package featurestore

import (
	"fmt"
	"testing"

	"github.com/tandemfs/tandem/internal/transform"
)

// BenchmarkTransformStep is the transformation step of the vector path
// alone, in process: a fetched vector of 10 features through 5
// model-dependent built-ins (transformVector), and a batch of 100.
//
//	go test -run XXX -bench TransformStep ./featurestore/
func BenchmarkTransformStep(b *testing.B) {
	names := make([]string, 10)
	raw := make([]any, 10)
	st := map[string]transform.Statistics{}
	for i := range names {
		names[i] = fmt.Sprintf("f%d", i)
		raw[i] = float64(i*10 + 3)
		s := transform.NoStatistics(names[i])
		s.Min, s.Max, s.Mean, s.StdDev = 0, 100, 50, 10
		s.UniqueValues, s.HasUniqueValues = []any{"a", "b", "c"}, true
		st[names[i]] = s
	}
	raw[3] = "b"
	mdt := []transform.Function{
		{Name: "min_max_scaler", Features: []string{"f0"}, Dropped: []string{"f0"}},
		{Name: "standard_scaler", Features: []string{"f1"}, Dropped: []string{"f1"}},
		{Name: "log_transform", Features: []string{"f2"}, Dropped: []string{"f2"}},
		{Name: "label_encoder", Features: []string{"f3"}, Dropped: []string{"f3"}},
		{Name: "impute_mean", Features: []string{"f4"}, Dropped: []string{"f4"}},
	}
	prog, err := transform.Compile(transform.Spec{Features: names, ModelDependent: mdt, Statistics: st})
	if err != nil {
		b.Fatal(err)
	}
	p := &plan{name: "bench", version: 1, names: names, tf: &transformPlan{prog: prog, names: prog.Names()}}
	var o vectorOpts
	b.Run("vector", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v := &Vector{Names: names, Values: raw}
			if _, err := p.transformVector(v, nil, &o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("batch100", func(b *testing.B) {
		bt := &Batch{Vectors: make([]Vector, 100)}
		entries := make([]map[string]any, 100)
		b.ReportAllocs()
		for b.Loop() {
			for i := range bt.Vectors {
				bt.Vectors[i].Values = raw
			}
			if err := p.transformBatch(bt, entries, &o); err != nil {
				b.Fatal(err)
			}
		}
	})
}

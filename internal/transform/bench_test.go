package transform

import (
	"fmt"
	"testing"
)

// benchSpec: 10 raw features, 5 model-dependent built-ins.
func benchSpec() (Spec, []any) {
	feats := make([]string, 10)
	raw := make([]any, 10)
	for i := range feats {
		feats[i] = fmt.Sprintf("f%d", i)
		raw[i] = float64(i*10 + 3)
	}
	raw[3] = "b"
	st := map[string]Statistics{}
	for _, f := range feats {
		s := NoStatistics(f)
		s.Min, s.Max, s.Mean, s.StdDev = 0, 100, 50, 10
		s.UniqueValues, s.HasUniqueValues = []any{"a", "b", "c"}, true
		st[f] = s
	}
	return Spec{
		Features: feats,
		ModelDependent: []Function{
			{Name: "min_max_scaler", Features: []string{"f0"}, Dropped: []string{"f0"}},
			{Name: "standard_scaler", Features: []string{"f1"}, Dropped: []string{"f1"}},
			{Name: "log_transform", Features: []string{"f2"}, Dropped: []string{"f2"}},
			{Name: "label_encoder", Features: []string{"f3"}, Dropped: []string{"f3"}},
			{Name: "impute_mean", Features: []string{"f4"}, Dropped: []string{"f4"}},
		},
		Statistics: st,
	}, raw
}

func BenchmarkTransformRun(b *testing.B) {
	s, raw := benchSpec()
	p, err := Compile(s)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Run(raw, Input{}, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTransformRunBatch100(b *testing.B) {
	s, raw := benchSpec()
	p, err := Compile(s)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.RunBatch(100, func(int) []any { return raw }, func(int) Input { return Input{} }, true); err != nil {
			b.Fatal(err)
		}
	}
}

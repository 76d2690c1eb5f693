package transform

import (
	"testing"
)

// FuzzParseExtended feeds extendedStatistics texts (the JSON string inside
// FeatureDescriptiveStatisticsDTO) to the parser and the built-ins that
// read them: no panic, whatever the server sends.
func FuzzParseExtended(f *testing.F) {
	for _, s := range []string{
		`{"unique_values":["a","b"],"histogram":[{"value":"a","count":3}]}`,
		`{"unique_values":[1,2.5,null,true,{"x":1}],"histogram":{"not":"a list"}}`,
		`{"histogram":[{"value":null},{"count":"x"},1]}`, `{}`, `null`, `[]`, `{"unique_values":"x"}`, ``, `{`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s := NoStatistics("f")
		if err := s.ParseExtended(text); err != nil {
			return
		}
		for _, name := range []string{"label_encoder", "one_hot_encoder", "top_k_categorical_binner", "impute_mode"} {
			k, n := newBuiltin(name, s, nil)
			in := []any{"a", nil, 1.0, int64(2)}
			out := make([]any, len(in)*n)
			_, _ = k.run(boxer{}, in, out, len(in), len(in), 1)
		}
	})
}

package transform

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

// Every expected value below is worked out by hand from the formula of
// the function in python/hsfs/builtin_transformations.py
// (logicalclocks/hopsworks-api); the arithmetic is in the case comment.

var nan = math.NaN()

// seq is a percentile list p[i] = i, i = 0..99 (so p[24]=24, p[49]=49, p[74]=74).
func seq() []float64 {
	p := make([]float64, 100)
	for i := range p {
		p[i] = float64(i)
	}
	return p
}

func constant(v float64, n int) []float64 {
	p := make([]float64, n)
	for i := range p {
		p[i] = v
	}
	return p
}

func stats(mod func(*Statistics)) Statistics {
	s := NoStatistics("f")
	if mod != nil {
		mod(&s)
	}
	return s
}

type bcase struct {
	name string
	fn   string
	st   Statistics
	ctx  map[string]any
	in   []any
	want [][]any // per output column
}

func runBuiltin(t *testing.T, c bcase) [][]any {
	t.Helper()
	k, nout := newBuiltin(c.fn, c.st, c.ctx)
	if k == nil {
		t.Fatalf("%s is no built-in", c.fn)
	}
	n := len(c.in)
	out := make([]any, n*nout)
	var b boxer
	if _, err := k.run(b, c.in, out, n, n, 1); err != nil {
		t.Fatal(err)
	}
	cols := make([][]any, nout)
	for j := range cols {
		cols[j] = out[j*n : j*n+n]
	}
	return cols
}

func same(a, b any) bool {
	fa, oka := a.(float64)
	fb, okb := b.(float64)
	if oka && okb {
		if math.IsNaN(fa) || math.IsNaN(fb) {
			return math.IsNaN(fa) && math.IsNaN(fb)
		}
		return math.Abs(fa-fb) <= 1e-12*math.Max(1, math.Abs(fb))
	}
	return reflect.DeepEqual(a, b)
}

func TestBuiltins(t *testing.T) {
	mm := func(lo, hi float64) Statistics { return stats(func(s *Statistics) { s.Min, s.Max = lo, hi }) }
	std := func(m, sd float64) Statistics { return stats(func(s *Statistics) { s.Mean, s.StdDev = m, sd }) }
	pct := func(p []float64) Statistics { return stats(func(s *Statistics) { s.Percentiles = p }) }
	uv := func(v ...any) Statistics {
		return stats(func(s *Statistics) { s.UniqueValues, s.HasUniqueValues = v, true })
	}
	hist := func(h ...HistogramBin) Statistics {
		return stats(func(s *Statistics) { s.Histogram, s.HasHistogram = h, true })
	}
	cases := []bcase{
		// min_max_scaler: (x-min)/(max-min), min=10 max=30: (15-10)/20=0.25, (30-10)/20=1,
		// (5-10)/20=-0.25, int64 20 -> 10/20=0.5; None -> nil (hsfs raises TypeError online).
		{"min_max", "min_max_scaler", mm(10, 30), nil, []any{15.0, 30.0, 5.0, int64(20), nil}, [][]any{{0.25, 1.0, -0.25, 0.5, nil}}},
		// zero range: x - min = 15-10 = 5; NaN min: x - 0 = 15.
		{"min_max zero range", "min_max_scaler", mm(10, 10), nil, []any{15.0}, [][]any{{5.0}}},
		{"min_max no stats", "min_max_scaler", mm(nan, nan), nil, []any{15.0}, [][]any{{15.0}}},
		// NaN input: (NaN-10)/20 = NaN.
		{"min_max NaN", "min_max_scaler", mm(10, 30), nil, []any{nan}, [][]any{{nan}}},
		// standard_scaler: (x-mean)/std, mean=50 std=10: (65-50)/10=1.5, (40-50)/10=-1.
		{"standard", "standard_scaler", std(50, 10), nil, []any{65.0, int64(40), nil}, [][]any{{1.5, -1.0, nil}}},
		// std 0: x-mean = 65-50 = 15; mean NaN: the feature unchanged (int64 stays int64).
		{"standard std 0", "standard_scaler", std(50, 0), nil, []any{65.0}, [][]any{{15.0}}},
		{"standard no mean", "standard_scaler", std(nan, 10), nil, []any{int64(65)}, [][]any{{int64(65)}}},
		// robust_scaler: p[i]=i: q2=p[49]=49, iqr=p[74]-p[24]=50: (99-49)/50=1, (24-49)/50=-0.5; None -> NaN.
		{"robust", "robust_scaler", pct(seq()), nil, []any{99.0, int64(24), nil}, [][]any{{1.0, -0.5, nan}}},
		// constant percentiles 7: iqr=0 -> x - q2 = 10-7 = 3; fewer than 75 percentiles: float(x).
		{"robust iqr 0", "robust_scaler", pct(constant(7, 100)), nil, []any{10.0}, [][]any{{3.0}}},
		{"robust few percentiles", "robust_scaler", pct(constant(7, 10)), nil, []any{int64(3)}, [][]any{{3.0}}},
		// label_encoder: sorted(["b","a","c"]) = a,b,c: c->2, a->0, unseen z -> -1, None/NaN -> NA.
		{"label", "label_encoder", uv("b", "a", "c"), nil, []any{"c", "a", "z", nil, nan}, [][]any{{int64(2), int64(0), int64(-1), nil, nil}}},
		// numbers: sorted([3,1,2]) = 1,2,3: int64 2 == 2.0 -> 1 (Python dict equality).
		{"label numbers", "label_encoder", uv(3.0, 1.0, 2.0), nil, []any{int64(2)}, [][]any{{int64(1)}}},
		// one_hot_encoder: columns sorted: blue, green, red. red -> F,F,T; unseen purple and None -> all F.
		{"one_hot", "one_hot_encoder", uv("red", "green", "blue"), nil, []any{"red", "purple", nil, "blue"},
			[][]any{{false, false, false, true}, {false, false, false, false}, {true, false, false, false}}},
		// log_transform: ln(e)=1, ln(1)=0, 0 and -1 -> NaN, None -> NaN.
		{"log", "log_transform", stats(nil), nil, []any{math.E, int64(1), 0.0, -1.0, nil}, [][]any{{1.0, 0.0, nan, nan, nan}}},
		// equal_width_binner: min 0 max 10, 10 bins: edges -inf,1,2,...,9,inf, right-closed.
		// 0 -> (-inf,1] bin 0; 1 -> bin 0; 1.5 -> (1,2] bin 1; 10 -> (9,inf] bin 9; 100 -> 9; -5 -> 0; None -> NA.
		{"equal_width", "equal_width_binner", mm(0, 10), nil, []any{0.0, 1.0, 1.5, 10.0, 100.0, -5.0, nil},
			[][]any{{int64(0), int64(0), int64(1), int64(9), int64(9), int64(0), nil}}},
		// n_bins 4: linspace(0,10,5) = 0,2.5,5,7.5,10 -> -inf,2.5,5,7.5,inf: 6 -> (5,7.5] bin 2.
		{"equal_width n_bins", "equal_width_binner", mm(0, 10), map[string]any{"n_bins": 4}, []any{6.0}, [][]any{{int64(2)}}},
		// n_bins 1 -> max(2,1) = 2 bins: -inf,5,inf: 5 -> 0, 5.1 -> 1.
		{"equal_width n_bins 1", "equal_width_binner", mm(0, 10), map[string]any{"n_bins": 1}, []any{5.0, 5.1}, [][]any{{int64(0), int64(1)}}},
		// min == max: every value bin 0, None NA.
		{"equal_width constant", "equal_width_binner", mm(3, 3), nil, []any{100.0, nil}, [][]any{{int64(0), nil}}},
		// equal_frequency_binner: edges -inf,24,49,74,inf: 24->0, 24.5->1, 49->1, 50->2, 74->2, 75->3.
		{"equal_frequency", "equal_frequency_binner", pct(seq()), nil, []any{24.0, 24.5, 49.0, 50.0, 74.0, 75.0, nil},
			[][]any{{int64(0), int64(1), int64(1), int64(2), int64(2), int64(3), nil}}},
		// constant quartiles 7: np.unique -> -inf,7,inf: 7 -> 0, 8 -> 1.
		{"equal_frequency constant", "equal_frequency_binner", pct(constant(7, 100)), nil, []any{7.0, 8.0}, [][]any{{int64(0), int64(1)}}},
		// fewer than 75 percentiles: bin 0.
		{"equal_frequency few", "equal_frequency_binner", pct(constant(7, 10)), nil, []any{8.0, nil}, [][]any{{int64(0), nil}}},
		// quantile_binner is the same code: 50 -> 2.
		{"quantile_binner", "quantile_binner", pct(seq()), nil, []any{50.0, 0.0}, [][]any{{int64(2), int64(0)}}},
		// quantile_transformer: p=0,10,20,30,40 at 0,.25,.5,.75,1: 15 -> .25+(.5-.25)/10*5 = .375;
		// -5 -> 0 (left), 50 -> 1 (right), 40 -> 1; None -> NaN.
		{"quantile_transformer", "quantile_transformer", pct([]float64{0, 10, 20, 30, 40}), nil, []any{15.0, -5.0, 50.0, 40.0, nil},
			[][]any{{0.375, 0.0, 1.0, 1.0, nan}}},
		// duplicates: p=0,10,10,20 at 0,1/3,2/3,1; keep 0,10,20 at 0,1/3,1: 15 -> 1/3+(1-1/3)/10*5 = 2/3.
		{"quantile_transformer dup", "quantile_transformer", pct([]float64{0, 10, 10, 20}), nil, []any{15.0}, [][]any{{2.0 / 3}}},
		// all equal -> 0.5; a single percentile -> float(x).
		{"quantile_transformer constant", "quantile_transformer", pct([]float64{5, 5, 5}), nil, []any{1.0, nil}, [][]any{{0.5, nan}}},
		{"quantile_transformer one", "quantile_transformer", pct([]float64{5}), nil, []any{int64(1)}, [][]any{{1.0}}},
		// rank_normalizer: searchsorted(p, x, right)/5 over 0,10,20,30,40: 10 -> 2/5, -1 -> 0, 100 -> 1, 25 -> 3/5.
		{"rank", "rank_normalizer", pct([]float64{0, 10, 20, 30, 40}), nil, []any{10.0, -1.0, 100.0, 25.0, nil},
			[][]any{{0.4, 0.0, 1.0, 0.6, nan}}},
		// winsorize: p[i]=i, bounds p[1]=1, p[99]=99: 0 -> 1, 100 -> 99, 50 -> 50, None -> NaN.
		{"winsorize", "winsorize", pct(seq()), nil, []any{0.0, 100.0, int64(50), nil}, [][]any{{1.0, 99.0, 50.0, nan}}},
		// p_low 2.5 -> round half to even = 2 -> p[2] = 2; p_high 95 -> 95.
		{"winsorize ctx", "winsorize", pct(seq()), map[string]any{"p_low": 2.5, "p_high": 95}, []any{0.0, 96.0}, [][]any{{2.0, 95.0}}},
		// lower >= upper (p = 3,3): unchanged.
		{"winsorize flat", "winsorize", pct([]float64{3, 3}), nil, []any{10.0}, [][]any{{10.0}}},
		// top_k_categorical_binner, top_n 2: by count desc (stable): b9, a5, c5, d1 -> keep b, a.
		{"top_k", "top_k_categorical_binner", hist(HistogramBin{"a", 5}, HistogramBin{"b", 9}, HistogramBin{"c", 5}, HistogramBin{"d", 1}),
			map[string]any{"top_n": 2}, []any{"c", "a", "b", nil, "new"}, [][]any{{"Other", "a", "b", nil, "Other"}}},
		// no histogram: first top_n unique values x, y.
		{"top_k unique", "top_k_categorical_binner", uv("x", "y", "z"), map[string]any{"top_n": 2, "other_label": "Rare"},
			[]any{"z", "y"}, [][]any{{"Rare", "y"}}},
		// no statistics at all: unchanged.
		{"top_k none", "top_k_categorical_binner", stats(nil), nil, []any{"q"}, [][]any{{"q"}}},
		// impute_mean 2.5: None -> 2.5, int64 4 -> 4.0; mean NaN: None stays NaN.
		{"impute_mean", "impute_mean", std(2.5, nan), nil, []any{nil, int64(4), nan}, [][]any{{2.5, 4.0, 2.5}}},
		{"impute_mean none", "impute_mean", std(nan, nan), nil, []any{nil}, [][]any{{nan}}},
		// impute_median: p[49] = 49; fewer than 50 percentiles: NaN stays.
		{"impute_median", "impute_median", pct(seq()), nil, []any{nil, 3.0}, [][]any{{49.0, 3.0}}},
		{"impute_median few", "impute_median", pct(constant(1, 10)), nil, []any{nil}, [][]any{{nan}}},
		// impute_constant: default 0.0; context value -1.
		{"impute_constant", "impute_constant", stats(nil), nil, []any{nil, int64(7)}, [][]any{{0.0, 7.0}}},
		{"impute_constant ctx", "impute_constant", stats(nil), map[string]any{"value": -1}, []any{nil}, [][]any{{-1.0}}},
		// impute_mode: mode is y (count 3): None -> "y"; others unchanged.
		{"impute_mode", "impute_mode", hist(HistogramBin{"x", 1}, HistogramBin{"y", 3}), nil, []any{nil, "z", int64(5)},
			[][]any{{"y", "z", int64(5)}}},
		// numeric mode value 2.0 -> str(2.0) = "2.0".
		{"impute_mode number", "impute_mode", hist(HistogramBin{2.0, 3}), nil, []any{nil}, [][]any{{"2.0"}}},
		// no histogram: astype(str) where not null: 5 -> "5", 1.5 -> "1.5", None stays NA.
		{"impute_mode none", "impute_mode", stats(nil), nil, []any{int64(5), 1.5, nil, "s"}, [][]any{{"5", "1.5", nil, "s"}}},
		// impute_category: "__MISSING__" (constants.TRANSFORMATIONS.MISSING), or context value.
		{"impute_category", "impute_category", stats(nil), nil, []any{nil, "a"}, [][]any{{"__MISSING__", "a"}}},
		{"impute_category ctx", "impute_category", stats(nil), map[string]any{"value": "Unknown"}, []any{nil}, [][]any{{"Unknown"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := runBuiltin(t, c)
			if len(got) != len(c.want) {
				t.Fatalf("%d outputs, want %d", len(got), len(c.want))
			}
			for j := range got {
				for r := range got[j] {
					if !same(got[j][r], c.want[j][r]) {
						t.Errorf("output %d row %d (input %v): got %#v, want %#v", j, r, c.in[r], got[j][r], c.want[j][r])
					}
				}
			}
		})
	}
}

func TestBuiltinWrongType(t *testing.T) {
	k, _ := newBuiltin("min_max_scaler", NoStatistics("f"), nil)
	var b boxer
	_, err := k.run(b, []any{"twelve"}, make([]any, 1), 1, 1, 1)
	if !errors.Is(err, ErrType) {
		t.Fatalf("got %v, want ErrType", err)
	}
}

func TestOutputNames(t *testing.T) {
	cases := []struct {
		name     string
		fn       string
		features []string
		prefix   string
		dropped  []string
		n        int
		onDemand bool
		want     []string
	}{
		{"model-dependent", "min_max_scaler", []string{"amount"}, "", []string{"amount"}, 1, false, []string{"min_max_scaler_amount_"}},
		// HopsworksUdf.output_column_names prefixes the generated name, which already holds the prefixed features.
		{"prefixed", "min_max_scaler", []string{"amount"}, "p_", []string{"amount"}, 1, false, []string{"p_min_max_scaler_p_amount_"}},
		{"one hot", "one_hot_encoder", []string{"color"}, "", []string{"color"}, 3, false,
			[]string{"one_hot_encoder_color_0", "one_hot_encoder_color_1", "one_hot_encoder_color_2"}},
		{"two inputs", "ratio", []string{"a", "b"}, "", nil, 1, false, []string{"ratio_a_b_"}},
		{"on-demand", "price_ratio", []string{"price", "qty"}, "", nil, 1, true, []string{"price_ratio"}},
		{"on-demand several", "split", []string{"x"}, "", nil, 2, true, []string{"split_0", "split_1"}},
		// function named like its input, which it does not drop: that name.
		{"same name", "amount", []string{"amount"}, "", nil, 1, false, []string{"amount"}},
		{"same name dropped", "amount", []string{"amount"}, "", []string{"amount"}, 1, false, []string{"amount_amount_"}},
		// 15+50+1 = 66 > 63: cut to the first 63 (Python's name[:63]).
		{"long", "min_max_scaler", []string{"a234567890123456789012345678901234567890123456789X"}, "", nil, 1, false,
			[]string{"min_max_scaler_a23456789012345678901234567890123456789012345678"}},
		// several: 16+50+1+1 = 68 > 63: name[:63-(2+1)] (60 characters) plus "_i".
		{"long several", "one_hot_encoder", []string{"a2345678901234567890123456789012345678901234567890"}, "", nil, 2, false,
			[]string{"one_hot_encoder_a2345678901234567890123456789012345678901234_0", "one_hot_encoder_a2345678901234567890123456789012345678901234_1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := OutputNames(c.fn, c.features, c.prefix, c.dropped, c.n, c.onDemand)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

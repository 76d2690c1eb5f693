package transform

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

// view: raw features id, amount, color, price, qty, ratio (on-demand
// ratio = price/qty). Model-dependent: min_max_scaler(amount),
// one_hot_encoder(color), standard_scaler(ratio) (chained on the
// on-demand output).
func testSpec() Spec {
	st := map[string]Statistics{
		"amount": {FeatureName: "amount", Min: 0, Max: 200, Mean: nan, StdDev: nan},
		"color":  {FeatureName: "color", Min: nan, Max: nan, Mean: nan, StdDev: nan, UniqueValues: []any{"red", "blue"}, HasUniqueValues: true},
		"ratio":  {FeatureName: "ratio", Min: nan, Max: nan, Mean: 2, StdDev: 0.5},
	}
	return Spec{
		Features: []string{"id", "amount", "color", "price", "qty", "ratio"},
		ModelDependent: []Function{
			{Name: "standard_scaler", Features: []string{"ratio"}, Dropped: []string{"ratio"}},
			{Name: "min_max_scaler", Features: []string{"amount"}, Dropped: []string{"amount"}},
			{Name: "one_hot_encoder", Features: []string{"color"}, Dropped: []string{"color"}},
		},
		OnDemand:   []Function{{Name: "ratio", Features: []string{"price", "qty"}, OutputTypes: []string{"double"}}},
		Statistics: st,
		UDFs: map[string]UDF{"ratio": {Arity: 2, Fn: func(in, out [][]any) error {
			for r := range in[0] {
				p, _ := in[0][r].(float64)
				q, _ := in[1][r].(float64)
				out[0][r] = p / q
			}
			return nil
		}}},
	}
}

func TestProgramOrderAndValues(t *testing.T) {
	p, err := Compile(testSpec())
	if err != nil {
		t.Fatal(err)
	}
	// Kept raw features in raw order, then the outputs sorted by first name:
	// min_max_scaler_amount_ < one_hot_encoder_color_0 < standard_scaler_ratio_.
	want := []string{"id", "price", "qty", "min_max_scaler_amount_", "one_hot_encoder_color_0", "one_hot_encoder_color_1", "standard_scaler_ratio_"}
	if !reflect.DeepEqual(p.Names(), want) {
		t.Fatalf("names %q, want %q", p.Names(), want)
	}
	raw := []any{int64(7), 50.0, "red", 6.0, 2.0, nil}
	got, err := p.Run(raw, Input{}, true)
	if err != nil {
		t.Fatal(err)
	}
	// amount (50-0)/200 = 0.25; color red: sorted blue, red -> F, T;
	// ratio 6/2 = 3, standard (3-2)/0.5 = 2.
	exp := []any{int64(7), 6.0, 2.0, 0.25, false, true, 2.0}
	if !reflect.DeepEqual(got, exp) {
		t.Fatalf("got %v, want %v", got, exp)
	}
	// Raw: on-demand computed, nothing else (transform=False).
	got, err = p.Run(raw, Input{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if exp := []any{int64(7), 50.0, "red", 6.0, 2.0, 3.0}; !reflect.DeepEqual(got, exp) {
		t.Fatalf("raw got %v, want %v", got, exp)
	}
	// Request parameters override fetched values (dict.update): price 8 -> ratio 4 -> (4-2)/0.5 = 4.
	got, err = p.Run(raw, Input{Request: map[string]any{"price": 8.0}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got[1] != 8.0 || got[6] != 4.0 {
		t.Fatalf("request override: got %v", got)
	}
	// Batch: the same, column-wise.
	raws := [][]any{raw, {int64(8), 200.0, "blue", 1.0, 4.0, nil}}
	slab, err := p.RunBatch(2, func(r int) []any { return raws[r] }, func(int) Input { return Input{} }, true)
	if err != nil {
		t.Fatal(err)
	}
	// row 2: amount 200/200 = 1; blue -> T, F; ratio 1/4 = .25 -> (.25-2)/.5 = -3.5.
	exp2 := []any{int64(7), 6.0, 2.0, 0.25, false, true, 2.0, int64(8), 1.0, 4.0, 1.0, true, false, -3.5}
	if !reflect.DeepEqual(slab, exp2) {
		t.Fatalf("batch got %v, want %v", slab, exp2)
	}
}

func TestProgramMissingRequestParameter(t *testing.T) {
	s := testSpec()
	s.Features = []string{"id", "amount", "color", "ratio"} // price, qty come only from the request
	s.ModelDependent = s.ModelDependent[1:]
	p, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Run([]any{int64(1), 1.0, "red", nil}, Input{Request: map[string]any{"price": 1.0}}, true)
	var me *MissingError
	if !errors.As(err, &me) || !reflect.DeepEqual(me.Features, map[string][]string{"ratio": {"qty"}}) {
		t.Fatalf("got %v, want ratio requires qty", err)
	}
	got, err := p.Run([]any{int64(1), 1.0, "red", nil}, Input{Request: map[string]any{"price": 3.0, "qty": 2.0}}, false)
	if err != nil || got[3] != 1.5 {
		t.Fatalf("got %v %v, want ratio 1.5", got, err)
	}
	// A missing feature group's feature is not available either.
	s2 := testSpec()
	p2, _ := Compile(s2)
	_, err = p2.Run([]any{int64(1), 1.0, "red", nil, nil, nil}, Input{Absent: []bool{false, false, false, true, true, false}}, true)
	if !errors.As(err, &me) || !reflect.DeepEqual(me.Features["ratio"], []string{"price", "qty"}) {
		t.Fatalf("got %v", err)
	}
}

func TestCompileUDFErrors(t *testing.T) {
	s := testSpec()
	s.UDFs = nil
	s.ModelDependent = append(s.ModelDependent, Function{Name: "my_scaler", Features: []string{"amount"}})
	_, err := Compile(s)
	var ue *UDFError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUnknownFunction) || !reflect.DeepEqual(ue.Missing, []string{"my_scaler", "ratio"}) {
		t.Fatalf("got %v", err)
	}
	s = testSpec()
	s.UDFs["ratio"] = UDF{Arity: 3, Fn: s.UDFs["ratio"].Fn}
	_, err = Compile(s)
	if !errors.Is(err, ErrArity) {
		t.Fatalf("got %v, want ErrArity", err)
	}
}

func TestLabelTransformationSkipped(t *testing.T) {
	s := testSpec()
	s.Labels = []string{"amount"}
	p, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range p.Names() {
		if n == "min_max_scaler_amount_" {
			t.Fatal("a transformation of a label was applied")
		}
	}
}

// TestBatchMatchesRows: a batch gives, row for row, what Run gives (the
// batch path stages only what the functions read and writes built-in
// outputs straight into the result rows when it can).
func TestBatchMatchesRows(t *testing.T) {
	bs, braw := benchSpec()
	chained := bs
	chained.ModelDependent = append(append([]Function(nil), bs.ModelDependent...),
		Function{Name: "winsorize", Features: []string{"log_transform_f2_"}, Dropped: []string{"log_transform_f2_"}})
	chained.Statistics = map[string]Statistics{}
	for k, v := range bs.Statistics {
		chained.Statistics[k] = v
	}
	chained.Statistics["log_transform_f2_"] = Statistics{Min: nan, Max: nan, Mean: nan, StdDev: nan, Percentiles: []float64{0, 1, 2, 3}}
	rows := func(base []any) [][]any {
		out := make([][]any, 4)
		for r := range out {
			row := append([]any(nil), base...)
			row[0] = float64(r * 7)
			if r == 2 {
				row[1], row[3] = nil, "zz"
			}
			out[r] = row
		}
		return out
	}
	ts := testSpec()
	for _, c := range []struct {
		name string
		s    Spec
		rows [][]any
	}{
		{"built-ins", bs, rows(braw)},
		{"chained", chained, rows(braw)},
		{"on-demand", ts, [][]any{{int64(7), 50.0, "red", 6.0, 2.0, nil}, {int64(8), 200.0, "blue", 1.0, 4.0, nil}, {int64(9), nil, nil, 3.0, 3.0, nil}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := Compile(c.s)
			if err != nil {
				t.Fatal(err)
			}
			if c.name == "chained" {
				// log_transform_f2_ is dropped by winsorize: named, nil (hsfs dict.get).
				one, _ := p.Run(c.rows[0], Input{}, true)
				i := slices.Index(p.Names(), "log_transform_f2_")
				if i < 0 || one[i] != nil || p.Names()[len(p.Names())-1] != "winsorize_log_transform_f2__" {
					t.Fatalf("chained: %q %v", p.Names(), one)
				}
			}
			for _, tr := range []bool{true, false} {
				slab, err := p.RunBatch(len(c.rows), func(r int) []any { return c.rows[r] }, func(int) Input { return Input{} }, tr)
				if err != nil {
					t.Fatal(err)
				}
				w := p.Width(tr)
				for r, row := range c.rows {
					one, err := p.Run(row, Input{}, tr)
					if err != nil {
						t.Fatal(err)
					}
					for i := range one {
						if !same(one[i], slab[r*w+i]) {
							t.Fatalf("transformed=%v row %d %s: batch %#v, single %#v", tr, r, p.Names()[min(i, len(p.Names())-1)], slab[r*w+i], one[i])
						}
					}
				}
			}
		})
	}
}

// TestTransformationContext: a call's context replaces the built-ins'
// defaults (equal_width_binner over min 0 max 10: 10 bins, edges
// -inf,1,...,9,inf, put 6 in (5,6], bin 5; n_bins 4 gives edges
// -inf,2.5,5,7.5,inf and 6 in (5,7.5], bin 2).
func TestTransformationContext(t *testing.T) {
	s := Spec{
		Features:       []string{"x"},
		ModelDependent: []Function{{Name: "equal_width_binner", Features: []string{"x"}, Dropped: []string{"x"}}},
		Statistics:     map[string]Statistics{"x": {Min: 0, Max: 10, Mean: nan, StdDev: nan}},
	}
	p, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ctx  map[string]any
		want int64
	}{{nil, 5}, {map[string]any{"n_bins": 4}, 2}} {
		got, err := p.Run([]any{6.0}, Input{Context: c.ctx}, true)
		if err != nil || got[0] != c.want {
			t.Fatalf("context %v: got %v %v, want %d", c.ctx, got, err, c.want)
		}
		slab, err := p.RunBatch(2, func(int) []any { return []any{6.0} }, func(int) Input { return Input{Context: c.ctx} }, true)
		if err != nil || slab[0] != c.want || slab[1] != c.want {
			t.Fatalf("batch context %v: got %v %v", c.ctx, slab, err)
		}
	}
}

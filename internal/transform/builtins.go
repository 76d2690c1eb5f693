package transform

import (
	"math"
	"slices"
	"sort"
)

// The built-ins below follow python/hsfs/builtin_transformations.py
// (logicalclocks/hopsworks-api) line by line; each says how it treats
// nulls. "null" is a nil input (a missing row or a NULL column); NaN is
// a number, as in numpy. Where hsfs runs a function in pandas mode a null
// input becomes NaN (float outputs) or pd.NA (nil here) for Int64 and
// string outputs.

// kernel runs one single-input built-in over a column: in has n values;
// output j of row r goes to out[j*cs+r*rs] (cs=n, rs=1 for columns; cs=1,
// rs=row width for rows).
type kernel interface {
	run(b boxer, in []any, out []any, n, cs, rs int) (boxer, error)
}

// builtinOutputs is the number of outputs and their hsfs output type
// (udf(float/int/bool/str)) of each built-in.
var builtinTypes = map[string]string{
	"min_max_scaler":           "double",
	"standard_scaler":          "double",
	"robust_scaler":            "double",
	"label_encoder":            "bigint",
	"one_hot_encoder":          "boolean",
	"log_transform":            "double",
	"equal_width_binner":       "bigint",
	"equal_frequency_binner":   "bigint",
	"quantile_binner":          "bigint",
	"quantile_transformer":     "double",
	"rank_normalizer":          "double",
	"winsorize":                "double",
	"top_k_categorical_binner": "string",
	"impute_mean":              "double",
	"impute_median":            "double",
	"impute_constant":          "double",
	"impute_mode":              "string",
	"impute_category":          "string",
}

// IsBuiltin reports whether name is an hsfs built-in this package computes.
func IsBuiltin(name string) bool { _, ok := builtinTypes[name]; return ok }

// newBuiltin binds a built-in to its feature's statistics. ctx is the
// transformation context (nil: hsfs's defaults).
func newBuiltin(name string, s Statistics, ctx map[string]any) (kernel, int) {
	switch name {
	case "min_max_scaler":
		return minMax{min: s.Min, max: s.Max}, 1
	case "standard_scaler":
		return standard{mean: s.Mean, std: s.StdDev}, 1
	case "robust_scaler":
		return newRobust(s.Percentiles), 1
	case "label_encoder":
		return newLabel(s.UniqueValues), 1
	case "one_hot_encoder":
		k := newOneHot(s.UniqueValues)
		return k, len(k.cats)
	case "log_transform":
		return logT{}, 1
	case "equal_width_binner":
		return newEqualWidth(s.Min, s.Max, ctxInt(ctx, "n_bins", 10)), 1
	case "equal_frequency_binner", "quantile_binner":
		return newQuartileBins(s.Percentiles), 1
	case "quantile_transformer":
		return newQuantile(s.Percentiles), 1
	case "rank_normalizer":
		return rank{p: s.Percentiles}, 1
	case "winsorize":
		return newWinsor(s.Percentiles, ctxRound(ctx, "p_low", 1), ctxRound(ctx, "p_high", 99)), 1
	case "top_k_categorical_binner":
		return newTopK(s, ctx), 1
	case "impute_mean":
		return fillNum{fill: s.Mean}, 1
	case "impute_median":
		m := math.NaN()
		if len(s.Percentiles) > 49 {
			m = s.Percentiles[49]
		}
		return fillNum{fill: m}, 1
	case "impute_constant":
		return fillNum{fill: ctxFloat(ctx, "value", 0)}, 1
	case "impute_mode":
		return newMode(s), 1
	case "impute_category":
		v := "__MISSING__" // hopsworks_common constants.TRANSFORMATIONS.MISSING
		if c, ok := ctx["value"]; ok {
			v = pyStr(c)
		}
		return fillCat{fill: v}, 1
	}
	return nil, 0
}

// ctxInt is int(ctx.get(key, def)) with ValueError/TypeError suppressed,
// then max(2, ·) as equal_width_binner does.
func ctxInt(ctx map[string]any, key string, def int) int {
	v := def
	if x, ok := ctx[key]; ok {
		if f, null, err := number(x); err == nil && !null && !math.IsNaN(f) && !math.IsInf(f, 0) {
			v = int(f) // Python int() truncates toward zero
		}
	}
	return max(2, v)
}

// ctxRound is int(round(float(ctx.get(key, def)))) (winsorize); Python's
// round is half to even.
func ctxRound(ctx map[string]any, key string, def int) int {
	if x, ok := ctx[key]; ok {
		if f, null, err := number(x); err == nil && !null && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return int(math.RoundToEven(f))
		}
	}
	return def
}

func ctxFloat(ctx map[string]any, key string, def float64) float64 {
	if x, ok := ctx[key]; ok {
		if f, null, err := number(x); err == nil && !null {
			return f
		}
	}
	return def
}

// minMax: (x-min)/(max-min); with min or max NaN or max==min it returns
// x - (min if not NaN else 0). hsfs runs it in "default" mode, so online it
// is plain Python on a scalar: a None input raises TypeError there; here it
// gives nil.
type minMax struct{ min, max float64 }

func (k minMax) run(b boxer, in, out []any, n, cs, rs int) (boxer, error) {
	for r := range n {
		x, null, err := number(in[r])
		if err != nil {
			return b, err
		}
		if null {
			out[r*rs] = nil
			continue
		}
		switch {
		case math.IsNaN(k.min) || math.IsNaN(k.max) || k.max == k.min:
			m := k.min
			if math.IsNaN(m) {
				m = 0
			}
			out[r*rs] = b.float(x - m)
		default:
			out[r*rs] = b.float((x - k.min) / (k.max - k.min))
		}
	}
	return b, nil
}

// standard: mean NaN → x unchanged; std NaN or 0 → x-mean; else
// (x-mean)/std. Default mode like minMax: None → nil.
type standard struct{ mean, std float64 }

func (k standard) run(b boxer, in, out []any, n, cs, rs int) (boxer, error) {
	for r := range n {
		x, null, err := number(in[r])
		if err != nil {
			return b, err
		}
		switch {
		case null:
			out[r*rs] = nil
		case math.IsNaN(k.mean):
			// hsfs returns the feature itself (not cast to float).
			out[r*rs] = in[r]
		case math.IsNaN(k.std) || k.std == 0:
			out[r*rs] = b.float(x - k.mean)
		default:
			out[r*rs] = b.float((x - k.mean) / k.std)
		}
	}
	return b, nil
}

// robust: fewer than 75 percentiles → float(x); iqr = p[74]-p[24]; iqr
// NaN or 0 → x - p[49]; else (x-p[49])/iqr. Pandas mode: null → NaN.
type robust struct {
	ok       bool
	q2, iqr  float64
	onlyDiff bool
}

func newRobust(p []float64) robust {
	if len(p) < 75 {
		return robust{}
	}
	iqr := p[74] - p[24]
	return robust{ok: true, q2: p[49], iqr: iqr, onlyDiff: math.IsNaN(iqr) || iqr == 0}
}

func (k robust) run(b boxer, in, out []any, n, cs, rs int) (boxer, error) {
	for r := range n {
		x, _, err := number(in[r])
		if err != nil {
			return b, err
		}
		switch {
		case !k.ok:
		case k.onlyDiff:
			x -= k.q2
		default:
			x = (x - k.q2) / k.iqr
		}
		out[r*rs] = b.float(x)
	}
	return b, nil
}

// label: index in sorted(unique_values), -1 for an unseen value, NA (nil)
// for a null or NaN input.
type label struct{ idx map[any]int64 }

func newLabel(uv []any) label {
	vals := sortedCats(uv)
	m := make(map[any]int64, len(vals))
	for i, v := range vals {
		m[catKey(v)] = int64(i)
	}
	return label{idx: m}
}

// sortedCats is Python's sorted() of the unique values: numbers before
// strings never mix in practice (Python raises); numbers sort numerically,
// strings by code point (byte order of UTF-8).
func sortedCats(uv []any) []any {
	vals := slices.Clone(uv)
	sort.SliceStable(vals, func(i, j int) bool { return catLess(catKey(vals[i]), catKey(vals[j])) })
	return vals
}

func catLess(a, b any) bool {
	switch x := a.(type) {
	case float64:
		if y, ok := b.(float64); ok {
			return x < y
		}
		return true
	case string:
		if y, ok := b.(string); ok {
			return x < y
		}
		return false
	}
	return false
}

func (k label) run(b boxer, in, out []any, n, cs, rs int) (boxer, error) {
	for r := range n {
		if isNA(in[r]) {
			out[r*rs] = nil
			continue
		}
		i, ok := k.idx[catKey(in[r])]
		if !ok {
			i = -1
		}
		out[r*rs] = b.int(i)
	}
	return b, nil
}

// oneHot: one bool column per unique value, in sorted order (pd.get_dummies
// reindexed to unique_values, then columns sorted); unseen, null and NaN
// inputs are all false.
type oneHot struct {
	cats []any
	idx  map[any]int
}

func newOneHot(uv []any) oneHot {
	cats := sortedCats(uv)
	m := make(map[any]int, len(cats))
	for i, c := range cats {
		m[catKey(c)] = i
	}
	return oneHot{cats: cats, idx: m}
}

func (k oneHot) run(b boxer, in, out []any, n, cs, rs int) (boxer, error) {
	for r := range n {
		hit := -1
		if !isNA(in[r]) {
			if i, ok := k.idx[catKey(in[r])]; ok {
				hit = i
			}
		}
		for j := range k.cats {
			out[j*cs+r*rs] = j == hit // bools box without allocating
		}
	}
	return b, nil
}

// logT: ln(x) for x > 0, NaN otherwise (nulls included).
type logT struct{}

func (logT) run(b boxer, in, out []any, n, cs, rs int) (boxer, error) {
	for r := range n {
		x, _, err := number(in[r])
		if err != nil {
			return b, err
		}
		if x > 0 {
			out[r*rs] = b.float(math.Log(x))
		} else {
			out[r*rs] = b.float(math.NaN())
		}
	}
	return b, nil
}

// bins is pd.cut(x, edges, labels=False, right=True, include_lowest=True)
// over edges that start at -inf and end at +inf: the bin of x is
// searchsorted(edges, x, side="left") - 1, and -inf goes to bin 0. A null
// or NaN input is NA (nil). constant: every value in bin 0.
type bins struct {
	edges    []float64
	constant bool
}

func (k bins) run(b boxer, in, out []any, n, cs, rs int) (boxer, error) {
	for r := range n {
		x, _, err := number(in[r])
		if err != nil {
			return b, err
		}
		if math.IsNaN(x) {
			out[r*rs] = nil
			continue
		}
		if k.constant {
			out[r*rs] = int64(0)
			continue
		}
		i := sort.SearchFloat64s(k.edges, x) - 1 // first edge >= x, minus one
		if i < 0 {
			i = 0 // x == -inf == edges[0]: include_lowest
		}
		out[r*rs] = b.int(int64(i))
	}
	return b, nil
}

// newEqualWidth: edges = np.linspace(min, max, nbins+1) with the first and
// last replaced by ∓inf; min or max NaN, or min == max: bin 0.
func newEqualWidth(lo, hi float64, nbins int) bins {
	if math.IsNaN(lo) || math.IsNaN(hi) || lo == hi {
		return bins{constant: true}
	}
	edges := linspace(lo, hi, nbins+1)
	edges[0], edges[len(edges)-1] = math.Inf(-1), math.Inf(1)
	return bins{edges: slices.Compact(edges)} // pd.cut(duplicates="drop")
}

// linspace is numpy's: step = (stop-start)/(num-1); y[i] = i*step + start;
// y[-1] = stop.
func linspace(start, stop float64, num int) []float64 {
	y := make([]float64, num)
	div := float64(num - 1)
	step := (stop - start) / div
	for i := range y {
		if step == 0 {
			y[i] = float64(i)/div*(stop-start) + start
		} else {
			y[i] = float64(i)*step + start
		}
	}
	if num > 1 {
		y[num-1] = stop
	}
	return y
}

// newQuartileBins (equal_frequency_binner, quantile_binner: the same
// code in hsfs): fewer than 75 percentiles or a NaN quartile → bin 0;
// else edges = np.unique([-inf, p[24], p[49], p[74], inf]) (sorted, deduplicated).
func newQuartileBins(p []float64) bins {
	if len(p) < 75 {
		return bins{constant: true}
	}
	q := []float64{p[24], p[49], p[74]}
	for _, v := range q {
		if math.IsNaN(v) {
			return bins{constant: true}
		}
	}
	edges := []float64{math.Inf(-1), q[0], q[1], q[2], math.Inf(1)}
	sort.Float64s(edges)
	edges = slices.Compact(edges)
	return bins{edges: edges}
}

// quantile: np.interp(x, xp, fp) over the percentiles with the positions
// np.linspace(0, 1, len(p)), keeping p[0] and each p[i] with p[i]-p[i-1] >
// 0. Fewer than 2 percentiles → float(x); fewer than 2 kept → 0.5. Null or
// NaN → NaN.
type quantile struct {
	mode   int // 0 pass through, 1 constant 0.5, 2 interpolate
	xp, fp []float64
}

func newQuantile(p []float64) quantile {
	if len(p) < 2 {
		return quantile{}
	}
	pos := linspace(0, 1, len(p))
	var xp, fp []float64
	for i := range p {
		if i == 0 || p[i]-p[i-1] > 0 {
			xp, fp = append(xp, p[i]), append(fp, pos[i])
		}
	}
	if len(xp) < 2 {
		return quantile{mode: 1}
	}
	return quantile{mode: 2, xp: xp, fp: fp}
}

func (k quantile) run(b boxer, in, out []any, n, cs, rs int) (boxer, error) {
	for r := range n {
		x, _, err := number(in[r])
		if err != nil {
			return b, err
		}
		switch {
		case k.mode == 0 || math.IsNaN(x):
		case k.mode == 1:
			x = 0.5
		default:
			x = interp(x, k.xp, k.fp)
		}
		out[r*rs] = b.float(x)
	}
	return b, nil
}

// interp is numpy's np.interp for increasing xp: fp[0] left of xp[0],
// fp[-1] right of xp[-1], else slope*(x-xp[j]) + fp[j] with xp[j] <= x <
// xp[j+1].
func interp(x float64, xp, fp []float64) float64 {
	n := len(xp)
	switch {
	case x < xp[0]:
		return fp[0]
	case x >= xp[n-1]:
		return fp[n-1]
	}
	j := sort.Search(n, func(i int) bool { return xp[i] > x }) - 1
	slope := (fp[j+1] - fp[j]) / (xp[j+1] - xp[j])
	return slope*(x-xp[j]) + fp[j]
}

// rank: np.searchsorted(p, x, side="right") / len(p), clipped to [0,1];
// fewer than 2 percentiles → float(x); null or NaN → NaN.
type rank struct{ p []float64 }

func (k rank) run(b boxer, in, out []any, n, cs, rs int) (boxer, error) {
	for r := range n {
		x, _, err := number(in[r])
		if err != nil {
			return b, err
		}
		if len(k.p) >= 2 && !math.IsNaN(x) {
			i := sort.Search(len(k.p), func(i int) bool { return k.p[i] > x })
			x = min(max(float64(i)/float64(len(k.p)), 0), 1)
		}
		out[r*rs] = b.float(x)
	}
	return b, nil
}

// winsor: clip to [p[li], p[ui]], li and ui from the context (defaults 1
// and 99) bounded to [0, len-1], reset to (1, min(99, len-1)) unless li <
// ui; bounds NaN or lower >= upper, or fewer than 2 percentiles: float(x).
// pandas clip keeps NaN.
type winsor struct {
	ok     bool
	lo, hi float64
}

func newWinsor(p []float64, li, ui int) winsor {
	if len(p) < 2 {
		return winsor{}
	}
	maxIdx := len(p) - 1
	li, ui = max(0, min(maxIdx, li)), max(0, min(maxIdx, ui))
	if li >= ui {
		li, ui = 1, min(99, maxIdx)
	}
	lo, hi := p[li], p[ui]
	if math.IsNaN(lo) || math.IsNaN(hi) || lo >= hi {
		return winsor{}
	}
	return winsor{ok: true, lo: lo, hi: hi}
}

func (k winsor) run(b boxer, in, out []any, n, cs, rs int) (boxer, error) {
	for r := range n {
		x, _, err := number(in[r])
		if err != nil {
			return b, err
		}
		if k.ok && !math.IsNaN(x) {
			x = min(max(x, k.lo), k.hi)
		}
		out[r*rs] = b.float(x)
	}
	return b, nil
}

// topK: keep a value among the top_n (default 10) histogram values by
// count (stable, descending), else other_label (default "Other"); without a
// histogram, the first top_n unique_values (in their order); with neither,
// the value unchanged. Null or NaN → NA (nil).
type topK struct {
	keep  map[any]bool
	other any
	pass  bool
}

func newTopK(s Statistics, ctx map[string]any) topK {
	n := 10
	if x, ok := ctx["top_n"]; ok {
		if f, null, err := number(x); err == nil && !null {
			n = int(f)
		}
	}
	var other any = "Other"
	if x, ok := ctx["other_label"]; ok {
		other = x
	}
	keep := map[any]bool{}
	switch {
	case s.HasHistogram:
		for i, h := range byCountDesc(s.Histogram) {
			if i >= pySliceEnd(n, len(s.Histogram)) {
				break
			}
			keep[catKey(h.Value)] = true
		}
	case s.HasUniqueValues:
		for i, v := range s.UniqueValues {
			if i >= pySliceEnd(n, len(s.UniqueValues)) {
				break
			}
			keep[catKey(v)] = true
		}
	default:
		return topK{pass: true}
	}
	return topK{keep: keep, other: other}
}

// pySliceEnd is the end of Python's list[:n] (a negative n counts from the end).
func pySliceEnd(n, l int) int {
	if n < 0 {
		return max(0, l+n)
	}
	return min(n, l)
}

func (k topK) run(b boxer, in, out []any, n, cs, rs int) (boxer, error) {
	for r := range n {
		switch {
		case isNA(in[r]):
			out[r*rs] = nil
		case k.pass || k.keep[catKey(in[r])]:
			out[r*rs] = in[r]
		default:
			out[r*rs] = k.other
		}
	}
	return b, nil
}

// fillNum: float(x), a null or NaN replaced by fill unless fill is NaN
// (impute_mean, impute_median, impute_constant).
type fillNum struct{ fill float64 }

func (k fillNum) run(b boxer, in, out []any, n, cs, rs int) (boxer, error) {
	for r := range n {
		x, _, err := number(in[r])
		if err != nil {
			return b, err
		}
		if math.IsNaN(x) {
			x = k.fill
		}
		out[r*rs] = b.float(x)
	}
	return b, nil
}

// mode (impute_mode): with a histogram, nulls become str(value of the
// highest count) and the rest stay as they are; without one (empty or
// absent) every non-null value becomes str(value) and nulls stay NA.
type mode struct {
	fill any
	has  bool
}

func newMode(s Statistics) mode {
	if len(s.Histogram) == 0 {
		return mode{}
	}
	return mode{has: true, fill: pyStr(byCountDesc(s.Histogram)[0].Value)}
}

func (k mode) run(b boxer, in, out []any, n, cs, rs int) (boxer, error) {
	for r := range n {
		switch {
		case isNA(in[r]) && k.has:
			out[r*rs] = k.fill
		case isNA(in[r]):
			out[r*rs] = nil
		case k.has:
			out[r*rs] = in[r]
		default:
			if _, ok := in[r].(string); ok {
				out[r*rs] = in[r]
			} else {
				out[r*rs] = pyStr(in[r]) // feature.astype(str)
			}
		}
	}
	return b, nil
}

// fillCat (impute_category): nulls become the sentinel.
type fillCat struct{ fill any }

func (k fillCat) run(b boxer, in, out []any, n, cs, rs int) (boxer, error) {
	for r := range n {
		if isNA(in[r]) {
			out[r*rs] = k.fill
		} else {
			out[r*rs] = in[r]
		}
	}
	return b, nil
}

package transform

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// ErrUnknownFunction and ErrArity are wrapped by *UDFError.
var (
	ErrUnknownFunction = errors.New("transform: no implementation for a transformation function")
	ErrArity           = errors.New("transform: registered implementation takes another number of features")
)

// UDF is a Go implementation of a custom Python UDF, registered by name.
// Fn runs column-wise: in[i][r] is input i of row r, and it sets out[j][r]
// for each of the function's outputs (out is preallocated, nil-filled).
type UDF struct {
	Arity int
	Fn    func(in, out [][]any) error
}

// Function is one transformation function attached to a view, as hsfs
// reads it (HopsworksUdf): its name, its unprefixed input features, the
// view's prefix, the unprefixed features it drops, its output names as
// the server stored them (nil: generate them as hsfs does) and types.
type Function struct {
	Name        string
	Features    []string
	Prefix      string
	Dropped     []string
	OutputNames []string
	OutputTypes []string
	// Context is the transformation context the built-ins read (n_bins,
	// p_low, p_high, top_n, other_label, value); nil means hsfs's defaults.
	Context map[string]any
}

// Spec is what Compile needs.
type Spec struct {
	// Features is the vector's raw order: the view's features without
	// labels and helper columns, on-demand features included.
	Features []string
	// Labels are the view's label features: a model-dependent function
	// whose first input is a label is not applied (vector_server.py).
	Labels         []string
	ModelDependent []Function
	OnDemand       []Function
	// Statistics of the training dataset, by feature name.
	Statistics map[string]Statistics
	// UDFs are the registered implementations, by function name; they take
	// precedence over the built-ins of the same name.
	UDFs map[string]UDF
}

// UDFError names the functions a view needs that have no implementation,
// or whose registered implementation has another arity. It unwraps to
// ErrUnknownFunction or ErrArity.
type UDFError struct {
	Missing    []string // function names
	WrongArity []string // "name: registered 2, the view passes 3"
}

func (e *UDFError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "no Go implementation registered for "+strings.Join(e.Missing, ", ")+
			" (register one with featurestore.WithTransformation)")
	}
	if len(e.WrongArity) > 0 {
		parts = append(parts, "wrong arity: "+strings.Join(e.WrongArity, "; "))
	}
	return "transform: " + strings.Join(parts, "; ")
}

func (e *UDFError) Unwrap() []error {
	var errs []error
	if len(e.Missing) > 0 {
		errs = append(errs, ErrUnknownFunction)
	}
	if len(e.WrongArity) > 0 {
		errs = append(errs, ErrArity)
	}
	return errs
}

// MissingError is hsfs's "Missing Request parameters to compute the
// following the on-demand Features" (vector_server.py
// _check_missing_request_parameters): per on-demand feature, the inputs
// that neither the fetched row, the passed features nor the request
// parameters give.
type MissingError struct {
	Entry    int                 // batch index, -1 for a single vector
	Features map[string][]string // on-demand feature -> missing inputs, sorted
}

func (e *MissingError) Error() string {
	var b strings.Builder
	b.WriteString("transform: missing request parameters to compute the on-demand features")
	if e.Entry >= 0 {
		fmt.Fprintf(&b, " of entry %d", e.Entry)
	}
	keys := make([]string, 0, len(e.Features))
	for k := range e.Features {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "; on-demand feature '%s' requires features '%s'", k, strings.Join(e.Features[k], "', '"))
	}
	return b.String()
}

// step is one function bound to slots.
type step struct {
	name string
	k    kernel // built-in, or nil for a UDF
	udf  func(in, out [][]any) error
	// in: per input, the slot to read and a fallback slot (the unprefixed
	// name) used when the first holds nil; -1 for none.
	in    [][2]int
	out   []int // output slots (consecutive for a built-in)
	boxes int   // numbers boxed per row
	// A built-in that reads the transformation context is rebound to a
	// call's context (WithContext); stats are what it was bound to.
	stats    Statistics
	ctxAware bool
	// rowOut: where a batch without on-demand functions writes this
	// built-in's outputs straight into the result row (index of its first
	// output in Names), or -1.
	rowOut int
	// on-demand only: for the missing check
	need   []need
	outNms []string
}

type need struct {
	prefixed, plain string
	ps, us          int // slots, -1 if none
}

// contextual are the built-ins that read the transformation context.
var contextual = map[string]bool{
	"equal_width_binner": true, "winsorize": true, "top_k_categorical_binner": true,
	"impute_constant": true, "impute_category": true,
}

// Program is a compiled set of transformations over a vector layout.
type Program struct {
	raw      []string
	nslots   int
	slotOf   map[string]int
	odt, mdt []step
	odtOuts  map[string]bool
	names    []string // transformed order
	outSlots []int
	boxes    int
	work     sync.Pool // *[]any of nslots: Run's working row
	// RunBatch: its columns (pooled), the raw slots the model-dependent
	// functions read or write (stage), the output positions taken straight
	// from the raw rows (direct), the identity layout (rawSlots).
	batchWork sync.Pool
	stage     []int
	mdtOut    []int // the model-dependent output slots written in columns
	direct    []bool
	fromStep  []bool // result positions a built-in writes directly
	rawSlots  []int
}

// Empty reports whether the program does nothing.
func (p *Program) Empty() bool { return p == nil || (len(p.odt) == 0 && len(p.mdt) == 0) }

// HasOnDemand reports whether the view has on-demand functions.
func (p *Program) HasOnDemand() bool { return p != nil && len(p.odt) > 0 }

// Names is the transformed vector order (hsfs
// transformed_feature_vector_col_name): the raw features that no
// model-dependent function drops, then every model-dependent output in the
// functions' order (sorted by first output name).
func (p *Program) Names() []string { return p.names }

// NeedsStatistics reports whether any function of the list needs the
// training dataset's statistics (hsfs statistics_required); here, the
// built-ins that read statistics.
func NeedsStatistics(fns []Function) bool {
	for _, f := range fns {
		switch f.Name {
		case "log_transform", "impute_constant", "impute_category":
		default:
			if IsBuiltin(f.Name) {
				return true
			}
		}
	}
	return false
}

// Compile binds the functions to the vector layout and the statistics.
func Compile(s Spec) (*Program, error) {
	p := &Program{raw: s.Features, slotOf: map[string]int{}, odtOuts: map[string]bool{}}
	for i, f := range s.Features {
		if _, ok := p.slotOf[f]; !ok {
			p.slotOf[f] = i
		}
	}
	p.nslots = len(s.Features)
	slot := func(name string) int {
		if i, ok := p.slotOf[name]; ok {
			return i
		}
		p.slotOf[name] = p.nslots
		p.nslots++
		return p.nslots - 1
	}
	// Check implementations first, all at once.
	uerr := &UDFError{}
	check := func(f Function) {
		if u, ok := s.UDFs[f.Name]; ok {
			if u.Arity != len(f.Features) {
				uerr.WrongArity = append(uerr.WrongArity, fmt.Sprintf("%s: registered %d, the view passes %d", f.Name, u.Arity, len(f.Features)))
			}
			return
		}
		if !IsBuiltin(f.Name) || len(f.Features) != 1 {
			if !slices.Contains(uerr.Missing, f.Name) {
				uerr.Missing = append(uerr.Missing, f.Name)
			}
		}
	}
	var mdt []Function
	for _, f := range s.ModelDependent {
		if len(f.Features) > 0 && slices.Contains(s.Labels, f.Prefix+f.Features[0]) {
			continue
		}
		mdt = append(mdt, f)
	}
	for _, f := range s.OnDemand {
		check(f)
	}
	for _, f := range mdt {
		check(f)
	}
	if len(uerr.Missing) > 0 || len(uerr.WrongArity) > 0 {
		sort.Strings(uerr.Missing)
		return nil, uerr
	}

	type bound struct {
		st    Statistics
		f     Function
		k     kernel
		nOut  int
		names []string
	}
	bind := func(f Function, onDemand bool) (bound, error) {
		b := bound{f: f}
		if u, ok := s.UDFs[f.Name]; ok {
			_ = u
			b.nOut = len(f.OutputTypes)
			if b.nOut == 0 {
				b.nOut = 1
			}
		} else {
			st, ok := s.Statistics[f.Features[0]]
			if !ok {
				if st, ok = s.Statistics[f.Prefix+f.Features[0]]; !ok {
					st = NoStatistics(f.Features[0])
				}
			}
			b.k, b.nOut = newBuiltin(f.Name, st, f.Context)
			b.st = st
		}
		b.names = f.OutputNames
		if len(b.names) > 0 {
			b.names = withPrefix(f.Prefix, b.names)
		}
		// one_hot_encoder's outputs follow the statistics (hsfs regenerates
		// its names when their number differs).
		if len(b.names) != b.nOut {
			b.names = OutputNames(f.Name, f.Features, f.Prefix, f.Dropped, b.nOut, onDemand)
		}
		return b, nil
	}
	var odtB, mdtB []bound
	for _, f := range s.OnDemand {
		b, err := bind(f, true)
		if err != nil {
			return nil, err
		}
		odtB = append(odtB, b)
	}
	for _, f := range mdt {
		b, err := bind(f, false)
		if err != nil {
			return nil, err
		}
		mdtB = append(mdtB, b)
	}
	// hsfs FeatureView._sort_transformation_functions: by first output name.
	sort.SliceStable(mdtB, func(i, j int) bool { return first(mdtB[i].names) < first(mdtB[j].names) })

	for _, b := range odtB {
		for _, n := range b.names {
			p.odtOuts[n] = true
		}
	}
	mk := func(b bound, onDemand bool) step {
		st := step{name: b.f.Name, k: b.k, outNms: b.names, stats: b.st, ctxAware: contextual[b.f.Name]}
		if u, ok := s.UDFs[b.f.Name]; ok {
			st.k, st.udf = nil, u.Fn
		}
		for _, f := range b.f.Features {
			pf := b.f.Prefix + f
			ps, us := -1, -1
			if i, ok := p.slotOf[pf]; ok {
				ps = i
			}
			if pf != f {
				if i, ok := p.slotOf[f]; ok {
					us = i
				}
			}
			if onDemand {
				// Inputs may come from request parameters, under either name.
				if ps < 0 {
					ps = slot(pf)
				}
				if us < 0 && pf != f {
					us = slot(f)
				}
				st.need = append(st.need, need{prefixed: pf, plain: f, ps: ps, us: us})
			}
			st.in = append(st.in, [2]int{ps, us})
		}
		if b.k != nil {
			// A built-in writes consecutive columns.
			for range b.names {
				st.out = append(st.out, p.nslots)
				p.nslots++
			}
			for i, n := range b.names {
				p.slotOf[n] = st.out[i]
			}
			if t := builtinTypes[b.f.Name]; t == "double" || t == "bigint" {
				st.boxes = len(b.names)
			}
		} else {
			for _, n := range b.names {
				st.out = append(st.out, slot(n))
			}
		}
		return st
	}
	for _, b := range topo(odtB, func(b bound) ([]string, []string) { return prefixedAll(b.f), b.names }) {
		st := mk(b, true)
		p.odt = append(p.odt, st)
		p.boxes += st.boxes
	}
	for _, b := range topo(mdtB, func(b bound) ([]string, []string) { return prefixedAll(b.f), b.names }) {
		st := mk(b, false)
		for i, in := range st.in {
			if in[0] < 0 && in[1] < 0 {
				return nil, fmt.Errorf("%w: %s reads %s, which is neither a feature of the view nor an on-demand output",
					ErrUnknownFunction, b.f.Name, b.f.Prefix+b.f.Features[i])
			}
		}
		p.mdt = append(p.mdt, st)
		p.boxes += st.boxes
	}
	// Output layout.
	dropped := map[string]bool{}
	for _, b := range mdtB {
		for _, d := range b.f.Dropped {
			dropped[b.f.Prefix+d] = true
		}
	}
	for _, f := range s.Features {
		if !dropped[f] {
			p.names = append(p.names, f)
		}
	}
	for _, b := range mdtB {
		p.names = append(p.names, b.names...)
	}
	// An output that a later function drops keeps its place in the names
	// but has no value: hsfs drops it from the row, then reads the
	// transformed names with dict.get (vector_server.py).
	mdtOutput := map[string]bool{}
	for _, b := range mdtB {
		for _, n := range b.names {
			mdtOutput[n] = true
		}
	}
	nilSlot := -1
	for _, n := range p.names {
		x := p.slotOf[n]
		if mdtOutput[n] && dropped[n] {
			if nilSlot < 0 {
				nilSlot, p.nslots = p.nslots, p.nslots+1
			}
			x = nilSlot
		}
		p.outSlots = append(p.outSlots, x)
	}
	F := len(s.Features)
	// A built-in whose outputs are each in the result once, consecutively,
	// and read by no later function writes a batch's result rows directly.
	count := map[int]int{}
	for _, x := range p.outSlots {
		count[x]++
	}
	p.fromStep = make([]bool, len(p.outSlots))
	for i := range p.mdt {
		st := &p.mdt[i]
		st.rowOut = -1
		if st.k == nil {
			continue
		}
		first := slices.Index(p.outSlots, st.out[0])
		ok := first >= 0 && first+len(st.out) <= len(p.outSlots)
		for j, o := range st.out {
			ok = ok && count[o] == 1 && p.outSlots[first+j] == o && o >= F
		}
		for _, later := range p.mdt[i+1:] {
			for _, in := range later.in {
				ok = ok && !slices.Contains(st.out, in[0]) && !slices.Contains(st.out, in[1])
			}
		}
		if ok {
			st.rowOut = first
			for j := range st.out {
				p.fromStep[first+j] = true
			}
		}
	}
	used := map[int]bool{}
	for _, st := range p.mdt {
		for _, in := range st.in {
			for _, x := range in {
				if x >= 0 && x < F {
					used[x] = true
				}
			}
		}
		for _, o := range st.out {
			if o < F {
				used[o] = true
			}
			if st.rowOut < 0 {
				p.mdtOut = append(p.mdtOut, o)
			}
		}
	}
	for x := range F {
		if used[x] {
			p.stage = append(p.stage, x)
		}
		p.rawSlots = append(p.rawSlots, x)
	}
	for _, x := range p.outSlots {
		p.direct = append(p.direct, x < F && !used[x])
	}
	return p, nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func prefixedAll(f Function) []string {
	out := make([]string, len(f.Features))
	for i, x := range f.Features {
		out[i] = f.Prefix + x
	}
	return out
}

// topo orders functions as graphlib's TopologicalSorter.static_order does
// in hsfs's TransformationExecutionDAG: a function after the producers of
// its inputs, ready ones in list order. A cycle keeps list order for the
// rest (hsfs rejects it when the view is read).
func topo[T any](fns []T, io func(T) (in, out []string)) []T {
	producer := map[string]int{}
	for i, f := range fns {
		_, outs := io(f)
		for _, o := range outs {
			producer[o] = i
		}
	}
	deps := make([][]int, len(fns))
	for i, f := range fns {
		ins, _ := io(f)
		for _, in := range ins {
			if j, ok := producer[in]; ok && j != i && !slices.Contains(deps[i], j) {
				deps[i] = append(deps[i], j)
			}
		}
	}
	done := make([]bool, len(fns))
	var order []T
	for len(order) < len(fns) {
		var ready []int
		for i := range fns {
			if done[i] {
				continue
			}
			ok := true
			for _, j := range deps[i] {
				ok = ok && done[j]
			}
			if ok {
				ready = append(ready, i)
			}
		}
		if len(ready) == 0 {
			for i := range fns {
				if !done[i] {
					ready = append(ready, i)
				}
			}
		}
		for _, i := range ready {
			done[i] = true
			order = append(order, fns[i])
		}
	}
	return order
}

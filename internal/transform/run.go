package transform

import (
	"fmt"
	"sort"
)

// Input is one call's outside data.
type Input struct {
	// Absent marks raw features that the fetch did not give (their feature
	// group had no row and they were not passed), per raw position; nil
	// means every raw feature is there.
	Absent []bool
	// Request holds the request parameters (hsfs request_parameters);
	// Entry the serving keys, which fill in request parameters that are not
	// given when Request is not empty (vector_server.py _get_feature_vector).
	Request, Entry map[string]any
	// Context is the transformation context (hsfs transformation_context):
	// the built-ins that read one (n_bins, p_low, p_high, top_n,
	// other_label, value) use it instead of their defaults. The same for
	// every row of a batch (RunBatch reads it from row 0's Input).
	Context map[string]any
}

// frame is column-major: slot s of row r is vals[s*n+r].
type frame struct {
	vals []any
	n    int
	box  boxer
	ctx  map[string]any // the call's transformation context, if any
}

// kernel is the step's built-in, rebound to the call's transformation
// context when it reads one (hsfs passes transformation_context per call).
func (f *frame) kernel(st *step) kernel {
	if f.ctx != nil && st.ctxAware {
		k, _ := newBuiltin(st.name, st.stats, f.ctx)
		return k
	}
	return st.k
}

func (f *frame) col(s int) []any { return f.vals[s*f.n : s*f.n+f.n] }

// Run transforms one raw vector (in Spec.Features order). With
// transformed false only the on-demand functions run and the result is in
// raw order (hsfs transform=False, on_demand_features=True); otherwise the
// result is in Names order.
func (p *Program) Run(raw []any, in Input, transformed bool) ([]any, error) {
	width := len(p.raw)
	if transformed {
		width = len(p.names)
	}
	// The working row comes from a pool: only the result is allocated.
	wp, _ := p.work.Get().(*[]any)
	if wp == nil {
		w := make([]any, p.nslots)
		wp = &w
	}
	defer func() { clear(*wp); p.work.Put(wp) }()
	f := frame{vals: *wp, n: 1, ctx: in.Context}
	if n := p.boxes; n > 0 {
		f.box.slab = make([]uint64, n)
	}
	copy(f.vals, raw)
	if err := p.run(&f, 0, &in, transformed, -1); err != nil {
		return nil, err
	}
	out := make([]any, width)
	if !transformed {
		copy(out, f.vals[:width])
		return out, nil
	}
	for i, s := range p.outSlots {
		out[i] = f.vals[s]
	}
	return out, nil
}

// RunBatch transforms n raw vectors at once, column by column: raw(r) is
// row r's raw vector and in(r) its Input. It returns one slab, n rows of
// Width(transformed) values each, row-major.
func (p *Program) RunBatch(n int, raw func(r int) []any, in func(r int) Input, transformed bool) ([]any, error) {
	need := p.nslots * n
	wp, _ := p.batchWork.Get().(*[]any)
	if wp == nil || cap(*wp) < need {
		w := make([]any, need)
		wp = &w
	}
	vals := (*wp)[:need]
	direct := transformed && len(p.odt) == 0
	defer func() {
		// Clear only what was written, so that the pooled columns hold no
		// references.
		if direct {
			for _, s := range p.stage {
				clear(vals[s*n : s*n+n])
			}
			for _, s := range p.mdtOut {
				clear(vals[s*n : s*n+n])
			}
		} else {
			clear(vals)
		}
		p.batchWork.Put(wp)
	}()
	f := frame{vals: vals, n: n}
	if n > 0 {
		f.ctx = in(0).Context
	}
	if b := p.boxes * n; b > 0 {
		f.box.slab = make([]uint64, b)
	}
	F := len(p.raw)
	// Without on-demand functions (whose request parameters may replace
	// any feature) only the features the functions read are staged in
	// columns; the others go straight from the rows to the result.
	for r := range n {
		row := raw(r)
		if direct {
			for _, s := range p.stage {
				if s < len(row) {
					f.vals[s*n+r] = row[s]
				}
			}
			continue
		}
		for s := 0; s < F && s < len(row); s++ {
			f.vals[s*n+r] = row[s]
		}
	}
	if len(p.odt) > 0 {
		for r := range n {
			i := in(r)
			if err := p.request(&f, r, &i, r); err != nil {
				return nil, err
			}
		}
		if err := p.steps(&f, p.odt); err != nil {
			return nil, err
		}
	}
	slots := p.outSlots
	if !transformed {
		slots = p.rawSlots
	}
	w := len(slots)
	out := make([]any, n*w)
	if direct {
		if err := p.stepsInto(&f, out, w); err != nil {
			return nil, err
		}
	} else if transformed {
		if err := p.steps(&f, p.mdt); err != nil {
			return nil, err
		}
	}
	for r := range n {
		o := out[r*w : r*w+w]
		var row []any
		if direct {
			row = raw(r)
		}
		for i, s := range slots {
			switch {
			case direct && p.fromStep[i]:
			case direct && p.direct[i]:
				if s < len(row) {
					o[i] = row[s]
				}
			default:
				o[i] = f.vals[s*n+r]
			}
		}
	}
	return out, nil
}

// Width is the length of a result row.
func (p *Program) Width(transformed bool) int {
	if transformed {
		return len(p.names)
	}
	return len(p.raw)
}

func (p *Program) run(f *frame, r int, in *Input, transformed bool, entry int) error {
	if len(p.odt) > 0 {
		if err := p.request(f, r, in, entry); err != nil {
			return err
		}
		if err := p.steps(f, p.odt); err != nil {
			return err
		}
	}
	if transformed {
		return p.steps(f, p.mdt)
	}
	return nil
}

// request merges row r's request parameters into the frame (they override
// fetched values, as hsfs's dict.update does) and checks that every
// on-demand input is available.
func (p *Program) request(f *frame, r int, in *Input, entry int) error {
	req := in.Request
	for k, v := range req {
		if s, ok := p.slotOf[k]; ok {
			f.vals[s*f.n+r] = v
		}
	}
	if len(req) > 0 {
		for k, v := range in.Entry {
			if _, given := req[k]; given {
				continue
			}
			if s, ok := p.slotOf[k]; ok && s >= len(p.raw) {
				f.vals[s*f.n+r] = v
			}
		}
	}
	avail := func(name string, s int) bool {
		if s < 0 {
			return false
		}
		if s < len(p.raw) && (in.Absent == nil || !in.Absent[s]) {
			return true
		}
		if _, ok := req[name]; ok {
			return true
		}
		if len(req) > 0 {
			if _, ok := in.Entry[name]; ok {
				return true
			}
		}
		return false
	}
	var miss map[string][]string
	for i := range p.odt {
		st := &p.odt[i]
		var m []string
		for _, nd := range st.need {
			if p.odtOuts[nd.prefixed] || p.odtOuts[nd.plain] {
				continue
			}
			if !avail(nd.prefixed, nd.ps) && !avail(nd.plain, nd.us) && (nd.plain == nd.prefixed || !avail(nd.plain, p.slotIf(nd.plain))) {
				m = append(m, nd.prefixed)
			}
		}
		if len(m) > 0 {
			sort.Strings(m)
			if miss == nil {
				miss = map[string][]string{}
			}
			for _, o := range st.outNms {
				miss[o] = m
			}
		}
	}
	if miss != nil {
		return &MissingError{Entry: entry, Features: miss}
	}
	return nil
}

func (p *Program) slotIf(name string) int {
	if s, ok := p.slotOf[name]; ok {
		return s
	}
	return -1
}

func (p *Program) steps(f *frame, steps []step) error {
	n := f.n
	for i := range steps {
		st := &steps[i]
		if st.k != nil {
			in := p.input(f, st.in[0])
			lo := st.out[0] * n
			var err error
			if f.box, err = f.kernel(st).run(f.box, in, f.vals[lo:lo+len(st.out)*n], n, n, 1); err != nil {
				return fmt.Errorf("%s: %w", st.name, err)
			}
			continue
		}
		ins := make([][]any, len(st.in))
		for j, s := range st.in {
			ins[j] = p.input(f, s)
		}
		outs := make([][]any, len(st.out))
		for j, s := range st.out {
			outs[j] = f.col(s)
			clear(outs[j])
		}
		if err := st.udf(ins, outs); err != nil {
			return fmt.Errorf("transform: %s: %w", st.name, err)
		}
	}
	return nil
}

// stepsInto runs the model-dependent functions of a batch, writing the
// outputs of those with rowOut straight into the result rows (width w).
func (p *Program) stepsInto(f *frame, out []any, w int) error {
	n := f.n
	for i := range p.mdt {
		st := &p.mdt[i]
		if st.rowOut < 0 {
			if err := p.steps(f, p.mdt[i:i+1]); err != nil {
				return err
			}
			continue
		}
		var err error
		if f.box, err = f.kernel(st).run(f.box, p.input(f, st.in[0]), out[st.rowOut:], n, 1, w); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	return nil
}

// input is the column of an input: the prefixed name's slot, falling back
// per row to the unprefixed one where the first is nil (hsfs task_inputs).
func (p *Program) input(f *frame, s [2]int) []any {
	if s[1] < 0 {
		return f.col(s[0])
	}
	if s[0] < 0 {
		return f.col(s[1])
	}
	a := f.col(s[0])
	for _, v := range a {
		if v == nil {
			// Mixed: merge into a fresh column (rare: a prefixed on-demand
			// input given unprefixed).
			b := f.col(s[1])
			m := make([]any, f.n)
			for r := range m {
				if m[r] = a[r]; m[r] == nil {
					m[r] = b[r]
				}
			}
			return m
		}
	}
	return a
}

package featurestore

import (
	"context"
	"fmt"
	"math"

	"github.com/tandemfs/tandem/internal/transform"
	"github.com/tandemfs/tandem/metadata"
)

// Transformations (hsfs 4.x get_feature_vector with transform=True): the
// feature view's model-dependent transformation functions, computed with
// the training dataset's statistics, after its on-demand functions,
// computed from request parameters. The order and the names follow hsfs
// (python/hsfs/core/vector_server.py in logicalclocks/hopsworks-api):
//
//   - The plan load reads the view's transformation functions
//     (expand=transformationfunctions), the on-demand functions of its
//     features and, when a function needs them, the statistics of the
//     training dataset (WithTrainingDatasetVersion); they are cached with
//     the plan, so a known view serves with metadata down.
//   - A lookup first merges the request parameters (WithRequestParameters)
//     into the row, checks that every on-demand input is there
//     (*MissingRequestParametersError otherwise) and computes the on-demand
//     features; then the model-dependent functions run, in hsfs's order.
//   - Vector.Names is then the transformed order: the features no function
//     drops, in view order, then each function's outputs, the functions
//     sorted by their first output's name ("min_max_scaler_amount_",
//     "one_hot_encoder_color_0", ...). Transform(false) gives the raw
//     order with the on-demand features computed, as hsfs transform=False.
//   - A batch is transformed column by column; it allocates its output and
//     a slab for the numbers, not per entity.
//   - Nulls: where hsfs's pandas-mode built-ins give NaN (float outputs) or
//     pd.NA (integer and string outputs), Tandem gives NaN or nil; for
//     min_max_scaler and standard_scaler, which hsfs runs as plain Python
//     online and which raise TypeError on None there, Tandem gives nil.

// UDFError is returned by FeatureView (errors.As) when the view uses a
// custom transformation function that no WithTransformation registers, or
// one registered with another arity. Missing names the functions.
type UDFError = transform.UDFError

// MissingRequestParametersError is hsfs's "Missing Request parameters to
// compute the following the on-demand Features": Features maps each
// on-demand feature to the inputs that neither the fetched row, the passed
// features nor the request parameters give. Entry is the batch index, or
// -1.
type MissingRequestParametersError = transform.MissingError

var (
	// ErrMissingUDF matches a UDFError for a function without an
	// implementation.
	ErrMissingUDF = transform.ErrUnknownFunction
	// ErrUDFArity matches a UDFError for an implementation registered with
	// another number of features than the view passes.
	ErrUDFArity = transform.ErrArity
	// ErrTransformInput: a value cannot be transformed (e.g. a string for
	// min_max_scaler).
	ErrTransformInput = transform.ErrType
)

// transformOptions are the Client options of transformations.
type transformOptions struct {
	udfs map[string]transform.UDF
	td   int
}

// WithTransformation registers the Go implementation of a custom Python
// UDF by its function name. A feature view that uses a custom function is
// loaded only if every one it needs is registered with its arity (the
// number of features it takes); otherwise FeatureView fails with a
// *UDFError. fn runs column-wise: in[i][r] is feature i of row r (one row
// for a single vector), and fn sets out[j][r] for each output j (out is
// preallocated and nil-filled). fn must be safe for concurrent use. A
// registered function replaces a built-in of the same name.
func WithTransformation(name string, arity int, fn func(in, out [][]any) error) Option {
	return func(o *options) {
		if o.tf.udfs == nil {
			o.tf.udfs = map[string]transform.UDF{}
		}
		o.tf.udfs[name] = transform.UDF{Arity: arity, Fn: fn}
	}
}

// WithTrainingDatasetVersion sets the training dataset version whose
// statistics the model-dependent transformations use (hsfs init_serving's
// training_dataset_version). Default: 1, as hsfs.
func WithTrainingDatasetVersion(td int) Option {
	return func(o *options) { o.tf.td = td }
}

// transformCall holds a lookup's transformation options.
type transformCall struct {
	ctx      map[string]any
	raw      bool
	req      map[string]any
	reqEach  []map[string]any
	setEach  bool
	rawIsSet bool
}

// Transform(false) returns the raw values, in the raw order (hsfs
// transform=False): on-demand features are still computed, model-dependent
// functions are not. Transform(true) is the default.
func Transform(on bool) VectorOption {
	return func(o *vectorOpts) { o.tf.raw, o.tf.rawIsSet = !on, true }
}

// WithRequestParameters gives the request parameters of the on-demand
// transformation functions (hsfs request_parameters). They override
// fetched and passed values of the same name, and the entry's serving keys
// fill in the parameters not given, as in hsfs. In a batch they apply to
// every entry.
func WithRequestParameters(p map[string]any) VectorOption {
	return func(o *vectorOpts) { o.tf.req = p }
}

// WithRequestParametersEach gives request parameters per entry of a batch:
// list[i] for entries[i] (nil: WithRequestParameters's). Its length must be
// that of entries.
func WithRequestParametersEach(list []map[string]any) VectorOption {
	return func(o *vectorOpts) { o.tf.reqEach, o.tf.setEach = list, true }
}

// WithTransformationContext gives the transformation context of the
// call (hsfs transformation_context): the built-ins that read one use it
// instead of their defaults (equal_width_binner "n_bins", winsorize
// "p_low"/"p_high", top_k_categorical_binner "top_n"/"other_label",
// impute_constant and impute_category "value"). Registered Go UDFs do not
// receive it.
func WithTransformationContext(ctx map[string]any) VectorOption {
	return func(o *vectorOpts) { o.tf.ctx = ctx }
}

// transformPlan is the compiled transformations of a plan.
type transformPlan struct {
	prog  *transform.Program
	names []string // transformed order
}

// transformPlan fetches what the view's transformation functions need and
// compiles them into p. It runs after buildPlan, within the plan load, so
// the result is cached with the plan (static stability).
func (c *Client) transformPlan(ctx context.Context, view *metadata.FeatureView, p *plan, err error) (*plan, error) {
	if err != nil || p == nil {
		return p, err
	}
	spec := transform.Spec{Features: p.names, UDFs: c.planOpts.tf.udfs}
	for _, f := range view.Features {
		if f.Label {
			spec.Labels = append(spec.Labels, f.Name)
		}
	}
	needStats := false
	conv := func(tf metadata.TransformationFunction) (transform.Function, error) {
		u := tf.UDF
		dropped, err := u.DroppedFeatures()
		if err != nil {
			return transform.Function{}, err
		}
		needStats = needStats || len(u.StatisticsArgumentNames) > 0
		return transform.Function{Name: u.Name, Features: u.TransformationFeatures, Prefix: u.FeatureNamePrefix,
			Dropped: dropped, OutputNames: u.OutputColumnNames, OutputTypes: u.OutputTypes}, nil
	}
	bad := func(err error) (*plan, error) {
		return nil, fmt.Errorf("featurestore: feature view %s v%d: transformations: %w", view.Name, view.Version, err)
	}
	for _, tf := range view.TransformationFunctions {
		f, err := conv(tf)
		if err != nil {
			return bad(err)
		}
		spec.ModelDependent = append(spec.ModelDependent, f)
	}
	// The whole on-demand chain when the server sends it, else the
	// features' functions, each once (hsfs _on_demand_transformation_functions).
	odt := view.OnDemandTransformationFunctions
	if len(odt) == 0 {
		seen := map[string]bool{}
		for _, f := range view.Features {
			if tf := f.TransformationFunction; tf != nil {
				k := fmt.Sprint(tf.ID, tf.UDF.Name, tf.UDF.TransformationFeatures, tf.UDF.FeatureNamePrefix)
				if !seen[k] {
					seen[k] = true
					odt = append(odt, *tf)
				}
			}
		}
	}
	for _, tf := range odt {
		f, err := conv(tf)
		if err != nil {
			return bad(err)
		}
		spec.OnDemand = append(spec.OnDemand, f)
	}
	if len(spec.ModelDependent) == 0 && len(spec.OnDemand) == 0 {
		return p, nil
	}
	if needStats || transform.NeedsStatistics(spec.ModelDependent) {
		td := c.planOpts.tf.td
		if td == 0 {
			td = 1
		}
		st, err := c.md.TrainingDatasetStatistics(ctx, view.Name, view.Version, td)
		if err != nil {
			return nil, fmt.Errorf("featurestore: loading the statistics of training dataset %d of feature view %s v%d (its transformation functions need them): %w",
				td, view.Name, view.Version, err)
		}
		if spec.Statistics, err = statisticsOf(st); err != nil {
			return bad(err)
		}
	}
	prog, err := transform.Compile(spec)
	if err != nil {
		return bad(err)
	}
	p.tf = &transformPlan{prog: prog, names: prog.Names()}
	return p, nil
}

func statisticsOf(st *metadata.TrainingDatasetStatistics) (map[string]transform.Statistics, error) {
	out := make(map[string]transform.Statistics, len(st.FeatureDescriptiveStatistics))
	num := func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return *p
	}
	for _, f := range st.FeatureDescriptiveStatistics {
		s := transform.NoStatistics(f.FeatureName)
		s.Min, s.Max, s.Mean, s.StdDev = num(f.Min), num(f.Max), num(f.Mean), num(f.StdDev)
		if f.Percentiles != nil {
			s.Percentiles = make([]float64, len(f.Percentiles))
			for i, p := range f.Percentiles {
				s.Percentiles[i] = num(p)
			}
		}
		if err := s.ParseExtended(f.ExtendedStatistics); err != nil {
			return nil, err
		}
		out[f.FeatureName] = s
	}
	return out, nil
}

// absent marks the raw features of the groups that had no row, unless
// passed; nil when every group was read or skipped.
func (p *plan) absent(v *Vector, passed map[string]any) []bool {
	var a []bool
	for gi, gs := range v.Groups {
		if gs.Status != Missing {
			continue
		}
		if a == nil {
			a = make([]bool, len(p.names))
		}
		for _, oc := range p.groups[gi].outs {
			if _, ok := passed[p.names[oc.pos]]; !ok {
				a[oc.pos] = true
			}
		}
	}
	return a
}

// transformVector applies the plan's transformations to a fetched vector
// (after passed features, as hsfs does).
func (p *plan) transformVector(v *Vector, entry map[string]any, o *vectorOpts) (*Vector, error) {
	t := p.tf
	if t == nil || (o.tf.raw && !t.prog.HasOnDemand()) {
		return v, nil
	}
	in := transform.Input{Request: o.tf.req, Entry: entry, Context: o.tf.ctx}
	if t.prog.HasOnDemand() {
		in.Absent = p.absent(v, o.passed)
	}
	vals, err := t.prog.Run(v.Values, in, !o.tf.raw)
	if err != nil {
		return nil, fmt.Errorf("featurestore: feature view %s v%d: %w", p.name, p.version, err)
	}
	v.Values = vals
	if !o.tf.raw {
		v.Names = t.names
	}
	return v, nil
}

// transformBatch applies the transformations column-wise over a batch.
func (p *plan) transformBatch(b *Batch, entries []map[string]any, o *vectorOpts) error {
	t := p.tf
	if t == nil || (o.tf.raw && !t.prog.HasOnDemand()) {
		return nil
	}
	n := len(b.Vectors)
	if o.tf.setEach && len(o.tf.reqEach) != n {
		return fmt.Errorf("featurestore: WithRequestParametersEach has %d entries, the batch %d", len(o.tf.reqEach), n)
	}
	passedFor := func(i int) map[string]any {
		if o.passedEach != nil && o.passedEach[i] != nil {
			return o.passedEach[i]
		}
		return o.passed
	}
	hasODT := t.prog.HasOnDemand()
	slab, err := t.prog.RunBatch(n, func(r int) []any { return b.Vectors[r].Values }, func(r int) transform.Input {
		in := transform.Input{Request: o.tf.req, Entry: entries[r], Context: o.tf.ctx}
		if o.tf.reqEach != nil && o.tf.reqEach[r] != nil {
			in.Request = o.tf.reqEach[r]
		}
		if hasODT {
			in.Absent = p.absent(&b.Vectors[r], passedFor(r))
		}
		return in
	}, !o.tf.raw)
	if err != nil {
		return fmt.Errorf("featurestore: feature view %s v%d: %w", p.name, p.version, err)
	}
	w := t.prog.Width(!o.tf.raw)
	for r := range b.Vectors {
		v := &b.Vectors[r]
		v.Values = slab[r*w : r*w+w : r*w+w]
		if !o.tf.raw {
			v.Names = t.names
		}
	}
	if !o.tf.raw {
		b.Names = t.names
	}
	return nil
}

// TransformedFeatures returns the names of a transformed vector, in order
// (Vector.Names when Transform is on, the default); without transformation
// functions they are Features.
func (fv *FeatureView) TransformedFeatures() []string {
	p := fv.plan.Load()
	if p.tf == nil {
		return append([]string(nil), p.names...)
	}
	return append([]string(nil), p.tf.names...)
}

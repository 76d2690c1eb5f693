package featurestore

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tandemfs/tandem/metadata"
	"github.com/tandemfs/tandem/online"
)

// GetInferenceHelper reads the inference helper columns of one entity, as
// hsfs's get_inference_helper does: the feature view's features marked
// inference helper columns, read with the statements Hopsworks makes for
// them (preparedstatement?inference_helper_columns=true), and returned as
// a map from column name to value. Every helper column is in the map; it
// is nil when its feature group has no row for the entity, or (with
// AllowMissing) when the entry leaves that group's key out. Entries are
// checked as for GetFeatureVector; Pin, NoHedge and PerStatementHedging
// apply, passed features and transformations do not. A view without
// helper columns gives an empty map.
func (fv *FeatureView) GetInferenceHelper(ctx context.Context, entry map[string]any, opts ...VectorOption) (map[string]any, error) {
	c := fv.c
	if c.closed.Load() {
		return nil, ErrClosed
	}
	o := helperOpts(opts)
	p := fv.plan.Load()
	fv.touch()
	if p.helpers == nil {
		return map[string]any{}, nil
	}
	start := time.Now()
	ctx, span := c.tel.startVector(ctx, "featurestore.GetInferenceHelper", p.helpers)
	v, err := fv.vector(ctx, p.helpers, entry, &o)
	c.tel.endVector(ctx, span, p.helpers, v, err, start)
	if err != nil {
		return nil, err
	}
	return v.Map(), nil
}

// GetInferenceHelpers is GetInferenceHelper for many entities, read with
// the batch forms of the helper statements (hsfs get_inference_helpers):
// one map per entry, in entry order, each with every helper column.
func (fv *FeatureView) GetInferenceHelpers(ctx context.Context, entries []map[string]any, opts ...VectorOption) ([]map[string]any, error) {
	c := fv.c
	if c.closed.Load() {
		return nil, ErrClosed
	}
	o := helperOpts(opts)
	p := fv.plan.Load()
	fv.touch()
	out := make([]map[string]any, len(entries))
	if p.helpers == nil {
		for i := range out {
			out[i] = map[string]any{}
		}
		return out, nil
	}
	start := time.Now()
	ctx, span := c.tel.startVector(ctx, "featurestore.GetInferenceHelpers", p.helpers)
	b, err := fv.batch(ctx, p.helpers, entries, &o)
	c.tel.endBatch(ctx, span, b, len(entries), err, start)
	if err != nil {
		return nil, err
	}
	for i := range b.Vectors {
		out[i] = b.Vectors[i].Map()
	}
	return out, nil
}

// helperOpts applies opts for a helper read: no vector cache (it holds
// vectors), no passed features (they are vector features).
func helperOpts(opts []VectorOption) vectorOpts {
	var o vectorOpts
	for _, opt := range opts {
		opt(&o)
	}
	o.noCache, o.passed, o.passedEach = true, nil, nil
	return o
}

// fetchHelpers builds the plan of a view's inference helper columns when
// it has any: the helper statements (single and batch) validated as a
// vector's are, with the helper columns as its features.
func (c *Client) fetchHelpers(ctx context.Context, store *online.Store, view *metadata.FeatureView) (*plan, error) {
	has := false
	for _, f := range view.Features {
		has = has || f.InferenceHelperColumn
	}
	if !has {
		return nil, nil
	}
	var single, batch []metadata.PreparedStatement
	eg, ectx := errgroup.WithContext(ctx)
	eg.Go(func() (err error) {
		single, err = c.md.InferenceHelperStatements(ectx, view.Name, view.Version, false)
		return
	})
	eg.Go(func() (err error) {
		batch, err = c.md.InferenceHelperStatements(ectx, view.Name, view.Version, true)
		return
	})
	if err := eg.Wait(); err != nil {
		return nil, fmt.Errorf("featurestore: loading the inference helper statements of feature view %s v%d: %w", view.Name, view.Version, err)
	}
	po := c.planOpts
	po.helpers = true
	return buildPlan(store, view, single, batch, po)
}

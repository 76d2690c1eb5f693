package featurestore

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tandemfs/tandem/online"
	"github.com/tandemfs/tandem/region"
)

// Status says whether a feature group contributed to a vector.
type Status uint8

const (
	// Missing: the feature group has no row for the entity; its features
	// are nil (unless passed).
	Missing Status = iota
	// Present: the feature group's row was read.
	Present
	// Skipped: the entry gave no key for the feature group and every one
	// of its features was passed, so it was not read.
	Skipped
)

func (s Status) String() string {
	switch s {
	case Present:
		return "present"
	case Skipped:
		return "skipped"
	}
	return "missing"
}

// GroupStatus is one feature group's part in a vector.
type GroupStatus struct {
	FeatureGroup string
	ID           int64
	Version      int
	Status       Status
	// Region served the group's row ("" when skipped).
	Region region.ID
}

// Vector is a feature vector: the view's features in order (by index,
// without labels and helper columns) and the status of each feature group.
//
// Ownership, as database/sql's RawBytes documents it: Names is shared with
// the FeatureView's plan and every other vector read with it, and is
// read-only (FeatureView.Features returns a copy the caller may keep and
// change). Values and Groups belong to the caller.
type Vector struct {
	Names  []string
	Values []any
	// Groups has one status per feature group, in statement order.
	Groups []GroupStatus
	// Region is the region that served the vector; when MixedRegions is
	// true it is the region of the first group read.
	Region region.ID
	// Hedged reports that a hedge was sent for one of the vector's reads.
	Hedged bool
	// MixedRegions reports that the feature groups were served by
	// different regions (only possible with PerStatementHedging), so the
	// vector may mix data versions under replication lag.
	MixedRegions bool
	// Cached reports that the fetched part came from the vector cache.
	Cached bool
}

// Complete reports whether every feature group was read or skipped, none
// missing.
func (v *Vector) Complete() bool {
	for _, g := range v.Groups {
		if g.Status == Missing {
			return false
		}
	}
	return true
}

// Found reports whether at least one feature group has a row for the
// entity.
func (v *Vector) Found() bool {
	for _, g := range v.Groups {
		if g.Status == Present {
			return true
		}
	}
	return false
}

// Map returns the vector as a map from feature name to value.
func (v *Vector) Map() map[string]any {
	m := make(map[string]any, len(v.Names))
	for i, n := range v.Names {
		m[n] = v.Values[i]
	}
	return m
}

// Get returns the value of the named feature.
func (v *Vector) Get(name string) (any, bool) {
	for i, n := range v.Names {
		if n == name {
			return v.Values[i], true
		}
	}
	return nil, false
}

// VectorOption changes one lookup.
type VectorOption func(*vectorOpts)

type vectorOpts struct {
	passed       map[string]any
	passedEach   []map[string]any
	pin          region.ID
	noHedge      bool
	perStatement bool
	noCache      bool
	allowMissing bool
	tf           transformCall // Transform, WithRequestParameters (transform.go)
}

// WithPassedFeatures gives feature values that override the fetched ones
// (hsfs passed_features). Every name must be a feature of the view.
func WithPassedFeatures(f map[string]any) VectorOption {
	return func(o *vectorOpts) { o.passed = f }
}

// Pin reads from region r only (no cross-region hedge), for
// read-your-writes; it also bypasses the vector cache.
func Pin(r region.ID) VectorOption { return func(o *vectorOpts) { o.pin = r } }

// NoHedge sends no hedge for this lookup; a transient error still fails
// over at once.
func NoHedge() VectorOption { return func(o *vectorOpts) { o.noHedge = true } }

// PerStatementHedging reads each feature group as its own hedged unit,
// concurrently, instead of reading them all from one server. A slow
// server then delays only its group, but a vector may mix regions
// (Vector.MixedRegions, counted in tandem.featurestore.vectors.mixed).
func PerStatementHedging() VectorOption { return func(o *vectorOpts) { o.perStatement = true } }

// NoCache bypasses the vector cache for this lookup.
func NoCache() VectorOption { return func(o *vectorOpts) { o.noCache = true } }

// AllowMissing lets an entry leave out the serving key of a feature group
// whose features are not all passed (hsfs allow_missing=True): that group
// is not read, its status is Missing and its features are nil, instead of
// the lookup failing with ErrMissingServingKey. A composite key must still
// be given whole or not at all (ErrPartialCompositeKey).
//
// A missing row is never an error, with or without AllowMissing: its
// group is Missing and its features nil, and a batch keeps every entity.
// hsfs without allow_missing instead fails a vector that lacks some
// features and leaves out an entity that has no row at all; check
// Vector.Complete (or Batch.Missing) for that strictness.
func AllowMissing() VectorOption { return func(o *vectorOpts) { o.allowMissing = true } }

func (o *vectorOpts) online(buf []online.CallOption) []online.CallOption {
	if o.pin != "" {
		buf = append(buf, online.Pin(o.pin))
	}
	if o.noHedge {
		buf = append(buf, online.NoHedge())
	}
	return buf
}

// GetFeatureVector reads the vector of one entity, given by its serving
// keys as hsfs names them: prefix+featureName for a required key,
// otherwise the feature it joins on (WithKeyAliases accepts more). A
// composite key of one feature group is given whole or not at all (then
// every feature of that group must be passed, or AllowMissing given).
//
// By default every feature group's statement runs in one online group:
// concurrently, on one server, hedged together, so the vector comes from
// one region. An entity without a row in a feature group is not an error:
// that group's status is Missing and its features are nil.
//
// It needs neither metadata nor the ACA: the plan is in the handle.
func (fv *FeatureView) GetFeatureVector(ctx context.Context, entry map[string]any, opts ...VectorOption) (*Vector, error) {
	c := fv.c
	if c.closed.Load() {
		return nil, ErrClosed
	}
	var o vectorOpts
	for _, opt := range opts {
		opt(&o)
	}
	p := fv.plan.Load()
	fv.touch()
	start := time.Now()
	ctx, span := c.tel.startVector(ctx, "featurestore.GetFeatureVector", p)
	v, err := fv.vector(ctx, p, entry, &o)
	if err == nil {
		v, err = p.transformVector(v, entry, &o) // transform.go
	}
	c.tel.endVector(ctx, span, p, v, err, start)
	return v, err
}

func (fv *FeatureView) vector(ctx context.Context, p *plan, entry map[string]any, o *vectorOpts) (*Vector, error) {
	if err := p.checkPassed(o.passed); err != nil {
		return nil, err
	}
	// One allocation for the keys and the calls' arguments.
	args := make([]any, p.nkeys)
	r, err := p.resolve(entry, o.passed, -1, args, o.allowMissing)
	if err != nil {
		return nil, err
	}
	if err := p.unsupported(&r); err != nil {
		return nil, err
	}
	cache := fv.cache
	useCache := cache != nil && o.pin == "" && !o.noCache && r.skipped == 0 && r.absent == 0
	var ck string
	if useCache {
		ck = string(appendKey(make([]byte, 0, 16*len(args)), args, false))
		// A vector cached under an older plan (a refresh raced the purge)
		// is a miss: its order may differ.
		if hit, ok := cache.Get(ck); ok && hit.p == p {
			fv.c.tel.cacheHit(ctx)
			v := hit.v.clone()
			v.Cached = true
			p.applyPassed(v, o.passed)
			return v, nil
		}
		fv.c.tel.cacheMiss(ctx)
	}
	v := p.newVector()
	for gi := range p.groups {
		if r.isAbsent(gi) {
			v.Groups[gi].Status = Missing
		}
	}
	var cobuf [2]online.CallOption
	copts := o.online(cobuf[:0])
	if o.perStatement && len(p.groups) > 1 {
		err = fv.perGroup(ctx, p, &r, v, copts)
	} else {
		err = fv.oneGroup(ctx, p, &r, v, copts)
	}
	if err != nil {
		return nil, err
	}
	if useCache && v.Complete() {
		cache.Add(ck, cachedVector{p: p, v: v.clone()})
	}
	p.applyPassed(v, o.passed)
	return v, nil
}

// oneGroup reads every group's row in one online group: one server, one
// region, hedged together.
func (fv *FeatureView) oneGroup(ctx context.Context, p *plan, r *resolved, v *Vector, copts []online.CallOption) error {
	var cbuf [4]online.Call
	calls := cbuf[:0]
	var ibuf [4]int
	which := ibuf[:0] // group of each call
	for gi, g := range p.groups {
		if r.skip(gi) {
			continue
		}
		calls = append(calls, online.Call{Stmt: g.single, Args: r.args[g.argOffset : g.argOffset+len(g.keys) : g.argOffset+len(g.keys)]})
		which = append(which, gi)
	}
	if len(calls) == 0 {
		return nil
	}
	res, err := p.store.QueryGroup(ctx, calls, copts...)
	if err != nil {
		return fv.c.wrapRead(p, err)
	}
	v.Region, v.Hedged = res.Region, res.Hedged
	for i, gi := range which {
		if err := p.fill(v, gi, res.Rows[i], res.Region); err != nil {
			return err
		}
	}
	return nil
}

// perGroup reads each group as its own online group, concurrently.
func (fv *FeatureView) perGroup(ctx context.Context, p *plan, r *resolved, v *Vector, copts []online.CallOption) error {
	results := make([]*online.Result, len(p.groups))
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(fv.c.cfg.MaxConcurrentGroups)
	for gi, g := range p.groups {
		if r.skip(gi) {
			continue
		}
		call := []online.Call{{Stmt: g.single, Args: r.args[g.argOffset : g.argOffset+len(g.keys) : g.argOffset+len(g.keys)]}}
		eg.Go(func() error {
			res, err := p.store.QueryGroup(ectx, call, copts...)
			results[gi] = res
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return fv.c.wrapRead(p, err)
	}
	for gi, res := range results {
		if res == nil {
			continue
		}
		if v.Region == "" {
			v.Region = res.Region
		} else if res.Region != v.Region {
			v.MixedRegions = true
		}
		v.Hedged = v.Hedged || res.Hedged
		if err := p.fill(v, gi, res.Rows[0], res.Region); err != nil {
			return err
		}
	}
	return nil
}

// vectorAlloc holds a vector and room for the usual number of groups, so
// that a vector costs one allocation less.
type vectorAlloc struct {
	v      Vector
	groups [4]GroupStatus
}

// newVector allocates a vector of the plan with every group skipped
// (fill marks the groups it reads).
func (p *plan) newVector() *Vector {
	var v *Vector
	if len(p.groups) <= 4 {
		a := &vectorAlloc{}
		v = &a.v
		v.Groups = a.groups[:len(p.groups):len(p.groups)]
	} else {
		v = &Vector{Groups: make([]GroupStatus, len(p.groups))}
	}
	v.Names, v.Values = p.names, make([]any, len(p.names))
	for i, g := range p.groups {
		v.Groups[i] = GroupStatus{FeatureGroup: g.fgName, ID: g.fgID, Version: g.fgVersion, Status: Skipped}
	}
	return v
}

// fill copies group gi's row (the first, if the key matched several) into v.
func (p *plan) fill(v *Vector, gi int, rows *online.Rows, r region.ID) error {
	gs := &v.Groups[gi]
	gs.Region = r
	if rows == nil || len(rows.Values) == 0 {
		gs.Status = Missing
		return nil
	}
	g := p.groups[gi]
	m, err := g.columns(&g.singleCols, rows.Columns, false)
	if err != nil {
		return err
	}
	row := rows.Values[0]
	for i := range g.outs {
		o := &g.outs[i]
		if v.Values[o.pos], err = p.value(o, row[m.outs[i]]); err != nil {
			return err
		}
	}
	gs.Status = Present
	return nil
}

func (p *plan) checkPassed(passed map[string]any) error {
	for n := range passed {
		if _, ok := p.pos[n]; !ok {
			return fmt.Errorf("%w: %q is not a feature of %s v%d", ErrUnknownFeature, n, p.name, p.version)
		}
	}
	return nil
}

func (p *plan) applyPassed(v *Vector, passed map[string]any) {
	for n, x := range passed {
		v.Values[p.pos[n]] = x
	}
}

// cachedVector is a vector cache entry: the fetched vector (before passed
// features) and the plan it follows.
type cachedVector struct {
	p *plan
	v *Vector
}

func (v *Vector) clone() *Vector {
	out := *v
	out.Values = make([]any, len(v.Values))
	for i, x := range v.Values {
		out.Values[i] = deepCopy(x)
	}
	out.Groups = append([]GroupStatus(nil), v.Groups...)
	return &out
}

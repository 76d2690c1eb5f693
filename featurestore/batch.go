package featurestore

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tandemfs/tandem/online"
	"github.com/tandemfs/tandem/region"
)

// Batch is the result of GetFeatureVectors: one vector per entry, in entry
// order, each with a status per feature group. Nothing is dropped: an
// entity without rows is there, with its groups Missing.
type Batch struct {
	// Names is the vector order, shared with every vector and the plan:
	// read-only (FeatureView.Features returns a copy).
	Names []string
	// Vectors has one vector per entry, in the order given; duplicate
	// entries get equal vectors (read once).
	Vectors []Vector
	// Region served the batch; when MixedRegions is true, the region of
	// the first group read.
	Region region.ID
	// Hedged reports that a hedge was sent for one of the batch's reads.
	Hedged bool
	// MixedRegions reports that feature groups were served by different
	// regions (only possible with PerStatementHedging).
	MixedRegions bool
	// Unique is the number of distinct keys read (the largest number of
	// any feature group): duplicate entries are read once.
	Unique int
	// Missing counts the entries with at least one feature group missing.
	Missing int
	// Unmatched counts rows that matched no entry's key. It is 0 unless
	// the key column's collation matches keys the client tells apart.
	Unmatched int
}

// WithPassedFeaturesEach gives passed features per entry of a batch:
// list[i] overrides the fetched values of entries[i] (nil for none). Its
// length must be that of entries. WithPassedFeatures, in a batch, applies
// to every entry.
func WithPassedFeaturesEach(list []map[string]any) VectorOption {
	return func(o *vectorOpts) { o.passedEach = list }
}

// GetFeatureVectors reads the vectors of many entities with the view's
// batch statements: each feature group's distinct keys go into bound
// "IN (…)" lists, chunked (online's MaxBatchKeys), and by default every
// chunk of every group runs in one online group: concurrently on one
// server, hedged together, so the batch comes from one region. Rows are
// matched back to entries by primary key; duplicate entries are read
// once; every entry gets a vector with a status per feature group.
//
// An invalid entry fails the whole call with a *KeyError naming its index.
func (fv *FeatureView) GetFeatureVectors(ctx context.Context, entries []map[string]any, opts ...VectorOption) (*Batch, error) {
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
	ctx, span := c.tel.startVector(ctx, "featurestore.GetFeatureVectors", p)
	b, err := fv.batch(ctx, p, entries, &o)
	if err == nil {
		if err = p.transformBatch(b, entries, &o); err != nil { // transform.go
			b = nil
		}
	}
	c.tel.endBatch(ctx, span, b, len(entries), err, start)
	return b, err
}

// batchRun is one GetFeatureVectors call on its way through the phases of
// batch: resolve the entries, find each group's distinct keys, read their
// chunks, match the rows back to keys, assemble the vectors.
type batchRun struct {
	fv      *FeatureView
	p       *plan
	o       *vectorOpts
	entries []map[string]any
	b       *Batch

	args     []any    // n × nkeys: each entry's normalised keys
	skipped  []uint64 // per entry: groups not read (resolved.skipped)
	absent   []uint64 // per entry: groups left out (resolved.absent)
	slot     []int32  // n × groups: entry i's key in group g, -1 unread
	keys     [][][]any
	index    []map[string]int32 // per group: key encoding -> slot
	calls    []online.Call
	span     [][2]int // calls[span[g][0]:span[g][1]] are group g's
	rows     []*online.Rows
	regions  []region.ID
	found    [][]any // per group's key slots, from foundAt[g]: its row
	foundAt  []int
	maps     []*colMap
	keyBytes []byte
}

func (fv *FeatureView) batch(ctx context.Context, p *plan, entries []map[string]any, o *vectorOpts) (*Batch, error) {
	run := &batchRun{fv: fv, p: p, o: o, entries: entries}
	if err := run.resolve(); err != nil {
		return nil, err
	}
	run.distinctKeys()
	if err := run.chunk(); err != nil {
		return nil, err
	}
	if err := run.read(ctx); err != nil {
		return nil, err
	}
	if err := run.match(ctx); err != nil {
		return nil, err
	}
	if err := run.assemble(); err != nil {
		return nil, err
	}
	return run.b, nil
}

func (r *batchRun) passedFor(i int) map[string]any {
	if r.o.passedEach != nil && r.o.passedEach[i] != nil {
		return r.o.passedEach[i]
	}
	return r.o.passed
}

// resolve checks the passed features and resolves every entry's keys.
func (r *batchRun) resolve() error {
	p, o, n := r.p, r.o, len(r.entries)
	if o.passedEach != nil && len(o.passedEach) != n {
		return fmt.Errorf("featurestore: WithPassedFeaturesEach has %d entries, the batch %d", len(o.passedEach), n)
	}
	if err := p.checkPassed(o.passed); err != nil {
		return err
	}
	for _, m := range o.passedEach {
		if err := p.checkPassed(m); err != nil {
			return err
		}
	}
	K := p.nkeys
	r.args = make([]any, n*K)
	r.skipped, r.absent = make([]uint64, n), make([]uint64, n)
	for i, e := range r.entries {
		res, err := p.resolve(e, r.passedFor(i), i, r.args[i*K:(i+1)*K:(i+1)*K], o.allowMissing)
		if err != nil {
			return err
		}
		if err := p.unsupported(&res); err != nil {
			return err
		}
		r.skipped[i], r.absent[i] = res.skipped, res.absent
	}
	return nil
}

// distinctKeys collects each group's distinct keys; duplicate entries
// share a slot and are read once.
func (r *batchRun) distinctKeys() {
	p, n, G, K := r.p, len(r.entries), len(r.p.groups), r.p.nkeys
	r.slot = make([]int32, n*G)
	r.keys = make([][][]any, G)
	r.index = make([]map[string]int32, G)
	for g, gr := range p.groups {
		r.index[g] = make(map[string]int32, n)
		for i := range r.entries {
			if g < 64 && (r.skipped[i]|r.absent[i])&(1<<g) != 0 {
				r.slot[i*G+g] = -1
				continue
			}
			k := r.args[i*K+gr.argOffset : i*K+gr.argOffset+len(gr.keys)]
			r.keyBytes = appendKey(r.keyBytes[:0], k, false)
			s, ok := r.index[g][string(r.keyBytes)]
			if !ok {
				s = int32(len(r.keys[g]))
				r.index[g][string(r.keyBytes)] = s
				r.keys[g] = append(r.keys[g], k)
			}
			r.slot[i*G+g] = s
		}
	}
	r.b = &Batch{Names: r.p.names, Vectors: make([]Vector, n)}
	for g := range r.keys {
		r.b.Unique = max(r.b.Unique, len(r.keys[g]))
	}
}

// chunk turns each group's keys into batch calls (online's MaxBatchKeys
// per call).
func (r *batchRun) chunk() error {
	r.span = make([][2]int, len(r.p.groups))
	for g, gr := range r.p.groups {
		r.span[g][0] = len(r.calls)
		if len(r.keys[g]) > 0 {
			cs, err := gr.batch.Batch(r.keys[g])
			if err != nil {
				return fmt.Errorf("featurestore: feature view %s v%d: %w", r.p.name, r.p.version, err)
			}
			r.calls = append(r.calls, cs...)
		}
		r.span[g][1] = len(r.calls)
	}
	return nil
}

// read runs every group's chunks, in one online group unless
// PerStatementHedging.
func (r *batchRun) read(ctx context.Context) error {
	G := len(r.p.groups)
	r.rows = make([]*online.Rows, len(r.calls))
	r.regions = make([]region.ID, G)
	if len(r.calls) == 0 {
		return nil
	}
	var cobuf [2]online.CallOption
	copts := r.o.online(cobuf[:0])
	store, b := r.p.store, r.b
	if !r.o.perStatement || G == 1 {
		res, err := store.QueryGroup(ctx, r.calls, copts...)
		if err != nil {
			return r.fv.c.wrapRead(r.p, err)
		}
		copy(r.rows, res.Rows)
		b.Region, b.Hedged = res.Region, res.Hedged
		for g := range r.regions {
			if r.span[g][0] < r.span[g][1] {
				r.regions[g] = res.Region
			}
		}
		return nil
	}
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(r.fv.c.cfg.MaxConcurrentGroups)
	hedged := make([]bool, G)
	for g := range r.p.groups {
		lo, hi := r.span[g][0], r.span[g][1]
		if lo == hi {
			continue
		}
		eg.Go(func() error {
			res, err := store.QueryGroup(ectx, r.calls[lo:hi], copts...)
			if err != nil {
				return err
			}
			copy(r.rows[lo:hi], res.Rows)
			r.regions[g], hedged[g] = res.Region, res.Hedged
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return r.fv.c.wrapRead(r.p, err)
	}
	for g, reg := range r.regions {
		if reg == "" {
			continue
		}
		if b.Region == "" {
			b.Region = reg
		} else if reg != b.Region {
			b.MixedRegions = true
		}
		b.Hedged = b.Hedged || hedged[g]
	}
	return nil
}

// match finds, per group, the row of each distinct key, by the key
// columns the batch form selects; keys that match no row exactly are then
// matched folded, as MySQL's default collations compare.
func (r *batchRun) match(ctx context.Context) error {
	G := len(r.p.groups)
	r.foundAt = make([]int, G)
	for g, gr := range r.p.groups {
		r.foundAt[g] = len(r.found)
		r.found = append(r.found, make([][]any, len(r.keys[g]))...)
		found := r.found[r.foundAt[g] : r.foundAt[g]+len(r.keys[g])]
		chunks := r.rows[r.span[g][0]:r.span[g][1]]
		var m *colMap
		var kv []any
		var unmatched [][]any
		matched := 0
		for _, rs := range chunks {
			if rs == nil || len(rs.Values) == 0 {
				continue
			}
			var err error
			if m, err = gr.columns(&gr.batchCols, rs.Columns, true); err != nil {
				return err
			}
			if kv == nil {
				kv = make([]any, len(m.keys))
			}
			for _, row := range rs.Values {
				for j, ci := range m.keys {
					kv[j] = row[ci]
				}
				r.keyBytes = appendKey(r.keyBytes[:0], kv, false)
				if s, ok := r.index[g][string(r.keyBytes)]; !ok {
					unmatched = append(unmatched, row)
				} else if found[s] == nil {
					found[s] = row
					matched++
				}
			}
		}
		switch {
		case m == nil:
		case gr.folds && matched < len(r.keys[g]):
			r.b.Unmatched += matchFolded(r.keys[g], chunks, unmatched, m, found)
		default:
			r.b.Unmatched += len(unmatched)
		}
		r.maps = append(r.maps, m)
	}
	if r.b.Unmatched > 0 {
		r.fv.c.tel.unmatchedRows(ctx, r.b.Unmatched)
	}
	return nil
}

// assemble builds every entry's vector: one slab for all values and one
// for all statuses.
func (r *batchRun) assemble() error {
	p, b := r.p, r.b
	n, G, F := len(r.entries), len(p.groups), len(p.names)
	vals := make([]any, n*F)
	stats := make([]GroupStatus, n*G)
	for i := range r.entries {
		v := &b.Vectors[i]
		v.Names, v.Values, v.Groups = p.names, vals[i*F:(i+1)*F:(i+1)*F], stats[i*G:(i+1)*G:(i+1)*G]
		v.Region, v.Hedged, v.MixedRegions = b.Region, b.Hedged, b.MixedRegions
		complete := true
		for g, gr := range p.groups {
			gs := &v.Groups[g]
			gs.FeatureGroup, gs.ID, gs.Version = gr.fgName, gr.fgID, gr.fgVersion
			s := r.slot[i*G+g]
			if s < 0 {
				gs.Status = Skipped
				if g < 64 && r.absent[i]&(1<<g) != 0 {
					gs.Status = Missing
					complete = false
				}
				continue
			}
			gs.Region = r.regions[g]
			row := r.found[r.foundAt[g]+int(s)]
			if row == nil {
				gs.Status = Missing
				complete = false
				continue
			}
			gs.Status = Present
			for j := range gr.outs {
				oc := &gr.outs[j]
				var err error
				if v.Values[oc.pos], err = p.value(oc, row[r.maps[g].outs[j]]); err != nil {
					return err
				}
			}
		}
		if !complete {
			b.Missing++
		}
		p.applyPassed(v, r.passedFor(i))
	}
	return nil
}

// matchFolded gives the keys that matched no row exactly a row whose key
// is equal when folded as MySQL's default (case-insensitive, PAD SPACE)
// collations compare strings: "IN ('us')" returns the row 'US'. It
// returns how many of the unmatched rows matched no key folded either.
//
// It assumes the key columns use such a collation, as the single-vector
// statement's "=" does; with a case-sensitive one, an entry 'us' in the
// same batch as 'US' would get the 'US' row (see doc.go).
func matchFolded(keys [][]any, chunks []*online.Rows, unmatched [][]any, m *colMap, found [][]any) int {
	kv := make([]any, len(m.keys))
	var kb []byte
	fold := func(row []any) string {
		for j, ci := range m.keys {
			kv[j] = row[ci]
		}
		kb = appendKey(kb[:0], kv, true)
		return string(kb)
	}
	rows := make(map[string][]any)
	for _, rs := range chunks {
		if rs == nil {
			continue
		}
		for _, row := range rs.Values {
			if f := fold(row); rows[f] == nil {
				rows[f] = row
			}
		}
	}
	used := make(map[string]bool)
	for s, k := range keys {
		if found[s] != nil {
			continue
		}
		kb = appendKey(kb[:0], k, true)
		if row, ok := rows[string(kb)]; ok {
			found[s] = row
			used[string(kb)] = true
		}
	}
	left := 0
	for _, row := range unmatched {
		if !used[fold(row)] {
			left++
		}
	}
	return left
}

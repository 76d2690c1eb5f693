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
	// Names is the vector order, shared with every vector: do not modify.
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
	c.tel.endBatch(ctx, span, b, len(entries), err, start)
	return b, err
}

func (fv *FeatureView) batch(ctx context.Context, p *plan, entries []map[string]any, o *vectorOpts) (*Batch, error) {
	n, G, K, F := len(entries), len(p.groups), p.nkeys, len(p.names)
	if o.passedEach != nil && len(o.passedEach) != n {
		return nil, fmt.Errorf("featurestore: WithPassedFeaturesEach has %d entries, the batch %d", len(o.passedEach), n)
	}
	if err := p.checkPassed(o.passed); err != nil {
		return nil, err
	}
	for _, m := range o.passedEach {
		if err := p.checkPassed(m); err != nil {
			return nil, err
		}
	}
	passedFor := func(i int) map[string]any {
		if o.passedEach != nil && o.passedEach[i] != nil {
			return o.passedEach[i]
		}
		return o.passed
	}
	args := make([]any, n*K)
	skipped := make([]uint64, n)
	for i, e := range entries {
		r, err := p.resolve(e, passedFor(i), i, args[i*K:(i+1)*K:(i+1)*K])
		if err != nil {
			return nil, err
		}
		skipped[i] = r.skipped
	}

	// Distinct keys per group; slot[i*G+g] is entry i's key in group g.
	slot := make([]int32, n*G)
	keys := make([][][]any, G)
	index := make([]map[string]int32, G)
	var kb []byte
	for g, gr := range p.groups {
		index[g] = make(map[string]int32, n)
		for i := range entries {
			if skipped[i]&(1<<g) != 0 && g < 64 {
				slot[i*G+g] = -1
				continue
			}
			k := args[i*K+gr.argOffset : i*K+gr.argOffset+len(gr.keys)]
			kb = appendKey(kb[:0], k, false)
			s, ok := index[g][string(kb)]
			if !ok {
				s = int32(len(keys[g]))
				index[g][string(kb)] = s
				keys[g] = append(keys[g], k)
			}
			slot[i*G+g] = s
		}
	}
	b := &Batch{Names: p.names, Vectors: make([]Vector, n)}
	for g := range keys {
		b.Unique = max(b.Unique, len(keys[g]))
	}

	// Every group's chunks, in one online group unless PerStatementHedging.
	var calls []online.Call
	span := make([][2]int, G) // calls[span[g][0]:span[g][1]] are group g's
	for g, gr := range p.groups {
		span[g][0] = len(calls)
		if len(keys[g]) > 0 {
			cs, err := gr.batch.Batch(keys[g])
			if err != nil {
				return nil, fmt.Errorf("featurestore: feature view %s v%d: %w", p.name, p.version, err)
			}
			calls = append(calls, cs...)
		}
		span[g][1] = len(calls)
	}
	rows := make([]*online.Rows, len(calls))
	regions := make([]region.ID, G)
	var cobuf [2]online.CallOption
	copts := o.online(cobuf[:0])
	if len(calls) > 0 {
		if o.perStatement && G > 1 {
			eg, ectx := errgroup.WithContext(ctx)
			eg.SetLimit(fv.c.cfg.MaxConcurrentGroups)
			hedged := make([]bool, G)
			for g := range p.groups {
				lo, hi := span[g][0], span[g][1]
				if lo == hi {
					continue
				}
				eg.Go(func() error {
					res, err := fv.c.store.QueryGroup(ectx, calls[lo:hi], copts...)
					if err != nil {
						return err
					}
					copy(rows[lo:hi], res.Rows)
					regions[g], hedged[g] = res.Region, res.Hedged
					return nil
				})
			}
			if err := eg.Wait(); err != nil {
				return nil, fv.c.wrapRead(p, err)
			}
			for g, r := range regions {
				if r == "" {
					continue
				}
				if b.Region == "" {
					b.Region = r
				} else if r != b.Region {
					b.MixedRegions = true
				}
				b.Hedged = b.Hedged || hedged[g]
			}
		} else {
			res, err := fv.c.store.QueryGroup(ctx, calls, copts...)
			if err != nil {
				return nil, fv.c.wrapRead(p, err)
			}
			copy(rows, res.Rows)
			b.Region, b.Hedged = res.Region, res.Hedged
			for g := range regions {
				if span[g][0] < span[g][1] {
					regions[g] = res.Region
				}
			}
		}
	}

	// Match rows back to keys, per group.
	found := make([][]any, 0)
	var maps []*colMap
	foundAt := make([]int, G) // offset of group g's keys in found
	for g, gr := range p.groups {
		foundAt[g] = len(found)
		found = append(found, make([][]any, len(keys[g]))...)
		var m *colMap
		var kv []any
		var unmatched [][]any
		matched := 0
		for _, rs := range rows[span[g][0]:span[g][1]] {
			if rs == nil || len(rs.Values) == 0 {
				continue
			}
			var err error
			if m, err = gr.columns(&gr.batchCols, rs.Columns, true); err != nil {
				return nil, err
			}
			if kv == nil {
				kv = make([]any, len(m.keys))
			}
			for _, row := range rs.Values {
				for j, ci := range m.keys {
					kv[j] = row[ci]
				}
				kb = appendKey(kb[:0], kv, false)
				if s, ok := index[g][string(kb)]; ok {
					if found[foundAt[g]+int(s)] == nil {
						found[foundAt[g]+int(s)] = row
						matched++
					}
				} else {
					unmatched = append(unmatched, row)
				}
			}
		}
		switch {
		case m == nil:
		case gr.folds && matched < len(keys[g]):
			b.Unmatched += matchFolded(keys[g], rows[span[g][0]:span[g][1]], unmatched, m, found[foundAt[g]:foundAt[g]+len(keys[g])])
		default:
			b.Unmatched += len(unmatched)
		}
		maps = append(maps, m)
	}
	if b.Unmatched > 0 {
		fv.c.tel.unmatchedRows(ctx, b.Unmatched)
	}

	// Assemble: one slab for all values and one for all statuses.
	vals := make([]any, n*F)
	stats := make([]GroupStatus, n*G)
	for i := range entries {
		v := &b.Vectors[i]
		v.Names, v.Values, v.Groups = p.names, vals[i*F:(i+1)*F:(i+1)*F], stats[i*G:(i+1)*G:(i+1)*G]
		v.Region, v.Hedged, v.MixedRegions = b.Region, b.Hedged, b.MixedRegions
		complete := true
		for g, gr := range p.groups {
			gs := &v.Groups[g]
			gs.FeatureGroup, gs.ID, gs.Version = gr.fgName, gr.fgID, gr.fgVersion
			s := slot[i*G+g]
			if s < 0 {
				gs.Status = Skipped
				continue
			}
			gs.Region = regions[g]
			row := found[foundAt[g]+int(s)]
			if row == nil {
				gs.Status = Missing
				complete = false
				continue
			}
			gs.Status = Present
			for j, oc := range gr.outs {
				v.Values[oc.pos] = row[maps[g].outs[j]]
			}
		}
		if !complete {
			b.Missing++
		}
		p.applyPassed(v, passedFor(i))
	}
	return b, nil
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

package featurestore

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tandemfs/tandem/metadata"
	"github.com/tandemfs/tandem/online"
	"github.com/tandemfs/tandem/region"
)

// plan is the serving plan of one feature view version: what the hot path
// needs, built once per load so that a lookup does no metadata work. A
// plan is immutable once built (the column maps are filled in lazily,
// atomically).
type plan struct {
	name    string
	version int
	id      int64
	loaded  time.Time
	source  region.ID // the region whose metadata built it

	store  *online.Store  // the store its statements are prepared on
	names  []string       // vector order: features by index, no labels or helpers
	pos    map[string]int // feature name -> position in names
	groups []*group       // one per feature group statement, in statement order
	// accepted holds every entry key the view takes; valid is it sorted,
	// for error messages.
	accepted map[string]struct{}
	valid    []string
	nkeys    int // key columns over all groups
	// complex lists the complex features, whose decoders loadComplex
	// sets from their groups' Avro schemas.
	complex []complexFeature
	// helpers is the plan of the inference helper columns, nil when the
	// view has none.
	helpers *plan

	tf *transformPlan // transformations, nil without any (transform.go)
}

// group is one feature group's statements and keys.
type group struct {
	idx       int
	fgID      int64
	fgName    string
	fgVersion int
	prefix    string
	single    *online.Stmt
	batch     *online.Stmt
	keys      []*keySpec  // in parameter order
	outs      []outColumn // the vector features this group serves
	keyCands  [][]string  // per key: the batch columns that may carry it
	argOffset int         // offset of this group's keys in a flattened key
	folds     bool        // a key column is a string: batch matching folds case
	// embedding: an embedding feature group, which hsfs reads from the
	// vector database; a lookup that needs it fails with ErrUnsupported.
	embedding bool

	singleCols atomic.Pointer[colMap]
	batchCols  atomic.Pointer[colMap]
}

// keySpec is one primary-key column of a group and how an entry gives it.
type keySpec struct {
	column   string   // the column (the statement parameter's name)
	names    []string // entry keys that give it, by priority
	required bool
	kind     keyKind
	typ      string // the column's type, for errors
}

// outColumn is a vector feature and the result columns that may carry it.
type outColumn struct {
	pos   int
	cands []string
	// complex decodes a complex feature's Avro value (nil otherwise).
	complex *complexCol
}

// colMap maps a result's columns to vector positions (and batch keys).
type colMap struct {
	cols []string
	outs []int // per group.outs: the column index
	keys []int // per group.keys: the column index (batch only)
}

// planOptions are the Client options that shape a plan.
type planOptions struct {
	// keyAliases accepts prefix+column and the plain column name for a
	// key too (WithKeyAliases).
	keyAliases bool
	// helpers builds the plan of the inference helper columns: its
	// features are those columns (GetInferenceHelper).
	helpers bool
	// tf: WithTransformation, WithTrainingDatasetVersion (transform.go).
	tf transformOptions
}

// planBuilder carries one build of a plan through its phases.
type planBuilder struct {
	po    planOptions
	fv    *metadata.FeatureView
	p     *plan
	cols  map[int64]map[string]metadata.FeatureGroupFeature
	fgs   map[int64]*metadata.FeatureGroup
	feats []metadata.Feature // the view's features sorted by index
}

func (b *planBuilder) bad(format string, args ...any) error {
	return fmt.Errorf("%w: feature view %s v%d: %s", ErrInvalidPlan, b.fv.Name, b.fv.Version, fmt.Sprintf(format, args...))
}

// buildPlan validates the view's metadata and prepares every statement,
// in phases: pair each single statement with its batch form, build one
// group per pair (statements and keys), decide which entry keys the view
// accepts, place the vector's features in their groups, and check that
// every statement selects what the plan will read from it. A plan that
// passes serves every lookup; one that does not fails here with
// ErrInvalidPlan, never later at read time.
func buildPlan(store *online.Store, fv *metadata.FeatureView, single, batch []metadata.PreparedStatement, po planOptions) (*plan, error) {
	if fv == nil {
		return nil, fmt.Errorf("%w: no feature view metadata", ErrInvalidPlan)
	}
	b := &planBuilder{po: po, fv: fv, p: &plan{name: fv.Name, version: fv.Version, id: fv.ID, loaded: time.Now(), source: fv.Region, store: store,
		pos: map[string]int{}, accepted: map[string]struct{}{}}}
	b.cols, b.fgs = columnsOf(fv)
	b.feats = slices.Clone(fv.Features)
	sort.SliceStable(b.feats, func(i, j int) bool { return b.feats[i].Index < b.feats[j].Index })
	pairs, err := b.pairStatements(single, batch)
	if err != nil {
		return nil, err
	}
	for _, pr := range pairs {
		if err := b.addGroup(store, pr[0], pr[1]); err != nil {
			return nil, err
		}
	}
	b.acceptKeys(po.keyAliases)
	if err := b.placeFeatures(); err != nil {
		return nil, err
	}
	b.keyColumns()
	if err := b.checkSelected(pairs); err != nil {
		return nil, err
	}
	return b.p, nil
}

// pairStatements sorts the single statements by index and pairs each with
// the batch statement of the same index. A batch statement without a
// single form is left out: PreparedStatementBuilder makes one for a
// feature group that only contributes labels (the batch form selects its
// primary keys even when it selects nothing else), and such a group is
// never read (hopsworks: hopsworks-api/src/main/java/io/hops/hopsworks/
// api/featurestore/trainingdataset/PreparedStatementBuilder.java).
func (b *planBuilder) pairStatements(single, batch []metadata.PreparedStatement) ([][2]metadata.PreparedStatement, error) {
	if len(single) == 0 {
		return nil, b.bad("no prepared statements: is every feature group online enabled?")
	}
	single = slices.Clone(single)
	sort.SliceStable(single, func(i, j int) bool { return single[i].Index < single[j].Index })
	batchBy := map[int]metadata.PreparedStatement{}
	for _, s := range batch {
		batchBy[s.Index] = s
	}
	pairs := make([][2]metadata.PreparedStatement, 0, len(single))
	seen := map[int]bool{}
	for _, ps := range single {
		if seen[ps.Index] {
			return nil, b.bad("two statements have index %d", ps.Index)
		}
		seen[ps.Index] = true
		bs, ok := batchBy[ps.Index]
		if !ok || bs.FeatureGroupID != ps.FeatureGroupID {
			return nil, b.bad("statement %d has no batch form", ps.Index)
		}
		pairs = append(pairs, [2]metadata.PreparedStatement{ps, bs})
	}
	return pairs, nil
}

// addGroup prepares one feature group's statements and binds each
// parameter to its serving key.
func (b *planBuilder) addGroup(store *online.Store, ps, bs metadata.PreparedStatement) error {
	p := b.p
	g := &group{idx: len(p.groups), fgID: ps.FeatureGroupID, prefix: ps.Prefix, argOffset: p.nkeys}
	if fg, ok := b.fgs[ps.FeatureGroupID]; ok {
		g.fgName, g.fgVersion = fg.Name, fg.Version
	}
	if g.fgName == "" {
		g.fgName = fmt.Sprintf("fg%d", ps.FeatureGroupID)
	}
	for _, fg := range b.fv.EmbeddingGroups() {
		g.embedding = g.embedding || fg.ID == g.fgID
	}
	var err error
	if g.single, err = store.Prepare(ps.QueryOnline); err != nil {
		return b.bad("statement of feature group %s: %v", g.fgName, err)
	}
	if g.batch, err = store.Prepare(bs.QueryOnline); err != nil {
		return b.bad("batch statement of feature group %s: %v", g.fgName, err)
	}
	params := slices.Clone(ps.Parameters)
	sort.SliceStable(params, func(i, j int) bool { return params[i].Index < params[j].Index })
	if g.single.NumParams() != len(params) || g.single.IsBatch() {
		return b.bad("statement of feature group %s has %d placeholders for %d parameters", g.fgName, g.single.NumParams(), len(params))
	}
	if !g.batch.IsBatch() || g.batch.KeyWidth() != len(params) {
		return b.bad("batch statement of feature group %s does not end in an IN ? over its %d key columns", g.fgName, len(params))
	}
	for _, prm := range params {
		sk := servingKeyFor(b.fv.ServingKeys, ps.Index, ps.FeatureGroupID, prm.Name)
		if sk == nil {
			return b.bad("parameter %s of feature group %s has no serving key", prm.Name, g.fgName)
		}
		k := &keySpec{column: prm.Name, required: sk.Required, names: []string{entryKey(sk)}}
		if c, ok := b.cols[ps.FeatureGroupID][prm.Name]; ok {
			k.typ = c.Type
			if k.typ == "" {
				k.typ = c.OnlineType
			}
		}
		k.kind = kindOf(k.typ)
		g.folds = g.folds || k.kind == kindString || k.kind == kindAny
		if g.prefix == "" {
			g.prefix = sk.Prefix
		}
		g.keys = append(g.keys, k)
	}
	p.nkeys += len(g.keys)
	p.groups = append(p.groups, g)
	return nil
}

// entryKey is the entry key that gives serving key sk, as hsfs names it
// (ServingKey.required_serving_key in python/hsfs/serving_key.py):
// prefix+featureName for a required key, else the left feature it joins
// on. A key that is neither required nor joined (the server makes those
// for a feature group that only contributes labels, FeatureViewController.
// getServingKeys in hopsworks-common) has no joinOn; it is named
// prefix+featureName, so that an entry may still give it.
func entryKey(sk *metadata.ServingKey) string {
	if !sk.Required && sk.JoinOn != "" {
		return sk.JoinOn
	}
	return sk.Prefix + sk.FeatureName
}

// acceptKeys decides which entry keys the view takes: the entry key of
// every serving key, those of groups that have no statement (label-only
// groups: accepted, and not read) included. With aliases, a key may also
// be given as prefix+column or as the plain column, unless that is
// another key's name: then it means that key, not this one.
func (b *planBuilder) acceptKeys(aliases bool) {
	p := b.p
	for i := range b.fv.ServingKeys {
		p.accepted[entryKey(&b.fv.ServingKeys[i])] = struct{}{}
	}
	for _, g := range p.groups {
		for _, k := range g.keys {
			p.accepted[k.names[0]] = struct{}{}
		}
	}
	if aliases {
		primaries := maps.Clone(p.accepted)
		for _, g := range p.groups {
			for _, k := range g.keys {
				for _, a := range []string{g.prefix + k.column, k.column} {
					if _, taken := primaries[a]; !taken && !slices.Contains(k.names, a) {
						k.names = append(k.names, a)
						p.accepted[a] = struct{}{}
					}
				}
			}
		}
	}
	for n := range p.accepted {
		p.valid = append(p.valid, n)
	}
	sort.Strings(p.valid)
}

// placeFeatures puts each vector feature (by index, no labels or helper
// columns) in the group whose statement serves it.
func (b *planBuilder) placeFeatures() error {
	p := b.p
	for _, f := range b.feats {
		if b.po.helpers != f.InferenceHelperColumn || f.Label || f.TrainingHelperColumn {
			continue
		}
		if _, dup := p.pos[f.Name]; dup {
			return b.bad("feature %s appears twice", f.Name)
		}
		if f.TransformationFunction != nil {
			// On-demand: computed at lookup (transform.go), not read.
			p.pos[f.Name] = len(p.names)
			p.names = append(p.names, f.Name)
			continue
		}
		g := p.groupOf(f)
		if g == nil {
			return b.bad("no prepared statement serves feature %s", f.Name)
		}
		oc := outColumn{pos: len(p.names), cands: []string{f.Name}}
		if g.prefix != "" && strings.HasPrefix(f.Name, g.prefix) {
			oc.cands = append(oc.cands, strings.TrimPrefix(f.Name, g.prefix))
		}
		if f.FeatureGroupFeatureName != "" && f.FeatureGroupFeatureName != f.Name {
			oc.cands = append(oc.cands, f.FeatureGroupFeatureName)
		}
		if f.IsComplex() {
			col := f.FeatureGroupFeatureName
			if col == "" {
				col = f.Name
			}
			p.complex = append(p.complex, complexFeature{group: g.idx, out: len(g.outs), name: f.Name,
				fgName: g.fgName, fgVersion: g.fgVersion, column: col})
		}
		p.pos[f.Name] = len(p.names)
		p.names = append(p.names, f.Name)
		g.outs = append(g.outs, oc)
	}
	return nil
}

// keyColumns lists, per key, the batch result columns that may carry it:
// the batch form selects each key column aliased prefix+column, or under
// the view feature's name when the key is a feature of the view.
func (b *planBuilder) keyColumns() {
	for _, g := range b.p.groups {
		g.keyCands = make([][]string, len(g.keys))
		for i, k := range g.keys {
			c := []string{g.prefix + k.column, k.column}
			for _, f := range b.feats {
				if f.FeatureGroup != nil && f.FeatureGroup.ID == g.fgID && f.FeatureGroupFeatureName == k.column {
					c = append(c, f.Name)
				}
			}
			g.keyCands[i] = c
		}
	}
}

// checkSelected reads each statement's select list and checks that it
// selects every feature the plan reads from it (and, for the batch form,
// every key column), then caches the column maps so the first lookup
// need not build them.
func (b *planBuilder) checkSelected(pairs [][2]metadata.PreparedStatement) error {
	for i, g := range b.p.groups {
		for j, batch := range []bool{false, true} {
			cols, err := selectedColumns(pairs[i][j].QueryOnline)
			if errors.Is(err, errSelectStar) {
				continue // known when it runs; columns checks it then
			}
			if err != nil {
				return b.bad("statement of feature group %s: %v", g.fgName, err)
			}
			cache := &g.singleCols
			if batch {
				cache = &g.batchCols
			}
			if _, err := g.columns(cache, cols, batch); err != nil {
				return fmt.Errorf("%w (feature view %s v%d)", err, b.fv.Name, b.fv.Version)
			}
		}
	}
	return nil
}

// unsupported fails a lookup that would read a group Tandem cannot read.
func (p *plan) unsupported(r *resolved) error {
	for gi, g := range p.groups {
		if g.embedding && !r.skip(gi) {
			return &UnsupportedError{FeatureView: p.name, Version: p.version, FeatureGroup: g.fgName,
				Reason: "an embedding feature group is read from the vector database, which Tandem does not read yet; pass its features or leave its key out with AllowMissing"}
		}
	}
	return nil
}

// groupOf finds the group that serves feature f: by feature group id (and
// prefix, when a group is joined twice), else by name.
func (p *plan) groupOf(f metadata.Feature) *group {
	var cands []*group
	if f.FeatureGroup != nil {
		for _, g := range p.groups {
			if g.fgID == f.FeatureGroup.ID {
				cands = append(cands, g)
			}
		}
	}
	if len(cands) == 1 {
		return cands[0]
	}
	if len(cands) == 0 {
		cands = p.groups
	}
	for _, g := range cands {
		if g.prefix != "" && strings.HasPrefix(f.Name, g.prefix) {
			return g
		}
	}
	for _, g := range cands {
		if g.prefix == "" {
			return g
		}
	}
	return nil
}

func servingKeyFor(sks []metadata.ServingKey, index int, fgID int64, column string) *metadata.ServingKey {
	for i := range sks {
		if sks[i].JoinIndex == index && sks[i].FeatureName == column {
			return &sks[i]
		}
	}
	for i := range sks {
		if sks[i].FeatureGroup != nil && sks[i].FeatureGroup.ID == fgID && sks[i].FeatureName == column {
			return &sks[i]
		}
	}
	return nil
}

// columnsOf collects every feature group's columns (for key types) and
// identity from wherever the view's JSON carries them.
func columnsOf(fv *metadata.FeatureView) (map[int64]map[string]metadata.FeatureGroupFeature, map[int64]*metadata.FeatureGroup) {
	cols := map[int64]map[string]metadata.FeatureGroupFeature{}
	fgs := map[int64]*metadata.FeatureGroup{}
	add := func(fg *metadata.FeatureGroup) {
		if fg == nil {
			return
		}
		if old, ok := fgs[fg.ID]; !ok || old.Name == "" {
			fgs[fg.ID] = fg
		}
		m := cols[fg.ID]
		if m == nil {
			m = map[string]metadata.FeatureGroupFeature{}
			cols[fg.ID] = m
		}
		for _, c := range fg.Features {
			if _, ok := m[c.Name]; !ok {
				m[c.Name] = c
			}
		}
	}
	var walk func(q *metadata.Query)
	walk = func(q *metadata.Query) {
		if q == nil {
			return
		}
		add(q.LeftFeatureGroup)
		for _, j := range q.Joins {
			walk(j.Query)
		}
	}
	walk(fv.Query)
	for _, f := range fv.Features {
		add(f.FeatureGroup)
		if f.FeatureGroup != nil && f.Type != "" && f.FeatureGroupFeatureName != "" {
			m := cols[f.FeatureGroup.ID]
			if _, ok := m[f.FeatureGroupFeatureName]; !ok {
				m[f.FeatureGroupFeatureName] = metadata.FeatureGroupFeature{Name: f.FeatureGroupFeatureName, Type: f.Type}
			}
		}
	}
	for _, k := range fv.ServingKeys {
		add(k.FeatureGroup)
	}
	return cols, fgs
}

// columns maps a result's columns for the group, caching the map: a
// statement's columns do not change, so the slice is usually the same.
func (g *group) columns(cache *atomic.Pointer[colMap], cols []string, batch bool) (*colMap, error) {
	if m := cache.Load(); m != nil && sameCols(m.cols, cols) {
		return m, nil
	}
	m := &colMap{cols: cols, outs: make([]int, len(g.outs))}
	find := func(cands []string) int {
		for _, c := range cands {
			if i := slices.Index(cols, c); i >= 0 {
				return i
			}
		}
		return -1
	}
	for i, o := range g.outs {
		if m.outs[i] = find(o.cands); m.outs[i] < 0 {
			return nil, fmt.Errorf("%w: the statement of feature group %s selects no column for feature %s (columns %v)",
				ErrInvalidPlan, g.fgName, o.cands[0], cols)
		}
	}
	if batch {
		m.keys = make([]int, len(g.keys))
		for i := range g.keys {
			if m.keys[i] = find(g.keyCands[i]); m.keys[i] < 0 {
				return nil, fmt.Errorf("%w: the batch statement of feature group %s does not select key column %s, so rows cannot be matched to entries",
					ErrInvalidPlan, g.fgName, g.keys[i].column)
			}
		}
	}
	cache.Store(m)
	return m, nil
}

func sameCols(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return slices.Equal(a, b)
}

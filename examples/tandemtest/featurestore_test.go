package tandemtest

import (
	"testing"
	"time"

	"github.com/tandemfs/tandem/featurestore"
)

// TestFeatureStore looks vectors up through a featurestore.Client built
// from Config: from both regions, across a kill and a revive of eu, and
// writes a feature view after a flip.
func TestFeatureStore(t *testing.T) {
	sb := start(t, Options{Rows: 100})
	ctx := ctxT(t, 30*time.Second)

	c, err := featurestore.New(sb.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fv, err := c.FeatureView(ctx, FeatureView, FeatureViewVersion)
	if err != nil {
		t.Fatalf("FeatureView: %v", err)
	}
	if got, want := fv.Features(), FeatureNames(); len(got) != len(want) {
		t.Fatalf("features %v, want %v", got, want)
	}
	acts, profs := demoRows(sb.Rows())

	lookup := func(i int, opts ...featurestore.VectorOption) *featurestore.Vector {
		t.Helper()
		v, err := fv.GetFeatureVector(ctx, Entry(i), opts...)
		if err != nil {
			t.Fatalf("GetFeatureVector(%v): %v", Entry(i), err)
		}
		return v
	}
	for _, id := range sb.Regions() {
		t.Run("from "+string(id), func(t *testing.T) {
			v := lookup(42, featurestore.Pin(id))
			m := v.Map()
			if v.Region != id || m["replica"] != string(id) {
				t.Errorf("region %s, replica %v, want %s", v.Region, m["replica"], id)
			}
			if !v.Complete() {
				t.Errorf("groups %+v, want all present", v.Groups)
			}
			if m["cc_num"] != FirstKey+42 || m["foreign_ratio"] != acts[42].foreignRatio || m["credit_limit"] != profs[42].creditLimit {
				t.Errorf("vector %v does not match the demo rows", m)
			}
		})
	}
	if v := lookup(sb.Rows()); v.Found() {
		t.Errorf("entity past the last row found: %+v", v.Groups)
	}

	if err := sb.KillRegion(EU); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if v := lookup(i); v.Region != US {
			t.Fatalf("lookup %d with eu killed served by %s", i, v.Region)
		}
	}
	if err := sb.ReviveRegion(EU); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "lookups to return to eu", func() bool { return lookup(3).Region == EU })

	if _, err := sb.FlipACA(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the client to see us active", func() bool {
		st, ok := c.ACA().Current()
		return ok && st.Active == US
	})
	created, err := c.CreateFeatureView(ctx, ViewSpec("written_after_flip", 1))
	if err != nil {
		t.Fatalf("CreateFeatureView: %v", err)
	}
	if created.Region != US || sb.Writes(US).Accepted != 1 || sb.Writes(EU) != (WriteCounts{}) {
		t.Errorf("write served by %s; writes us %+v, eu %+v", created.Region, sb.Writes(US), sb.Writes(EU))
	}
}

package featurestore_test

import (
	"testing"
	"time"

	"github.com/tandemfs/tandem/featurestore"
)

// TestBatch500 reads 500 entries (chunked over several IN lists), some
// missing in one group or both, some duplicated: every entry gets its
// vector and statuses, in order, from one region.
func TestBatch500(t *testing.T) {
	e := newEnv(t)
	c := newClient(t, e.config("eu"))
	fv := mustView(t, c, viewName, 1)
	var entries []map[string]any
	for i := range 500 {
		aid := i*2 + 1 // 1, 3, …, 999
		switch {
		case i%50 == 7:
			aid = nRows + i // no account row
		case i%50 == 9:
			aid = 3 // a duplicate of entry 1
		}
		entries = append(entries, entry(aid))
	}
	b, err := fv.GetFeatureVectors(ctxT(t, 10*time.Second), entries)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Vectors) != len(entries) {
		t.Fatalf("%d vectors for %d entries", len(b.Vectors), len(entries))
	}
	// eu serves the batch unless a hedge won (cold pools on a loaded
	// machine); either way it comes from one region.
	if (b.Region != "eu" && !b.Hedged) || b.MixedRegions || b.Unmatched != 0 {
		t.Fatalf("batch region %q hedged=%v mixed=%v unmatched=%d", b.Region, b.Hedged, b.MixedRegions, b.Unmatched)
	}
	missing := 0
	for i, en := range entries {
		v := &b.Vectors[i]
		aid := en["aid"].(int)
		if aid > nRows {
			if v.Groups[0].Status != featurestore.Missing || v.Values[2] != nil {
				t.Fatalf("entry %d (aid %d): %+v %v", i, aid, v.Groups, v.Values)
			}
			missing++
			continue
		}
		checkVector(t, v, aid, "eu")
		if !v.Complete() {
			missing++ // FR accounts have no country_tier row
		}
	}
	if b.Missing != missing || missing == 0 {
		t.Fatalf("Missing = %d, counted %d", b.Missing, missing)
	}
	if b.Unique != 500-10 {
		t.Fatalf("Unique = %d, want %d (duplicates read once)", b.Unique, 490)
	}
	// Empty batch.
	b, err = fv.GetFeatureVectors(ctxT(t, 5*time.Second), nil)
	if err != nil || len(b.Vectors) != 0 {
		t.Fatalf("empty batch: %v %v", b, err)
	}
}

// TestBatchCaseFolding: MariaDB's default collation matches 'se' to the
// row 'SE'; the row still reaches the entry that asked for 'se'.
func TestBatchCaseFolding(t *testing.T) {
	e := newEnv(t)
	c := newClient(t, e.config("eu"))
	fv := mustView(t, c, viewName, 1)
	b, err := fv.GetFeatureVectors(ctxT(t, 5*time.Second), []map[string]any{
		{"aid": 1, "c_cc": "us", "c_tier": 1},
		{"aid": 1, "c_cc": "US", "c_tier": 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range b.Vectors {
		if b.Vectors[i].Groups[1].Status != featurestore.Present {
			t.Fatalf("entry %d: %+v", i, b.Vectors[i].Groups)
		}
	}
	if b.Unmatched != 0 {
		t.Fatalf("unmatched %d", b.Unmatched)
	}
}

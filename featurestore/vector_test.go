package featurestore_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tandemfs/tandem/featurestore"
)

// TestVectors reads single vectors from two feature groups (one with a
// composite key): right values, right order, labels and helpers dropped,
// one region, a Missing status where a group has no row.
func TestVectors(t *testing.T) {
	e := newEnv(t)
	// Plain column names for the composite key are an alias (below).
	c := newClient(t, e.config("eu"), featurestore.WithKeyAliases())
	fv := mustView(t, c, viewName, 1)
	if got := fmt.Sprint(fv.Features()); got != fmt.Sprint(wantNames) {
		t.Fatalf("features %s, want %v", got, wantNames)
	}
	if got := fmt.Sprint(fv.ServingKeys()); got != "[aid c_cc c_tier cc tier]" {
		t.Fatalf("serving keys %s", got)
	}
	for aid := 1; aid <= 40; aid++ {
		v, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(aid))
		if err != nil {
			t.Fatal(err)
		}
		checkVector(t, v, aid, "eu")
	}
	// Pin reads one region only (read-your-writes).
	v, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(9), featurestore.Pin("us"))
	if err != nil {
		t.Fatal(err)
	}
	checkVector(t, v, 9, "us")
	if _, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(9), featurestore.Pin("ap")); !errors.Is(err, featurestore.ErrUnknownRegion) {
		t.Fatalf("pin to an unknown region: %v", err)
	}
	// Key values of other Go types normalise: int32, float64 from JSON,
	// plain feature names for the composite key.
	v, err = fv.GetFeatureVector(ctxT(t, 5*time.Second), map[string]any{"aid": float64(5), "cc": "US", "tier": int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	checkVector(t, v, 5, "eu")
	// An account that does not exist: every group missing, no error.
	v, err = fv.GetFeatureVector(ctxT(t, 5*time.Second), map[string]any{"aid": nRows + 7, "c_cc": "SE", "c_tier": 1})
	if err != nil {
		t.Fatal(err)
	}
	if v.Groups[0].Status != featurestore.Missing || v.Groups[1].Status != featurestore.Present || v.Complete() || !v.Found() {
		t.Fatalf("groups %+v", v.Groups)
	}
	if v.Values[0] != nil || v.Values[2] != nil {
		t.Fatalf("values of a missing group: %v", v.Values)
	}
	if m := v.Map(); len(m) != len(wantNames) || m["c_tax"] != 0.11 {
		t.Fatalf("map %v", m)
	}
}

func TestPassedFeaturesOverride(t *testing.T) {
	e := newEnv(t)
	c := newClient(t, e.config("eu"))
	fv := mustView(t, c, viewName, 1)
	v, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(6),
		featurestore.WithPassedFeatures(map[string]any{"balance": -1.0, "c_tax": "passed"}))
	if err != nil {
		t.Fatal(err)
	}
	if v.Values[0] != -1.0 || v.Values[1] != "passed" || v.Values[2] != int64(6) {
		t.Fatalf("vector %v", v.Values)
	}
	// A group whose key is not given at all is skipped when all its
	// features are passed.
	v, err = fv.GetFeatureVector(ctxT(t, 5*time.Second), map[string]any{"aid": 6},
		featurestore.WithPassedFeatures(map[string]any{"c_tax": 0.5, "c_src": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	if v.Groups[1].Status != featurestore.Skipped || v.Values[1] != 0.5 || v.Values[3] != "x" || v.Values[0] != 9.0 {
		t.Fatalf("skipped group: %v %+v", v.Values, v.Groups)
	}
	_, err = fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(6),
		featurestore.WithPassedFeatures(map[string]any{"nope": 1}))
	if !errors.Is(err, featurestore.ErrUnknownFeature) {
		t.Fatalf("unknown passed feature: %v", err)
	}
	// Batches: per-entry passed features.
	b, err := fv.GetFeatureVectors(ctxT(t, 5*time.Second), []map[string]any{entry(1), entry(2)},
		featurestore.WithPassedFeaturesEach([]map[string]any{nil, {"src": "mine"}}))
	if err != nil {
		t.Fatal(err)
	}
	// src names the region that served the batch: eu, or us when a hedge
	// won on a cold pool (see checkVector).
	if b.Vectors[0].Values[5] != string(b.Region) || (b.Region != "eu" && !b.Hedged) || b.Vectors[1].Values[5] != "mine" {
		t.Fatalf("batch passed: %v / %v", b.Vectors[0].Values, b.Vectors[1].Values)
	}
}

func TestEntryErrors(t *testing.T) {
	e := newEnv(t)
	c := newClient(t, e.config("eu"))
	fv := mustView(t, c, viewName, 1)
	for _, tc := range []struct {
		name  string
		entry map[string]any
		want  error
		key   string
	}{
		{"unknown key", map[string]any{"aid": 1, "c_cc": "SE", "c_tier": 1, "bogus": 2}, featurestore.ErrUnknownServingKey, "bogus"},
		{"missing key", map[string]any{"c_cc": "SE", "c_tier": 1}, featurestore.ErrMissingServingKey, "aid"},
		{"partial composite", map[string]any{"aid": 1, "c_cc": "SE"}, featurestore.ErrPartialCompositeKey, "c_tier"},
		{"missing composite", map[string]any{"aid": 1}, featurestore.ErrMissingServingKey, "c_cc"},
		{"string for bigint", map[string]any{"aid": "1", "c_cc": "SE", "c_tier": 1}, featurestore.ErrKeyType, "aid"},
		{"int for string", map[string]any{"aid": 1, "c_cc": 5, "c_tier": 1}, featurestore.ErrKeyType, "c_cc"},
		{"fractional float for int", map[string]any{"aid": 1.5, "c_cc": "SE", "c_tier": 1}, featurestore.ErrKeyType, "aid"},
		{"nil", map[string]any{"aid": nil, "c_cc": "SE", "c_tier": 1}, featurestore.ErrKeyType, "aid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), tc.entry)
			var ke *featurestore.KeyError
			if !errors.Is(err, tc.want) || !errors.As(err, &ke) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if ke.Key != tc.key || ke.FeatureView != viewName || ke.Version != 1 || ke.Entry != -1 {
				t.Fatalf("key error %+v", ke)
			}
			t.Log(err)
			// The same entry in a batch names its index.
			_, err = fv.GetFeatureVectors(ctxT(t, 5*time.Second), []map[string]any{entry(1), tc.entry})
			if !errors.As(err, &ke) || !errors.Is(err, tc.want) || ke.Entry != 1 {
				t.Fatalf("batch: %v", err)
			}
		})
	}
}

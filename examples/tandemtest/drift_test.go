package tandemtest

import (
	"errors"
	"testing"
	"time"

	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/region"
)

// TestControls plants differences in one region, stalls and fails
// regions, and checks what a pinned reader sees.
func TestControls(t *testing.T) {
	sb := start(t, Options{Rows: 20})
	ctx := ctxT(t, 30*time.Second)
	c, err := featurestore.New(sb.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fv, err := c.FeatureView(ctx, FeatureView, FeatureViewVersion)
	if err != nil {
		t.Fatal(err)
	}
	acts, _ := demoRows(sb.Rows())
	read := func(i int, id string) *featurestore.Vector {
		t.Helper()
		v, err := fv.GetFeatureVector(ctx, Entry(i), featurestore.Pin(region.ID(id)))
		if err != nil {
			t.Fatalf("entity %d from %s: %v", i, id, err)
		}
		return v
	}

	if err := sb.SetFeature(ctx, US, FirstKey+3, "amount_avg_7d", 1234.5); err != nil {
		t.Fatal(err)
	}
	if err := sb.SetFeature(ctx, EU, FirstKey+4, "age", 77); err != nil {
		t.Fatal(err)
	}
	if err := sb.DeleteEntity(ctx, US, FirstKey+5); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		i      int
		region string
		check  func(v *featurestore.Vector) bool
	}{
		{"planted value in us", 3, "us", func(v *featurestore.Vector) bool { return v.Map()["amount_avg_7d"] == 1234.5 }},
		{"eu keeps its value", 3, "eu", func(v *featurestore.Vector) bool { return v.Map()["amount_avg_7d"] == acts[3].amountAvg }},
		{"planted value in eu", 4, "eu", func(v *featurestore.Vector) bool { return v.Map()["age"] == int64(77) }},
		{"deleted from us", 5, "us", func(v *featurestore.Vector) bool { return !v.Found() }},
		{"eu still has it", 5, "eu", func(v *featurestore.Vector) bool { return v.Complete() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := read(tt.i, tt.region); !tt.check(v) {
				t.Errorf("vector %v, groups %+v", v.Map(), v.Groups)
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		if err := sb.SetFeature(ctx, EU, FirstKey, "cc_num", 1); err == nil {
			t.Error("SetFeature of the key: no error")
		}
		if err := sb.SetFeature(ctx, EU, FirstKey, "nope", 1); err == nil {
			t.Error("SetFeature of an unknown feature: no error")
		}
		if err := sb.SetFeature(ctx, EU, FirstKey+1000, "age", 1); err == nil {
			t.Error("SetFeature of an absent entity: no error")
		}
		if err := sb.SetFeature(ctx, "ap", FirstKey, "age", 1); !errors.Is(err, ErrUnknownRegion) {
			t.Errorf("SetFeature in ap: %v, want ErrUnknownRegion", err)
		}
		if err := sb.SetMetadataDown("ap", true); !errors.Is(err, ErrUnknownRegion) {
			t.Errorf("SetMetadataDown(ap): %v, want ErrUnknownRegion", err)
		}
	})

	t.Run("stall", func(t *testing.T) {
		if err := sb.SetStall(EU, 1, 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		defer sb.SetStall(EU, 0, 0)
		// Every eu request stalls 300 ms; the hedge to us wins.
		eventually(t, 10*time.Second, "a stalled eu to be outrun by us", func() bool {
			v, err := fv.GetFeatureVector(ctx, Entry(1))
			return err == nil && v.Region == US && v.Hedged
		})
	})

	t.Run("metadata down", func(t *testing.T) {
		if err := sb.SetMetadataDown(EU, true); err != nil {
			t.Fatal(err)
		}
		defer sb.SetMetadataDown(EU, false)
		mc := c.Metadata()
		// Reads fall back to us.
		if _, err := mc.PreparedStatements(ctx, FeatureView, FeatureViewVersion, false); err != nil {
			t.Errorf("PreparedStatements with eu's Hopsworks down: %v", err)
		}
		if got := len(sb.meta[EU].Requests()); got == 0 {
			t.Error("eu's Hopsworks saw no request: the fault was not exercised")
		}
	})
}

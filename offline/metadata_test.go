package offline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/internal/flighttest"
	"github.com/tandemfs/tandem/internal/hopsworkstest"
	"github.com/tandemfs/tandem/metadata"
	"github.com/tandemfs/tandem/offline"
	"github.com/tandemfs/tandem/region"
)

// refreshing gives the fake ACA the Refresh the metadata client wants.
type refreshing struct{ *flighttest.Arbiter }

func (r refreshing) Refresh(context.Context) (aca.State, error) {
	if st, ok := r.Current(); ok {
		return st, nil
	}
	return aca.State{}, aca.ErrNoActiveRegion
}

// decodeHopsworks reads the fake Hopsworks' hqsPayload, as the real query
// service reads the real one.
func decodeHopsworks(b []byte) (flighttest.Query, error) {
	var p hopsworkstest.BatchPayload
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return flighttest.Query{}, err
	}
	q := flighttest.Query{FeatureView: p.FeatureView, Version: p.Version}
	if p.StartTime != 0 {
		q.Start = time.UnixMilli(p.StartTime)
	}
	if p.EndTime != 0 {
		q.End = time.UnixMilli(p.EndTime)
	}
	return q, nil
}

// batchSteps returns the requests of hsfs's two batch-query steps that h
// received: GET .../query/batch (a QueryDTO back) and PUT
// /project/{pid}/featurestores/query?hqs=true (hqsPayload and its
// signature back), as python/hsfs/core/query_constructor_api.py and
// feature_view_api.py in logicalclocks/hopsworks-api send them.
func batchSteps(h *hopsworkstest.Server) []string {
	var out []string
	for _, r := range h.Requests() {
		switch {
		case r.Method == "GET" && strings.HasSuffix(r.Path, "/query/batch"):
			out = append(out, "GET query/batch")
		case r.Method == "PUT" && strings.HasSuffix(r.Path, "/featurestores/query") && strings.Contains(r.Query, "hqs=true"):
			out = append(out, "PUT query?hqs=true")
		}
	}
	return out
}

// TestMetadataQueriesEndToEnd reads through the real metadata client and
// a fake Hopsworks in each region: both batch-query steps go to the
// active region's Hopsworks, and its signed payload to that region's query
// service, which checks the signature on DoGet. Each region's Hopsworks
// signs with its own secret and each query service checks with its own
// region's, so a batch query asked of the wrong region would be refused.
func TestMetadataQueriesEndToEnd(t *testing.T) {
	ctx := ctxT(t, 20*time.Second)
	store := hopsworkstest.NewStore(hopsworkstest.StoreConfig{Project: "demo"})
	store.AddFeatureView(hopsworkstest.FeatureViewDef{
		Name: testFV, Version: testVersion,
		Joins: []hopsworkstest.JoinDef{{FeatureGroup: hopsworkstest.FeatureGroupDef{
			ID: 1, Name: "sales", Version: 1,
			Features: []hopsworkstest.FeatureDef{{Name: "id", Type: "bigint", Primary: true}, {Name: "amount", Type: "double"}},
		}}},
	})
	hw := map[region.ID]*hopsworkstest.Server{
		eu: hopsworkstest.New(hopsworkstest.Options{Region: eu, Active: true, Store: store}),
		us: hopsworkstest.New(hopsworkstest.Options{Region: us, Store: store}),
	}
	arb := flighttest.NewArbiter(eu, us)
	mc, err := metadata.New(metadata.Config{
		Local:   us,
		Regions: []metadata.RegionConfig{{ID: eu, BaseURL: hw[eu].URL()}, {ID: us, BaseURL: hw[us].URL()}},
		APIKey:  hopsworkstest.DefaultAPIKey,
		Project: "demo",
		// The fakes are httptest servers on http://.
		AllowInsecureHTTP: true,
	}, metadata.WithActiveSource(refreshing{arb}))
	if err != nil {
		t.Fatal(err)
	}

	recs := testRecords(memory.DefaultAllocator)
	qs := map[region.ID]*flighttest.Server{}
	var cfg offline.Config
	for _, r := range []region.ID{eu, us} {
		h := hw[r]
		s, err := flighttest.Start(flighttest.Config{
			Decode: decodeHopsworks,
			Verify: func(p []byte, sig string) error {
				if !h.VerifySignature(string(p), sig) {
					return errors.New("not signed by this region's Hopsworks")
				}
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddFeatureView(testFV, testVersion, "event_time", testSchema, recs); err != nil {
			t.Fatal(err)
		}
		qs[r] = s
		cfg.Regions = append(cfg.Regions, offline.RegionConfig{ID: r, Addr: s.Addr(), Insecure: true})
	}
	for _, r := range recs {
		r.Release()
	}
	qs[us].SetReady(false)
	client, err := offline.New(cfg, arb, offline.WithQuerySource(offline.MetadataQueries(mc)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		mc.Close()
		for _, r := range []region.ID{eu, us} {
			qs[r].Close()
			hw[r].Close()
		}
	})

	start, end := base.Add(100*time.Minute), base.Add(350*time.Minute)
	read := func(want region.ID) {
		t.Helper()
		rd, err := client.ReadBatch(ctx, testFV, testVersion, start, end)
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Release()
		ids, err := drain(t, rd)
		if err != nil {
			t.Fatal(err)
		}
		if rd.Region() != want || !slices.Equal(ids, seq(100, 350)) {
			t.Fatalf("read from %s: %d rows; want %s, ids 100..349", rd.Region(), len(ids), want)
		}
	}
	read(eu)
	steps := []string{"GET query/batch", "PUT query?hqs=true"}
	if got := batchSteps(hw[eu]); !slices.Equal(got, steps) {
		t.Errorf("eu Hopsworks got %v, want %v", got, steps)
	}
	if got := batchSteps(hw[us]); len(got) != 0 {
		t.Errorf("the passive region's Hopsworks got %v", got)
	}
	if reqs := qs[eu].Requests(); len(reqs) != 2 || reqs[0].Signature != "" || reqs[1].Signature == "" {
		t.Errorf("eu query service got %+v; want GetFlightInfo without and DoGet with the signature", reqs)
	}

	arb.Flip()
	hw[eu].SetActive(false)
	hw[us].SetActive(true)
	qs[eu].SetReady(false)
	qs[us].SetReady(true)
	read(us)
	if got := batchSteps(hw[us]); !slices.Equal(got, steps) {
		t.Errorf("us Hopsworks got %v after the flip, want %v", got, steps)
	}
	if got := batchSteps(hw[eu]); len(got) != 2 {
		t.Errorf("eu Hopsworks got %v after the flip, want nothing new", got)
	}

	// A stale ACA state stops the read before either step is sent.
	arb.SetStaleness(time.Minute)
	if _, err := client.ReadBatch(ctx, testFV, testVersion, start, end); !errors.Is(err, aca.ErrStale) {
		t.Errorf("stale state: %v, want aca.ErrStale", err)
	}
	if got := batchSteps(hw[us]); len(got) != 2 {
		t.Errorf("us Hopsworks got %v on a stale state, want nothing new", got)
	}
	arb.SetStaleness(0)

	_, err = client.ReadBatch(ctx, "nope", 1, time.Time{}, time.Time{})
	if !errors.Is(err, offline.ErrBatchQuery) || !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("unknown view: %v; want ErrBatchQuery and metadata.ErrNotFound", err)
	}
	for r, s := range qs {
		for _, req := range s.Requests() {
			if !req.Ready {
				t.Errorf("query service %s got %s as a standby", r, req.Method)
			}
		}
	}
}

// *aca.Client is what production passes as the ActiveSource, and it can
// Watch, so Readers also notice a flip on a stalled stream.
var (
	_ offline.ActiveSource = (*aca.Client)(nil)
	_ interface {
		Watch(context.Context) <-chan aca.State
	} = (*aca.Client)(nil)
)

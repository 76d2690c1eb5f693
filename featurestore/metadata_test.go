package featurestore_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/internal/hopsworkstest"
	"github.com/tandemfs/tandem/metadata"
)

// spec is the fraud view as a create request.
func spec(name string) metadata.FeatureViewSpec {
	fg := func(id int64) *metadata.FeatureGroup { return &metadata.FeatureGroup{ID: id} }
	names := func(ns ...string) []metadata.FeatureGroupFeature {
		var out []metadata.FeatureGroupFeature
		for _, n := range ns {
			out = append(out, metadata.FeatureGroupFeature{Name: n})
		}
		return out
	}
	return metadata.FeatureViewSpec{
		Name: name, Version: 1,
		Query: &metadata.Query{
			LeftFeatureGroup: fg(fgAccounts.ID),
			LeftFeatures:     names("balance", "aid", "country", "src"),
			Joins: []metadata.Join{{
				Query:  &metadata.Query{LeftFeatureGroup: fg(fgCountry.ID), LeftFeatures: names("tax", "src")},
				LeftOn: names("country", "tier"), Prefix: "c_",
			}},
		},
		Features: []metadata.Feature{
			{Name: "balance", FeatureGroup: fg(fgAccounts.ID)},
			{Name: "c_tax", FeatureGroupFeatureName: "tax", FeatureGroup: fg(fgCountry.ID)},
			{Name: "aid", FeatureGroup: fg(fgAccounts.ID)},
			{Name: "fraud", Label: true, FeatureGroup: fg(fgAccounts.ID)},
			{Name: "c_src", FeatureGroupFeatureName: "src", FeatureGroup: fg(fgCountry.ID)},
			{Name: "country", FeatureGroup: fg(fgAccounts.ID)},
			{Name: "helper", InferenceHelperColumn: true, FeatureGroup: fg(fgAccounts.ID)},
			{Name: "src", FeatureGroup: fg(fgAccounts.ID)},
		},
	}
}

// TestWritesFollowTheACA: a client in the passive region writes through
// the Client; writes land in the active region and none reaches a passive
// server; reads right after a create see it (read-your-writes, with
// replication lagging an hour); after an ACA flip writes follow.
func TestWritesFollowTheACA(t *testing.T) {
	e := newEnv(t)
	e.store.SetReplicationLag(time.Hour)
	c := newClient(t, e.config("us"))
	if _, err := c.ACA().WaitReady(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateFeatureView(ctxT(t, 5*time.Second), spec("fraud_eu")); err != nil {
		t.Fatal(err)
	}
	// Read-your-writes: us does not show the view for an hour, yet the
	// plan loads (from eu) and vectors come from the local online store.
	fv := mustView(t, c, "fraud_eu", 1)
	v, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(3))
	if err != nil {
		t.Fatal(err)
	}
	checkVector(t, v, 3, "us")

	// The ACA flips to us: the fake regions follow, then the client.
	e.hw["eu"].SetActive(false)
	e.hw["us"].SetActive(true)
	e.aca.set("us", "eu")
	waitFor(t, 5*time.Second, "the client to see the flip", func() bool {
		st, ok := c.ACA().Current()
		return ok && st.Active == "us"
	})
	if _, err := c.CreateFeatureView(ctxT(t, 5*time.Second), spec("fraud_us")); err != nil {
		t.Fatal(err)
	}
	fv = mustView(t, c, "fraud_us", 1)
	if _, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(4)); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteFeatureView(ctxT(t, 5*time.Second), "fraud_us", 1); err != nil {
		t.Fatal(err)
	}
	// The delete drops the cached plan: the view is gone.
	if _, err := c.FeatureView(ctxT(t, 5*time.Second), "fraud_us", 1); !errors.Is(err, featurestore.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}

	eu, us := e.hw["eu"], e.hw["us"]
	if n := len(eu.RefusedWrites()) + len(us.RefusedWrites()); n != 0 {
		t.Fatalf("%d writes reached a passive server", n)
	}
	if got := paths(eu.AcceptedWrites()); got != "POST /featureview" {
		t.Fatalf("eu took %s", got)
	}
	if got := paths(us.AcceptedWrites()); got != "POST /featureview, DELETE /featureview/fraud_us/version/1" {
		t.Fatalf("us took %s", got)
	}
}

func paths(rs []hopsworkstest.Request) string {
	var out []string
	for _, r := range rs {
		p := r.Path
		if i := strings.Index(p, "/featureview"); i >= 0 {
			p = p[i:]
		}
		out = append(out, r.Method+" "+p)
	}
	return strings.Join(out, ", ")
}

// TestWritesWithoutACA: no ACA configured, writes fail with a typed error
// and never guess a region.
func TestWritesWithoutACA(t *testing.T) {
	e := newEnv(t)
	cfg := e.config("us")
	cfg.ACAEndpoints = nil
	c := newClient(t, cfg)
	_, err := c.CreateFeatureView(ctxT(t, 5*time.Second), spec("x"))
	if !errors.Is(err, featurestore.ErrNoActiveRegion) {
		t.Fatalf("got %v", err)
	}
	if n := len(e.hw["eu"].Writes()) + len(e.hw["us"].Writes()); n != 0 {
		t.Fatalf("%d writes sent", n)
	}
}

// TestMetadataErrors: typed errors for an unknown view, malformed and
// oversized metadata JSON, an expired key, an invalid query and a
// statement that is not a read.
func TestMetadataErrors(t *testing.T) {
	e := newEnv(t)
	for _, s := range e.hw {
		s.RespondRaw("GET", "featureview/broken/", http.StatusOK, []byte(`{"name": "broken", "version": 1, "features": [`))
		s.RespondRaw("GET", "featureview/big/", http.StatusOK, []byte(`{"name":"big","version":1,"description":"`+strings.Repeat("x", 100<<10)+`"}`))
	}
	e.store.AddFeatureView(fraudView("stale", 1))
	e.store.InvalidateFeatureView("stale", 1)
	e.store.AddFeatureView(fraudView("writer", 1))
	for _, s := range e.hw {
		s.RespondRaw("GET", "featureview/writer/version/1/preparedstatement", http.StatusOK,
			[]byte(`{"items":[{"featureGroupId":11,"preparedStatementIndex":0,"preparedStatementParameters":[{"name":"aid","index":1}],"queryOnline":"DELETE FROM tandem.accounts_1 WHERE aid = ?"}],"count":1}`))
	}

	// A metadata client of our own with a small body cap; the Client must
	// not close it.
	cfg := e.config("eu")
	md, err := metadata.New(metadata.Config{
		Local: "eu", APIKey: hopsworkstest.DefaultAPIKey, Project: project, MaxBodyBytes: 64 << 10,
		Regions:           []metadata.RegionConfig{{ID: "eu", BaseURL: e.hw["eu"].URL()}, {ID: "us", BaseURL: e.hw["us"].URL()}},
		AllowInsecureHTTP: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	c := newClient(t, cfg, featurestore.WithMetadata(md))
	mustView(t, c, viewName, 1)
	for _, tc := range []struct {
		view string
		want error
	}{
		{"nope", featurestore.ErrNotFound},
		{"broken", featurestore.ErrMalformed},
		{"big", featurestore.ErrBodyTooLarge},
		{"stale", featurestore.ErrInvalidQuery},
		{"writer", featurestore.ErrInvalidPlan},
	} {
		t.Run(tc.view, func(t *testing.T) {
			_, err := c.FeatureView(ctxT(t, 10*time.Second), tc.view, 1)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			t.Log(err)
		})
	}
	t.Run("expired key", func(t *testing.T) {
		for _, s := range e.hw {
			s.SetKeyExpired(true)
		}
		_, err := c.FeatureView(ctxT(t, 10*time.Second), "fresh", 1)
		if !errors.Is(err, featurestore.ErrUnauthorized) {
			t.Fatalf("got %v", err)
		}
		if strings.Contains(err.Error(), hopsworkstest.DefaultAPIKey) {
			t.Fatal("the API key is in the error")
		}
		// The known view is still served.
		if _, err := c.FeatureView(ctxT(t, 5*time.Second), viewName, 1); err != nil {
			t.Fatal(err)
		}
	})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// The injected metadata client is still open.
	if _, err := md.Project(ctxT(t, 5*time.Second)); errors.Is(err, metadata.ErrClosed) {
		t.Fatal("Close closed an injected metadata client")
	}
}

// TestLoadsAreCoalesced: concurrent first loads of a view make one set of
// metadata requests, and a caller that gives up does not fail the others.
func TestLoadsAreCoalesced(t *testing.T) {
	e := newEnv(t)
	var views atomic.Int64
	slow := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.Contains(r.URL.Path, "/featureview/") {
			views.Add(1)
			select {
			case <-time.After(300 * time.Millisecond):
			case <-r.Context().Done():
				return nil, r.Context().Err()
			}
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	c := newClient(t, e.config("eu"), featurestore.WithHTTPClient(slow))
	impatient, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.FeatureView(impatient, viewName, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("impatient caller: %v", err)
	}
	var wg sync.WaitGroup
	handles := make([]*featurestore.FeatureView, 8)
	for i := range handles {
		wg.Go(func() {
			fv, err := c.FeatureView(ctxT(t, 10*time.Second), viewName, 1)
			if err != nil {
				t.Error(err)
			}
			handles[i] = fv
		})
	}
	wg.Wait()
	for _, h := range handles[1:] {
		if h != handles[0] {
			t.Fatal("different handles for one view")
		}
	}
	// One load: a view GET, two statement GETs and, since the view has an
	// inference helper column, the two helper-statement GETs.
	if n := views.Load(); n != 5 {
		t.Fatalf("%d metadata requests for the view, want 5", n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

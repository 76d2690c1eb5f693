package metadata

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/internal/hopsworkstest"
)

func specFor(name string, version int) FeatureViewSpec {
	return FeatureViewSpec{
		Name: name, Version: version, Description: "created by a test",
		Query: &Query{
			LeftFeatureGroup: &FeatureGroup{ID: transactionsFG.ID},
			LeftFeatures:     []FeatureGroupFeature{{Name: "amount"}, {Name: "cc_num"}},
			Joins: []Join{{
				Query: &Query{
					LeftFeatureGroup: &FeatureGroup{ID: profilesFG.ID},
					LeftFeatures:     []FeatureGroupFeature{{Name: "age"}},
				},
				LeftOn:  []FeatureGroupFeature{{Name: "cc_num"}},
				RightOn: []FeatureGroupFeature{{Name: "cc_num"}},
				Prefix:  "p_",
			}},
		},
	}
}

// noWritesReachedPassive fails the test if a passive server received a write.
func noRefusedWrites(t *testing.T, servers ...*hopsworkstest.Server) {
	t.Helper()
	for _, s := range servers {
		if w := s.RefusedWrites(); len(w) != 0 {
			t.Fatalf("region %s (passive) received writes: %+v", s.Region(), w)
		}
	}
}

func TestWritesFromPassiveRegionLandInActive(t *testing.T) {
	e := newEnv(t) // eu active, us passive
	c := e.client(t, "us")
	ctx := ctxT(t)

	fv, err := c.CreateFeatureView(ctx, specFor("fraud_small", 1))
	if err != nil {
		t.Fatal(err)
	}
	if fv.Region != "eu" || fv.Name != "fraud_small" || len(fv.Features) != 3 || fv.Features[2].Name != "p_age" {
		t.Fatalf("created = %+v", fv)
	}
	if err := c.DeleteFeatureView(ctx, "fraud_small", 1); err != nil {
		t.Fatal(err)
	}
	if got := len(e.eu.AcceptedWrites()); got != 2 {
		t.Fatalf("eu accepted %d writes, want 2", got)
	}
	if got := len(e.us.Writes()); got != 0 {
		t.Fatalf("us (passive) received %d writes, want 0: %+v", got, e.us.Writes())
	}
}

func TestWritesFollowACAFlip(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, "eu")
	ctx := ctxT(t)

	if _, err := c.CreateFeatureView(ctx, specFor("v_before", 1)); err != nil {
		t.Fatal(err)
	}
	// The ACA flips eu -> us and the client's source sees it.
	e.eu.SetActive(false)
	e.us.SetActive(true)
	e.aca.set("us", "eu")
	fv, err := c.CreateFeatureView(ctx, specFor("v_after", 1))
	if err != nil {
		t.Fatal(err)
	}
	if fv.Region != "us" {
		t.Fatalf("write served by %s after the flip, want us", fv.Region)
	}
	noRefusedWrites(t, e.eu, e.us)
	if len(e.eu.AcceptedWrites()) != 1 || len(e.us.AcceptedWrites()) != 1 {
		t.Fatalf("accepted writes: eu %d, us %d", len(e.eu.AcceptedWrites()), len(e.us.AcceptedWrites()))
	}
}

func TestWriteRefusedAsReadOnlyRefreshesOnce(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusBadRequest} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			st := hopsworkstest.NewStore(hopsworkstest.StoreConfig{Project: "Fraud_Proj"})
			e := &env{
				store: st,
				eu:    hopsworkstest.New(hopsworkstest.Options{Region: "eu", Active: true, APIKey: testKey, Store: st, PassiveStatus: status}),
				us:    hopsworkstest.New(hopsworkstest.Options{Region: "us", APIKey: testKey, Store: st, PassiveStatus: status}),
				aca:   &fakeActive{},
			}
			defer e.eu.Close()
			defer e.us.Close()
			st.AddFeatureView(fraudView())
			e.aca.set("eu", "us")
			c := e.client(t, "eu")
			ctx := ctxT(t)

			// The regions flip but the client's ACA view is stale: eu refuses,
			// the client refreshes and retries once on us.
			e.eu.SetActive(false)
			e.us.SetActive(true)
			e.aca.next = &aca.State{Active: "us", Secondary: "eu", Epoch: 9}
			fv, err := c.CreateFeatureView(ctx, specFor("flip", 1))
			if err != nil {
				t.Fatal(err)
			}
			if fv.Region != "us" || e.aca.refreshCount() != 1 {
				t.Fatalf("region %s, refreshes %d", fv.Region, e.aca.refreshCount())
			}
			if len(e.eu.RefusedWrites()) != 1 || len(e.us.AcceptedWrites()) != 1 {
				t.Fatalf("eu refused %d, us accepted %d", len(e.eu.RefusedWrites()), len(e.us.AcceptedWrites()))
			}

			// Both passive: one refresh, one retry at most, then ErrReadOnly.
			e.us.SetActive(false)
			e.aca.next = &aca.State{Active: "eu", Secondary: "us", Epoch: 10}
			e.eu.ResetRequests()
			e.us.ResetRequests()
			_, err = c.CreateFeatureView(ctx, specFor("flip2", 1))
			if !errors.Is(err, ErrReadOnly) || !IsRetryable(err) {
				t.Fatalf("err = %v, want ErrReadOnly", err)
			}
			if n := len(e.eu.Writes()) + len(e.us.Writes()); n != 2 {
				t.Fatalf("%d write attempts, want 2", n)
			}
		})
	}
}

func TestNoActiveRegion(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		src  ActiveSource
	}{
		{"no source", nil},
		{"unknown and ACA down", &fakeActive{refreshErr: errors.New("aca: all endpoints failed")}},
		{"active region without endpoint", func() ActiveSource { f := &fakeActive{}; f.set("ap", "eu"); return f }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.eu.ResetRequests()
			e.us.ResetRequests()
			var opts []Option
			if tc.src != nil {
				opts = append(opts, WithActiveSource(tc.src))
			}
			c, err := New(e.config("us"), opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := ctxT(t)
			_, err = c.CreateFeatureView(ctx, specFor("x", 1))
			if !errors.Is(err, aca.ErrNoActiveRegion) || !IsRetryable(err) {
				t.Fatalf("create: err = %v, want ErrNoActiveRegion", err)
			}
			if err := c.DeleteFeatureView(ctx, "fraud", 1); !errors.Is(err, aca.ErrNoActiveRegion) {
				t.Fatalf("delete: err = %v, want ErrNoActiveRegion", err)
			}
			if _, err := c.BatchQuery(ctx, "fraud", 1, time.Time{}, time.Time{}); !errors.Is(err, aca.ErrNoActiveRegion) {
				t.Fatalf("batch query: err = %v, want ErrNoActiveRegion", err)
			}
			if n := len(e.eu.Writes()) + len(e.us.Writes()); n != 0 {
				t.Fatalf("%d writes sent with no active region", n)
			}
			// Reads still work.
			if _, err := c.FeatureView(ctx, "fraud", 1); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// *aca.Client is an ActiveSource.
var _ ActiveSource = (*aca.Client)(nil)

func TestACAUnknownThenRefreshed(t *testing.T) {
	e := newEnv(t)
	src := &fakeActive{next: &aca.State{Active: "EU", Secondary: "us"}}
	c, err := New(e.config("us"), WithActiveSource(src))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fv, err := c.CreateFeatureView(ctxT(t), specFor("after_refresh", 1))
	if err != nil {
		t.Fatal(err)
	}
	if fv.Region != "eu" || src.refreshCount() != 1 {
		t.Fatalf("region %s refreshes %d", fv.Region, src.refreshCount())
	}
}

func TestReadYourWrites(t *testing.T) {
	// Replication runs on a clock the test moves, so a loaded machine
	// cannot outrun the lag.
	clock := &manualClock{now: time.Unix(1_700_000_000, 0)}
	e := newEnvWithClock(t, clock.Now)
	e.store.SetReplicationLag(time.Minute)
	c := e.client(t, "us") // local us is passive; writes go to eu
	ctx := ctxT(t)
	if _, err := c.FeatureStore(ctx); err != nil {
		t.Fatal(err)
	}

	created, err := c.CreateFeatureView(ctx, specFor("ryw", 1))
	if err != nil {
		t.Fatal(err)
	}
	// Right after the create, us does not show the view yet; reads must
	// still see it (served by eu).
	fv, err := c.FeatureView(ctx, "ryw", 1)
	if err != nil {
		t.Fatalf("read right after create: %v", err)
	}
	if fv.ID != created.ID || fv.Region != "eu" {
		t.Fatalf("read %+v (region %s), want id %d from eu", fv.ID, fv.Region, created.ID)
	}
	ps, err := c.PreparedStatements(ctx, "ryw", 1, false)
	if err != nil || len(ps) != 2 || ps[0].Region != "eu" {
		t.Fatalf("statements right after create: %v %+v", err, ps)
	}
	// A client without the write sees nothing in us yet: the lag is real.
	other := e.client(t, "us")
	if _, err := other.FeatureView(ctx, "ryw", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other client: err = %v, want ErrNotFound during the lag", err)
	}
	// Once us shows it, reads go back to the local region.
	clock.Advance(time.Minute)
	if fv, err := c.FeatureView(ctx, "ryw", 1); err != nil || fv.Region != "us" {
		t.Fatalf("after the lag: %v %+v", err, fv)
	}
	if _, ok := c.pendingFor(viewKey{"ryw", 1}); ok {
		t.Fatal("pending mark kept after the local region showed the write")
	}

	// Delete: reads must not see the view any more, though us still has it.
	if err := c.DeleteFeatureView(ctx, "ryw", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.FeatureView(ctx, "ryw", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read right after delete: err = %v, want ErrNotFound", err)
	}
	if _, ok := c.pendingFor(viewKey{"ryw", 1}); !ok {
		t.Fatal("no pending mark while us still shows the deleted view")
	}
	clock.Advance(time.Minute)
	if _, err := c.FeatureView(ctx, "ryw", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the delete replicated: %v", err)
	}
	if _, ok := c.pendingFor(viewKey{"ryw", 1}); ok {
		t.Fatal("pending mark kept after the local region showed the delete")
	}
	noRefusedWrites(t, e.us)
}

func TestReadYourWritesBound(t *testing.T) {
	e := newEnv(t)
	e.store.SetReplicationLag(time.Hour) // never replicates within the test
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	cfg := e.config("us")
	cfg.ReadYourWritesBound = time.Minute
	c, err := New(cfg, WithActiveSource(e.aca), withClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	if _, err := c.CreateFeatureView(ctx, specFor("bound", 1)); err != nil {
		t.Fatal(err)
	}
	if fv, err := c.FeatureView(ctx, "bound", 1); err != nil || fv.Region != "eu" {
		t.Fatalf("within the bound: %v", err)
	}
	advance(time.Minute + time.Second)
	if _, err := c.FeatureView(ctx, "bound", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the bound reads go local again: err = %v", err)
	}
}

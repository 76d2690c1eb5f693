package featurestore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.uber.org/goleak"

	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/internal/hopsworkstest"
	"github.com/tandemfs/tandem/internal/mariadbtest"
	"github.com/tandemfs/tandem/internal/testutil"
	"github.com/tandemfs/tandem/region"
)

func TestMain(m *testing.M) {
	// The driver logs lost connections to stderr; the fault tests make
	// them on purpose.
	_ = mysql.SetLogger(&mysql.NopLogger{})
	goleak.VerifyTestMain(m)
}

// The test view joins two feature groups:
//
//   - accounts v1, key aid (bigint), with a label (fraud) and an inference
//     helper column (helper) that vectors must drop;
//   - country_tier v2, composite key (cc string, tier int), joined on the
//     accounts features country and tier, prefix "c_"; neither is an
//     accounts key, so both serving keys are required: c_cc and c_tier.
//
// Every row's src column names the region whose MariaDB holds it, so a
// test can tell which region served each group.
const (
	project  = "Tandem"
	viewName = "fraud"
	nRows    = 1000
)

var (
	fgAccounts = hopsworkstest.FeatureGroupDef{ID: 11, Name: "accounts", Version: 1, Features: []hopsworkstest.FeatureDef{
		{Name: "aid", Type: "bigint", Primary: true},
		{Name: "balance", Type: "double"},
		{Name: "country", Type: "string"},
		{Name: "tier", Type: "int"},
		{Name: "src", Type: "string"},
		{Name: "fraud", Type: "int"},
		{Name: "helper", Type: "string"},
	}}
	fgCountry = hopsworkstest.FeatureGroupDef{ID: 12, Name: "country_tier", Version: 2, Features: []hopsworkstest.FeatureDef{
		{Name: "cc", Type: "string", Primary: true},
		{Name: "tier", Type: "int", Primary: true},
		{Name: "tax", Type: "double"},
		{Name: "src", Type: "string"},
	}}
	countries = []string{"SE", "US", "DE", "FR"} // FR has no country_tier rows
)

// wantNames is the vector order: features by index without the label and
// the helper column.
var wantNames = []string{"balance", "c_tax", "aid", "c_src", "country", "src"}

func fraudView(name string, version int) hopsworkstest.FeatureViewDef {
	return hopsworkstest.FeatureViewDef{
		Name: name, Version: version,
		Joins: []hopsworkstest.JoinDef{
			{FeatureGroup: fgAccounts},
			{FeatureGroup: fgCountry, Prefix: "c_", On: []string{"country", "tier"}},
		},
		Features: []hopsworkstest.ViewFeatureDef{
			{Name: "balance", Join: 0},
			{Name: "c_tax", Join: 1, FeatureGroupFeatureName: "tax"},
			{Name: "aid", Join: 0},
			{Name: "fraud", Join: 0, Label: true},
			{Name: "c_src", Join: 1, FeatureGroupFeatureName: "src"},
			{Name: "country", Join: 0},
			{Name: "helper", Join: 0, InferenceHelperColumn: true},
			{Name: "src", Join: 0},
		},
	}
}

// account returns the expected row values of account aid.
func account(aid int) (balance float64, country string, tier int64) {
	return float64(aid) * 1.5, countries[aid%len(countries)], int64(aid % 3)
}

func tax(cc string, tier int64) float64 {
	return float64(strings.Index("SEUSDE", cc)/2+1)/10 + float64(tier)/100
}

// entry is the entry of account aid.
func entry(aid int) map[string]any {
	_, cc, tier := account(aid)
	return map[string]any{"aid": aid, "c_cc": cc, "c_tier": tier}
}

// env is two regions, eu and us: fake Hopsworks sharing one replicated
// metadata store, an ACA serving which region is active, and real MariaDB
// servers (each behind a fault proxy) holding the online tables.
type env struct {
	store *hopsworkstest.Store
	hw    map[region.ID]*hopsworkstest.Server
	db    map[region.ID]*mariadbtest.Server
	aca   *acaServer
}

func newEnv(t testing.TB) *env { return newEnvOpts(t, mariadbtest.Options{Proxy: true}) }

func newEnvOpts(t testing.TB, opts mariadbtest.Options) *env {
	t.Helper()
	e := &env{
		store: hopsworkstest.NewStore(hopsworkstest.StoreConfig{Project: project}),
		hw:    map[region.ID]*hopsworkstest.Server{},
		db:    map[region.ID]*mariadbtest.Server{},
		aca:   newACA(t, "eu", "us"),
	}
	for _, r := range []region.ID{"eu", "us"} {
		s := hopsworkstest.New(hopsworkstest.Options{Region: r, Active: r == "eu", Store: e.store})
		t.Cleanup(s.Close)
		e.hw[r] = s
	}
	e.store.AddFeatureView(fraudView(viewName, 1))
	dbs := mariadbtest.Start(t, 2, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, r := range []region.ID{"eu", "us"} {
		e.db[r] = dbs[i]
		var acc, ct strings.Builder
		for aid := 1; aid <= nRows; aid++ {
			if aid > 1 {
				acc.WriteByte(',')
			}
			b, cc, tier := account(aid)
			fmt.Fprintf(&acc, "(%d, %g, '%s', %d, '%s', %d, 'h%d')", aid, b, cc, tier, r, aid%2, aid)
		}
		for i, cc := range countries[:3] {
			for tier := int64(0); tier < 3; tier++ {
				if i > 0 || tier > 0 {
					ct.WriteByte(',')
				}
				fmt.Fprintf(&ct, "('%s', %d, %g, '%s')", cc, tier, tax(cc, tier), r)
			}
		}
		if err := dbs[i].Exec(ctx,
			"CREATE DATABASE tandem",
			"CREATE TABLE tandem.accounts_1 (aid BIGINT PRIMARY KEY, balance DOUBLE, country VARCHAR(8), tier INT, src VARCHAR(8), fraud INT, helper VARCHAR(16))",
			"CREATE TABLE tandem.country_tier_2 (cc VARCHAR(8), tier INT, tax DOUBLE, src VARCHAR(8), PRIMARY KEY (cc, tier))",
			"INSERT INTO tandem.accounts_1 VALUES "+acc.String(),
			"INSERT INTO tandem.country_tier_2 VALUES "+ct.String(),
		); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// config is a Client config for a process in region local.
func (e *env) config(local region.ID) featurestore.Config {
	cfg := featurestore.Config{
		Local:        local,
		ACAEndpoints: []string{e.aca.URL()},
		ACAInterval:  20 * time.Millisecond,
		APIKey:       hopsworkstest.DefaultAPIKey,
		Project:      project,
		// The fake Hopsworks serves http on loopback.
		AllowInsecureHTTP: true,
		// Short metadata timeouts, so outages are noticed quickly.
		MetadataTimeout: 2 * time.Second,
	}
	for _, r := range []region.ID{"eu", "us"} {
		cfg.Regions = append(cfg.Regions, featurestore.RegionConfig{
			ID: r, MySQL: []string{e.db[r].ClientAddr()}, HopsworksURL: e.hw[r].URL(),
		})
	}
	return cfg
}

func newClient(t testing.TB, cfg featurestore.Config, opts ...featurestore.Option) *featurestore.Client {
	t.Helper()
	c, err := featurestore.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}

func mustView(t testing.TB, c *featurestore.Client, name string, version int) *featurestore.FeatureView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	fv, err := c.FeatureView(ctx, name, version)
	if err != nil {
		t.Fatal(err)
	}
	return fv
}

func ctxT(t testing.TB, d time.Duration) context.Context { return testutil.Context(t, d) }

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, d, what, cond)
}

// acaServer is an httptest ACA endpoint serving a state a test can flip.
type acaServer struct {
	mu   sync.Mutex
	body string
	ts   *httptest.Server
}

func newACA(t testing.TB, active, secondary region.ID) *acaServer {
	a := &acaServer{}
	a.set(active, secondary)
	a.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		a.mu.Lock()
		body := a.body
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(a.ts.Close)
	return a
}

func (a *acaServer) URL() string { return a.ts.URL }

func (a *acaServer) set(active, secondary region.ID) {
	a.mu.Lock()
	a.body = fmt.Sprintf(`{"active":%q,"secondary":%q}`, active, secondary)
	a.mu.Unlock()
}

// checkVector checks v is account aid's vector, every group from region r.
//
// r is the region that should serve an unhedged read. A hedge may win from
// the other region (a cold pool or a loaded machine can hold the first
// attempt past the delay); then every value and group must still come from
// that one region, v.Region.
func checkVector(t testing.TB, v *featurestore.Vector, aid int, r region.ID) {
	t.Helper()
	if v.Hedged && v.Region != r && !v.MixedRegions {
		t.Logf("aid %d: a hedge won from %q (wanted %q unhedged)", aid, v.Region, r)
		r = v.Region
	}
	if strings.Join(v.Names, ",") != strings.Join(wantNames, ",") {
		t.Fatalf("names %v, want %v", v.Names, wantNames)
	}
	b, cc, tier := account(aid)
	want := []any{b, tax(cc, tier), int64(aid), string(r), cc, string(r)}
	if cc == "FR" {
		want[1], want[3] = nil, nil
	}
	for i, w := range want {
		if v.Values[i] != w {
			t.Fatalf("aid %d: %s = %#v, want %#v (vector %v)", aid, v.Names[i], v.Values[i], w, v.Values)
		}
	}
	wantStatus := []featurestore.Status{featurestore.Present, featurestore.Present}
	if cc == "FR" {
		wantStatus[1] = featurestore.Missing
	}
	for i, g := range v.Groups {
		if g.Status != wantStatus[i] {
			t.Fatalf("aid %d: group %s is %v, want %v", aid, g.FeatureGroup, g.Status, wantStatus[i])
		}
		if g.Region != r {
			t.Fatalf("aid %d: group %s served by %q, want %q", aid, g.FeatureGroup, g.Region, r)
		}
	}
	if v.Region != r || v.MixedRegions {
		t.Fatalf("aid %d: region %q mixed=%v, want %q unmixed", aid, v.Region, v.MixedRegions, r)
	}
}

package metadata

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/internal/hopsworkstest"
	"github.com/tandemfs/tandem/internal/testutil"
	"github.com/tandemfs/tandem/region"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeActive is an ActiveSource a test steers.
type fakeActive struct {
	mu         sync.Mutex
	st         aca.State
	known      bool
	next       *aca.State // what Refresh learns, if set
	refreshErr error
	refreshes  int
	age        time.Duration
	// refreshAge, if set, is the age after a successful Refresh.
	refreshAge *time.Duration
}

func (f *fakeActive) Current() (aca.State, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st, f.known
}

func (f *fakeActive) Refresh(ctx context.Context) (aca.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshes++
	if f.refreshErr != nil {
		return aca.State{}, f.refreshErr
	}
	if f.next != nil {
		f.st, f.known, f.next = *f.next, true, nil
	}
	if f.refreshAge != nil {
		f.age = *f.refreshAge
	}
	if !f.known {
		return aca.State{}, errors.New("aca: no state")
	}
	return f.st, nil
}

func (f *fakeActive) set(active, secondary region.ID) {
	f.mu.Lock()
	f.st = aca.State{Active: active, Secondary: secondary, Epoch: f.st.Epoch + 1}
	f.known = true
	f.mu.Unlock()
}

// Staleness is 0 unless a test set an age.
func (f *fakeActive) Staleness() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.age
}

func (f *fakeActive) setAge(d time.Duration) {
	f.mu.Lock()
	f.age = d
	f.mu.Unlock()
}

func (f *fakeActive) refreshCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshes
}

// env is two regions, eu and us, sharing one replicated store.
type env struct {
	store  *hopsworkstest.Store
	eu, us *hopsworkstest.Server
	aca    *fakeActive
}

const testKey = "s3cr3t-KEY-ab12cd34ef56"

func newEnv(t *testing.T) *env { t.Helper(); return newEnvWithClock(t, nil) }

// newEnvWithClock is newEnv with the Store's replication clock given.
func newEnvWithClock(t *testing.T, now func() time.Time) *env {
	t.Helper()
	st := hopsworkstest.NewStore(hopsworkstest.StoreConfig{Project: "Fraud_Proj", Now: now})
	e := &env{
		store: st,
		eu:    hopsworkstest.New(hopsworkstest.Options{Region: "eu", Active: true, APIKey: testKey, Store: st}),
		us:    hopsworkstest.New(hopsworkstest.Options{Region: "us", Active: false, APIKey: testKey, Store: st}),
		aca:   &fakeActive{},
	}
	e.aca.set("eu", "us")
	t.Cleanup(e.eu.Close)
	t.Cleanup(e.us.Close)
	st.AddFeatureView(fraudView())
	return e
}

func (e *env) config(local region.ID) Config {
	return Config{
		Local: local,
		Regions: []RegionConfig{
			{ID: "eu", BaseURL: e.eu.URL()},
			{ID: "us", BaseURL: e.us.URL()},
		},
		APIKey:            testKey,
		Project:           "Fraud_Proj",
		Timeout:           2 * time.Second,
		AllowInsecureHTTP: true,
	}
}

func (e *env) client(t *testing.T, local region.ID, opts ...Option) *Client {
	t.Helper()
	opts = append([]Option{WithActiveSource(e.aca)}, opts...)
	c, err := New(e.config(local), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var (
	transactionsFG = hopsworkstest.FeatureGroupDef{
		ID: 49, Name: "transactions", Version: 1,
		Features: []hopsworkstest.FeatureDef{
			{Name: "tid", Type: "bigint", Primary: true},
			{Name: "cc_num", Type: "bigint"},
			{Name: "amount", Type: "double"},
			{Name: "fraud_label", Type: "boolean"},
		},
	}
	profilesFG = hopsworkstest.FeatureGroupDef{
		ID: 48, Name: "profiles", Version: 1,
		Features: []hopsworkstest.FeatureDef{
			{Name: "cc_num", Type: "bigint", Primary: true},
			{Name: "age", Type: "int"},
			{Name: "city", Type: "string"},
		},
	}
	merchantsFG = hopsworkstest.FeatureGroupDef{
		ID: 50, Name: "merchants", Version: 2,
		Features: []hopsworkstest.FeatureDef{
			{Name: "mid", Type: "bigint", Primary: true},
			{Name: "country", Type: "string", Primary: true},
			{Name: "risk", Type: "double"},
		},
	}
)

func fraudView() hopsworkstest.FeatureViewDef {
	return hopsworkstest.FeatureViewDef{
		Name: "fraud", Version: 1, Description: "fraud features",
		Joins: []hopsworkstest.JoinDef{
			{FeatureGroup: transactionsFG},
			{FeatureGroup: profilesFG, Prefix: "p_", On: []string{"cc_num"}},
		},
		Features: []hopsworkstest.ViewFeatureDef{
			{Name: "amount", Join: 0},
			{Name: "cc_num", Join: 0},
			{FeatureGroupFeatureName: "age", Join: 1},
			{FeatureGroupFeatureName: "city", Join: 1},
			{Name: "fraud_label", Join: 0, Label: true},
		},
	}
}

func merchantsView() hopsworkstest.FeatureViewDef {
	return hopsworkstest.FeatureViewDef{
		Name: "merchant_risk", Version: 1,
		Joins: []hopsworkstest.JoinDef{{FeatureGroup: merchantsFG}},
	}
}

func ctxT(t testing.TB) context.Context { return testutil.Context(t, 10*time.Second) }

func eventually(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, d, "the condition", cond)
}

// manualClock is a clock a test moves by hand.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (m *manualClock) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

func (m *manualClock) Advance(d time.Duration) {
	m.mu.Lock()
	m.now = m.now.Add(d)
	m.mu.Unlock()
}

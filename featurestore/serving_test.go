package featurestore_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/internal/hopsworkstest"
	"github.com/tandemfs/tandem/online"
)

// TestAllowMissing: without AllowMissing, an entry that leaves out a
// group's key fails (hsfs allow_missing=False); with it, that group is
// not read, Missing, its features nil, and the rest is read, in a single
// vector and in a batch. A composite key is still all or nothing.
func TestAllowMissing(t *testing.T) {
	e := newEnv(t)
	c := newClient(t, e.config("eu"))
	fv := mustView(t, c, viewName, 1)
	noCountry := map[string]any{"aid": 4}
	if _, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), noCountry); !errors.Is(err, featurestore.ErrMissingServingKey) {
		t.Fatalf("without AllowMissing: %v", err)
	}
	v, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), noCountry, featurestore.AllowMissing())
	if err != nil {
		t.Fatal(err)
	}
	b, cc, _ := account(4)
	m := v.Map()
	if v.Groups[0].Status != featurestore.Present || v.Groups[1].Status != featurestore.Missing || v.Complete() {
		t.Fatalf("groups %+v", v.Groups)
	}
	if m["balance"] != b || m["country"] != cc || m["c_tax"] != nil || m["c_src"] != nil {
		t.Fatalf("vector %v", m)
	}
	if _, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), map[string]any{"aid": 4, "c_cc": "SE"}, featurestore.AllowMissing()); !errors.Is(err, featurestore.ErrPartialCompositeKey) {
		t.Fatalf("partial composite key with AllowMissing: %v", err)
	}

	batch, err := fv.GetFeatureVectors(ctxT(t, 5*time.Second), []map[string]any{entry(1), noCountry, {"c_cc": "SE", "c_tier": int64(1)}}, featurestore.AllowMissing())
	if err != nil {
		t.Fatal(err)
	}
	checkVector(t, &batch.Vectors[0], 1, batch.Region)
	if g := batch.Vectors[1].Groups; g[0].Status != featurestore.Present || g[1].Status != featurestore.Missing {
		t.Fatalf("entry 1 groups %+v", g)
	}
	if g := batch.Vectors[2].Groups; g[0].Status != featurestore.Missing || g[1].Status != featurestore.Present {
		t.Fatalf("entry 2 groups %+v", g)
	}
	if batch.Missing != 2 || batch.Vectors[2].Map()["c_tax"] != tax("SE", 1) || batch.Vectors[1].Map()["balance"] != b {
		t.Fatalf("batch missing %d, vectors %v / %v", batch.Missing, batch.Vectors[1].Map(), batch.Vectors[2].Map())
	}
	if _, err := fv.GetFeatureVectors(ctxT(t, 5*time.Second), []map[string]any{entry(1), noCountry}); !errors.Is(err, featurestore.ErrMissingServingKey) {
		t.Fatalf("batch without AllowMissing: %v", err)
	}
}

// TestTotalOnlineOutage: with every region's MariaDB down, a lookup fails
// with an error that matches ErrUnavailable and is retryable; a bad entry
// is neither.
func TestTotalOnlineOutage(t *testing.T) {
	e := newEnv(t)
	cfg := e.config("eu")
	cfg.Online.AttemptTimeout = time.Second
	c := newClient(t, cfg)
	fv := mustView(t, c, viewName, 1)
	for _, db := range e.db {
		if err := db.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	_, err := fv.GetFeatureVector(ctxT(t, 10*time.Second), entry(1))
	if !errors.Is(err, featurestore.ErrUnavailable) || !featurestore.IsRetryable(err) {
		t.Fatalf("total outage: %v (unavailable %v, retryable %v)", err, errors.Is(err, featurestore.ErrUnavailable), featurestore.IsRetryable(err))
	}
	if !strings.HasPrefix(err.Error(), "featurestore: ") {
		t.Fatalf("message %q", err)
	}
	_, err = fv.GetFeatureVectors(ctxT(t, 10*time.Second), []map[string]any{entry(1), entry(2)})
	if !errors.Is(err, featurestore.ErrUnavailable) || !featurestore.IsRetryable(err) {
		t.Fatalf("batch in a total outage: %v", err)
	}
	_, err = fv.GetFeatureVector(ctxT(t, 5*time.Second), map[string]any{"nope": 1})
	if errors.Is(err, featurestore.ErrUnavailable) || featurestore.IsRetryable(err) {
		t.Fatalf("a bad entry is retryable: %v", err)
	}
}

// TestMaxPlansCapsKnownViews: past MaxPlans views, the least recently
// used is forgotten (its handle still reads); the others stay known.
func TestMaxPlansCapsKnownViews(t *testing.T) {
	e := newEnv(t)
	for v := 2; v <= 4; v++ {
		e.store.AddFeatureView(fraudView(viewName, v))
	}
	cfg := e.config("eu")
	cfg.MaxPlans = 2
	c := newClient(t, cfg)
	first := mustView(t, c, viewName, 1)
	for v := 2; v <= 4; v++ {
		mustView(t, c, viewName, v)
	}
	if n := featurestore.KnownViews(c); n != 2 {
		t.Fatalf("%d known views, want 2", n)
	}
	if v, err := first.GetFeatureVector(ctxT(t, 5*time.Second), entry(3)); err != nil {
		t.Fatal(err)
	} else {
		checkVector(t, v, 3, v.Region)
	}
	if again := mustView(t, c, viewName, 1); again == first {
		t.Fatal("a forgotten view came back as the old handle")
	}
}

// TestConfigURLRedaction: String, %#v and slog drop the password of a URL
// whose password holds an '@', and query strings.
func TestConfigURLRedaction(t *testing.T) {
	cfg := featurestore.Config{
		Local: "eu", Project: "p",
		ACAEndpoints: []string{"https://u:p@ss@judge.example/state", "https://judge2.example/state?token=tok3n"},
		Regions:      []featurestore.RegionConfig{{ID: "eu", MySQL: []string{"h:3306"}, HopsworksURL: "https://hw.example/api?key=k3y#frag"}},
	}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%#v", cfg), fmt.Sprint(cfg.LogValue())} {
		for _, secret := range []string{"p@ss", "ss@", "tok3n", "token", "k3y", "frag"} {
			if strings.Contains(s, secret) {
				t.Fatalf("%q leaks in %s", secret, s)
			}
		}
		if !strings.Contains(s, "judge.example") || !strings.Contains(s, "hw.example/api") {
			t.Fatalf("hosts gone from %s", s)
		}
	}
}

// TestInsecureHTTPRefused: an API key over an http:// Hopsworks URL is
// refused unless AllowInsecureHTTP; https, or no key, is fine.
func TestInsecureHTTPRefused(t *testing.T) {
	cfg := func(url, key string, insecure bool) featurestore.Config {
		return featurestore.Config{Local: "eu", Project: "p", APIKey: key, AllowInsecureHTTP: insecure,
			Regions: []featurestore.RegionConfig{{ID: "eu", MySQL: []string{"127.0.0.1:1"}, HopsworksURL: url}}}
	}
	for _, tc := range []struct {
		name string
		cfg  featurestore.Config
		ok   bool
	}{
		{"http with key", cfg("http://hw.example/api", hopsworkstest.DefaultAPIKey, false), false},
		{"HTTP upper case", cfg("HTTP://hw.example/api", "k", false), false},
		{"http with key, insecure allowed", cfg("http://127.0.0.1:1/api", "k", true), true},
		{"https with key", cfg("https://hw.example/api", "k", false), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := featurestore.New(tc.cfg)
			if c != nil {
				_ = c.Close()
			}
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, featurestore.ErrInvalidConfig)) {
				t.Fatalf("got %v", err)
			}
			if err != nil && strings.Contains(err.Error(), "k") && strings.Contains(err.Error(), hopsworkstest.DefaultAPIKey) {
				t.Fatalf("the key leaks: %v", err)
			}
		})
	}
}

// TestInferenceHelpers: GetInferenceHelper(s) read the view's inference
// helper columns with the helper statements (hsfs get_inference_helper(s)),
// as a map of column to value; a missing row gives nil; entries are
// checked as for vectors; a view without helper columns gives empty maps.
func TestInferenceHelpers(t *testing.T) {
	e := newEnv(t)
	d := fraudView("plain", 1)
	d.Features = slices.DeleteFunc(d.Features, func(f hopsworkstest.ViewFeatureDef) bool { return f.InferenceHelperColumn })
	e.store.AddFeatureView(d)
	c := newClient(t, e.config("eu"))
	fv := mustView(t, c, viewName, 1)
	h, err := fv.GetInferenceHelper(ctxT(t, 5*time.Second), entry(5))
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h["helper"] != "h5" {
		t.Fatalf("helper %v", h)
	}
	hs, err := fv.GetInferenceHelpers(ctxT(t, 5*time.Second), []map[string]any{entry(7), entry(nRows + 1), entry(7)})
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 3 || hs[0]["helper"] != "h7" || hs[2]["helper"] != "h7" || len(hs[1]) != 1 || hs[1]["helper"] != nil {
		t.Fatalf("helpers %v", hs)
	}
	if _, err := fv.GetInferenceHelper(ctxT(t, 5*time.Second), map[string]any{"bogus": 1}); !errors.Is(err, featurestore.ErrUnknownServingKey) {
		t.Fatalf("bad entry: %v", err)
	}
	// The vector itself still leaves the helper column out.
	if v, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(5)); err != nil {
		t.Fatal(err)
	} else if _, ok := v.Get("helper"); ok {
		t.Fatal("the vector has the helper column")
	}
	plain := mustView(t, c, "plain", 1)
	if h, err := plain.GetInferenceHelper(ctxT(t, 5*time.Second), entry(5)); err != nil || len(h) != 0 {
		t.Fatalf("no helper columns: %v, %v", h, err)
	}
	if hs, err := plain.GetInferenceHelpers(ctxT(t, 5*time.Second), []map[string]any{entry(1)}); err != nil || len(hs) != 1 || len(hs[0]) != 0 {
		t.Fatalf("no helper columns, batch: %v, %v", hs, err)
	}
}

// TestRegionTLSReachesOnline: RegionConfig.TLS is handed to the online
// store: a mode online does not know fails New; verify-identity with a
// CA is accepted (online's tests show the encrypted session).
func TestRegionTLSReachesOnline(t *testing.T) {
	cfg := func(tls *online.TLSConfig) featurestore.Config {
		return featurestore.Config{Local: "eu", Project: "p", APIKey: "k",
			Regions: []featurestore.RegionConfig{{ID: "eu", MySQL: []string{"127.0.0.1:1"}, HopsworksURL: "https://hw.example/api", TLS: tls}}}
	}
	if c, err := featurestore.New(cfg(&online.TLSConfig{Mode: "sometimes"})); !errors.Is(err, featurestore.ErrInvalidConfig) {
		if c != nil {
			_ = c.Close()
		}
		t.Fatalf("unknown TLS mode: %v", err)
	}
	c, err := featurestore.New(cfg(&online.TLSConfig{Mode: online.TLSRequired}))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
}

// TestPlanLoadRefusesMissingFeature: on the fake, a single statement that
// no longer selects a vector feature (c_tax) fails the plan load with
// ErrInvalidPlan, rather than every later lookup.
func TestPlanLoadRefusesMissingFeature(t *testing.T) {
	e := newEnv(t)
	cut := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil || !strings.HasSuffix(r.URL.Path, "/preparedstatement") || r.URL.Query().Get("batch") != "false" ||
			r.URL.Query().Get("inference_helper_columns") == "true" {
			return resp, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		cut := strings.Replace(string(body), "`fg0`.`tax` AS `c_tax`, ", "", 1)
		if cut == string(body) {
			return nil, fmt.Errorf("test: no c_tax in %s", body)
		}
		resp.Body, resp.ContentLength = io.NopCloser(strings.NewReader(cut)), int64(len(cut))
		resp.Header.Del("Content-Length")
		return resp, nil
	})}
	c := newClient(t, e.config("eu"), featurestore.WithHTTPClient(cut))
	_, err := c.FeatureView(ctxT(t, 10*time.Second), viewName, 1)
	if !errors.Is(err, featurestore.ErrInvalidPlan) || !strings.Contains(err.Error(), "c_tax") {
		t.Fatalf("got %v, want ErrInvalidPlan naming c_tax", err)
	}
}

// TestLabelOnlyGroupOnTheFake: the fake derives serving keys and
// statements as the server does; a group that contributes only a label
// has no single statement, a batch one, and a key that is not required:
// {tid, cc_num} is a valid entry, single and batch.
func TestLabelOnlyGroupOnTheFake(t *testing.T) {
	e := newEnv(t)
	trans := hopsworkstest.FeatureGroupDef{ID: 51, Name: "transactions", Version: 1, Features: []hopsworkstest.FeatureDef{
		{Name: "tid", Type: "bigint", Primary: true}, {Name: "cc_num", Type: "bigint"}, {Name: "amount", Type: "double"},
	}}
	labels := hopsworkstest.FeatureGroupDef{ID: 52, Name: "fraud_labels", Version: 1, Features: []hopsworkstest.FeatureDef{
		{Name: "cc_num", Type: "bigint", Primary: true}, {Name: "is_fraud", Type: "int"},
	}}
	e.store.AddFeatureView(hopsworkstest.FeatureViewDef{Name: "tx", Version: 1,
		Joins: []hopsworkstest.JoinDef{{FeatureGroup: trans}, {FeatureGroup: labels, Prefix: "l_", On: []string{"cc_num"}}},
		Features: []hopsworkstest.ViewFeatureDef{
			{Name: "tid", Join: 0}, {Name: "cc_num", Join: 0}, {Name: "amount", Join: 0},
			{Name: "l_is_fraud", Join: 1, FeatureGroupFeatureName: "is_fraud", Label: true},
		}})
	for _, db := range e.db {
		if err := db.Exec(ctxT(t, 10*time.Second),
			"CREATE TABLE tandem.transactions_1 (tid BIGINT PRIMARY KEY, cc_num BIGINT, amount DOUBLE)",
			"CREATE TABLE tandem.fraud_labels_1 (cc_num BIGINT PRIMARY KEY, is_fraud INT)",
			"INSERT INTO tandem.transactions_1 VALUES (1, 4467, 9.5), (2, 4468, 3.25)",
			"INSERT INTO tandem.fraud_labels_1 VALUES (4467, 1)",
		); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, e.config("eu"))
	fv := mustView(t, c, "tx", 1)
	if got := fv.ServingKeys(); !slices.Equal(got, []string{"cc_num", "tid"}) {
		t.Fatalf("serving keys %v", got)
	}
	v, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), map[string]any{"tid": 1, "cc_num": 4467})
	if err != nil {
		t.Fatal(err)
	}
	if m := v.Map(); len(m) != 3 || m["amount"] != 9.5 || m["cc_num"] != int64(4467) || !v.Complete() {
		t.Fatalf("vector %v %+v", m, v.Groups)
	}
	b, err := fv.GetFeatureVectors(ctxT(t, 5*time.Second), []map[string]any{{"tid": 2, "cc_num": 4468}, {"tid": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Vectors[0].Map()["amount"] != 3.25 || b.Vectors[1].Map()["amount"] != 9.5 || b.Missing != 0 {
		t.Fatalf("batch %v / %v", b.Vectors[0].Map(), b.Vectors[1].Map())
	}
}

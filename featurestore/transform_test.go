package featurestore_test

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/internal/hopsworkstest"
)

const tfView = "fraud_tf"

// addTransformedView adds fraud_tf v1: the fraud view with an on-demand
// feature spend_ratio = amount/balance (amount is a request parameter) and
// four model-dependent built-ins, with the statistics of training dataset 1:
//
//	min_max_scaler(balance)      min 0, max 1500
//	one_hot_encoder(country)     unique values SE, US, DE, FR
//	standard_scaler(c_tax)       mean 0.2, std 0.1
//	standard_scaler(spend_ratio) mean 1, std 0.5 (chained on the on-demand output)
func addTransformedView(e *env) {
	e.store.AddFeatureView(fraudView(tfView, 1))
	scaler := func(name, f string) hopsworkstest.TransformationDef {
		return hopsworkstest.TransformationDef{Name: name, Features: []string{f}, Dropped: []string{"feature"}, Statistics: true}
	}
	oh := scaler("one_hot_encoder", "country")
	oh.OutputTypes = []string{"boolean"}
	e.store.SetTransformations(tfView, 1, hopsworkstest.TransformationsDef{
		ModelDependent: []hopsworkstest.TransformationDef{
			scaler("standard_scaler", "spend_ratio"), scaler("min_max_scaler", "balance"), oh, scaler("standard_scaler", "c_tax"),
		},
		OnDemand: []hopsworkstest.OnDemandFeatureDef{{Name: "spend_ratio",
			Function: hopsworkstest.TransformationDef{Name: "spend_ratio", Features: []string{"amount", "balance"}}}},
		Statistics: map[int][]hopsworkstest.FeatureStatisticsDef{1: {
			{Feature: "balance", Min: hopsworkstest.F(0), Max: hopsworkstest.F(1500)},
			{Feature: "country", UniqueValues: []any{"SE", "US", "DE", "FR"}},
			{Feature: "c_tax", Mean: hopsworkstest.F(0.2), StdDev: hopsworkstest.F(0.1)},
			{Feature: "spend_ratio", Mean: hopsworkstest.F(1), StdDev: hopsworkstest.F(0.5)},
		}},
	})
}

// spendRatio is the Go implementation of the view's Python UDF
// spend_ratio(amount, balance) = amount / balance.
func spendRatio(in, out [][]any) error {
	for r := range in[0] {
		a, ok1 := in[0][r].(float64)
		b, ok2 := in[1][r].(float64)
		if ok1 && ok2 {
			out[0][r] = a / b
		}
	}
	return nil
}

var tfNames = []string{"aid", "c_src", "src", "min_max_scaler_balance_",
	"one_hot_encoder_country_0", "one_hot_encoder_country_1", "one_hot_encoder_country_2", "one_hot_encoder_country_3",
	"standard_scaler_c_tax_", "standard_scaler_spend_ratio_"}

func approxEqual(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		fa, oka := a[i].(float64)
		fb, okb := b[i].(float64)
		if oka && okb {
			if math.Abs(fa-fb) > 1e-9 {
				return false
			}
			continue
		}
		if !reflect.DeepEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestTransformedVector(t *testing.T) {
	e := newEnv(t)
	addTransformedView(e)
	cfg := e.config("eu")
	// A short plan TTL, so that the metadata outage below is met by
	// failing background refreshes and an expired plan.
	cfg.PlanTTL = 300 * time.Millisecond
	c := newClient(t, cfg, featurestore.WithTransformation("spend_ratio", 2, spendRatio))
	fv := mustView(t, c, tfView, 1)

	// aid 10: balance 15, country DE, tier 1, c_tax 0.3+0.01 = 0.31, src eu.
	// amount 30: spend_ratio 30/15 = 2.
	//   min_max_scaler: (15-0)/(1500-0) = 0.01
	//   one_hot_encoder: sorted DE, FR, SE, US: DE -> T F F F
	//   standard_scaler(c_tax): (0.31-0.2)/0.1 = 1.1
	//   standard_scaler(spend_ratio): (2-1)/0.5 = 2
	v, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(10), featurestore.WithRequestParameters(map[string]any{"amount": 30.0}))
	if err != nil {
		t.Fatal(err)
	}
	// src and c_src hold the region that served the row (a hedge may win).
	want := func(r any) []any { return []any{int64(10), r, r, 0.01, true, false, false, false, 1.1, 2.0} }
	if !reflect.DeepEqual(v.Names, tfNames) || !approxEqual(v.Values, want(string(v.Region))) {
		t.Fatalf("got %v = %v\nwant %v = %v", v.Names, v.Values, tfNames, want(string(v.Region)))
	}

	// Transform(false): the raw order with the on-demand feature (hsfs transform=False).
	v, err = fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(10), featurestore.Transform(false),
		featurestore.WithRequestParameters(map[string]any{"amount": 30.0}))
	if err != nil {
		t.Fatal(err)
	}
	if w := append(append([]string(nil), wantNames...), "spend_ratio"); !reflect.DeepEqual(v.Names, w) ||
		!approxEqual(v.Values, []any{15.0, 0.31, int64(10), string(v.Region), "DE", string(v.Region), 2.0}) {
		t.Fatalf("raw: %v = %v", v.Names, v.Values)
	}

	// Passed features override fetched ones before the transformations:
	// balance 150 -> (150-0)/1500 = 0.1, spend 30/150 = 0.2 -> (0.2-1)/0.5 = -1.6.
	v, err = fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(10), featurestore.WithPassedFeatures(map[string]any{"balance": 150.0}),
		featurestore.WithRequestParameters(map[string]any{"amount": 30.0}))
	if err != nil {
		t.Fatal(err)
	}
	if r := string(v.Region); !approxEqual(v.Values, []any{int64(10), r, r, 0.1, true, false, false, false, 1.1, -1.6}) {
		t.Fatalf("passed: %v", v.Values)
	}

	// No amount: hsfs's missing request parameters error.
	_, err = fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(10))
	var me *featurestore.MissingRequestParametersError
	if !errors.As(err, &me) || !reflect.DeepEqual(me.Features, map[string][]string{"spend_ratio": {"amount"}}) {
		t.Fatalf("missing amount: %v", err)
	}

	// A batch, column-wise: aid 10 as above; aid 11: balance 16.5, country
	// FR (no country_tier row: c_tax missing, so standard_scaler gives nil),
	// amount 33: 33/16.5 = 2 -> 2; min_max 16.5/1500 = 0.011; FR -> F T F F.
	b, err := fv.GetFeatureVectors(ctxT(t, 5*time.Second), []map[string]any{entry(10), entry(11)},
		featurestore.WithRequestParametersEach([]map[string]any{{"amount": 30.0}, {"amount": 33.0}}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b.Names, tfNames) || !reflect.DeepEqual(b.Vectors[1].Names, tfNames) {
		t.Fatalf("batch names %v", b.Names)
	}
	if !approxEqual(b.Vectors[0].Values, want(string(b.Region))) {
		t.Fatalf("batch 0: %v", b.Vectors[0].Values)
	}
	if w := []any{int64(11), nil, string(b.Region), 0.011, false, true, false, false, nil, 2.0}; !approxEqual(b.Vectors[1].Values, w) {
		t.Fatalf("batch 1: %v, want %v", b.Vectors[1].Values, w)
	}
	_, err = fv.GetFeatureVectors(ctxT(t, 5*time.Second), []map[string]any{entry(10), entry(11)},
		featurestore.WithRequestParametersEach([]map[string]any{{"amount": 30.0}, nil}))
	if !errors.As(err, &me) || me.Entry != 1 {
		t.Fatalf("batch without amount for entry 1: %v", err)
	}

	// Static stability: both metadata servers down, a fresh load fails,
	// the known view keeps serving transformed vectors.
	for _, s := range e.hw {
		s.SetFault(hopsworkstest.FaultUnavailable)
	}
	time.Sleep(3 * cfg.PlanTTL) // past the TTL: refreshes fail, the last good plan stays
	fv2, err := c.FeatureView(ctxT(t, 5*time.Second), tfView, 1)
	if err != nil {
		t.Fatal(err)
	}
	v, err = fv2.GetFeatureVector(ctxT(t, 5*time.Second), entry(10), featurestore.WithRequestParameters(map[string]any{"amount": 30.0}))
	if err != nil || !approxEqual(v.Values, want(string(v.Region))) {
		t.Fatalf("metadata down: %v %v", v, err)
	}
}

func TestTransformationMissingUDF(t *testing.T) {
	e := newEnv(t)
	addTransformedView(e)
	for _, c := range []struct {
		name string
		opts []featurestore.Option
		is   error
	}{
		{"unregistered", nil, featurestore.ErrMissingUDF},
		{"wrong arity", []featurestore.Option{featurestore.WithTransformation("spend_ratio", 3, spendRatio)}, featurestore.ErrUDFArity},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := newClient(t, e.config("eu"), c.opts...)
			_, err := cl.FeatureView(ctxT(t, 10*time.Second), tfView, 1)
			var ue *featurestore.UDFError
			if !errors.As(err, &ue) || !errors.Is(err, c.is) {
				t.Fatalf("got %v, want a UDFError matching %v", err, c.is)
			}
			if c.is == featurestore.ErrMissingUDF && !reflect.DeepEqual(ue.Missing, []string{"spend_ratio"}) {
				t.Fatalf("missing %v", ue.Missing)
			}
		})
	}
}

package metadata

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/hopsworkstest"
	"github.com/tandemfs/tandem/region"
)

func TestReadsLocalFirst(t *testing.T) {
	e := newEnv(t)
	for _, local := range []region.ID{"eu", "us"} {
		t.Run(string(local), func(t *testing.T) {
			e.eu.ResetRequests()
			e.us.ResetRequests()
			c := e.client(t, local)
			ctx := ctxT(t)

			p, err := c.Project(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if p.ID != hopsworkstest.DefaultProjectID || p.Region != local {
				t.Fatalf("project = %+v", p)
			}
			fs, err := c.FeatureStore(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if fs.ID != hopsworkstest.DefaultFeatureStoreID || fs.OnlineFeaturestoreName != "fraud_proj" || !fs.OnlineEnabled {
				t.Fatalf("feature store = %+v", fs)
			}

			fv, err := c.FeatureView(ctx, "fraud", 1)
			if err != nil {
				t.Fatal(err)
			}
			if fv.Region != local || fv.Name != "fraud" || fv.Version != 1 || len(fv.Features) != 5 {
				t.Fatalf("feature view = %+v", fv)
			}
			wantNames := []string{"amount", "cc_num", "p_age", "p_city", "fraud_label"}
			for i, f := range fv.Features {
				if f.Name != wantNames[i] || f.Index != i || f.FeatureGroup == nil {
					t.Fatalf("feature %d = %+v, want %s", i, f, wantNames[i])
				}
			}
			if !fv.Features[4].Label || fv.Features[2].FeatureGroupFeatureName != "age" || fv.Features[2].FeatureGroup.ID != 48 {
				t.Fatalf("features = %+v", fv.Features)
			}
			if len(fv.ServingKeys) != 2 {
				t.Fatalf("serving keys = %+v", fv.ServingKeys)
			}
			sk := fv.ServingKeys[1]
			if sk.FeatureName != "cc_num" || sk.Prefix != "p_" || !sk.Required || sk.JoinOn != "cc_num" || sk.JoinIndex != 1 || sk.FeatureGroup.Name != "profiles" {
				t.Fatalf("serving key = %+v", sk)
			}
			if fv.Query == nil || fv.Query.LeftFeatureGroup.Name != "transactions" || len(fv.Query.Joins) != 1 || fv.Query.Joins[0].Prefix != "p_" {
				t.Fatalf("query = %+v", fv.Query)
			}

			single, err := c.PreparedStatements(ctx, "fraud", 1, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(single) != 2 || single[0].Region != local {
				t.Fatalf("statements = %+v", single)
			}
			// The label is not selected (PreparedStatementBuilder.java).
			want0 := "SELECT `fg0`.`amount` AS `amount`, `fg0`.`cc_num` AS `cc_num`\nFROM `fraud_proj`.`transactions_1` AS `fg0`\nWHERE `fg0`.`tid` = ?"
			if single[0].QueryOnline != want0 || single[0].FeatureGroupID != 49 || single[0].Parameters[0].Name != "tid" {
				t.Fatalf("statement 0 = %+v\nwant %s", single[0], want0)
			}
			if single[1].Prefix != "p_" || single[1].Index != 1 {
				t.Fatalf("statement 1 = %+v", single[1])
			}
			batch, err := c.PreparedStatements(ctx, "fraud", 1, true)
			if err != nil {
				t.Fatal(err)
			}
			want1 := "SELECT `fg0`.`age` AS `p_age`, `fg0`.`city` AS `p_city`, `fg0`.`cc_num` AS `p_cc_num`\nFROM `fraud_proj`.`profiles_1` AS `fg0`\nWHERE `fg0`.`cc_num` IN ?"
			if batch[1].QueryOnline != want1 {
				t.Fatalf("batch statement 1 = %q\nwant %q", batch[1].QueryOnline, want1)
			}

			other := e.us
			if local == "us" {
				other = e.eu
			}
			if n := len(other.Requests()); n != 0 {
				t.Fatalf("%d requests reached the remote region, want 0: %+v", n, other.Requests())
			}
		})
	}
}

func TestCompositeKeyStatements(t *testing.T) {
	e := newEnv(t)
	e.store.AddFeatureView(merchantsView())
	c := e.client(t, "eu")
	ctx := ctxT(t)
	single, err := c.PreparedStatements(ctx, "merchant_risk", 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := single[0].QueryOnline, "SELECT `fg0`.`mid` AS `mid`, `fg0`.`country` AS `country`, `fg0`.`risk` AS `risk`\nFROM `fraud_proj`.`merchants_2` AS `fg0`\nWHERE `fg0`.`mid` = ? AND `fg0`.`country` = ?"; got != want {
		t.Fatalf("single = %q\nwant %q", got, want)
	}
	if p := single[0].Parameters; len(p) != 2 || p[0].Name != "mid" || p[0].Index != 1 || p[1].Name != "country" || p[1].Index != 2 {
		t.Fatalf("parameters = %+v", p)
	}
	batch, err := c.PreparedStatements(ctx, "merchant_risk", 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(batch[0].QueryOnline, "WHERE (`fg0`.`mid`, `fg0`.`country`) IN ?") {
		t.Fatalf("batch = %q", batch[0].QueryOnline)
	}
	fv, err := c.FeatureView(ctx, "merchant_risk", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(fv.ServingKeys) != 2 || !fv.ServingKeys[0].Required || !fv.ServingKeys[1].Required {
		t.Fatalf("serving keys = %+v", fv.ServingKeys)
	}
}

func TestFallbackOnLocalOutage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(e *env)
	}{
		{"closed", func(e *env) { e.us.Close() }},
		{"503", func(e *env) { e.us.SetFault(hopsworkstest.FaultUnavailable) }},
		{"reset", func(e *env) { e.us.SetFault(hopsworkstest.FaultReset) }},
		{"hang", func(e *env) { e.us.SetFault(hopsworkstest.FaultHang) }},
		{"500 on path", func(e *env) { e.us.FailPath("GET", "/featureview/", 500, 0, "boom") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.config("us")
			cfg.Timeout = 300 * time.Millisecond
			c, err := New(cfg, WithActiveSource(e.aca))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := ctxT(t)
			if _, err := c.FeatureStore(ctx); err != nil { // warm the ids first
				t.Fatal(err)
			}
			tc.fault(e)
			start := time.Now()
			fv, err := c.FeatureView(ctx, "fraud", 1)
			if err != nil {
				t.Fatal(err)
			}
			if fv.Region != "eu" {
				t.Fatalf("served by %s, want eu", fv.Region)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("fallback took %s", d)
			}
			ps, err := c.PreparedStatements(ctx, "fraud", 1, false)
			if err != nil || ps[0].Region != "eu" {
				t.Fatalf("statements: %v %+v", err, ps)
			}
		})
	}
}

func TestNoFallbackOnTypedErrors(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, "us")
	ctx := ctxT(t)
	if _, err := c.FeatureStore(ctx); err != nil {
		t.Fatal(err)
	}
	e.eu.ResetRequests()
	_, err := c.FeatureView(ctx, "nope", 1)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Region != "us" || ae.Status != 404 || ae.Op != "GetFeatureView" {
		t.Fatalf("err = %#v", err)
	}
	if n := len(e.eu.Requests()); n != 0 {
		t.Fatalf("a 404 fell back to eu (%d requests)", n)
	}
}

func TestBothRegionsDown(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, "us")
	ctx := ctxT(t)
	if _, err := c.FeatureStore(ctx); err != nil {
		t.Fatal(err)
	}
	e.eu.SetFault(hopsworkstest.FaultUnavailable)
	e.us.SetFault(hopsworkstest.FaultUnavailable)
	_, err := c.FeatureView(ctx, "fraud", 1)
	if !errors.Is(err, ErrServer) || !IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "region us") || !strings.Contains(err.Error(), "region eu") {
		t.Fatalf("err does not name both regions: %v", err)
	}
}

func TestConcurrentReads(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, "us")
	ctx := ctxT(t)
	errs := make(chan error, 40)
	for i := 0; i < 20; i++ {
		go func() {
			_, err := c.FeatureView(ctx, "fraud", 1)
			errs <- err
		}()
		go func() {
			_, err := c.PreparedStatements(ctx, "fraud", 1, i%2 == 0)
			errs <- err
		}()
	}
	for i := 0; i < 40; i++ {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("concurrent reads did not finish")
		}
	}
}

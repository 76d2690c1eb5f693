package metadata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/internal/hopsworkstest"
)

// TestFeatureStoreNameLowerCased: hsfs names the feature store
// strings.ToLower(project)+"_featurestore" and the server's route
// (FeaturestoreService.java) matches lower case only, so a mixed-case
// project works only when the client lower-cases.
func TestFeatureStoreNameLowerCased(t *testing.T) {
	st := hopsworkstest.NewStore(hopsworkstest.StoreConfig{Project: "MyProject"})
	s := hopsworkstest.New(hopsworkstest.Options{Region: "eu", Active: true, Store: st})
	defer s.Close()
	c, err := New(Config{Local: "eu", Regions: []RegionConfig{{ID: "eu", BaseURL: s.URL()}},
		APIKey: hopsworkstest.DefaultAPIKey, Project: "MyProject", AllowInsecureHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fs, err := c.FeatureStore(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if fs.Name != "myproject_featurestore" || FeatureStoreName("MyProject") != "myproject_featurestore" {
		t.Fatalf("feature store %+v", fs)
	}
	var asked string
	for _, r := range s.Requests() {
		if strings.Contains(r.Path, "_featurestore") {
			asked = r.Path
		}
	}
	if asked != "/project/119/featurestores/myproject_featurestore" {
		t.Fatalf("asked for %q", asked)
	}
	// The fake, like the server, does not match the mixed-case name.
	s.ResetRequests()
	hc := &http.Client{Timeout: 5 * time.Second}
	req, _ := http.NewRequest("GET", s.URL()+"/project/119/featurestores/MyProject_featurestore", nil)
	req.Header.Set("Authorization", "ApiKey "+hopsworkstest.DefaultAPIKey)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("mixed-case route answered %d", resp.StatusCode)
	}
}

// TestErrorCodeTable: each RESTCodes code maps to its sentinel whatever
// the HTTP status, as the server sends it (PROJECT_NOT_FOUND is a 400).
func TestErrorCodeTable(t *testing.T) {
	for _, row := range Codes() {
		t.Run(row.Name, func(t *testing.T) {
			body := fmt.Sprintf(`{"errorCode":%d,"errorMsg":"x","usrMsg":"y"}`, row.Code)
			err := error(DecodeError(row.Status, []byte(body)))
			if !errors.Is(err, row.Sentinel) {
				t.Fatalf("code %d status %d: %v does not match %v", row.Code, row.Status, err, row.Sentinel)
			}
		})
	}
	for _, tc := range []struct {
		status int
		body   string
		want   error
	}{
		{400, `{"errorCode":150004,"errorMsg":"Project wasn't found."}`, ErrNotFound},
		{404, `{"errorCode":270009,"errorMsg":"Featuregroup wasn't found."}`, ErrInvalidQuery},
		{400, `{"errorCode":270113,"errorMsg":"Cannot generate query, some feature groups were deleted"}`, ErrInvalidQuery},
		{404, `<html>no route</html>`, ErrNotFound},
		{401, `{"errorCode":320012}`, ErrUnauthorized},
		{403, `{"errorCode":320004}`, ErrUnauthorized},
		{500, `{"errorCode":270120}`, ErrNotFound},
	} {
		err := error(DecodeError(tc.status, []byte(tc.body)))
		if !errors.Is(err, tc.want) {
			t.Errorf("%d %s: %v, want %v", tc.status, tc.body, err, tc.want)
		}
	}
	// 270009 is not "the view is missing": hsfs reads it as a deleted group.
	if errors.Is(DecodeError(404, []byte(`{"errorCode":270009}`)), ErrNotFound) {
		t.Error("270009 maps to ErrNotFound")
	}
	// Not found is decided by the code, not by 404 alone.
	if errors.Is(DecodeError(404, []byte(`{"errorCode":270179}`)), ErrNotFound) {
		t.Error("a 404 with a known other code maps to ErrNotFound")
	}
	if !errors.Is(DecodeError(400, []byte(`{"errorCode":150004}`)), ErrNotFound) {
		t.Error("PROJECT_NOT_FOUND with 400 is not ErrNotFound")
	}
}

// TestErrorCodesFromTheFake: the fake answers with the real codes and
// statuses and the client maps them.
func TestErrorCodesFromTheFake(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	cfg := e.config("eu")
	cfg.Project = "nope"
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Project(ctx)
	var ae *APIError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &ae) || ae.Status != 400 || ae.Code != codeProjectNotFound {
		t.Fatalf("unknown project: %v", err)
	}
	c2 := e.client(t, "eu")
	e.store.InvalidateFeatureView("fraud", 1)
	if _, err := c2.PreparedStatements(ctx, "fraud", 1, false); !errors.Is(err, ErrInvalidQuery) || !errors.As(err, &ae) || ae.Code != codeQueryFailedFGDeleted || ae.Status != 400 {
		t.Fatalf("statements of a view whose group was deleted: %v", err)
	}
	if _, err := c2.CreateFeatureView(ctx, specFor("fraud", 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.CreateFeatureView(ctx, specFor("fraud", 2)); !errors.Is(err, ErrAlreadyExists) || IsRetryable(err) {
		t.Fatalf("duplicate create: %v", err)
	}
}

// TestTolerantDecoding: what hsfs and Jackson accept decodes; what Tandem
// needs and cannot use fails with ErrMalformed.
func TestTolerantDecoding(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		ok   bool
		chk  func(*FeatureView) bool
	}{
		{"odd unused fields", `{"name":"v","version":1,"description":{"x":1},"created":17,"keywords":"k","featurestoreName":["a"],"id":"abc",
			"features":[{"name":"a","index":0,"type":"int","label":"false","statistics":7,"featuregroup":{"id":1,"version":1,"deprecated":"maybe","features":[{"name":"k","primary":"true","partition":{}}]}}]}`, true,
			func(fv *FeatureView) bool {
				return fv.Features[0].FeatureGroup.Features[0].Primary && !fv.Features[0].Label && fv.ID == 0
			}},
		{"numbers as strings", `{"name":"v","version":"2","features":[{"name":"a","index":"3"}],"servingKeys":[{"featureName":"k","joinIndex":"1","required":"false"}]}`, true,
			func(fv *FeatureView) bool {
				return fv.Version == 2 && fv.Features[0].Index == 3 && fv.ServingKeys[0].JoinIndex == 1 && !fv.ServingKeys[0].Required
			}},
		{"required absent means required", `{"name":"v","version":1,"servingKeys":[{"featureName":"k"},{"featureName":"j","required":null}]}`, true,
			func(fv *FeatureView) bool { return fv.ServingKeys[0].Required && !fv.ServingKeys[1].Required }},
		{"a query Tandem cannot read is dropped", `{"name":"v","version":1,"query":"SELECT 1"}`, true,
			func(fv *FeatureView) bool { return fv.Query == nil }},
		{"embedding group", `{"name":"v","version":1,"query":{"leftFeatureGroup":{"id":5,"name":"emb","version":1,"embeddingIndex":{"indexName":"i","features":[{"name":"vec","dimension":"3"}]}}}}`, true,
			func(fv *FeatureView) bool {
				g := fv.EmbeddingGroups()
				return len(g) == 1 && g[0].ID == 5 && g[0].EmbeddingIndex.Features[0].Dimension == 3
			}},
		{"version not a number", `{"name":"v","version":"one"}`, false, nil},
		{"feature index unusable", `{"name":"v","version":1,"features":[{"name":"a","index":{}}]}`, false, nil},
		{"feature group id unusable", `{"name":"v","version":1,"features":[{"name":"a","featuregroup":{"id":[1]}}]}`, false, nil},
		{"feature without a name", `{"name":"v","version":1,"features":[{"index":0}]}`, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fv, err := DecodeFeatureView([]byte(tc.body))
			if !tc.ok {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.chk(fv) {
				t.Fatalf("decoded %+v", fv)
			}
		})
	}
	for _, tc := range []struct {
		name string
		body string
		ok   bool
	}{
		{"index as a string, as Jackson reads an Integer", `{"items":[{"featureGroupId":"7","preparedStatementIndex":"0","preparedStatementParameters":[{"name":"id","index":"1"}],"queryOnline":"SELECT 1","prefix":null}],"count":"1"}`, true},
		{"index missing", `{"items":[{"featureGroupId":7,"preparedStatementParameters":[{"name":"id"}],"queryOnline":"SELECT 1"}]}`, false},
		{"index zero", `{"items":[{"featureGroupId":7,"preparedStatementParameters":[{"name":"id","index":0}],"queryOnline":"SELECT 1"}]}`, false},
		{"index not a number", `{"items":[{"featureGroupId":7,"preparedStatementParameters":[{"name":"id","index":"first"}],"queryOnline":"SELECT 1"}]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := DecodePreparedStatements([]byte(tc.body))
			if !tc.ok {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil || len(ps) != 1 || ps[0].Parameters[0] != (PreparedStatementParameter{"id", 1}) || ps[0].FeatureGroupID != 7 {
				t.Fatalf("%+v %v", ps, err)
			}
		})
	}
}

// TestInferenceHelperStatements: inference_helper_columns=true gives the
// statements of the helper columns only (PreparedStatementBuilder.java).
func TestInferenceHelperStatements(t *testing.T) {
	e := newEnv(t)
	v := fraudView()
	v.Name = "helped"
	v.Features = append(v.Features, hopsworkstest.ViewFeatureDef{Name: "cc_num_helper", FeatureGroupFeatureName: "cc_num", Join: 0, InferenceHelperColumn: true})
	v.Features = []hopsworkstest.ViewFeatureDef{
		{Name: "amount", Join: 0},
		{FeatureGroupFeatureName: "age", Join: 1},
		{FeatureGroupFeatureName: "city", Join: 1, InferenceHelperColumn: true},
		{Name: "fraud_label", Join: 0, Label: true},
	}
	e.store.AddFeatureView(v)
	c := e.client(t, "eu")
	ctx := ctxT(t)
	helpers, err := c.InferenceHelperStatements(ctx, "helped", 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(helpers) != 1 || helpers[0].Index != 1 || helpers[0].QueryOnline != "SELECT `fg0`.`city` AS `p_city`\nFROM `fraud_proj`.`profiles_1` AS `fg0`\nWHERE `fg0`.`cc_num` = ?" {
		t.Fatalf("helper statements %+v", helpers)
	}
	plain, err := c.PreparedStatements(ctx, "helped", 1, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, ps := range plain {
		if strings.Contains(ps.QueryOnline, "city") || strings.Contains(ps.QueryOnline, "fraud_label") {
			t.Fatalf("a helper or label column in the serving statement: %s", ps.QueryOnline)
		}
	}
	var sawParam bool
	for _, r := range e.eu.Requests() {
		if strings.Contains(r.Query, "inference_helper_columns=true") {
			sawParam = true
		}
	}
	if !sawParam {
		t.Fatal("inference_helper_columns=true was not asked for")
	}
}

// TestAvroSchemaAndComplexTypes: the schema registry subject of a group,
// with the field schemas hsfs decodes complex features with.
func TestAvroSchemaAndComplexTypes(t *testing.T) {
	e := newEnv(t)
	fg := hopsworkstest.FeatureGroupDef{ID: 60, Name: "complex", Version: 2, Features: []hopsworkstest.FeatureDef{
		{Name: "id", Type: "bigint", Primary: true},
		{Name: "tags", Type: "array<int>"},
		{Name: "addr", Type: "struct<street:string,no:int>"},
		{Name: "price", Type: "decimal(10,2)"},
	}}
	e.store.AddFeatureView(hopsworkstest.FeatureViewDef{Name: "cx", Version: 1, Joins: []hopsworkstest.JoinDef{{FeatureGroup: fg}}})
	c := e.client(t, "eu")
	ctx := ctxT(t)
	fv, err := c.FeatureView(ctx, "cx", 1)
	if err != nil {
		t.Fatal(err)
	}
	complexNames := map[string]bool{}
	for _, f := range fv.Features {
		if f.IsComplex() {
			complexNames[f.Name] = true
		}
	}
	if len(complexNames) != 2 || !complexNames["tags"] || !complexNames["addr"] {
		t.Fatalf("complex features %v", complexNames)
	}
	s, err := c.AvroSchema(ctx, "complex", 2)
	if err != nil {
		t.Fatal(err)
	}
	tags, ok := s.Field("tags")
	if !ok || string(tags) != `["null",{"items":["null","int"],"type":"array"}]` {
		t.Fatalf("tags schema %s", tags)
	}
	price, _ := s.Field("price")
	var union []json.RawMessage
	if json.Unmarshal(price, &union) != nil || len(union) != 2 || !strings.Contains(string(union[1]), `"logicalType":"decimal"`) || !strings.Contains(string(union[1]), `"scale":2`) {
		t.Fatalf("price schema %s", price)
	}
	if _, ok := s.Field("missing"); ok {
		t.Fatal("a field that is not there")
	}
	if _, err := c.AvroSchema(ctx, "nope", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown subject: %v", err)
	}
}

// TestOnlineStoreCredentials: each region's own connector; the external
// host from the variable; the password never printed.
func TestOnlineStoreCredentials(t *testing.T) {
	const pw = "pa55-w0rd-" + testKey
	st := hopsworkstest.NewStore(hopsworkstest.StoreConfig{Project: "Fraud_Proj"})
	eu := hopsworkstest.New(hopsworkstest.Options{Region: "eu", Active: true, APIKey: testKey, Store: st,
		OnlineStore: &hopsworkstest.OnlineStoreDef{Addr: "10.0.0.1:3306", User: "fraud_proj_meb10000", Password: pw},
		Variables:   map[string]string{ExternalMySQLVariable: "eu-mysql.example.com"}})
	defer eu.Close()
	us := hopsworkstest.New(hopsworkstest.Options{Region: "us", APIKey: testKey, Store: st,
		OnlineStore: &hopsworkstest.OnlineStoreDef{Addr: "10.1.0.1:13306", User: "fraud_proj_meb10000", Password: "other"}})
	defer us.Close()
	cfg := Config{Local: "eu", Regions: []RegionConfig{{ID: "eu", BaseURL: eu.URL()}, {ID: "us", BaseURL: us.URL()}},
		APIKey: testKey, Project: "Fraud_Proj", AllowInsecureHTTP: true}
	var logs strings.Builder
	c, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	got, err := c.OnlineStoreCredentials(ctx, "eu")
	if err != nil {
		t.Fatal(err)
	}
	want := OnlineCredentials{Region: "eu", Addr: "10.0.0.1:3306", Database: "fraud_proj", User: "fraud_proj_meb10000", Password: pw}
	if *got != want {
		t.Fatalf("eu credentials %v", got)
	}
	gotUS, err := c.OnlineStoreCredentials(ctx, "us")
	if err != nil || gotUS.Addr != "10.1.0.1:13306" || gotUS.Password != "other" {
		t.Fatalf("us credentials %v %v", gotUS, err)
	}
	for _, r := range eu.Requests() {
		if strings.Contains(r.Path, "storageconnectors") && !strings.HasSuffix(r.Path, "/storageconnectors/onlinefeaturestore") {
			t.Fatalf("asked %s", r.Path)
		}
	}
	for _, s := range []string{got.String(), got.GoString(), fmt.Sprintf("%v %+v %#v", got, *got, got), got.LogValue().String(), logs.String()} {
		if strings.Contains(s, pw) {
			t.Fatalf("password printed: %s", s)
		}
	}
	// An external client takes the host from the variable, the port from the connector.
	cfg.External = true
	ext, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ext.Close()
	got, err = ext.OnlineStoreCredentials(ctx, "eu")
	if err != nil || got.Addr != "eu-mysql.example.com:3306" {
		t.Fatalf("external: %v %v", got, err)
	}
	// us has no such variable: VARIABLE_NOT_FOUND is ErrNotFound, and the
	// password is in no error.
	if _, err := ext.OnlineStoreCredentials(ctx, "us"); !errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), "other") {
		t.Fatalf("external without the variable: %v", err)
	}
	// A connector whose password was not substituted is refused.
	us.RespondRaw("GET", "storageconnectors/onlinefeaturestore", 200,
		[]byte(`{"type":"featurestoreJdbcConnectorDTO","connectionString":"jdbc:mysql://h:3306/db","arguments":[{"name":"user","value":"u"},{"name":"password","value":"<SECRETPASSWORD>"}]}`))
	if _, err := c.OnlineStoreCredentials(ctx, "us"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("template password: %v", err)
	}
}

// TestRedirectsRefused: a 307 or 308 from the active region to another
// host or to http:// is never followed: the other server receives nothing
// and the call fails with a *RedirectError naming the target.
func TestRedirectsRefused(t *testing.T) {
	var otherHits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { otherHits.Add(1) }))
	defer other.Close()
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		status int
		target func(self string) string
	}{
		{"307 other host", http.StatusTemporaryRedirect, func(string) string { return other.URL + "/steal" }},
		{"308 other host", http.StatusPermanentRedirect, func(string) string { return other.URL + "/steal" }},
		{"307 to http", http.StatusTemporaryRedirect, func(self string) string { return strings.Replace(self, "https://", "http://", 1) + "/x" }},
		{"308 to http", http.StatusPermanentRedirect, func(self string) string { return strings.Replace(self, "https://", "http://", 1) + "/x" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The active region is TLS and answers every write with the redirect.
			var self *httptest.Server
			var writes atomic.Int64
			var redirectReads atomic.Bool
			self = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet && !redirectReads.Load() {
					// Reads are proxied to the fake so the client learns ids.
					proxyTo(w, r, e.eu.URL())
					return
				}
				if r.Method != http.MethodGet && writes.Add(1) > 1 {
					t.Errorf("a redirected write came back: %s %s", r.Method, r.URL)
				}
				http.Redirect(w, r, tc.target(self.URL), tc.status)
			}))
			defer self.Close()
			before := otherHits.Load()
			c, err := New(Config{Local: "eu", Regions: []RegionConfig{{ID: "eu", BaseURL: self.URL + hopsworkstest.APIPath}},
				APIKey: testKey, Project: "Fraud_Proj"}, WithActiveSource(e.aca), WithHTTPClient(self.Client()))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, err = c.CreateFeatureView(ctxT(t), specFor("redirected", 1))
			var re *RedirectError
			if !errors.As(err, &re) || re.Status != tc.status || !strings.HasPrefix(tc.target(self.URL), re.To) {
				t.Fatalf("err = %v, want a *RedirectError to %s", err, tc.target(self.URL))
			}
			if !strings.HasPrefix(err.Error(), "metadata: ") || IsRetryable(err) {
				t.Fatalf("err %q: want a metadata error that is not retryable", err)
			}
			if n := otherHits.Load() - before; n != 0 {
				t.Fatalf("the other server received %d requests", n)
			}
			// A redirected read is refused too, without a fallback.
			redirectReads.Store(true)
			if _, err := c.FeatureView(ctxT(t), "fraud", 1); !errors.As(err, &re) {
				t.Fatalf("read: err = %v, want a *RedirectError", err)
			}
			if n := otherHits.Load() - before; n != 0 {
				t.Fatalf("the other server received %d requests", n)
			}
		})
	}
}

// proxyTo forwards a GET to the fake at base (same API path).
func proxyTo(w http.ResponseWriter, r *http.Request, base string) {
	u := strings.TrimSuffix(base, hopsworkstest.APIPath) + r.URL.RequestURI()
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, u, nil)
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	var buf [32 << 10]byte
	for {
		n, err := resp.Body.Read(buf[:])
		w.Write(buf[:n])
		if err != nil {
			return
		}
	}
}

// TestAPIKeyOverTLS: with https the client talks to a TLS fake without the
// insecure option.
func TestAPIKeyOverTLS(t *testing.T) {
	st := hopsworkstest.NewStore(hopsworkstest.StoreConfig{Project: "Fraud_Proj"})
	s := hopsworkstest.New(hopsworkstest.Options{Region: "eu", Active: true, APIKey: testKey, Store: st, TLS: true})
	defer s.Close()
	st.AddFeatureView(fraudView())
	c, err := New(Config{Local: "eu", Regions: []RegionConfig{{ID: "eu", BaseURL: s.URL()}}, APIKey: testKey, Project: "Fraud_Proj"},
		WithHTTPClient(s.Client()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("URL %s", s.URL())
	}
	if _, err := c.FeatureView(ctxT(t), "fraud", 1); err != nil {
		t.Fatal(err)
	}
}

// TestStaleStateBound: a write or a batch query with an ACA state older
// than MaxStateAge asks the ACA again and, if it is still old, fails with
// aca.ErrStale; nothing reaches a region.
func TestStaleStateBound(t *testing.T) {
	e := newEnv(t)
	cfg := e.config("us")
	cfg.MaxStateAge = 3 * time.Second
	src := &fakeActive{}
	src.set("eu", "us")
	src.setAge(4 * time.Second)
	c, err := New(cfg, WithActiveSource(src))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	if _, err := c.FeatureStore(ctx); err != nil {
		t.Fatal(err)
	}
	e.eu.ResetRequests()
	_, err = c.CreateFeatureView(ctx, specFor("stale", 1))
	if !errors.Is(err, aca.ErrStale) || !IsRetryable(err) || !strings.HasPrefix(err.Error(), "metadata: ") {
		t.Fatalf("create with a stale state: %v", err)
	}
	if _, err := c.BatchQuery(ctx, "fraud", 1, time.Time{}, time.Time{}); !errors.Is(err, aca.ErrStale) {
		t.Fatalf("batch query with a stale state: %v", err)
	}
	if err := c.DeleteFeatureView(ctx, "fraud", 1); !errors.Is(err, aca.ErrStale) {
		t.Fatalf("delete with a stale state: %v", err)
	}
	if n := len(e.eu.Requests()); n != 0 {
		t.Fatalf("%d requests reached eu with a stale state", n)
	}
	if src.refreshCount() != 3 {
		t.Fatalf("refreshes = %d, want one per call", src.refreshCount())
	}
	// Reads do not need the active region: they still work.
	if _, err := c.FeatureView(ctx, "fraud", 1); err != nil {
		t.Fatal(err)
	}
	// A refresh that confirms the state again lets the write through.
	fresh := time.Duration(0)
	src.refreshAge = &fresh
	if _, err := c.CreateFeatureView(ctx, specFor("stale", 1)); err != nil {
		t.Fatalf("after a fresh confirmation: %v", err)
	}
	// The ACA unreachable with an old state: still ErrStale, not a guess.
	src.setAge(time.Minute)
	src.refreshAge = nil
	src.mu.Lock()
	src.refreshErr = errors.New("aca: every endpoint failed")
	src.mu.Unlock()
	if _, err := c.CreateFeatureView(ctx, specFor("stale", 2)); !errors.Is(err, aca.ErrStale) {
		t.Fatalf("stale and ACA down: %v", err)
	}
}

// TestFeatureViewNeverNilNil forces the interleaving of issue 11: the ctx
// ends just as the local read of a read-your-writes check completes. The
// Client used to return (nil, nil) then; now it returns the ctx's error.
func TestFeatureViewNeverNilNil(t *testing.T) {
	e := newEnv(t)
	var cancel context.CancelFunc
	c := e.client(t, "us", withAfterLocalRead(func() { cancel() }))
	check := func(v int) {
		t.Helper()
		ctx, cf := context.WithCancel(ctxT(t))
		cancel = cf
		fv, err := c.FeatureView(ctx, "rw", v)
		if fv == nil && err == nil {
			t.Fatalf("version %d: (nil, nil)", v)
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("version %d: err = %v, want context.Canceled", v, err)
		}
	}
	// us shows the write at once (no lag): the local answer matches the
	// mark, and the ctx ends just then.
	if _, err := c.CreateFeatureView(ctxT(t), specFor("rw", 1)); err != nil {
		t.Fatal(err)
	}
	check(1)
	// us lags: the local answer is a 404, and the ctx ends just then.
	e.store.SetReplicationLag(time.Hour)
	if _, err := c.CreateFeatureView(ctxT(t), specFor("rw", 2)); err != nil {
		t.Fatal(err)
	}
	check(2)
}

package hopsworkstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	fgA = FeatureGroupDef{ID: 7, Name: "accounts", Version: 1, Features: []FeatureDef{
		{Name: "aid", Type: "bigint", Primary: true}, {Name: "balance", Type: "double"}, {Name: "region_id", Type: "bigint"},
	}}
	fgB = FeatureGroupDef{ID: 8, Name: "regions", Version: 3, Features: []FeatureDef{
		{Name: "rid", Type: "bigint", Primary: true}, {Name: "cc", Type: "string", Primary: true}, {Name: "tax", Type: "double"},
	}}
)

func twoFGView() FeatureViewDef {
	return FeatureViewDef{Name: "acct", Version: 1, Joins: []JoinDef{
		{FeatureGroup: fgA},
		{FeatureGroup: fgB, Prefix: "r_", On: []string{"region_id", "cc_code"}},
	}}
}

type client struct {
	t   *testing.T
	s   *Server
	key string
}

func (c client) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, c.s.URL()+path, rd)
	req.Header.Set("Authorization", "ApiKey "+c.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			c.t.Fatalf("%s %s: body not JSON: %q", method, path, b)
		}
	}
	return resp.StatusCode, out
}

func TestShapesAndAuth(t *testing.T) {
	s := New(Options{Region: "eu", Active: true})
	defer s.Close()
	s.AddFeatureView(twoFGView())
	c := client{t, s, DefaultAPIKey}

	st, body := c.do("GET", "/project/getProjectInfo/tandem", nil)
	if st != 200 || body["projectId"].(float64) != DefaultProjectID {
		t.Fatalf("project: %d %v", st, body)
	}
	st, body = c.do("GET", "/project/119/featurestores/tandem_featurestore", nil)
	if st != 200 || body["featurestoreId"].(float64) != DefaultFeatureStoreID || body["onlineFeaturestoreName"] != "tandem" {
		t.Fatalf("feature store: %d %v", st, body)
	}
	st, body = c.do("GET", "/project/119/featurestores/67/featureview/acct/version/1?expand=features&expand=query", nil)
	if st != 200 {
		t.Fatalf("view: %d %v", st, body)
	}
	sks := body["servingKeys"].([]any)
	if len(sks) != 3 {
		t.Fatalf("serving keys: %v", sks)
	}
	// regions' pk rid joins on accounts.region_id (not a left pk): required.
	sk := sks[1].(map[string]any)
	if sk["featureName"] != "rid" || sk["joinOn"] != "region_id" || sk["required"] != true || sk["prefix"] != "r_" || sk["joinIndex"].(float64) != 1 {
		t.Fatalf("serving key: %v", sk)
	}
	feats := body["features"].([]any)
	if len(feats) != 6 || feats[3].(map[string]any)["name"] != "r_rid" || feats[3].(map[string]any)["featureGroupFeatureName"] != "rid" {
		t.Fatalf("features: %v", feats)
	}
	// Without expand the real server leaves features and query out.
	_, body = c.do("GET", "/project/119/featurestores/67/featureview/acct/version/1", nil)
	if _, ok := body["features"]; ok {
		t.Fatal("features without expand=features")
	}

	for _, tc := range []struct {
		name string
		key  string
		code float64
	}{{"wrong key", "nope", CodeKeyInvalid}, {"no key", "", CodeKeyNotFound}} {
		st, body := client{t, s, tc.key}.do("GET", "/project/getProjectInfo/tandem", nil)
		if st != 401 || body["errorCode"].(float64) != tc.code {
			t.Fatalf("%s: %d %v", tc.name, st, body)
		}
	}
	s.SetKeyExpired(true)
	st, body = c.do("GET", "/project/getProjectInfo/tandem", nil)
	if st != 401 || body["errorCode"].(float64) != CodeKeyNotInDatabase {
		t.Fatalf("expired: %d %v", st, body)
	}
	s.SetKeyExpired(false)

	st, body = c.do("GET", "/project/119/featurestores/67/featureview/nope/version/1", nil)
	if st != 404 || body["errorCode"].(float64) != CodeFeatureViewNotFound {
		t.Fatalf("missing: %d %v", st, body)
	}
	s.Store().InvalidateFeatureView("acct", 1)
	st, body = c.do("GET", "/project/119/featurestores/67/featureview/acct/version/1/preparedstatement", nil)
	if st != 400 || body["errorCode"].(float64) != CodeQueryFailedFGDeleted {
		t.Fatalf("invalid: %d %v", st, body)
	}
	st, body = c.do("GET", "/project/119/featurestores/67/featureview/acct/version/1", nil)
	if st != 404 || body["errorCode"].(float64) != CodeFeatureGroupNotFound {
		t.Fatalf("invalid view: %d %v", st, body)
	}
	for _, r := range s.Requests() {
		if strings.Contains(r.Path+r.Query, DefaultAPIKey) {
			t.Fatalf("key recorded: %+v", r)
		}
	}
}

func TestStatementsSQL(t *testing.T) {
	single, err := Statements("Tandem", twoFGView(), false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"SELECT `fg0`.`aid` AS `aid`, `fg0`.`balance` AS `balance`, `fg0`.`region_id` AS `region_id`\nFROM `tandem`.`accounts_1` AS `fg0`\nWHERE `fg0`.`aid` = ?",
		"SELECT `fg0`.`rid` AS `r_rid`, `fg0`.`cc` AS `r_cc`, `fg0`.`tax` AS `r_tax`\nFROM `tandem`.`regions_3` AS `fg0`\nWHERE `fg0`.`rid` = ? AND `fg0`.`cc` = ?",
	}
	for i, st := range single {
		if st.QueryOnline != want[i] || st.Index != i {
			t.Fatalf("single %d:\n%s\nwant\n%s", i, st.QueryOnline, want[i])
		}
	}
	v := twoFGView()
	v.Features = []ViewFeatureDef{{Name: "balance"}, {FeatureGroupFeatureName: "tax", Join: 1}}
	batch, err := Statements("tandem", v, true)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		"SELECT `fg0`.`balance` AS `balance`, `fg0`.`aid` AS `aid`\nFROM `tandem`.`accounts_1` AS `fg0`\nWHERE `fg0`.`aid` IN ?",
		"SELECT `fg0`.`tax` AS `r_tax`, `fg0`.`rid` AS `r_rid`, `fg0`.`cc` AS `r_cc`\nFROM `tandem`.`regions_3` AS `fg0`\nWHERE (`fg0`.`rid`, `fg0`.`cc`) IN ?",
	}
	for i, st := range batch {
		if st.QueryOnline != want[i] {
			t.Fatalf("batch %d:\n%s\nwant\n%s", i, st.QueryOnline, want[i])
		}
	}
	if p := batch[1].Parameters; len(p) != 2 || p[0] != (StatementParam{"rid", 1}) || p[1] != (StatementParam{"cc", 2}) || batch[1].Prefix != "r_" {
		t.Fatalf("params %+v prefix %q", p, batch[1].Prefix)
	}
	off := twoFGView()
	off.Joins[1].FeatureGroup.OfflineOnly = true
	if _, err := Statements("tandem", off, false); err == nil {
		t.Fatal("statements for an offline-only group")
	}
}

func TestPassiveRefusesWritesAndReplicationLag(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := make(chan time.Time, 1)
	clock <- now
	st := NewStore(StoreConfig{Now: func() time.Time { t := <-clock; clock <- t; return t }})
	advance := func(d time.Duration) { t := <-clock; clock <- t.Add(d) }
	st.AddFeatureGroup(fgA)
	st.SetReplicationLag(10 * time.Second)
	eu := New(Options{Region: "eu", Active: true, Store: st})
	defer eu.Close()
	us := New(Options{Region: "us", Store: st})
	defer us.Close()
	body := map[string]any{
		"name": "lagged", "version": 1,
		"query": map[string]any{"leftFeatureGroup": map[string]any{"id": 7}, "leftFeatures": []any{map[string]any{"name": "balance"}}},
	}
	stt, resp := client{t, us, DefaultAPIKey}.do("POST", "/project/119/featurestores/67/featureview", body)
	if _, coded := resp["errorCode"]; stt != 503 || coded || !strings.Contains(resp["errorMsg"].(string), "read-only") {
		t.Fatalf("passive write: %d %v", stt, resp)
	}
	if len(us.RefusedWrites()) != 1 || len(us.AcceptedWrites()) != 0 {
		t.Fatalf("us writes: %+v", us.Writes())
	}
	stt, resp = client{t, eu, DefaultAPIKey}.do("POST", "/project/119/featurestores/67/featureview", body)
	if stt != 201 || resp["name"] != "lagged" || len(resp["features"].([]any)) != 1 {
		t.Fatalf("active write: %d %v", stt, resp)
	}
	path := "/project/119/featurestores/67/featureview/lagged/version/1"
	if stt, _ := (client{t, us, DefaultAPIKey}).do("GET", path, nil); stt != 404 {
		t.Fatalf("us sees the write before the lag: %d", stt)
	}
	if stt, _ := (client{t, eu, DefaultAPIKey}).do("GET", path, nil); stt != 200 {
		t.Fatalf("eu does not see its own write: %d", stt)
	}
	advance(10 * time.Second)
	if stt, _ := (client{t, us, DefaultAPIKey}).do("GET", path, nil); stt != 200 {
		t.Fatalf("us after the lag: %d", stt)
	}
	// Duplicate create is refused; delete replicates with the lag too.
	if stt, resp := (client{t, eu, DefaultAPIKey}).do("POST", "/project/119/featurestores/67/featureview", body); stt != 400 || resp["errorCode"].(float64) != CodeFeatureViewExists {
		t.Fatalf("duplicate: %d %v", stt, resp)
	}
	if stt, _ := (client{t, eu, DefaultAPIKey}).do("DELETE", path, nil); stt != 200 {
		t.Fatalf("delete: %d", stt)
	}
	if stt, _ := (client{t, us, DefaultAPIKey}).do("GET", path, nil); stt != 200 {
		t.Fatalf("us lost the view before the lag: %d", stt)
	}
	advance(10 * time.Second)
	if stt, _ := (client{t, us, DefaultAPIKey}).do("GET", path, nil); stt != 404 {
		t.Fatalf("us after the delete replicated: %d", stt)
	}
}

func TestFaultsAndOverrides(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	c := client{t, s, DefaultAPIKey}
	s.RespondRaw("GET", "getProjectInfo", 200, []byte(`{"projectId": 1`))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL()+"/project/getProjectInfo/tandem", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != `{"projectId": 1` {
		t.Fatalf("raw body %q", b)
	}
	s.ClearOverrides()
	s.FailPath("", "getProjectInfo", 500, 42, "boom")
	if st, body := c.do("GET", "/project/getProjectInfo/tandem", nil); st != 500 || body["errorCode"].(float64) != 42 {
		t.Fatalf("FailPath: %d %v", st, body)
	}
	s.ClearOverrides()
	s.SetFault(FaultUnavailable)
	if st, _ := c.do("GET", "/project/getProjectInfo/tandem", nil); st != 503 {
		t.Fatalf("unavailable: %d", st)
	}
	s.SetFault(FaultReset)
	req, _ = http.NewRequestWithContext(ctx, "GET", s.URL()+"/project/getProjectInfo/tandem", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("reset fault answered")
	}
	s.SetFault(FaultHang)
	hctx, hcancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer hcancel()
	req, _ = http.NewRequestWithContext(hctx, "GET", s.URL()+"/project/getProjectInfo/tandem", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("hang fault answered")
	}
	// A request still hanging when the server closes is released.
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.URL()+"/project/getProjectInfo/tandem", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(20 * time.Millisecond)
	s.Close()
	s.Close()
	http.DefaultClient.CloseIdleConnections()
}

// TestBatchQuerySignature: the two steps of an offline read, as hsfs makes
// them (core/feature_view_api.py _get_batch_query, then
// core/query_constructor_api.py _construct_query with hqs=True).
func TestBatchQuerySignature(t *testing.T) {
	s := New(Options{Secret: []byte("k")})
	defer s.Close()
	s.AddFeatureView(twoFGView())
	c := client{t, s, DefaultAPIKey}
	st, query := c.do("GET", "/project/119/featurestores/67/featureview/acct/version/1/query/batch?start_time=5&end_time=9", nil)
	if st != 200 || query["leftFeatureGroupStartTime"].(float64) != 5 || query["leftFeatureGroupEndTime"].(float64) != 9 {
		t.Fatalf("step 1: %d %v", st, query)
	}
	if _, ok := query["hqsPayload"]; ok {
		t.Fatal("step 1 answered a payload: it answers a QueryDTO")
	}
	if st, body := c.do("PUT", "/project/119/featurestores/query", query); st != 200 || body["hqsPayload"] != nil {
		t.Fatalf("without hqs=true: %d %v", st, body)
	}
	st, body := c.do("PUT", "/project/119/featurestores/query?hqs=true", query)
	if st != 200 {
		t.Fatalf("step 2: %d %v", st, body)
	}
	p, sig := body["hqsPayload"].(string), body["hqsPayloadSignature"].(string)
	if !s.VerifySignature(p, sig) || s.VerifySignature(p+" ", sig) || s.VerifySignature(p, "zz") {
		t.Fatal("signature checks")
	}
	other := New(Options{Secret: []byte("other")})
	defer other.Close()
	if other.VerifySignature(p, sig) {
		t.Fatal("another server's secret verifies")
	}
	var bp BatchPayload
	if err := json.Unmarshal([]byte(p), &bp); err != nil || bp.StartTime != 5 || bp.EndTime != 9 || bp.FeatureView != "acct" || bp.Version != 1 {
		t.Fatalf("payload %q: %v", p, err)
	}
	// A query the server cannot build is refused.
	if st, _ := c.do("PUT", "/project/119/featurestores/query?hqs=true", map[string]any{"leftFeatures": []any{}}); st != 422 {
		t.Fatalf("query without leftFeatureGroup: %d", st)
	}
	// The query constructor is not a write: a passive server answers it.
	s.SetActive(false)
	if st, _ := c.do("PUT", "/project/119/featurestores/query?hqs=true", query); st != 200 {
		t.Fatalf("passive step 2: %d", st)
	}
}

// TestStatementsAsPreparedStatementBuilder: labels and helper columns are
// never selected for serving; inference_helper_columns selects only the
// helpers; the batch form adds the keys under the prefix alias; a group
// that only gives labels has a batch statement (its keys) but no single
// one (PreparedStatementBuilder.java).
func TestStatementsAsPreparedStatementBuilder(t *testing.T) {
	v := twoFGView()
	v.Features = []ViewFeatureDef{
		{Name: "balance"},
		{Name: "region_id", InferenceHelperColumn: true},
		{Name: "aid", TrainingHelperColumn: true},
		{FeatureGroupFeatureName: "tax", Join: 1, Label: true},
	}
	single, err := StatementsFor("MyProject", v, StatementOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(single) != 1 || single[0].QueryOnline != "SELECT `fg0`.`balance` AS `balance`\nFROM `myproject`.`accounts_1` AS `fg0`\nWHERE `fg0`.`aid` = ?" {
		t.Fatalf("single: %+v", single)
	}
	batch, err := StatementsFor("MyProject", v, StatementOptions{Batch: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"SELECT `fg0`.`balance` AS `balance`, `fg0`.`aid` AS `aid`\nFROM `myproject`.`accounts_1` AS `fg0`\nWHERE `fg0`.`aid` IN ?",
		"SELECT `fg0`.`rid` AS `r_rid`, `fg0`.`cc` AS `r_cc`\nFROM `myproject`.`regions_3` AS `fg0`\nWHERE (`fg0`.`rid`, `fg0`.`cc`) IN ?",
	}
	if len(batch) != 2 || batch[0].QueryOnline != want[0] || batch[1].QueryOnline != want[1] || batch[1].Index != 1 {
		t.Fatalf("batch: %+v", batch)
	}
	helpers, err := StatementsFor("MyProject", v, StatementOptions{InferenceHelperColumns: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(helpers) != 1 || helpers[0].QueryOnline != "SELECT `fg0`.`region_id` AS `region_id`\nFROM `myproject`.`accounts_1` AS `fg0`\nWHERE `fg0`.`aid` = ?" {
		t.Fatalf("helpers: %+v", helpers)
	}
}

// TestServingKeysAsFeatureViewController: a joined group's key is required
// unless it joins on a left primary key; a group that only gives a label
// has keys that are not required; colliding names get "0_" prefixes.
func TestServingKeysAsFeatureViewController(t *testing.T) {
	tx := FeatureGroupDef{ID: 1, Name: "tx", Version: 1, Features: []FeatureDef{{Name: "tid", Primary: true}, {Name: "cc_num"}, {Name: "amount"}}}
	labels := FeatureGroupDef{ID: 2, Name: "labels", Version: 1, Features: []FeatureDef{{Name: "tid", Primary: true}, {Name: "fraud"}}}
	cards := FeatureGroupDef{ID: 3, Name: "cards", Version: 1, Features: []FeatureDef{{Name: "cc_num", Primary: true}, {Name: "limit"}}}
	v := FeatureViewDef{Name: "f", Version: 1, Joins: []JoinDef{
		{FeatureGroup: tx}, {FeatureGroup: labels, On: []string{"tid"}}, {FeatureGroup: cards, On: []string{"cc_num"}},
	}, Features: []ViewFeatureDef{
		{Name: "amount"}, {FeatureGroupFeatureName: "fraud", Join: 1, Label: true}, {FeatureGroupFeatureName: "limit", Join: 2},
	}}
	got := v.servingKeys()
	want := []ServingKeyDef{
		{FeatureName: "tid", Join: 0, Required: true},
		{FeatureName: "tid", Join: 1, JoinOn: "tid", Required: false},
		{FeatureName: "cc_num", Join: 2, JoinOn: "cc_num", Required: true},
	}
	if len(got) != len(want) {
		t.Fatalf("keys %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("key %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Two groups with the same key name and no prefix: the second is renamed.
	other := FeatureGroupDef{ID: 4, Name: "other", Version: 1, Features: []FeatureDef{{Name: "tid", Primary: true}, {Name: "x"}}}
	v2 := FeatureViewDef{Name: "g", Version: 1, Joins: []JoinDef{{FeatureGroup: tx}, {FeatureGroup: other, On: []string{"cc_num"}}}}
	keys := v2.servingKeys()
	if len(keys) != 2 || keys[1].Prefix != "0_" || !keys[1].Required || keys[1].JoinOn != "cc_num" {
		t.Fatalf("collision keys %+v", keys)
	}
}

// TestAvroSchemaAsTheServer: the schema of AvroSchemaConstructorController.
func TestAvroSchemaAsTheServer(t *testing.T) {
	fg := FeatureGroupDef{ID: 1, Name: "c", Version: 2, Features: []FeatureDef{
		{Name: "id", Type: "bigint", Primary: true}, {Name: "a", Type: "array<array<int>>"},
		{Name: "s", Type: "struct<x:int, y:array<string>>"}, {Name: "m", Type: "map<string,double>"},
		{Name: "d", Type: "decimal(10,2)"}, {Name: "ts", Type: "timestamp"},
	}}
	s, err := AvroSchema("p_featurestore", fg)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Name, Namespace string
		Fields          []struct {
			Name string
			Type json.RawMessage
		}
	}
	if err := json.Unmarshal([]byte(s), &rec); err != nil || rec.Name != "c_2" || rec.Namespace != "p_featurestore" || len(rec.Fields) != 6 {
		t.Fatalf("%s: %v", s, err)
	}
	want := map[string]string{
		"id": `["null","long"]`,
		"a":  `["null",{"items":["null",{"items":["null","int"],"type":"array"}],"type":"array"}]`,
		"m":  `["null",{"type":"map","values":["null","double"]}]`,
		"d":  `["null",{"logicalType":"decimal","precision":10,"scale":2,"type":"bytes"}]`,
		"ts": `["null",{"logicalType":"timestamp-micros","type":"long"}]`,
	}
	// The struct's record name is "r" + |String.hashCode| of its type
	// without spaces, lower case: computed by hand for this type.
	wantStruct := fmt.Sprintf(`["null",{"fields":[{"name":"x","type":["null","int"]},{"name":"y","type":["null",{"items":["null","string"],"type":"array"}]}],"name":"r%d","namespace":"s","type":"record"}]`, abs64(int64(javaHash("struct<x:int,y:array<string>>"))))
	for _, f := range rec.Fields {
		w, ok := want[f.Name]
		if f.Name == "s" {
			w, ok = wantStruct, true
		}
		if ok && string(f.Type) != w {
			t.Errorf("%s: %s, want %s", f.Name, f.Type, w)
		}
	}
	if javaHash("abc") != 96354 {
		t.Fatalf("javaHash(abc) = %d, want 96354 as Java's String.hashCode", javaHash("abc"))
	}
	if _, err := AvroSchema("p", FeatureGroupDef{Features: []FeatureDef{{Name: "m", Type: "map<int,int>"}}}); err == nil {
		t.Fatal("a map with non-string keys")
	}
}

package hopsworkstest

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

// The field lists below are written from the Java DTO classes of
// logicalclocks/hopsworks (their private fields, which Jackson serialises
// under the same camelCase names) and, where the public server shows no
// DTO, from what hsfs reads (logicalclocks/hopsworks-api). Each test
// fetches a shape from the fake and checks that every field it sends is a
// field of the source, with the JSON type Jackson gives that Java type,
// and that the fields the real server always sends are there.

type kind int

const (
	kNum kind = iota
	kStr
	kBool
	kArr
	kObj
	kDate // java.util.Date: Jackson writes a number or an ISO string
)

// field is one DTO field: its JSON kind and whether the server always
// sends it (a primitive, or set by the builder).
type field struct {
	k        kind
	required bool
}

type dto struct {
	source string // the class (or hsfs module), by its path in the repository
	fields map[string]field
}

const common = "hopsworks-common/src/main/java/io/hops/hopsworks/common/"

var (
	restDTO = map[string]field{"href": {kStr, false}, "items": {kArr, false}, "count": {kNum, false}}

	projectDTO = dto{common + "project/ProjectDTO.java", map[string]field{
		"projectId": {kNum, true}, "projectName": {kStr, true}, "owner": {kStr, false}, "description": {kStr, false},
		"dockerImage": {kStr, false}, "created": {kDate, false}, "services": {kArr, false}, "projectTeam": {kArr, false},
		"datasets": {kArr, false}, "inodeid": {kNum, false}, "quotas": {kObj, false}, "isPreinstalledDockerImage": {kBool, false},
		"isOldDockerImage": {kBool, false}, "creationStatus": {kStr, false}, "featureStoreTopic": {kStr, false},
	}}
	featurestoreDTO = dto{common + "featurestore/FeaturestoreDTO.java", map[string]field{
		"featurestoreId": {kNum, true}, "featurestoreName": {kStr, true}, "created": {kDate, false}, "projectName": {kStr, true},
		"projectId": {kNum, true}, "onlineFeaturestoreName": {kStr, false}, "offlineFeaturestoreName": {kStr, false},
		"mysqlServerEndpoint": {kStr, false}, "onlineEnabled": {kBool, true}, "numFeatureGroups": {kNum, false},
		"numTrainingDatasets": {kNum, false}, "numStorageConnectors": {kNum, false}, "numFeatureViews": {kNum, false},
	}}
	// FeaturestoreEntityDTO.java, the parent of feature views and groups,
	// with the Jackson "type" discriminator.
	entityFields = map[string]field{
		"type": {kStr, true}, "featurestoreId": {kNum, true}, "featurestoreName": {kStr, false}, "description": {kStr, false},
		"created": {kDate, false}, "creator": {kObj, false}, "version": {kNum, true}, "name": {kStr, true}, "id": {kNum, true},
		"location": {kStr, false}, "statisticsConfig": {kObj, false}, "href": {kStr, false},
	}
	featureViewDTO = dto{common + "featurestore/featureview/FeatureViewDTO.java", with(entityFields, map[string]field{
		"query": {kObj, false}, "features": {kArr, false}, "keywords": {kObj, false}, "tags": {kObj, false},
		"queryString": {kObj, false}, "servingKeys": {kArr, false},
	})}
	featuregroupDTO = dto{common + "featurestore/featuregroup/FeaturegroupDTO.java (+ cached/CachedFeaturegroupDTO.java)", with(entityFields, map[string]field{
		"features": {kArr, false}, "expectationSuite": {kObj, false}, "onlineTopicName": {kStr, false}, "eventTime": {kStr, false},
		"onlineEnabled": {kBool, true}, "deprecated": {kBool, true}, "topicName": {kStr, false}, "notificationTopicName": {kStr, false},
		"embeddingIndex": {kObj, false}, "timeTravelFormat": {kStr, false}, "parents": {kArr, false},
	})}
	featureGroupFeatureDTO = dto{common + "featurestore/feature/FeatureGroupFeatureDTO.java", map[string]field{
		"name": {kStr, true}, "type": {kStr, false}, "onlineType": {kStr, false}, "description": {kStr, false},
		"primary": {kBool, true}, "partition": {kBool, true}, "hudiPrecombineKey": {kBool, true}, "defaultValue": {kStr, false},
		"featureGroupId": {kNum, false},
	}}
	trainingDatasetFeatureDTO = dto{common + "featurestore/feature/TrainingDatasetFeatureDTO.java", map[string]field{
		"name": {kStr, true}, "type": {kStr, false}, "featuregroup": {kObj, false}, "featureGroupFeatureName": {kStr, false},
		"index": {kNum, true}, "label": {kBool, true}, "inferenceHelperColumn": {kBool, true}, "trainingHelperColumn": {kBool, true},
		"transformationFunction": {kObj, false},
	}}
	servingKeyDTO = dto{common + "featurestore/featureview/ServingKeyDTO.java", map[string]field{
		"featureName": {kStr, true}, "featureGroup": {kObj, true}, "prefix": {kStr, false}, "required": {kBool, true},
		"joinOn": {kStr, false}, "joinIndex": {kNum, true},
	}}
	queryDTO = dto{common + "featurestore/query/QueryDTO.java", map[string]field{
		"featureStoreId": {kNum, false}, "featureStoreName": {kStr, false}, "leftFeatureGroup": {kObj, true},
		"leftFeatures": {kArr, true}, "leftFeatureGroupStartTime": {kNum, false}, "leftFeatureGroupEndTime": {kNum, false},
		"filter": {kObj, false}, "hiveEngine": {kBool, false}, "joins": {kArr, false},
		// Not in the public class; hsfs sends it (python/hsfs/constructor/query.py to_dict).
		"limit": {kNum, false}, "lookback": {kObj, false},
	}}
	joinDTO = dto{common + "featurestore/query/join/JoinDTO.java", map[string]field{
		"query": {kObj, true}, "on": {kArr, false}, "leftOn": {kArr, false}, "rightOn": {kArr, false},
		"type": {kStr, true}, "prefix": {kStr, false},
	}}
	servingPreparedStatementDTO = dto{common + "featurestore/query/ServingPreparedStatementDTO.java", with(restDTO, map[string]field{
		"featureGroupId": {kNum, true}, "preparedStatementIndex": {kNum, true}, "preparedStatementParameters": {kArr, true},
		"queryOnline": {kStr, true}, "prefix": {kStr, false},
	})}
	preparedStatementParameterDTO = dto{common + "featurestore/query/PreparedStatementParameterDTO.java", map[string]field{
		"name": {kStr, true}, "index": {kNum, true},
	}}
	fsQueryDTO = dto{common + "featurestore/query/FsQueryDTO.java + hsfs python/hsfs/constructor/fs_query.py (hqsPayload, hqsPayloadSignature)", with(restDTO, map[string]field{
		"query": {kStr, true}, "queryOnline": {kStr, false}, "pitQuery": {kStr, false}, "pitQueryAsof": {kStr, false},
		"hudiCachedFeatureGroups": {kArr, false}, "onDemandFeatureGroups": {kArr, false},
		"hqsPayload": {kStr, false}, "hqsPayloadSignature": {kStr, false},
	})}
	jdbcConnectorDTO = dto{common + "featurestore/storageconnectors/jdbc/FeaturestoreJdbcConnectorDTO.java (+ FeaturestoreStorageConnectorDTO.java)", with(restDTO, map[string]field{
		"type": {kStr, true}, "id": {kNum, true}, "description": {kStr, false}, "name": {kStr, true}, "featurestoreId": {kNum, true},
		"storageConnectorType": {kStr, true}, "connectionString": {kStr, true}, "arguments": {kArr, true}, "driverPath": {kStr, false},
	})}
	optionDTO  = dto{common + "featurestore/OptionDTO.java", map[string]field{"name": {kStr, true}, "value": {kStr, true}}}
	subjectDTO = dto{common + "dao/kafka/schemas/SubjectDTO.java", map[string]field{
		"id": {kNum, true}, "subject": {kStr, true}, "version": {kNum, true}, "schema": {kStr, true},
	}}
	embeddingDTO = dto{common + "featurestore/featuregroup/EmbeddingDTO.java", map[string]field{
		"indexName": {kStr, false}, "colPrefix": {kStr, false}, "features": {kArr, true},
	}}
	embeddingFeatureDTO = dto{common + "featurestore/featuregroup/EmbeddingFeatureDTO.java", map[string]field{
		"name": {kStr, true}, "similarityFunctionType": {kStr, false}, "dimension": {kNum, true}, "model": {kObj, false},
	}}
	// JsonResponse.java / RESTApiJsonResponse.java (hopsworks-rest-utils).
	jsonResponse = dto{"hopsworks-rest-utils/src/main/java/io/hops/hopsworks/restutils/RESTApiJsonResponse.java", map[string]field{
		"errorMsg": {kStr, false}, "successMessage": {kStr, false}, "errorCode": {kNum, false}, "usrMsg": {kStr, false},
		"devMsg": {kStr, false}, "trace": {kStr, false}, "QRCode": {kStr, false}, "fieldErrors": {kArr, false},
		"data": {kObj, false}, "sessionID": {kStr, false},
	}}
)

func with(a, b map[string]field) map[string]field {
	out := map[string]field{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func kindOf(v any) (kind, bool) {
	switch v.(type) {
	case nil:
		return 0, false
	case float64:
		return kNum, true
	case string:
		return kStr, true
	case bool:
		return kBool, true
	case []any:
		return kArr, true
	case map[string]any:
		return kObj, true
	}
	return 0, false
}

// check compares one JSON object with its DTO.
func check(t *testing.T, where string, d dto, got map[string]any) {
	t.Helper()
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, ok := d.fields[k]
		if !ok {
			t.Errorf("%s: field %q is not in %s", where, k, d.source)
			continue
		}
		gk, notNull := kindOf(got[k])
		if !notNull {
			if f.required {
				t.Errorf("%s: %q is null; %s always sends it", where, k, d.source)
			}
			continue
		}
		if gk != f.k && !(f.k == kDate && (gk == kStr || gk == kNum)) {
			t.Errorf("%s: %q has JSON type %d, %s gives %d", where, k, gk, d.source, f.k)
		}
	}
	for k, f := range d.fields {
		if _, ok := got[k]; f.required && !ok {
			t.Errorf("%s: %q missing; %s always sends it", where, k, d.source)
		}
	}
}

func obj(t *testing.T, v any, where string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: not an object: %v", where, v)
	}
	return m
}

func checkGroup(t *testing.T, where string, v any) {
	g := obj(t, v, where)
	check(t, where, featuregroupDTO, g)
	if fs, ok := g["features"].([]any); ok {
		for i, f := range fs {
			check(t, where+".features["+string(rune('0'+i))+"]", featureGroupFeatureDTO, obj(t, f, where))
		}
	}
	if e, ok := g["embeddingIndex"].(map[string]any); ok {
		check(t, where+".embeddingIndex", embeddingDTO, e)
		for _, f := range e["features"].([]any) {
			check(t, where+".embeddingIndex.features", embeddingFeatureDTO, obj(t, f, where))
		}
	}
}

func checkQuery(t *testing.T, where string, q map[string]any) {
	check(t, where, queryDTO, q)
	checkGroup(t, where+".leftFeatureGroup", q["leftFeatureGroup"])
	for _, f := range q["leftFeatures"].([]any) {
		check(t, where+".leftFeatures", featureGroupFeatureDTO, obj(t, f, where))
	}
	for _, j := range q["joins"].([]any) {
		jm := obj(t, j, where+".joins")
		check(t, where+".joins", joinDTO, jm)
		checkQuery(t, where+".joins.query", obj(t, jm["query"], where))
		for _, k := range []string{"on", "leftOn", "rightOn"} {
			if l, ok := jm[k].([]any); ok {
				for _, f := range l {
					check(t, where+".joins."+k, featureGroupFeatureDTO, obj(t, f, where))
				}
			}
		}
	}
}

// TestServedShapesAreTheDTOs fetches every shape the fake serves and
// checks it against its source class.
func TestServedShapesAreTheDTOs(t *testing.T) {
	st := NewStore(StoreConfig{Project: "MyProject"})
	s := New(Options{Region: "eu", Active: true, Store: st,
		OnlineStore: &OnlineStoreDef{Addr: "10.0.0.1:3306", User: "myproject_meb10000", Password: "pw"},
		Variables:   map[string]string{"loadbalancer_external_domain_mysqld": "mysql.example.com"}})
	defer s.Close()
	v := twoFGView()
	v.Joins[1].FeatureGroup.Embedding = &EmbeddingDef{IndexName: "idx", Features: []EmbeddingFeatureDef{{Name: "tax", Dimension: 1}}}
	s.AddFeatureView(v)
	c := client{t, s, DefaultAPIKey}
	get := func(path string) map[string]any {
		t.Helper()
		st, body := c.do("GET", path, nil)
		if st != 200 {
			t.Fatalf("GET %s: %d %v", path, st, body)
		}
		return body
	}
	check(t, "project", projectDTO, get("/project/getProjectInfo/MyProject"))
	check(t, "feature store", featurestoreDTO, get("/project/119/featurestores/myproject_featurestore"))

	view := get("/project/119/featurestores/67/featureview/acct/version/1?expand=features&expand=query")
	check(t, "feature view", featureViewDTO, view)
	checkQuery(t, "feature view.query", obj(t, view["query"], "query"))
	for _, f := range view["features"].([]any) {
		fm := obj(t, f, "feature")
		check(t, "feature", trainingDatasetFeatureDTO, fm)
		checkGroup(t, "feature.featuregroup", fm["featuregroup"])
	}
	for _, k := range view["servingKeys"].([]any) {
		km := obj(t, k, "serving key")
		check(t, "serving key", servingKeyDTO, km)
		checkGroup(t, "serving key.featureGroup", km["featureGroup"])
	}

	for _, q := range []string{"batch=false", "batch=true", "batch=true&inference_helper_columns=true"} {
		l := get("/project/119/featurestores/67/featureview/acct/version/1/preparedstatement?" + q)
		// The envelope is the same class with only its RestDTO part set.
		check(t, "statements "+q, dto{servingPreparedStatementDTO.source, with(restDTO, map[string]field{"items": {kArr, true}, "count": {kNum, true}})}, l)
		for _, it := range l["items"].([]any) {
			im := obj(t, it, "statement")
			check(t, "statement "+q, servingPreparedStatementDTO, im)
			for _, p := range im["preparedStatementParameters"].([]any) {
				check(t, "statement parameter", preparedStatementParameterDTO, obj(t, p, "parameter"))
			}
		}
	}

	bq := get("/project/119/featurestores/67/featureview/acct/version/1/query/batch?start_time=1&end_time=2")
	checkQuery(t, "batch query", bq)
	st2, fq := c.do("PUT", "/project/119/featurestores/query?hqs=true", bq)
	if st2 != 200 {
		t.Fatalf("PUT query: %d %v", st2, fq)
	}
	check(t, "fs query", fsQueryDTO, fq)
	if fq["hqsPayload"] == nil || fq["hqsPayloadSignature"] == nil {
		t.Fatalf("hqs=true without the payload: %v", fq)
	}

	conn := get("/project/119/featurestores/67/storageconnectors/onlinefeaturestore")
	check(t, "online connector", jdbcConnectorDTO, conn)
	for _, a := range conn["arguments"].([]any) {
		check(t, "connector argument", optionDTO, obj(t, a, "argument"))
	}
	if conn["name"] != "myproject_meb10000_onlinefeaturestore" || !strings.HasPrefix(conn["connectionString"].(string), "jdbc:mysql://10.0.0.1:3306/myproject?") {
		t.Fatalf("connector %v", conn)
	}
	check(t, "variable", jsonResponse, get("/variables/loadbalancer_external_domain_mysqld"))

	sub := get("/project/119/featurestores/67/kafka/subjects/accounts_1/versions/latest")
	check(t, "subject", subjectDTO, sub)
	var schema map[string]any
	if err := json.Unmarshal([]byte(sub["schema"].(string)), &schema); err != nil || schema["type"] != "record" || schema["name"] != "accounts_1" || schema["namespace"] != "myproject_featurestore" {
		t.Fatalf("schema %v: %v", sub["schema"], err)
	}

	// Errors: JsonResponse with the RESTCodes code and status.
	for _, tc := range []struct {
		method, path string
		status, code int
	}{
		{"GET", "/project/getProjectInfo/nope", 400, CodeProjectNotFound},
		{"GET", "/project/1/featurestores/myproject_featurestore", 400, CodeProjectNotFound},
		{"GET", "/project/119/featurestores/other_featurestore", 404, CodeFeatureStoreNotFound},
		{"GET", "/project/119/featurestores/67/featureview/nope/version/1", 404, CodeFeatureViewNotFound},
		{"GET", "/variables/nope", 404, CodeVariableNotFound},
	} {
		st, body := c.do(tc.method, tc.path, nil)
		if st != tc.status || body["errorCode"].(float64) != float64(tc.code) {
			t.Errorf("%s %s: %d %v, want %d with %d", tc.method, tc.path, st, body, tc.status, tc.code)
		}
		check(t, "error "+tc.path, jsonResponse, body)
	}
}

// TestAcceptedShapes: what the fake accepts is what the server accepts.
// The create body is a FeatureViewDTO as hsfs sends it
// (python/hsfs/feature_view.py to_dict); the query constructor takes a
// QueryDTO and ignores unknown fields (@JsonIgnoreProperties).
func TestAcceptedShapes(t *testing.T) {
	s := New(Options{Region: "eu", Active: true})
	defer s.Close()
	s.AddFeatureView(twoFGView())
	c := client{t, s, DefaultAPIKey}
	_, q := c.do("GET", "/project/119/featurestores/67/featureview/acct/version/1/query/batch", nil)
	q["someNewField"] = map[string]any{"x": 1}
	if st, body := c.do("PUT", "/project/119/featurestores/query?hqs=true", q); st != 200 {
		t.Fatalf("QueryDTO with an unknown field: %d %v", st, body)
	}
	create := map[string]any{
		"name": "made", "version": 1, "description": "", "type": "featureViewDTO", "featurestoreId": 67,
		"query": map[string]any{
			"featureStoreName": "tandem_featurestore", "featureStoreId": 67, "leftFeatureGroup": map[string]any{"id": 7, "type": "cachedFeaturegroupDTO"},
			"leftFeatures": []any{map[string]any{"name": "aid"}, map[string]any{"name": "balance"}}, "joins": []any{}, "filter": nil, "hiveEngine": true,
		},
		"features": []any{}, "labels": []any{}, "inferenceHelperColumns": []any{}, "trainingHelperColumns": []any{},
	}
	st, body := c.do("POST", "/project/119/featurestores/67/featureview", create)
	if st != 201 {
		t.Fatalf("create: %d %v", st, body)
	}
	check(t, "created view", featureViewDTO, body)
}

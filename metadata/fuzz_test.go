package metadata

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Seeds are the real shapes: the Java DTOs' camelCase JSON as Hopsworks
// sends it (FeatureViewDTO, ServingPreparedStatementDTO; the prepared
// statement seed is "prices_single" of hopsworks-api
// python/tests/fixtures/serving_prepared_statement_fixtures.json).

const seedFeatureView = `{"type":"featureViewDTO","id":11,"name":"fraud","version":1,"description":"d",
"featurestoreId":67,"featurestoreName":"fraud_proj_featurestore","created":"2024-01-16T10:00:00Z",
"query":{"leftFeatureGroup":{"type":"cachedFeaturegroupDTO","id":49,"name":"transactions","version":1,"featurestoreId":67,"onlineEnabled":true,
"features":[{"name":"tid","type":"bigint","onlineType":"bigint","primary":true,"partition":false,"hudiPrecombineKey":true,"featureGroupId":49,"defaultValue":null}]},
"leftFeatures":[{"name":"amount"}],"featureStoreName":"fraud_proj_featurestore","featureStoreId":67,
"joins":[{"query":{"leftFeatureGroup":{"id":48,"name":"profiles","version":1},"leftFeatures":[{"name":"age"}],"joins":[]},"leftOn":[{"name":"cc_num"}],"rightOn":[{"name":"cc_num"}],"type":"INNER","prefix":"p_"}],"filter":null},
"features":[{"name":"amount","type":"double","index":0,"label":false,"inferenceHelperColumn":false,"trainingHelperColumn":false,"featureGroupFeatureName":"amount",
"featuregroup":{"type":"cachedFeaturegroupDTO","id":49,"name":"transactions","version":1,"onlineEnabled":true,"features":[{"name":"tid","type":"bigint","primary":true}]},"transformationFunction":null},
{"name":"p_age","type":"int","index":1,"label":false,"featureGroupFeatureName":"age","featuregroup":{"id":48,"name":"profiles","version":1,"onlineEnabled":true}}],
"servingKeys":[{"featureName":"tid","featureGroup":{"id":49,"name":"transactions","version":1},"required":true,"joinIndex":0},
{"featureName":"cc_num","featureGroup":{"id":48,"name":"profiles","version":1},"prefix":"p_","required":true,"joinOn":"cc_num","joinIndex":1}],"keywords":[]}`

const seedStatements = `{"href":"https://hopsworks/hopsworks-api/api/project/119/featurestores/67/featureview/prices_fv_no_tf/version/1/preparedstatements",
"items":[{"featureGroupId":7291,"preparedStatementIndex":0,"preparedStatementParameters":[{"name":"ticker","index":1}],
"queryOnline":"SELECT ` + "`fg0`.`ticker` AS `ticker`, `fg0`.`when` AS `when`, `fg0`.`price` AS `price`\\nFROM `rdrs2`.`prices_fg_full_1` AS `fg0`\\nWHERE `fg0`.`ticker` = ?" + `"}],"count":1}`

const seedBatch = `{"query":"SELECT ` + "`fg0`.`amount` `amount`\\nFROM `fraud_proj_featurestore`.`transactions_1` `fg0`" + `","queryOnline":"","pitQuery":null,
"hqsPayload":"{\"project\":\"fraud_proj\",\"featureView\":\"fraud\",\"version\":1}","hqsPayloadSignature":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}`

func addSeeds(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{"", "null", "{}", "[]", `{"items":null}`, `{"version":-1}`, "\xff", `{"name":"a","version":1,"features":[{}]}`} {
		f.Add([]byte(s))
	}
}

func TestSeedsDecode(t *testing.T) {
	fv, err := DecodeFeatureView([]byte(seedFeatureView))
	if err != nil || len(fv.ServingKeys) != 2 || fv.Features[1].FeatureGroupFeatureName != "age" || fv.Query.Joins[0].Prefix != "p_" {
		t.Fatalf("feature view: %v %+v", err, fv)
	}
	ps, err := DecodePreparedStatements([]byte(seedStatements))
	if err != nil || len(ps) != 1 || ps[0].FeatureGroupID != 7291 || ps[0].Parameters[0] != (PreparedStatementParameter{"ticker", 1}) ||
		!strings.HasSuffix(ps[0].QueryOnline, "WHERE `fg0`.`ticker` = ?") {
		t.Fatalf("statements: %v %+v", err, ps)
	}
	bq, err := DecodeBatchQuery([]byte(seedBatch))
	if err != nil || bq.HQSPayloadSignature == "" || !strings.Contains(bq.HQSPayload, "fraud") {
		t.Fatalf("batch: %v %+v", err, bq)
	}
	ae := DecodeError(400, []byte(`{"errorCode":270009,"errorMsg":"The provided query is not valid","usrMsg":"feature group deleted"}`))
	if ae.Code != 270009 || !errors.Is(ae, ErrInvalidQuery) {
		t.Fatalf("error: %+v", ae)
	}
}

func FuzzDecodeFeatureView(f *testing.F) {
	addSeeds(f, seedFeatureView)
	f.Fuzz(func(t *testing.T, body []byte) {
		fv, err := DecodeFeatureView(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if fv.Name == "" || fv.Version < 1 {
			t.Fatalf("accepted %+v", fv)
		}
		// What we decoded encodes and decodes to itself.
		out, err := json.Marshal(fv)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeFeatureView(out); err != nil {
			t.Fatalf("round trip: %v\n%s", err, out)
		}
	})
}

func FuzzDecodePreparedStatements(f *testing.F) {
	addSeeds(f, seedStatements)
	f.Fuzz(func(t *testing.T, body []byte) {
		ps, err := DecodePreparedStatements(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		for _, p := range ps {
			if p.QueryOnline == "" || len(p.Parameters) == 0 {
				t.Fatalf("accepted %+v", p)
			}
		}
	})
}

func FuzzDecodeBatchQuery(f *testing.F) {
	addSeeds(f, seedBatch)
	f.Fuzz(func(t *testing.T, body []byte) {
		bq, err := DecodeBatchQuery(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if bq.HQSPayload == "" {
			t.Fatalf("accepted %+v", bq)
		}
	})
}

func FuzzDecodeError(f *testing.F) {
	f.Add(404, []byte(`{"errorCode":270181,"errorMsg":"Feature view wasn't found.","usrMsg":"name: fraud, version: 1"}`))
	f.Add(400, []byte(`{"errorCode":270009,"errorMsg":"The provided query is not valid","usrMsg":""}`))
	f.Add(401, []byte(`{"errorCode":320012,"errorMsg":"Invalid or incorrect API key."}`))
	f.Add(400, []byte(`{"errorCode":150004,"errorMsg":"Project wasn't found."}`))
	f.Add(400, []byte(`{"errorCode":"270113","errorMsg":7}`))
	f.Add(502, []byte("<html><body>Bad Gateway</body></html>"))
	f.Add(503, []byte{})
	f.Add(500, []byte("\xff\xfe\x00 binary"))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		ae := DecodeError(status, body)
		ae.Op, ae.Region = "GetFeatureView", "eu"
		msg := ae.Error()
		if !strings.HasPrefix(msg, "metadata: ") {
			t.Fatalf("message %q", msg)
		}
		if len(ae.Msg) > 600 || len(ae.UsrMsg) > 600 {
			t.Fatalf("unbounded message: %d %d", len(ae.Msg), len(ae.UsrMsg))
		}
		if strings.ContainsAny(ae.Msg+ae.UsrMsg, "\n\r\x00") {
			t.Fatalf("control characters kept: %q", ae.Msg)
		}
		_ = IsRetryable(ae)
		_ = errors.Is(ae, ErrNotFound)
	})
}

// Seeds for the decoders of the batch query's first step (QueryDTO), the
// schema registry (SubjectDTO), the online connector
// (FeaturestoreJdbcConnectorDTO), a variable (RESTApiJsonResponse) and the
// project and feature store (ProjectDTO, FeaturestoreDTO).
const (
	seedQuery = `{"featureStoreId":67,"featureStoreName":"fraud_proj_featurestore","leftFeatureGroup":{"type":"cachedFeaturegroupDTO","id":49,"name":"transactions","version":1},
"leftFeatures":[{"name":"amount"}],"leftFeatureGroupStartTime":1700000000000,"leftFeatureGroupEndTime":null,"joins":[],"filter":null,"hiveEngine":false}`
	seedSubject   = `{"id":49,"subject":"transactions_1","version":1,"schema":"{\"type\":\"record\",\"name\":\"transactions_1\",\"namespace\":\"fraud_proj_featurestore\",\"fields\":[{\"name\":\"tid\",\"type\":[\"null\",\"long\"]},{\"name\":\"tags\",\"type\":[\"null\",{\"type\":\"array\",\"items\":[\"null\",\"int\"]}]}]}"}`
	seedConnector = `{"type":"featurestoreJdbcConnectorDTO","id":1,"name":"fraud_proj_meb10000_onlinefeaturestore","featurestoreId":67,"storageConnectorType":"JDBC",
"connectionString":"jdbc:mysql://10.0.0.1:3306/fraud_proj?useSSL=false&allowPublicKeyRetrieval=true","arguments":[{"name":"password","value":"pw"},{"name":"user","value":"fraud_proj_meb10000"},{"name":"driver","value":"com.mysql.cj.jdbc.Driver"}],"driverPath":null}`
	seedVariable = `{"successMessage":"mysql.example.com"}`
	seedProject  = `{"projectId":119,"projectName":"Fraud_Proj","owner":"admin@hopsworks.ai","created":"2024-01-16T10:00:00Z"}`
	seedFS       = `{"featurestoreId":67,"featurestoreName":"fraud_proj_featurestore","projectId":119,"projectName":"Fraud_Proj","onlineFeaturestoreName":"fraud_proj","onlineEnabled":true}`
)

func FuzzDecodeQuery(f *testing.F) {
	addSeeds(f, seedQuery)
	f.Fuzz(func(t *testing.T, body []byte) {
		q, err := DecodeQuery(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if !json.Valid(q) {
			t.Fatalf("accepted invalid JSON %q", q)
		}
		if _, err := DecodeQuery(q); err != nil {
			t.Fatalf("the compacted query does not decode: %v", err)
		}
	})
}

func FuzzDecodeAvroSchema(f *testing.F) {
	addSeeds(f, seedSubject)
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := DecodeAvroSchema(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		for name := range s.fields {
			if f, ok := s.Field(name); !ok || len(f) == 0 {
				t.Fatalf("field %q without a schema", name)
			}
		}
	})
}

func FuzzDecodeOnlineConnector(f *testing.F) {
	addSeeds(f, seedConnector)
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := decodeOnlineConnector(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			// Errors never quote the body: it holds the password.
			if len(body) > 8 && strings.Contains(err.Error(), string(body)) {
				t.Fatalf("error quotes the body: %v", err)
			}
			return
		}
		if c.Addr == "" || c.Database == "" || c.User == "" || c.Password == "" {
			t.Fatalf("accepted %v", c)
		}
		if !strings.Contains(c.String(), "Password: [REDACTED]") {
			t.Fatalf("String shows the password: %s", c)
		}
	})
}

func FuzzDecodeVariable(f *testing.F) {
	addSeeds(f, seedVariable)
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := decodeVariable(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if v == "" || strings.ContainsAny(v, "/@?# ") {
			t.Fatalf("accepted host %q", v)
		}
	})
}

func FuzzDecodeProjectAndFeatureStore(f *testing.F) {
	addSeeds(f, seedProject, seedFS)
	f.Fuzz(func(t *testing.T, body []byte) {
		if p, err := decodeProject(body); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("project: error not ErrMalformed: %v", err)
			}
		} else if p.ID <= 0 {
			t.Fatalf("accepted project %+v", p)
		}
		if fs, err := decodeFeatureStore(body); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("feature store: error not ErrMalformed: %v", err)
			}
		} else if fs.ID <= 0 {
			t.Fatalf("accepted feature store %+v", fs)
		}
	})
}

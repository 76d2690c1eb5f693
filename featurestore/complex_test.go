package featurestore_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/internal/hopsworkstest"
	"github.com/tandemfs/tandem/metadata"
)

// fgProfiles has complex features: an array, a struct and a map, stored
// as VARBINARY Avro of their column's schema, and a DECIMAL.
var fgProfiles = hopsworkstest.FeatureGroupDef{ID: 31, Name: "profiles", Version: 1, Features: []hopsworkstest.FeatureDef{
	{Name: "pid", Type: "bigint", Primary: true},
	{Name: "tags", Type: "array<int>"},
	{Name: "addr", Type: "struct<city:string,zip:int>"},
	{Name: "scores", Type: "map<string,double>"},
	{Name: "amount", Type: "decimal(10,2)", OnlineType: "decimal(10,2)"},
}}

// avroOf encodes v as Avro binary of column col of fg's schema, as the
// online store holds it.
func avroOf(t *testing.T, fg hopsworkstest.FeatureGroupDef, col string, v any) []byte {
	t.Helper()
	rec, err := hopsworkstest.AvroSchema(metadata.FeatureStoreName(project), fg)
	if err != nil {
		t.Fatal(err)
	}
	as, err := metadata.DecodeAvroSchema([]byte(fmt.Sprintf(`{"id":1,"subject":%q,"version":1,"schema":%q}`, fg.Table(), rec)))
	if err != nil {
		t.Fatal(err)
	}
	field, ok := as.Field(col)
	if !ok {
		t.Fatalf("no field %s", col)
	}
	s, err := avro.ParseBytesWithCache(field, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	// The column is a union of null and its type: Avro writes the branch
	// index as a zigzag varint (1 is 0x02), then the value.
	u, ok := s.(*avro.UnionSchema)
	if !ok || len(u.Types()) != 2 || u.Types()[0].Type() != avro.Null {
		t.Fatalf("column %s is not a nullable union: %s", col, s)
	}
	b, err := avro.Marshal(u.Types()[1], v)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{0x02}, b...)
}

// TestComplexFeatures: array, struct and map features are decoded from
// the Avro binary in real MariaDB VARBINARY columns with the group's
// schema, in single vectors and batches; a NULL stays nil; a cached
// vector's complex values are the caller's to change.
func TestComplexFeatures(t *testing.T) {
	e := newEnv(t)
	e.store.AddFeatureView(hopsworkstest.FeatureViewDef{Name: "profile", Version: 1,
		Joins: []hopsworkstest.JoinDef{{FeatureGroup: fgProfiles}}})
	tags := avroOf(t, fgProfiles, "tags", []any{int32(1), nil, int32(3)})
	addr := avroOf(t, fgProfiles, "addr", map[string]any{"city": "Lund", "zip": int32(22100)})
	scores := avroOf(t, fgProfiles, "scores", map[string]any{"a": 0.5})
	for _, db := range e.db {
		if err := db.Exec(ctxT(t, 10*time.Second),
			"CREATE TABLE tandem.profiles_1 (pid BIGINT PRIMARY KEY, tags VARBINARY(100), addr VARBINARY(100), scores VARBINARY(100), amount DECIMAL(10,2))",
			fmt.Sprintf("INSERT INTO tandem.profiles_1 VALUES (1, x'%s', x'%s', x'%s', 12345678.91), (2, NULL, NULL, NULL, NULL)",
				hex.EncodeToString(tags), hex.EncodeToString(addr), hex.EncodeToString(scores)),
		); err != nil {
			t.Fatal(err)
		}
	}
	cfg := e.config("eu")
	cfg.VectorCache.TTL = time.Minute
	c := newClient(t, cfg)
	fv := mustView(t, c, "profile", 1)
	want := map[string]any{
		"pid":    int64(1),
		"tags":   []any{1, nil, 3},
		"addr":   map[string]any{"city": "Lund", "zip": 22100},
		"scores": map[string]any{"a": 0.5},
	}
	check := func(t *testing.T, v *featurestore.Vector) {
		t.Helper()
		m := v.Map()
		for k, w := range want {
			if !reflect.DeepEqual(m[k], w) {
				t.Fatalf("%s = %#v (%T), want %#v", k, m[k], m[k], w)
			}
		}
		// DECIMAL passes through online's exact decoding.
		if got := fmt.Sprint(m["amount"]); got != "12345678.91" {
			t.Fatalf("amount %#v (%T), want 12345678.91 exactly", m["amount"], m["amount"])
		}
	}
	v, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), map[string]any{"pid": 1})
	if err != nil {
		t.Fatal(err)
	}
	check(t, v)
	v.Map()["addr"].(map[string]any)["city"] = "scribbled"
	v.Values[1].([]any)[0] = "scribbled"
	again, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), map[string]any{"pid": 1})
	if err != nil || !again.Cached {
		t.Fatalf("second lookup: %v, cached %v", err, again != nil && again.Cached)
	}
	check(t, again)

	b, err := fv.GetFeatureVectors(ctxT(t, 5*time.Second), []map[string]any{{"pid": 2}, {"pid": 1}})
	if err != nil {
		t.Fatal(err)
	}
	check(t, &b.Vectors[1])
	if m := b.Vectors[0].Map(); m["tags"] != nil || m["addr"] != nil || m["scores"] != nil || b.Vectors[0].Groups[0].Status != featurestore.Present {
		t.Fatalf("NULL complex values: %v", m)
	}

	// Bytes that are not Avro of the schema fail the lookup with an
	// error naming the feature.
	for _, db := range e.db {
		if err := db.Exec(ctxT(t, 10*time.Second), "INSERT INTO tandem.profiles_1 VALUES (3, x'ff', NULL, NULL, NULL)"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), map[string]any{"pid": 3}, featurestore.NoCache()); err == nil {
		t.Fatal("garbage Avro decoded")
	} else {
		t.Log(err)
	}
}

// TestEmbeddingGroup: a view that needs an embedding feature group fails
// with a typed ErrUnsupported naming it; leaving its key out with
// AllowMissing, or passing its features, reads the rest.
func TestEmbeddingGroup(t *testing.T) {
	e := newEnv(t)
	emb := fgCountry
	emb.ID, emb.Name = 41, "country_emb"
	emb.Embedding = &hopsworkstest.EmbeddingDef{IndexName: "idx", Features: []hopsworkstest.EmbeddingFeatureDef{{Name: "tax", Dimension: 1}}}
	d := fraudView("fraud_emb", 1)
	d.Joins[1].FeatureGroup = emb
	e.store.AddFeatureView(d)
	for _, db := range e.db {
		if err := db.Exec(ctxT(t, 10*time.Second), "CREATE TABLE tandem.country_emb_2 LIKE tandem.country_tier_2"); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, e.config("eu"))
	fv := mustView(t, c, "fraud_emb", 1)
	_, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(1))
	var ue *featurestore.UnsupportedError
	if !errors.Is(err, featurestore.ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) || !errors.As(err, &ue) || ue.FeatureGroup != "country_emb" {
		t.Fatalf("got %v", err)
	}
	if _, err := fv.GetFeatureVectors(ctxT(t, 5*time.Second), []map[string]any{entry(1)}); !errors.As(err, &ue) {
		t.Fatalf("batch: %v", err)
	}
	v, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), map[string]any{"aid": 1}, featurestore.AllowMissing())
	if err != nil {
		t.Fatal(err)
	}
	if v.Groups[0].Status != featurestore.Present || v.Groups[1].Status != featurestore.Missing {
		t.Fatalf("groups %+v", v.Groups)
	}
}

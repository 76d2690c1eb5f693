package hopsworkstest

import (
	"encoding/json"
	"testing"

	"github.com/tandemfs/tandem/metadata"
)

// TestTransformationShapes checks what the fake serves for transformation
// functions and statistics against the shapes hsfs decodes
// (logicalclocks/hopsworks-api python/hsfs/feature_view.py,
// python/hsfs/transformation_function.py, python/hsfs/hopsworks_udf.py,
// python/hsfs/training_dataset_feature.py, python/hsfs/statistics.py) and
// the server's StatisticsDTO / FeatureDescriptiveStatisticsDTO
// (logicalclocks/hopsworks hopsworks-common/.../featurestore/statistics/),
// through the metadata package's decoders.
func TestTransformationShapes(t *testing.T) {
	s := New(Options{Region: "eu", Active: true})
	defer s.Close()
	s.AddFeatureView(twoFGView())
	s.Store().SetTransformations("acct", 1, TransformationsDef{
		ModelDependent: []TransformationDef{{Name: "min_max_scaler", Features: []string{"balance"}, Dropped: []string{"feature"}, Statistics: true}},
		OnDemand:       []OnDemandFeatureDef{{Name: "ratio", Function: TransformationDef{Name: "ratio", Features: []string{"x", "y"}}}},
		Statistics:     map[int][]FeatureStatisticsDef{1: {{Feature: "balance", Min: F(0), Max: F(10), UniqueValues: []any{"a"}}}},
	})
	c := client{t, s, DefaultAPIKey}
	view := "/project/119/featurestores/67/featureview/acct/version/1"
	st, body := c.do("GET", view+"?expand=features&expand=query&expand=transformationfunctions", nil)
	if st != 200 {
		t.Fatalf("view: %d %v", st, body)
	}
	raw, _ := json.Marshal(body)
	fv, err := metadata.DecodeFeatureView(raw)
	if err != nil {
		t.Fatal(err)
	}
	tf := fv.TransformationFunctions
	if len(tf) != 1 || tf[0].UDF.Name != "min_max_scaler" || tf[0].UDF.StatisticsArgumentNames[0] != "feature" {
		t.Fatalf("transformationFunctions %+v", tf)
	}
	if d, err := tf[0].UDF.DroppedFeatures(); err != nil || len(d) != 1 || d[0] != "balance" {
		t.Fatalf("dropped %v %v", d, err)
	}
	last := fv.Features[len(fv.Features)-1]
	if last.Name != "ratio" || last.TransformationFunction == nil || last.TransformationFunction.UDF.TransformationFeatures[1] != "y" {
		t.Fatalf("on-demand feature %+v", last)
	}
	// Without expand=transformationfunctions there are none.
	_, body = c.do("GET", view+"?expand=features", nil)
	if _, ok := body["transformationFunctions"]; ok {
		t.Fatal("transformationFunctions without the expand")
	}

	q := "?offset=0&limit=1&fields=content&sort_by=computation_time:desc&filter_by=before_transformation_eq:True&training_dataset_version="
	st, body = c.do("GET", view+"/trainingdatasets/version/1/statistics"+q+"1", nil)
	if st != 200 {
		t.Fatalf("statistics: %d %v", st, body)
	}
	raw, _ = json.Marshal(body)
	stats, err := metadata.DecodeTrainingDatasetStatistics(raw)
	if err != nil || len(stats.FeatureDescriptiveStatistics) != 1 || *stats.FeatureDescriptiveStatistics[0].Max != 10 || !stats.BeforeTransformation {
		t.Fatalf("statistics %+v %v", stats, err)
	}
	// An unknown training dataset version has none; another query is refused.
	if st, body = c.do("GET", view+"/trainingdatasets/version/2/statistics"+q+"2", nil); st != 200 || body["count"].(float64) != 0 {
		t.Fatalf("no statistics: %d %v", st, body)
	}
	if st, _ = c.do("GET", view+"/trainingdatasets/version/1/statistics", nil); st != 422 {
		t.Fatalf("another query: %d", st)
	}
}

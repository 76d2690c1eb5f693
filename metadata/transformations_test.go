package metadata

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// seedViewTransformations is a FeatureViewDTO with
// expand=transformationfunctions, shaped as hsfs decodes it
// (python/hsfs/feature_view.py from_response_json; the hopsworksUdf of
// python/hsfs/hopsworks_udf.py to_dict, camelCase).
const seedViewTransformations = `{"id":3,"name":"tx","version":1,"featurestoreId":67,
"features":[{"name":"amount","type":"double","index":0,"featureGroupFeatureName":"amount","featuregroup":{"id":49,"name":"t","version":1}},
{"name":"ratio","type":"double","index":1,"featuregroup":{"id":49,"name":"t","version":1},
 "transformationFunction":{"id":9,"version":1,"featurestoreId":67,"hopsworksUdf":{"sourceCode":"\n@udf(float)\ndef ratio(price, qty):\n    return price / qty\n",
 "name":"ratio","outputTypes":["double"],"transformationFeatures":["price","qty"],"transformationFunctionArgumentNames":["price","qty"],"executionMode":"DEFAULT"}}}],
"transformationFunctions":[{"id":1,"version":1,"featurestoreId":67,"hopsworksUdf":{"sourceCode":"\n@udf(float, drop=[\"feature\"])\ndef min_max_scaler(feature: pd.Series, statistics=feature_statistics) -> pd.Series:\n    ...\n",
 "name":"min_max_scaler","outputTypes":["double"],"transformationFeatures":["amount"],"droppedArgumentNames":["feature"],
 "statisticsArgumentNames":["feature"],"executionMode":"DEFAULT","outputColumnNames":["min_max_scaler_amount_"]}}]}`

// seedStatistics is the statistics endpoint's answer: a list of
// StatisticsDTO with FeatureDescriptiveStatisticsDTO (logicalclocks/hopsworks
// hopsworks-common/.../featurestore/statistics/StatisticsDTO.java,
// FeatureDescriptiveStatisticsDTO.java; "stddev", extendedStatistics a JSON string).
const seedStatistics = `{"count":1,"items":[{"computationTime":1700000000000,"rowPercentage":1.0,"featureViewName":"tx","featureViewVersion":1,
"trainingDatasetVersion":1,"beforeTransformation":true,"featureDescriptiveStatistics":[
{"id":5,"featureType":"Fractional","featureName":"amount","count":10,"min":0.0,"max":200.0,"mean":80.5,"stddev":12.5,"percentiles":[1.0,null,3.0],
 "extendedStatistics":"{\"unique_values\":[\"a\",\"b\"],\"histogram\":[{\"value\":\"a\",\"count\":3}]}"}]}]}`

func TestTransformationShapes(t *testing.T) {
	fv, err := DecodeFeatureView([]byte(seedViewTransformations))
	if err != nil {
		t.Fatal(err)
	}
	if len(fv.TransformationFunctions) != 1 || fv.TransformationFunctions[0].UDF.Name != "min_max_scaler" ||
		!reflect.DeepEqual(fv.TransformationFunctions[0].UDF.OutputColumnNames, []string{"min_max_scaler_amount_"}) {
		t.Fatalf("model-dependent: %+v", fv.TransformationFunctions)
	}
	if tf := fv.Features[1].TransformationFunction; tf == nil || tf.UDF.Name != "ratio" || len(tf.UDF.TransformationFeatures) != 2 {
		t.Fatalf("on-demand: %+v", fv.Features[1])
	}
	// droppedArgumentNames [feature] -> the feature passed for it, amount
	// (parsed from the source: no transformationFunctionArgumentNames sent).
	d, err := fv.TransformationFunctions[0].UDF.DroppedFeatures()
	if err != nil || !reflect.DeepEqual(d, []string{"amount"}) {
		t.Fatalf("dropped %v %v", d, err)
	}
	s, err := DecodeTrainingDatasetStatistics([]byte(seedStatistics))
	if err != nil {
		t.Fatal(err)
	}
	f := s.FeatureDescriptiveStatistics[0]
	if *f.Min != 0 || *f.Max != 200 || *f.StdDev != 12.5 || f.Percentiles[1] != nil || *f.Percentiles[2] != 3 ||
		!strings.Contains(f.ExtendedStatistics, "unique_values") || !s.BeforeTransformation {
		t.Fatalf("statistics %+v", f)
	}
	if _, err := DecodeTrainingDatasetStatistics([]byte(`{"count":0,"items":[]}`)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no statistics: %v", err)
	}
	if _, err := DecodeTrainingDatasetStatistics([]byte(`{"count":1,"items":[{"featureDescriptiveStatistics":[{"featureName":"a","extendedStatistics":"{"}]}]}`)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad extended statistics: %v", err)
	}
}

func TestParseUDFArguments(t *testing.T) {
	cases := []struct {
		src, name string
		want      []string
		err       bool
	}{
		{"@udf(float)\ndef add(a: pd.Series, b=1, statistics=stats, context=None) -> pd.Series:\n  return a", "add", []string{"a", "b"}, false},
		{"def f(x: Dict[str, int], y):", "f", []string{"x", "y"}, false},
		{"def g(\n  x,\n  y,\n):", "g", []string{"x", "y"}, false},
		{"def other(x):\ndef f(z):", "f", []string{"z"}, false},
		{"def f(x", "f", nil, true},
		{"nothing here", "f", nil, true},
	}
	for _, c := range cases {
		got, err := ParseUDFArguments(c.src, c.name)
		if (err != nil) != c.err || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %q %v", c.src, got, err)
		}
	}
}

func FuzzDecodeTrainingDatasetStatistics(f *testing.F) {
	addSeeds(f, seedStatistics)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeTrainingDatasetStatistics(b)
		if err == nil && s == nil {
			t.Fatal("nil statistics without an error")
		}
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotFound) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

func FuzzTransformationFunctions(f *testing.F) {
	addSeeds(f, seedViewTransformations)
	f.Fuzz(func(t *testing.T, b []byte) {
		fv, err := DecodeFeatureView(b)
		if err != nil {
			return
		}
		for _, tf := range fv.TransformationFunctions {
			if tf.UDF == nil {
				continue
			}
			if _, err := tf.UDF.DroppedFeatures(); err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			_, _ = ParseUDFArguments(tf.UDF.SourceCode, tf.UDF.Name)
		}
	})
}

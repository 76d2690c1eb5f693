package hopsworkstest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
)

// Transformation functions and training-dataset statistics of a view.
//
// Shapes: the public Hopsworks server mirror predates the 4.x
// TransformationFunctionDTO with hopsworksUdf, so they follow what hsfs
// decodes (logicalclocks/hopsworks-api python/hsfs/transformation_function.py,
// python/hsfs/hopsworks_udf.py from_response_json and to_dict;
// python/hsfs/feature_view.py from_response_json for
// "transformationFunctions"; python/hsfs/training_dataset_feature.py for a
// feature's "transformationFunction"). Statistics follow StatisticsDTO and
// FeatureDescriptiveStatisticsDTO (logicalclocks/hopsworks
// hopsworks-common/src/main/java/io/hops/hopsworks/common/featurestore/statistics/)
// and the request hsfs python/hsfs/core/statistics_api.py _get sends.

// TransformationDef is one transformation function (hopsworksUdf).
type TransformationDef struct {
	Name     string
	Features []string // unprefixed transformationFeatures
	// ArgumentNames are the Python arguments; default "feature" for one
	// feature (the built-ins), else the features' names.
	ArgumentNames []string
	Dropped       []string // dropped argument names
	// Statistics marks a function that reads statistics (statisticsArgumentNames).
	Statistics  bool
	OutputTypes []string // default ["double"]
	OutputNames []string // outputColumnNames; nil: omitted, as before Hopsworks 4.1.6
	Prefix      string
}

// OnDemandFeatureDef is an on-demand feature: the view gains a feature of
// that name whose transformationFunction computes it.
type OnDemandFeatureDef struct {
	Name     string
	Type     string // default "double"
	Function TransformationDef
}

// FeatureStatisticsDef is one FeatureDescriptiveStatisticsDTO; nil numbers
// are sent as null.
type FeatureStatisticsDef struct {
	Feature      string
	Min, Max     *float64
	Mean, StdDev *float64
	Percentiles  []*float64
	UniqueValues []any
	Histogram    []map[string]any
}

// TransformationsDef is what SetTransformations attaches to a view.
type TransformationsDef struct {
	ModelDependent []TransformationDef
	OnDemand       []OnDemandFeatureDef
	// Statistics by training dataset version.
	Statistics map[int][]FeatureStatisticsDef
}

// F is a helper for the pointers of FeatureStatisticsDef.
func F(v float64) *float64 { return &v }

type tfStore struct {
	mu   sync.Mutex
	defs map[viewKey]TransformationsDef
}

// SetTransformations attaches transformation functions and statistics to
// the view name version (in every region that shares the Store).
func (s *Store) SetTransformations(name string, version int, def TransformationsDef) {
	s.tf.mu.Lock()
	defer s.tf.mu.Unlock()
	if s.tf.defs == nil {
		s.tf.defs = map[viewKey]TransformationsDef{}
	}
	s.tf.defs[viewKey{name, version}] = def
}

func (s *Store) transformations(name string, version int) (TransformationsDef, bool) {
	s.tf.mu.Lock()
	defer s.tf.mu.Unlock()
	d, ok := s.tf.defs[viewKey{name, version}]
	return d, ok
}

func (d TransformationDef) json(id int64, fsid int64) map[string]any {
	args := d.ArgumentNames
	if args == nil {
		if len(d.Features) == 1 {
			args = []string{"feature"}
		} else {
			args = d.Features
		}
	}
	types := d.OutputTypes
	if types == nil {
		types = []string{"double"}
	}
	src := "\n@udf(" + strconv.Quote(types[0]) + ")\ndef " + d.Name + "("
	for i, a := range args {
		if i > 0 {
			src += ", "
		}
		src += a + ": pd.Series"
	}
	if d.Statistics {
		src += ", statistics=feature_statistics"
	}
	src += ") -> pd.Series:\n    ...\n"
	udf := map[string]any{
		"sourceCode": src, "name": d.Name, "outputTypes": types,
		"transformationFeatures":              d.Features,
		"transformationFunctionArgumentNames": args,
		"executionMode":                       "DEFAULT",
	}
	if len(d.Dropped) > 0 {
		udf["droppedArgumentNames"] = d.Dropped
	}
	if d.Statistics {
		udf["statisticsArgumentNames"] = args[:1]
	}
	if d.Prefix != "" {
		udf["featureNamePrefix"] = d.Prefix
	}
	if d.OutputNames != nil {
		udf["outputColumnNames"] = d.OutputNames
	}
	return map[string]any{"id": id, "version": 1, "featurestoreId": fsid, "hopsworksUdf": udf,
		"type": "transformationFunctionDTO"}
}

// withTransformations adds the view's transformation functions to its
// FeatureViewDTO (getView calls it): "transformationFunctions" when
// expand=transformationfunctions, and each on-demand feature, with its
// "transformationFunction", when expand=features.
func (s *Store) withTransformations(d FeatureViewDef, view any, expand, features bool) any {
	def, ok := s.transformations(d.Name, d.Version)
	if !ok {
		return view
	}
	b, err := json.Marshal(view)
	if err != nil {
		return view
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return view
	}
	if expand {
		var tfs []any
		for i, t := range def.ModelDependent {
			tfs = append(tfs, t.json(int64(100+i), s.fsid))
		}
		m["transformationFunctions"] = tfs
	}
	if fs, ok := m["features"].([]any); ok && features {
		var fg any
		if len(fs) > 0 {
			if f0, ok := fs[0].(map[string]any); ok {
				fg = f0["featuregroup"]
			}
		}
		for i, od := range def.OnDemand {
			typ := od.Type
			if typ == "" {
				typ = "double"
			}
			fs = append(fs, map[string]any{
				"name": od.Name, "type": typ, "index": len(fs), "label": false,
				"inferenceHelperColumn": false, "trainingHelperColumn": false,
				"featureGroupFeatureName": od.Name, "featuregroup": fg,
				"transformationFunction": od.Function.json(int64(200+i), s.fsid),
			})
		}
		m["features"] = fs
	}
	return m
}

// getStatistics serves GET .../featureview/{name}/version/{v}/trainingdatasets/version/{td}/statistics
// with the query hsfs's statistics_api.py _get sends; other queries are
// refused, so a client that asks something else fails its tests.
func (s *Server) getStatistics(w http.ResponseWriter, r *http.Request) {
	d, _, ok := s.lookupView(w, r, http.StatusNotFound, CodeFeatureGroupNotFound)
	if !ok {
		return
	}
	td, err := strconv.Atoi(r.PathValue("td"))
	q := r.URL.Query()
	if err != nil || q.Get("fields") != "content" || q.Get("filter_by") != "before_transformation_eq:True" ||
		q.Get("training_dataset_version") != r.PathValue("td") || q.Get("sort_by") != "computation_time:desc" {
		writeError(w, http.StatusUnprocessableEntity, CodeIllegalArgument, "the fake serves only hsfs's statistics query (fields=content, filter_by=before_transformation_eq:True, sort_by=computation_time:desc, training_dataset_version)")
		return
	}
	def, _ := s.store.transformations(d.Name, d.Version)
	fds, ok := def.Statistics[td]
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"count": 0, "items": []any{}})
		return
	}
	var items []any
	for i, f := range fds {
		ext := map[string]any{}
		if f.UniqueValues != nil {
			ext["unique_values"] = f.UniqueValues
		}
		if f.Histogram != nil {
			ext["histogram"] = f.Histogram
		}
		eb, _ := json.Marshal(ext)
		items = append(items, map[string]any{
			"id": i + 1, "featureType": "Fractional", "featureName": f.Feature,
			"min": f.Min, "max": f.Max, "mean": f.Mean, "stddev": f.StdDev, "percentiles": f.Percentiles,
			"extendedStatistics": string(eb), "type": "featureDescriptiveStatisticsDTO",
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": 1, "items": []any{map[string]any{
		"computationTime": 1700000000000, "rowPercentage": 1.0, "featureViewName": d.Name, "featureViewVersion": d.Version,
		"trainingDatasetVersion": td, "beforeTransformation": true, "featureDescriptiveStatistics": items,
		"type": "statisticsDTO",
	}}})
}

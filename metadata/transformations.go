package metadata

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	"github.com/tandemfs/tandem/region"
)

// Transformation functions and training-dataset statistics, as hsfs 4.x
// reads them when it initialises serving (python/hsfs/core/vector_server.py
// _init_serving → _init_transformation;
// python/hsfs/core/transformation_function_engine.py
// _get_ready_to_use_transformation_fns).
//
// The public Hopsworks server sources mirrored here predate the 4.x DTOs
// (their TransformationFunctionDTO has no hopsworksUdf), so the shapes
// follow what hsfs decodes: python/hsfs/transformation_function.py and
// python/hsfs/hopsworks_udf.py from_response_json (camelCase, as the DTOs
// serialise), and python/tests/fixtures/transformation_function_fixtures.json.
// The statistics follow the server's StatisticsDTO and
// FeatureDescriptiveStatisticsDTO
// (hopsworks-common/src/main/java/io/hops/hopsworks/common/featurestore/statistics/
// in logicalclocks/hopsworks) and hsfs python/hsfs/statistics.py.

// TransformationFunction is a TransformationFunctionDTO: a UDF attached to a
// feature view (model-dependent, in FeatureView.TransformationFunctions) or
// to a feature of a feature group (on-demand, in Feature.TransformationFunction).
type TransformationFunction struct {
	ID             int64         `json:"id,omitempty"`
	Version        int           `json:"version,omitempty"`
	FeaturestoreID int64         `json:"featurestoreId,omitempty"`
	UDF            *HopsworksUDF `json:"hopsworksUdf"`
}

// HopsworksUDF is the hopsworksUdf of a TransformationFunctionDTO (hsfs
// HopsworksUdf.to_dict / from_response_json).
type HopsworksUDF struct {
	Name       string `json:"name"`
	SourceCode string `json:"sourceCode,omitempty"`
	// OutputTypes are Spark type names ("double", "bigint", "string", ...),
	// one per output.
	OutputTypes []string `json:"outputTypes"`
	// TransformationFeatures are the features passed, unprefixed.
	TransformationFeatures []string `json:"transformationFeatures"`
	// ArgumentNames are the Python function's feature arguments, in order
	// (transformationFunctionArgumentNames).
	ArgumentNames           []string `json:"transformationFunctionArgumentNames,omitempty"`
	DroppedArgumentNames    []string `json:"droppedArgumentNames,omitempty"`
	StatisticsArgumentNames []string `json:"statisticsArgumentNames,omitempty"`
	FeatureNamePrefix       string   `json:"featureNamePrefix,omitempty"`
	ExecutionMode           string   `json:"executionMode,omitempty"`
	// OutputColumnNames are stored by Hopsworks 4.1.6 and later; older
	// servers omit them and hsfs generates them.
	OutputColumnNames []string `json:"outputColumnNames,omitempty"`
}

// DroppedFeatures maps the dropped argument names to the features passed
// for them, as hsfs does (transformation_features[arg_list.index(arg)]),
// unprefixed. The argument list is ArgumentNames, else parsed from the
// Python signature in SourceCode.
func (u *HopsworksUDF) DroppedFeatures() ([]string, error) {
	if len(u.DroppedArgumentNames) == 0 {
		return nil, nil
	}
	args := u.ArgumentNames
	if len(args) == 0 {
		var err error
		if args, err = ParseUDFArguments(u.SourceCode, u.Name); err != nil {
			return nil, err
		}
	}
	out := make([]string, 0, len(u.DroppedArgumentNames))
	for _, d := range u.DroppedArgumentNames {
		i := -1
		for j, a := range args {
			if a == d {
				i = j
				break
			}
		}
		if i < 0 || i >= len(u.TransformationFeatures) {
			return nil, fmt.Errorf("%w: transformation function %s drops %q, which is not one of its arguments %v", ErrMalformed, u.Name, d, args)
		}
		out = append(out, u.TransformationFeatures[i])
	}
	return out, nil
}

// ParseUDFArguments returns the feature arguments of the Python function
// name defined in src ("def name(a: pd.Series, b, statistics=...)"): every
// parameter but statistics and context, without annotations or defaults
// (hsfs HopsworksUdf._parse_function_signature).
func ParseUDFArguments(src, name string) ([]string, error) {
	bad := func(why string) ([]string, error) {
		return nil, fmt.Errorf("%w: transformation function %s: %s", ErrMalformed, name, why)
	}
	if len(src) > 1<<20 {
		return bad("source code too large")
	}
	start := -1
	for i := 0; i+4 <= len(src); i++ {
		if src[i:i+4] != "def " || (i > 0 && src[i-1] != '\n' && src[i-1] != ' ' && src[i-1] != '\t') {
			continue
		}
		j := i + 4
		for j < len(src) && src[j] == ' ' {
			j++
		}
		if (name == "" || (len(src) >= j+len(name) && src[j:j+len(name)] == name)) && len(src) > j+len(name) {
			k := j + len(name)
			for k < len(src) && src[k] == ' ' {
				k++
			}
			if k < len(src) && src[k] == '(' {
				start = k + 1
				break
			}
		}
	}
	if start < 0 {
		return bad("no def " + name + "(...) in its source code")
	}
	// Split the parameter list at top-level commas.
	depth, from := 0, start
	var params []string
	end := -1
	for i := start; i < len(src) && end < 0; i++ {
		switch src[i] {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			if depth == 0 && src[i] == ')' {
				params = append(params, src[from:i])
				end = i
			} else if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				params = append(params, src[from:i])
				from = i + 1
			}
		}
	}
	if end < 0 {
		return bad("unterminated parameter list")
	}
	var args []string
	for _, p := range params {
		n := p
		for i := 0; i < len(n); i++ {
			if n[i] == ':' || n[i] == '=' {
				n = n[:i]
				break
			}
		}
		n = trimSpace(n)
		if n == "" || n == "statistics" || n == "context" || n == "*" || n == "/" {
			continue
		}
		args = append(args, n)
	}
	return args, nil
}

func trimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t' || s[j-1] == '\n' || s[j-1] == '\r') {
		j--
	}
	return s[i:j]
}

// TrainingDatasetStatistics is a StatisticsDTO of a training dataset.
type TrainingDatasetStatistics struct {
	ComputationTime              int64                          `json:"computationTime"`
	RowPercentage                float64                        `json:"rowPercentage,omitempty"`
	FeatureViewName              string                         `json:"featureViewName,omitempty"`
	FeatureViewVersion           int                            `json:"featureViewVersion,omitempty"`
	TrainingDatasetVersion       int                            `json:"trainingDatasetVersion,omitempty"`
	BeforeTransformation         bool                           `json:"beforeTransformation"`
	FeatureDescriptiveStatistics []FeatureDescriptiveStatistics `json:"featureDescriptiveStatistics"`

	// Region is the region whose Hopsworks served the answer.
	Region region.ID `json:"-"`
}

// FeatureDescriptiveStatistics is a FeatureDescriptiveStatisticsDTO. A nil
// number was not computed (null). StdDev reads "stddev" (the DTO's field),
// and "stdDev" too (JSON field names match case-insensitively).
type FeatureDescriptiveStatistics struct {
	ID           int64      `json:"id,omitempty"`
	FeatureType  string     `json:"featureType,omitempty"`
	FeatureName  string     `json:"featureName"`
	Count        *int64     `json:"count,omitempty"`
	Completeness *float64   `json:"completeness,omitempty"`
	Min          *float64   `json:"min,omitempty"`
	Max          *float64   `json:"max,omitempty"`
	Sum          *float64   `json:"sum,omitempty"`
	Mean         *float64   `json:"mean,omitempty"`
	StdDev       *float64   `json:"stddev,omitempty"`
	Percentiles  []*float64 `json:"percentiles,omitempty"`
	// ExtendedStatistics is a JSON text with "unique_values", "histogram",
	// "correlations" and "kll".
	ExtendedStatistics string `json:"extendedStatistics,omitempty"`
}

type statisticsList struct {
	Count *int                        `json:"count"`
	Items []TrainingDatasetStatistics `json:"items"`
}

// DecodeTrainingDatasetStatistics decodes the statistics endpoint's body:
// {"count":n,"items":[StatisticsDTO]} or a bare StatisticsDTO (hsfs
// Statistics.from_response_json). No statistics is ErrNotFound.
func DecodeTrainingDatasetStatistics(body []byte) (*TrainingDatasetStatistics, error) {
	var l statisticsList
	if err := unmarshal(body, &l); err != nil {
		return nil, err
	}
	var s TrainingDatasetStatistics
	if l.Count != nil || l.Items != nil {
		if len(l.Items) == 0 {
			return nil, fmt.Errorf("%w: the training dataset has no statistics computed before transformation", ErrNotFound)
		}
		s = l.Items[0]
	} else if err := unmarshal(body, &s); err != nil {
		return nil, err
	}
	for i, f := range s.FeatureDescriptiveStatistics {
		if f.FeatureName == "" {
			return nil, fmt.Errorf("%w: statistics: feature %d has no featureName", ErrMalformed, i)
		}
		if f.ExtendedStatistics != "" && !json.Valid([]byte(f.ExtendedStatistics)) {
			return nil, fmt.Errorf("%w: statistics of %s: extendedStatistics is not JSON", ErrMalformed, f.FeatureName)
		}
	}
	return &s, nil
}

// TrainingDatasetStatistics returns the statistics computed before
// transformation on training dataset version td of a feature view: the
// call hsfs makes in init_serving when a transformation function needs
// statistics (python/hsfs/core/statistics_api.py _get):
//
//	GET .../featureview/{name}/version/{v}/trainingdatasets/version/{td}/statistics
//	    ?offset=0&limit=1&fields=content&sort_by=computation_time:desc
//	    &filter_by=before_transformation_eq:True&training_dataset_version={td}
//
// Routing is as for FeatureView (local region first, then the others).
func (c *Client) TrainingDatasetStatistics(ctx context.Context, name string, version, td int) (*TrainingDatasetStatistics, error) {
	ctx, done, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	if td < 1 {
		return nil, fmt.Errorf("%w: training dataset version %d, want >= 1", ErrInvalidArgument, td)
	}
	path, err := c.viewPath(ctx, name, version)
	if err != nil {
		return nil, err
	}
	req := request{
		op: "GetTrainingDatasetStatistics", method: "GET",
		path: path + "/trainingdatasets/version/" + strconv.Itoa(td) + "/statistics",
		query: url.Values{
			"offset":                   {"0"},
			"limit":                    {"1"},
			"fields":                   {"content"},
			"sort_by":                  {"computation_time:desc"},
			"filter_by":                {"before_transformation_eq:True"},
			"training_dataset_version": {strconv.Itoa(td)},
		},
	}
	s, r, err := readAs(ctx, c, c.order, req, DecodeTrainingDatasetStatistics)
	if err != nil {
		return nil, err
	}
	s.Region = r
	return s, nil
}

// decodeTransformationFunction is strict: a transformation function that
// cannot be read would silently change the vector, so it fails the view.
func decodeTransformationFunction(b json.RawMessage) (TransformationFunction, error) {
	type plain TransformationFunction
	var tf plain
	if err := json.Unmarshal(b, &tf); err != nil {
		return TransformationFunction{}, malformed{"transformation function: " + err.Error()}
	}
	if tf.UDF == nil || tf.UDF.Name == "" {
		return TransformationFunction{}, malformed{"transformation function without hopsworksUdf.name"}
	}
	if len(tf.UDF.TransformationFeatures) == 0 {
		return TransformationFunction{}, malformed{"transformation function " + tf.UDF.Name + " without transformationFeatures"}
	}
	return TransformationFunction(tf), nil
}

// decodeViewTransformations reads a FeatureViewDTO's transformation
// functions (FeatureView.UnmarshalJSON calls it).
func decodeViewTransformations(o object, fv *FeatureView) (err error) {
	if fv.TransformationFunctions, err = list(o, "transformationFunctions", decodeTransformationFunction); err != nil {
		return err
	}
	fv.OnDemandTransformationFunctions, err = list(o, "onDemandTransformationFunctions", decodeTransformationFunction)
	return err
}

// decodeFeatureTransformation reads a TrainingDatasetFeatureDTO's
// on-demand transformation function (Feature.UnmarshalJSON calls it).
func decodeFeatureTransformation(o object) (*TransformationFunction, error) {
	b, ok := o["transformationFunction"]
	if !ok || isNull(b) {
		return nil, nil
	}
	tf, err := decodeTransformationFunction(b)
	if err != nil {
		return nil, err
	}
	return &tf, nil
}

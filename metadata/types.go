package metadata

import (
	"encoding/json"
	"strings"

	"github.com/tandemfs/tandem/region"
)

// The types below mirror the JSON that Hopsworks REST returns (the Java DTOs
// serialise in camelCase: ProjectDTO, FeaturestoreDTO, FeatureViewDTO,
// TrainingDatasetFeatureDTO, ServingKeyDTO, ServingPreparedStatementDTO,
// FsQueryDTO; their paths in logicalclocks/hopsworks are in
// docs/hopsworks.md). Only the fields Tandem uses are decoded. Decoding is
// as tolerant as hsfs and Jackson are (decode.go): unknown fields are
// ignored, a field Tandem does not use may have any type, and numbers and
// booleans may come as strings ("1", "true"), which Jackson coerces.
// Fields tagged `json:"-"` are ours.
//
// Values returned by the Client are fresh copies: the caller may keep and
// change them.

// Project is a Hopsworks project, from GET /project/getProjectInfo/{name}.
type Project struct {
	ID   int64  `json:"projectId"`
	Name string `json:"projectName"`

	// Region is the region whose Hopsworks served the answer.
	Region region.ID `json:"-"`
}

// FeatureStore is a project's feature store, from
// GET /project/{pid}/featurestores/{project}_featurestore.
type FeatureStore struct {
	ID                      int64  `json:"featurestoreId"`
	Name                    string `json:"featurestoreName"`
	ProjectID               int64  `json:"projectId"`
	ProjectName             string `json:"projectName"`
	OnlineFeaturestoreName  string `json:"onlineFeaturestoreName"`
	OfflineFeaturestoreName string `json:"offlineFeaturestoreName"`
	OnlineEnabled           bool   `json:"onlineEnabled"`

	// Region is the region whose Hopsworks served the answer.
	Region region.ID `json:"-"`
}

// FeatureView is a feature view with its features and serving keys, from
// GET .../featureview/{name}/version/{v}?expand=features&expand=query.
type FeatureView struct {
	ID               int64        `json:"id"`
	Name             string       `json:"name"`
	Version          int          `json:"version"`
	Description      string       `json:"description,omitempty"`
	FeaturestoreID   int64        `json:"featurestoreId,omitempty"`
	FeaturestoreName string       `json:"featurestoreName,omitempty"`
	Query            *Query       `json:"query,omitempty"`
	Features         []Feature    `json:"features,omitempty"`
	ServingKeys      []ServingKey `json:"servingKeys,omitempty"`
	// TransformationFunctions are the model-dependent ones
	// (expand=transformationfunctions); OnDemandTransformationFunctions the
	// whole on-demand chain, when the server sends it. See transformations.go.
	TransformationFunctions         []TransformationFunction `json:"transformationFunctions,omitempty"`
	OnDemandTransformationFunctions []TransformationFunction `json:"onDemandTransformationFunctions,omitempty"`

	// Region is the region whose Hopsworks served the answer.
	Region region.ID `json:"-"`
}

// FeatureGroups returns the view's feature groups in join order (the
// query's left group, then each join's), the same group once. Nil when the
// view came without its query.
func (fv *FeatureView) FeatureGroups() []*FeatureGroup {
	var out []*FeatureGroup
	seen := map[int64]bool{}
	var walk func(q *Query)
	walk = func(q *Query) {
		if q == nil {
			return
		}
		if g := q.LeftFeatureGroup; g != nil && !seen[g.ID] {
			seen[g.ID] = true
			out = append(out, g)
		}
		for _, j := range q.Joins {
			walk(j.Query)
		}
	}
	walk(fv.Query)
	return out
}

// EmbeddingGroups returns the view's embedding feature groups, as hsfs
// finds them (feature_view.py: the query's feature groups with an
// embedding_index), plus any a feature's own group marks as one.
func (fv *FeatureView) EmbeddingGroups() []*FeatureGroup {
	var out []*FeatureGroup
	seen := map[int64]bool{}
	for _, g := range fv.FeatureGroups() {
		if g.IsEmbedding() {
			seen[g.ID] = true
			out = append(out, g)
		}
	}
	for _, f := range fv.Features {
		if g := f.FeatureGroup; g.IsEmbedding() && !seen[g.ID] {
			seen[g.ID] = true
			out = append(out, g)
		}
	}
	return out
}

// Feature is one feature of a feature view (TrainingDatasetFeatureDTO).
// Name is the name in the view (with the join prefix, if any);
// FeatureGroupFeatureName is the column in the feature group's table.
// The vector order is the view's features sorted by Index, without labels
// and helper columns (hsfs vector_server.py).
type Feature struct {
	Name                    string        `json:"name"`
	Type                    string        `json:"type,omitempty"`
	Index                   int           `json:"index"`
	Label                   bool          `json:"label"`
	InferenceHelperColumn   bool          `json:"inferenceHelperColumn"`
	TrainingHelperColumn    bool          `json:"trainingHelperColumn"`
	FeatureGroupFeatureName string        `json:"featureGroupFeatureName,omitempty"`
	FeatureGroup            *FeatureGroup `json:"featuregroup,omitempty"`
	// TransformationFunction makes this an on-demand feature, computed at
	// request time rather than read (hsfs training_dataset_feature.py).
	TransformationFunction *TransformationFunction `json:"transformationFunction,omitempty"`
}

// IsComplex reports whether the feature has a complex type (array, map,
// struct or union), stored in the online store as Avro binary of its
// field's schema (see Client.AvroSchema). It is hsfs's
// TrainingDatasetFeature.is_complex: a case-insensitive prefix match.
func (f Feature) IsComplex() bool { return isComplexType(f.Type) }

func isComplexType(t string) bool {
	u := strings.ToUpper(strings.TrimSpace(t))
	for _, p := range []string{"MAP", "ARRAY", "STRUCT", "UNIONTYPE"} {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

// FeatureGroup is a feature group as embedded in a feature view, a serving
// key or a query (FeaturegroupDTO). Type is the DTO discriminator, e.g.
// "cachedFeaturegroupDTO" or "streamFeatureGroupDTO".
type FeatureGroup struct {
	Type           string                `json:"type,omitempty"`
	ID             int64                 `json:"id"`
	Name           string                `json:"name,omitempty"`
	Version        int                   `json:"version,omitempty"`
	FeaturestoreID int64                 `json:"featurestoreId,omitempty"`
	OnlineEnabled  bool                  `json:"onlineEnabled"`
	Features       []FeatureGroupFeature `json:"features,omitempty"`
	// EmbeddingIndex is set for an embedding feature group, whose vectors
	// hsfs reads from the vector database rather than the online store
	// (FeaturegroupDTO.embeddingIndex; hsfs feature_view.py).
	EmbeddingIndex *EmbeddingIndex `json:"embeddingIndex,omitempty"`
}

// IsEmbedding reports whether g is an embedding feature group.
func (g *FeatureGroup) IsEmbedding() bool { return g != nil && g.EmbeddingIndex != nil }

// EmbeddingIndex is the vector-database index of an embedding feature
// group (EmbeddingDTO).
type EmbeddingIndex struct {
	IndexName string             `json:"indexName,omitempty"`
	ColPrefix string             `json:"colPrefix,omitempty"`
	Features  []EmbeddingFeature `json:"features,omitempty"`
}

// EmbeddingFeature is one embedding column (EmbeddingFeatureDTO).
type EmbeddingFeature struct {
	Name                   string `json:"name"`
	Dimension              int    `json:"dimension,omitempty"`
	SimilarityFunctionType string `json:"similarityFunctionType,omitempty"`
}

// FeatureGroupFeature is a column of a feature group (FeatureGroupFeatureDTO).
type FeatureGroupFeature struct {
	Name           string `json:"name"`
	Type           string `json:"type,omitempty"`
	OnlineType     string `json:"onlineType,omitempty"`
	Primary        bool   `json:"primary"`
	Partition      bool   `json:"partition,omitempty"`
	FeatureGroupID int64  `json:"featureGroupId,omitempty"`
}

// IsComplex reports whether the column has a complex type; see
// Feature.IsComplex.
func (f FeatureGroupFeature) IsComplex() bool { return isComplexType(f.Type) }

// ServingKey is a key an entry may give to look a vector up (ServingKeyDTO).
// hsfs (python/hsfs/serving_key.py, vector_server.py) accepts
// Prefix+FeatureName for a required key and JoinOn otherwise. A key whose
// "required" is absent is required, as in hsfs.
type ServingKey struct {
	FeatureName  string        `json:"featureName"`
	FeatureGroup *FeatureGroup `json:"featureGroup,omitempty"`
	Prefix       string        `json:"prefix,omitempty"`
	Required     bool          `json:"required"`
	JoinOn       string        `json:"joinOn,omitempty"`
	JoinIndex    int           `json:"joinIndex"`
}

// Query is the part of a feature view's query (QueryDTO) that Tandem reads
// and writes: the left feature group, its selected features and the joins.
type Query struct {
	LeftFeatureGroup *FeatureGroup         `json:"leftFeatureGroup,omitempty"`
	LeftFeatures     []FeatureGroupFeature `json:"leftFeatures,omitempty"`
	FeatureStoreName string                `json:"featureStoreName,omitempty"`
	FeatureStoreID   int64                 `json:"featureStoreId,omitempty"`
	Joins            []Join                `json:"joins,omitempty"`
}

// Join is one join of a Query (JoinDTO).
type Join struct {
	Query   *Query                `json:"query,omitempty"`
	On      []FeatureGroupFeature `json:"on,omitempty"`
	LeftOn  []FeatureGroupFeature `json:"leftOn,omitempty"`
	RightOn []FeatureGroupFeature `json:"rightOn,omitempty"`
	Type    string                `json:"type,omitempty"`
	Prefix  string                `json:"prefix,omitempty"`
}

// PreparedStatement is one server-generated statement of a feature view
// (ServingPreparedStatementDTO, built by PreparedStatementBuilder.java): one
// per feature group that contributes a feature, alias `fg0`, database =
// project name in lower case, table = {fg}_{version}, each column selected
// as `fg0`.`col` AS `prefix+col`. Labels and helper columns are not
// selected (only the helper columns are, with inference_helper_columns).
//
// The single form ends in "WHERE `fg0`.`pk` = ?" (one ? per primary-key
// column, in Parameters order). The batch form ends in "WHERE `fg0`.`pk` IN
// ?" or "WHERE (`fg0`.`pk1`, `fg0`.`pk2`) IN ?": the caller expands that
// single ? into a bound tuple list. The batch form also selects the
// primary-key columns, under the join's prefix (`fg0`.`pk` AS
// `prefix+pk`), so rows can be matched back to entries. Index is the
// join's index in the view (ServingKey.JoinIndex).
type PreparedStatement struct {
	FeatureGroupID int64                        `json:"featureGroupId"`
	Index          int                          `json:"preparedStatementIndex"`
	Parameters     []PreparedStatementParameter `json:"preparedStatementParameters"`
	QueryOnline    string                       `json:"queryOnline"`
	Prefix         string                       `json:"prefix,omitempty"`

	// Region is the region whose Hopsworks served the answer.
	Region region.ID `json:"-"`
}

// PreparedStatementParameter names a bound parameter of a PreparedStatement:
// the feature group's primary-key column and its position, 1-based.
type PreparedStatementParameter struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
}

// BatchQuery is a feature view's offline query for a time range: the
// FsQueryDTO that PUT /project/{pid}/featurestores/query?hqs=true returns
// (fields read by hsfs python/hsfs/constructor/fs_query.py). HQSPayload
// and HQSPayloadSignature go unchanged to the query service of the SAME
// region: the payload as the Flight command, the signature as the
// hopsworks-signature header of DoGet (hsfs core/arrow_flight_client.py).
type BatchQuery struct {
	Query               string          `json:"query,omitempty"`
	QueryOnline         string          `json:"queryOnline,omitempty"`
	PitQuery            string          `json:"pitQuery,omitempty"`
	HQSPayload          string          `json:"hqsPayload"`
	HQSPayloadSignature string          `json:"hqsPayloadSignature,omitempty"`
	OnDemandFGs         json.RawMessage `json:"onDemandFeatureGroups,omitempty"`
	HudiCachedFGs       json.RawMessage `json:"hudiCachedFeatureGroups,omitempty"`

	// QueryDTO is the view's query as step one (GET .../query/batch)
	// returned it, sent back unchanged as the body of step two.
	QueryDTO json.RawMessage `json:"-"`
	// Region is the region whose Hopsworks served both steps; the payload
	// is signed for that region's query service.
	Region region.ID `json:"-"`
}

// AvroSchema is a feature group's Avro schema (SubjectDTO of the
// feature store's schema registry: id, subject, version, schema).
type AvroSchema struct {
	Subject string
	Version int
	// Schema is the record schema as the server sent it (JSON).
	Schema string

	fields map[string]json.RawMessage

	// Region is the region whose Hopsworks served the answer.
	Region region.ID
}

// Field returns the schema of one field (its "type"), as hsfs's
// _get_feature_avro_schema does, and false when the record has no such
// field.
func (s *AvroSchema) Field(name string) (json.RawMessage, bool) {
	f, ok := s.fields[name]
	return append(json.RawMessage(nil), f...), ok
}

// FeatureViewSpec describes a feature view to create. It is sent as the
// FeatureViewDTO body of POST .../featureview.
type FeatureViewSpec struct {
	Name        string    `json:"name"`
	Version     int       `json:"version"`
	Description string    `json:"description,omitempty"`
	Query       *Query    `json:"query"`
	Features    []Feature `json:"features,omitempty"`
}

// preparedStatementList is the envelope of the prepared-statement endpoint.
type preparedStatementList struct {
	Items []PreparedStatement `json:"items"`
	Count int                 `json:"count"`
}

// errorBody is Hopsworks' RESTApiJsonResponse for errors.
type errorBody struct {
	ErrorCode *int   `json:"errorCode"`
	ErrorMsg  string `json:"errorMsg"`
	UsrMsg    string `json:"usrMsg"`
}

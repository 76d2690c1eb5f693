package metadata

import (
	"encoding/json"

	"github.com/tandemfs/tandem/region"
)

// The types below mirror the JSON that Hopsworks REST returns (the Java DTOs
// serialise in camelCase: ProjectDTO, FeaturestoreDTO, FeatureViewDTO,
// TrainingDatasetFeatureDTO, ServingKeyDTO, ServingPreparedStatementDTO,
// FsQueryDTO). Only the fields Tandem uses are decoded; unknown fields are
// ignored, so newer servers keep working. Fields tagged `json:"-"` are ours.
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

	// Region is the region whose Hopsworks served the answer.
	Region region.ID `json:"-"`
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

// ServingKey is a key an entry may give to look a vector up (ServingKeyDTO).
// The entry key is Prefix+FeatureName when Required, otherwise JoinOn; the
// plain FeatureName is accepted too (DESIGN.md §3).
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
// (ServingPreparedStatementDTO): one per feature group, alias `fg0`,
// database = project name in lower case, table = {fg}_{version}.
//
// The single form ends in "WHERE `fg0`.`pk` = ?" (one ? per primary-key
// column, in Parameters order). The batch form ends in "WHERE `fg0`.`pk` IN
// ?" or "WHERE (`fg0`.`pk1`, `fg0`.`pk2`) IN ?": the caller expands that
// single ? into a bound tuple list. The batch form selects the primary-key
// columns too, so rows can be matched back to entries.
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
// the feature group's primary-key column and its position (1-based in the
// Hopsworks fixtures).
type PreparedStatementParameter struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
}

// BatchQuery is a feature view's offline query for a time range (FsQueryDTO).
// HQSPayload and HQSPayloadSignature go to the query service of the SAME
// region unchanged: the command descriptor and the hopsworks-signature header
// (DESIGN.md §3 "Query service").
type BatchQuery struct {
	Query               string          `json:"query,omitempty"`
	QueryOnline         string          `json:"queryOnline,omitempty"`
	PitQuery            string          `json:"pitQuery,omitempty"`
	HQSPayload          string          `json:"hqsPayload"`
	HQSPayloadSignature string          `json:"hqsPayloadSignature"`
	OnDemandFGs         json.RawMessage `json:"onDemandFeatureGroups,omitempty"`
	HudiCachedFGs       json.RawMessage `json:"hudiCachedFeatureGroups,omitempty"`

	// Region is the region whose Hopsworks served the answer; the payload is
	// signed for that region's query service.
	Region region.ID `json:"-"`
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

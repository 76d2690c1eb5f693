package hopsworkstest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tandemfs/tandem/region"
)

// The JSON shapes below follow the Hopsworks Java DTOs as they go over the
// wire (camelCase field names of the getters, Jackson). Each names its
// class in logicalclocks/hopsworks; dto_test.go checks the field names and
// JSON types against those classes. They are written independently of
// package metadata on purpose, so the tests check the client against the
// shapes, not against itself.

// projectJSON: hopsworks-common/src/main/java/io/hops/hopsworks/common/project/ProjectDTO.java.
type projectJSON struct {
	ProjectID   int64    `json:"projectId"`
	ProjectName string   `json:"projectName"`
	Owner       string   `json:"owner"`
	Description string   `json:"description"`
	Created     string   `json:"created"`
	Services    []string `json:"services"`
}

// featureStoreJSON: hopsworks-common/src/main/java/io/hops/hopsworks/common/featurestore/FeaturestoreDTO.java.
type featureStoreJSON struct {
	FeaturestoreID          int64  `json:"featurestoreId"`
	FeaturestoreName        string `json:"featurestoreName"`
	Created                 string `json:"created"`
	ProjectName             string `json:"projectName"`
	ProjectID               int64  `json:"projectId"`
	OnlineFeaturestoreName  string `json:"onlineFeaturestoreName"`
	OfflineFeaturestoreName string `json:"offlineFeaturestoreName"`
	OnlineEnabled           bool   `json:"onlineEnabled"`
	NumFeatureGroups        int64  `json:"numFeatureGroups"`
	NumTrainingDatasets     int64  `json:"numTrainingDatasets"`
	NumStorageConnectors    int64  `json:"numStorageConnectors"`
	NumFeatureViews         int64  `json:"numFeatureViews"`
}

// statementListJSON: the RestDTO envelope of
// hopsworks-common/src/main/java/io/hops/hopsworks/common/featurestore/query/ServingPreparedStatementDTO.java.
type statementListJSON struct {
	Href  string      `json:"href"`
	Items []Statement `json:"items"`
	Count int         `json:"count"`
}

// fsQueryJSON: hopsworks-common/.../featurestore/query/FsQueryDTO.java, plus
// hqsPayload and hqsPayloadSignature as hsfs reads them
// (python/hsfs/constructor/fs_query.py in logicalclocks/hopsworks-api).
type fsQueryJSON struct {
	Query                   string `json:"query"`
	QueryOnline             string `json:"queryOnline,omitempty"`
	PitQuery                string `json:"pitQuery,omitempty"`
	HudiCachedFeatureGroups []any  `json:"hudiCachedFeatureGroups"`
	OnDemandFeatureGroups   []any  `json:"onDemandFeatureGroups"`
	HQSPayload              string `json:"hqsPayload,omitempty"`
	HQSPayloadSignature     string `json:"hqsPayloadSignature,omitempty"`
}

// optionJSON: hopsworks-common/.../featurestore/OptionDTO.java.
type optionJSON struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// jdbcConnectorJSON: hopsworks-common/.../featurestore/storageconnectors/jdbc/FeaturestoreJdbcConnectorDTO.java
// and its parent FeaturestoreStorageConnectorDTO.java (type discriminator
// "featurestoreJdbcConnectorDTO").
type jdbcConnectorJSON struct {
	Type                 string       `json:"type"`
	ID                   int64        `json:"id"`
	Description          string       `json:"description"`
	Name                 string       `json:"name"`
	FeaturestoreID       int64        `json:"featurestoreId"`
	StorageConnectorType string       `json:"storageConnectorType"`
	ConnectionString     string       `json:"connectionString"`
	Arguments            []optionJSON `json:"arguments"`
	DriverPath           *string      `json:"driverPath"`
}

// subjectJSON: hopsworks-common/src/main/java/io/hops/hopsworks/common/dao/kafka/schemas/SubjectDTO.java.
type subjectJSON struct {
	ID      int    `json:"id"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
	Schema  string `json:"schema"`
}

// embeddingJSON: hopsworks-common/.../featurestore/featuregroup/EmbeddingDTO.java
// and EmbeddingFeatureDTO.java.
type embeddingJSON struct {
	IndexName string                 `json:"indexName"`
	ColPrefix string                 `json:"colPrefix"`
	Features  []embeddingFeatureJSON `json:"features"`
}

type embeddingFeatureJSON struct {
	Name                   string `json:"name"`
	SimilarityFunctionType string `json:"similarityFunctionType"`
	Dimension              int    `json:"dimension"`
}

// fgFeatureJSON: hopsworks-common/.../featurestore/feature/FeatureGroupFeatureDTO.java.
type fgFeatureJSON struct {
	Name              string `json:"name"`
	Type              string `json:"type"`
	OnlineType        string `json:"onlineType"`
	Primary           bool   `json:"primary"`
	Partition         bool   `json:"partition"`
	HudiPrecombineKey bool   `json:"hudiPrecombineKey"`
	FeatureGroupID    int64  `json:"featureGroupId"`
	DefaultValue      any    `json:"defaultValue"`
}

// fgJSON: hopsworks-common/.../featurestore/featuregroup/FeaturegroupDTO.java
// (type: the Jackson subtype name, e.g. cachedFeaturegroupDTO).
type fgJSON struct {
	Type             string          `json:"type"`
	ID               int64           `json:"id"`
	Name             string          `json:"name"`
	Version          int             `json:"version"`
	FeaturestoreID   int64           `json:"featurestoreId"`
	FeaturestoreName string          `json:"featurestoreName"`
	OnlineEnabled    bool            `json:"onlineEnabled"`
	Deprecated       bool            `json:"deprecated"`
	EventTime        *string         `json:"eventTime"`
	Features         []fgFeatureJSON `json:"features,omitempty"`
	EmbeddingIndex   *embeddingJSON  `json:"embeddingIndex,omitempty"`
}

// viewFeatureJSON: hopsworks-common/.../featurestore/feature/TrainingDatasetFeatureDTO.java.
type viewFeatureJSON struct {
	Name                    string  `json:"name"`
	Type                    string  `json:"type"`
	Index                   int     `json:"index"`
	Label                   bool    `json:"label"`
	InferenceHelperColumn   bool    `json:"inferenceHelperColumn"`
	TrainingHelperColumn    bool    `json:"trainingHelperColumn"`
	FeatureGroupFeatureName string  `json:"featureGroupFeatureName"`
	FeatureGroup            *fgJSON `json:"featuregroup"`
	TransformationFunction  any     `json:"transformationFunction"`
}

// servingKeyJSON: hopsworks-common/.../featurestore/featureview/ServingKeyDTO.java.
type servingKeyJSON struct {
	FeatureName  string  `json:"featureName"`
	FeatureGroup *fgJSON `json:"featureGroup"`
	Prefix       string  `json:"prefix,omitempty"`
	Required     bool    `json:"required"`
	JoinOn       string  `json:"joinOn,omitempty"`
	JoinIndex    int     `json:"joinIndex"`
}

type nameJSON struct {
	Name string `json:"name"`
}

// joinJSON: hopsworks-common/.../featurestore/query/join/JoinDTO.java.
type joinJSON struct {
	Query   *queryJSON      `json:"query"`
	LeftOn  []fgFeatureJSON `json:"leftOn,omitempty"`
	RightOn []fgFeatureJSON `json:"rightOn,omitempty"`
	Type    string          `json:"type"`
	Prefix  string          `json:"prefix,omitempty"`
}

// queryJSON: hopsworks-common/.../featurestore/query/QueryDTO.java.
type queryJSON struct {
	FeatureStoreID            int64           `json:"featureStoreId"`
	FeatureStoreName          string          `json:"featureStoreName"`
	LeftFeatureGroup          *fgJSON         `json:"leftFeatureGroup"`
	LeftFeatures              []fgFeatureJSON `json:"leftFeatures"`
	LeftFeatureGroupStartTime *int64          `json:"leftFeatureGroupStartTime"`
	LeftFeatureGroupEndTime   *int64          `json:"leftFeatureGroupEndTime"`
	Joins                     []joinJSON      `json:"joins"`
	Filter                    any             `json:"filter"`
	HiveEngine                bool            `json:"hiveEngine"`
}

// viewJSON: hopsworks-common/.../featurestore/featureview/FeatureViewDTO.java
// and its parent FeaturestoreEntityDTO.java.
type viewJSON struct {
	Type             string            `json:"type"`
	ID               int64             `json:"id"`
	Name             string            `json:"name"`
	Version          int               `json:"version"`
	Description      string            `json:"description"`
	FeaturestoreID   int64             `json:"featurestoreId"`
	FeaturestoreName string            `json:"featurestoreName"`
	Created          string            `json:"created"`
	Query            *queryJSON        `json:"query,omitempty"`
	Features         []viewFeatureJSON `json:"features,omitempty"`
	ServingKeys      []servingKeyJSON  `json:"servingKeys"`
}

func (s *Store) fsName() string { return strings.ToLower(s.project) + "_featurestore" }

func (s *Store) fgJSON(fg FeatureGroupDef, withFeatures bool) *fgJSON {
	out := &fgJSON{
		Type: "cachedFeaturegroupDTO", ID: fg.ID, Name: fg.Name, Version: fg.Version,
		FeaturestoreID: s.fsid, FeaturestoreName: s.fsName(), OnlineEnabled: !fg.OfflineOnly,
	}
	if e := fg.Embedding; e != nil {
		out.EmbeddingIndex = &embeddingJSON{IndexName: e.IndexName, ColPrefix: e.ColPrefix, Features: []embeddingFeatureJSON{}}
		for _, f := range e.Features {
			sim := f.Similarity
			if sim == "" {
				sim = "L2"
			}
			out.EmbeddingIndex.Features = append(out.EmbeddingIndex.Features, embeddingFeatureJSON{Name: f.Name, Dimension: f.Dimension, SimilarityFunctionType: sim})
		}
	}
	if withFeatures {
		for _, f := range fg.Features {
			out.Features = append(out.Features, fgFeatureJSON{
				Name: f.Name, Type: f.Type, OnlineType: onlineType(f), Primary: f.Primary,
				HudiPrecombineKey: f.Primary, FeatureGroupID: fg.ID,
			})
		}
	}
	return out
}

// colJSON is a column of fg as a FeatureGroupFeatureDTO; a name fg does
// not have gets only its name and group.
func (s *Store) colJSON(fg FeatureGroupDef, name string) fgFeatureJSON {
	c, _ := fg.column(name)
	out := fgFeatureJSON{Name: name, FeatureGroupID: fg.ID}
	if c.Name != "" {
		out.Type, out.OnlineType, out.Primary, out.HudiPrecombineKey = c.Type, onlineType(c), c.Primary, c.Primary
	}
	return out
}

func (s *Store) viewJSON(d FeatureViewDef, id int64, expandFeatures, expandQuery bool) viewJSON {
	v := viewJSON{
		Type: "featureViewDTO", ID: id, Name: d.Name, Version: d.Version, Description: d.Description,
		FeaturestoreID: s.fsid, FeaturestoreName: s.fsName(), Created: "2024-01-16T10:00:00Z",
	}
	feats := d.features()
	if expandQuery {
		q := &queryJSON{
			LeftFeatureGroup: s.fgJSON(d.Joins[0].FeatureGroup, true),
			FeatureStoreName: s.fsName(), FeatureStoreID: s.fsid, Joins: []joinJSON{},
		}
		leftOf := func(ji int) []fgFeatureJSON {
			var out []fgFeatureJSON
			for _, f := range feats {
				if f.Join == ji {
					out = append(out, s.colJSON(d.Joins[ji].FeatureGroup, f.FeatureGroupFeatureName))
				}
			}
			return out
		}
		q.LeftFeatures = leftOf(0)
		q.Joins = s.joinsJSON(d, leftOf)
		v.Query = q
	}
	if expandFeatures {
		for i, f := range feats {
			v.Features = append(v.Features, viewFeatureJSON{
				Name: f.Name, Type: f.Type, Index: i, Label: f.Label,
				InferenceHelperColumn: f.InferenceHelperColumn, TrainingHelperColumn: f.TrainingHelperColumn,
				FeatureGroupFeatureName: f.FeatureGroupFeatureName,
				FeatureGroup:            s.fgJSON(d.Joins[f.Join].FeatureGroup, true),
			})
		}
	}
	v.ServingKeys = []servingKeyJSON{}
	for _, k := range d.servingKeys() {
		fg := s.fgJSON(d.Joins[k.Join].FeatureGroup, false)
		v.ServingKeys = append(v.ServingKeys, servingKeyJSON{
			FeatureName: k.FeatureName, FeatureGroup: fg, Prefix: k.Prefix,
			Required: k.Required, JoinOn: k.JoinOn, JoinIndex: k.Join,
		})
	}
	return v
}

// batchOptions are the query parameters of GET .../query/batch that
// change which features the query selects (QueryResource.java).
type batchOptions struct {
	withLabel, inferenceHelpers, trainingHelpers, hiveEngine bool
}

// batchQueryJSON is the view's batch query as QueryResource returns it: the
// view's query with the time bounds on the left group and, per group, the
// features the options select.
func (s *Store) batchQueryJSON(d FeatureViewDef, start, end *int64, o batchOptions) queryJSON {
	feats := d.features()
	selected := func(ji int) []fgFeatureJSON {
		out := []fgFeatureJSON{}
		for _, f := range feats {
			switch {
			case f.Join != ji:
			case f.Label && !o.withLabel:
			case f.InferenceHelperColumn && !o.inferenceHelpers:
			case f.TrainingHelperColumn && !o.trainingHelpers:
			default:
				out = append(out, s.colJSON(d.Joins[ji].FeatureGroup, f.FeatureGroupFeatureName))
			}
		}
		return out
	}
	q := queryJSON{
		FeatureStoreID: s.fsid, FeatureStoreName: s.fsName(),
		LeftFeatureGroup: s.fgJSON(d.Joins[0].FeatureGroup, true), LeftFeatures: selected(0),
		LeftFeatureGroupStartTime: start, LeftFeatureGroupEndTime: end,
		Joins: []joinJSON{}, HiveEngine: o.hiveEngine,
	}
	q.Joins = s.joinsJSON(d, selected)
	return q
}

// viewByQuery finds the view, as region r sees it, whose query has q's
// feature groups and prefixes, the first by name and version when several
// do.
func (s *Store) viewByQuery(r region.ID, q *queryJSON) (FeatureViewDef, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]viewKey, 0, len(s.views))
	for k := range s.views {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b viewKey) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return a.version - b.version
	})
	for _, k := range keys {
		ev, ok := s.visible(r, k)
		if !ok || ev.def == nil || s.invalid[k] {
			continue
		}
		d := ev.def
		if d.Joins[0].FeatureGroup.ID != q.LeftFeatureGroup.ID || len(d.Joins)-1 != len(q.Joins) {
			continue
		}
		match := true
		for i, j := range q.Joins {
			dj := d.Joins[i+1]
			if j.Query == nil || j.Query.LeftFeatureGroup == nil || j.Query.LeftFeatureGroup.ID != dj.FeatureGroup.ID || j.Prefix != dj.Prefix {
				match = false
				break
			}
		}
		if match {
			return d.clone(), true
		}
	}
	return FeatureViewDef{}, false
}

// offlineSQL is an offline SELECT of q's features, for FsQueryDTO.query.
func (s *Store) offlineSQL(d FeatureViewDef, q *queryJSON) string {
	var cols []string
	for _, f := range q.LeftFeatures {
		cols = append(cols, fmt.Sprintf("`fg0`.`%s` `%s`", f.Name, f.Name))
	}
	from := fmt.Sprintf("`%s`.`%s` `fg0`", s.fsName(), d.Joins[0].FeatureGroup.Table())
	for i, j := range q.Joins {
		alias := fmt.Sprintf("fg%d", i+1)
		var on []string
		for k := range j.LeftOn {
			if k < len(j.RightOn) {
				on = append(on, fmt.Sprintf("`fg0`.`%s` = `%s`.`%s`", j.LeftOn[k].Name, alias, j.RightOn[k].Name))
			}
		}
		if j.Query != nil {
			for _, f := range j.Query.LeftFeatures {
				cols = append(cols, fmt.Sprintf("`%s`.`%s` `%s%s`", alias, f.Name, j.Prefix, f.Name))
			}
		}
		from += fmt.Sprintf("\nINNER JOIN `%s`.`%s` `%s` ON %s", s.fsName(), d.Joins[i+1].FeatureGroup.Table(), alias, strings.Join(on, " AND "))
	}
	return "SELECT " + strings.Join(cols, ", ") + "\nFROM " + from
}

// createBody is the part of a FeatureViewDTO the fake reads on create.
type createBody struct {
	Name        string `json:"name"`
	Version     int    `json:"version"`
	Description string `json:"description"`
	Query       *struct {
		LeftFeatureGroup *struct {
			ID int64 `json:"id"`
		} `json:"leftFeatureGroup"`
		LeftFeatures []nameJSON `json:"leftFeatures"`
		Joins        []struct {
			Query *struct {
				LeftFeatureGroup *struct {
					ID int64 `json:"id"`
				} `json:"leftFeatureGroup"`
				LeftFeatures []nameJSON `json:"leftFeatures"`
			} `json:"query"`
			LeftOn []nameJSON `json:"leftOn"`
			Prefix string     `json:"prefix"`
		} `json:"joins"`
	} `json:"query"`
	Features []struct {
		Name                    string `json:"name"`
		Label                   bool   `json:"label"`
		InferenceHelperColumn   bool   `json:"inferenceHelperColumn"`
		TrainingHelperColumn    bool   `json:"trainingHelperColumn"`
		FeatureGroupFeatureName string `json:"featureGroupFeatureName"`
		FeatureGroup            *struct {
			ID int64 `json:"id"`
		} `json:"featuregroup"`
	} `json:"features"`
}

// toDef turns a create body into a definition, resolving feature groups by
// id in the store.
func (s *Store) toDef(b createBody) (FeatureViewDef, string) {
	if b.Name == "" {
		return FeatureViewDef{}, "feature view name is missing"
	}
	if b.Query == nil || b.Query.LeftFeatureGroup == nil {
		return FeatureViewDef{}, "query with a leftFeatureGroup is required"
	}
	d := FeatureViewDef{Name: b.Name, Version: b.Version, Description: b.Description}
	fg, ok := s.featureGroup(b.Query.LeftFeatureGroup.ID)
	if !ok {
		return FeatureViewDef{}, "feature group not found"
	}
	d.Joins = append(d.Joins, JoinDef{FeatureGroup: fg})
	var selected [][]nameJSON
	selected = append(selected, b.Query.LeftFeatures)
	for _, j := range b.Query.Joins {
		if j.Query == nil || j.Query.LeftFeatureGroup == nil {
			return FeatureViewDef{}, "join without a query"
		}
		jfg, ok := s.featureGroup(j.Query.LeftFeatureGroup.ID)
		if !ok {
			return FeatureViewDef{}, "feature group not found"
		}
		jd := JoinDef{FeatureGroup: jfg, Prefix: j.Prefix}
		for _, on := range j.LeftOn {
			jd.On = append(jd.On, on.Name)
		}
		d.Joins = append(d.Joins, jd)
		selected = append(selected, j.Query.LeftFeatures)
	}
	joinOf := func(id int64) int {
		for i, j := range d.Joins {
			if j.FeatureGroup.ID == id {
				return i
			}
		}
		return -1
	}
	if len(b.Features) > 0 {
		for _, f := range b.Features {
			ji := 0
			if f.FeatureGroup != nil {
				ji = joinOf(f.FeatureGroup.ID)
			}
			if ji < 0 {
				return FeatureViewDef{}, "feature " + f.Name + " names a feature group not in the query"
			}
			col := f.FeatureGroupFeatureName
			if col == "" {
				col = strings.TrimPrefix(f.Name, d.Joins[ji].Prefix)
			}
			d.Features = append(d.Features, ViewFeatureDef{
				Name: f.Name, Join: ji, FeatureGroupFeatureName: col, Label: f.Label,
				InferenceHelperColumn: f.InferenceHelperColumn, TrainingHelperColumn: f.TrainingHelperColumn,
			})
		}
	} else {
		for ji, names := range selected {
			for _, n := range names {
				d.Features = append(d.Features, ViewFeatureDef{Name: d.Joins[ji].Prefix + n.Name, Join: ji, FeatureGroupFeatureName: n.Name})
			}
		}
		if len(d.Features) == 0 {
			d.Features = nil
		}
	}
	return d, ""
}

// joinsJSON is the joins of d's query as the server's QueryDTO nests them
// (JoinDTO: an INNER join of a sub-query on the first group's keys);
// features(ji) gives the features join ji selects.
func (s *Store) joinsJSON(d FeatureViewDef, features func(ji int) []fgFeatureJSON) []joinJSON {
	joins := []joinJSON{}
	for ji := 1; ji < len(d.Joins); ji++ {
		j := d.Joins[ji]
		jj := joinJSON{
			Query: &queryJSON{
				FeatureStoreID: s.fsid, FeatureStoreName: s.fsName(),
				LeftFeatureGroup: s.fgJSON(j.FeatureGroup, true), LeftFeatures: features(ji), Joins: []joinJSON{},
			},
			Type: "INNER", Prefix: j.Prefix,
		}
		for i, pk := range j.FeatureGroup.pks() {
			on := pk
			if i < len(j.On) {
				on = j.On[i]
			}
			jj.LeftOn = append(jj.LeftOn, s.colJSON(d.Joins[0].FeatureGroup, on))
			jj.RightOn = append(jj.RightOn, s.colJSON(j.FeatureGroup, pk))
		}
		joins = append(joins, jj)
	}
	return joins
}

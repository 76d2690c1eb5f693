package hopsworkstest

import (
	"strings"
)

// The JSON shapes below follow the Hopsworks Java DTOs as they go over the
// wire (camelCase): FeatureViewDTO, TrainingDatasetFeatureDTO,
// ServingKeyDTO, FeaturegroupDTO, FeatureGroupFeatureDTO, QueryDTO, JoinDTO.
// They are written independently of package metadata on purpose, so the
// tests check the client against the shapes, not against itself.

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

type fgJSON struct {
	Type             string          `json:"type"`
	ID               int64           `json:"id"`
	Name             string          `json:"name"`
	Version          int             `json:"version"`
	FeaturestoreID   int64           `json:"featurestoreId"`
	FeaturestoreName string          `json:"featurestoreName"`
	OnlineEnabled    bool            `json:"onlineEnabled"`
	Deprecated       bool            `json:"deprecated"`
	Features         []fgFeatureJSON `json:"features,omitempty"`
}

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

type joinJSON struct {
	Query   *queryJSON `json:"query"`
	LeftOn  []nameJSON `json:"leftOn,omitempty"`
	RightOn []nameJSON `json:"rightOn,omitempty"`
	Type    string     `json:"type"`
	Prefix  string     `json:"prefix,omitempty"`
}

type queryJSON struct {
	LeftFeatureGroup *fgJSON    `json:"leftFeatureGroup"`
	LeftFeatures     []nameJSON `json:"leftFeatures"`
	FeatureStoreName string     `json:"featureStoreName"`
	FeatureStoreID   int64      `json:"featureStoreId"`
	Joins            []joinJSON `json:"joins"`
	Filter           any        `json:"filter"`
}

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
	Keywords         []string          `json:"keywords"`
}

func (s *Store) fsName() string { return strings.ToLower(s.project) + "_featurestore" }

func (s *Store) fgJSON(fg FeatureGroupDef, withFeatures bool) *fgJSON {
	out := &fgJSON{
		Type: "cachedFeaturegroupDTO", ID: fg.ID, Name: fg.Name, Version: fg.Version,
		FeaturestoreID: s.fsid, FeaturestoreName: s.fsName(), OnlineEnabled: !fg.OfflineOnly,
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

func (s *Store) viewJSON(d FeatureViewDef, id int64, expandFeatures, expandQuery bool) viewJSON {
	v := viewJSON{
		Type: "featureViewDTO", ID: id, Name: d.Name, Version: d.Version, Description: d.Description,
		FeaturestoreID: s.fsid, FeaturestoreName: s.fsName(), Created: "2024-01-16T10:00:00Z",
		Keywords: []string{},
	}
	feats := d.features()
	if expandQuery {
		q := &queryJSON{
			LeftFeatureGroup: s.fgJSON(d.Joins[0].FeatureGroup, true),
			FeatureStoreName: s.fsName(), FeatureStoreID: s.fsid, Joins: []joinJSON{},
		}
		leftOf := func(ji int) []nameJSON {
			var out []nameJSON
			for _, f := range feats {
				if f.Join == ji {
					out = append(out, nameJSON{f.FeatureGroupFeatureName})
				}
			}
			return out
		}
		q.LeftFeatures = leftOf(0)
		for ji := 1; ji < len(d.Joins); ji++ {
			j := d.Joins[ji]
			jj := joinJSON{
				Query: &queryJSON{
					LeftFeatureGroup: s.fgJSON(j.FeatureGroup, true), LeftFeatures: leftOf(ji),
					FeatureStoreName: s.fsName(), FeatureStoreID: s.fsid, Joins: []joinJSON{},
				},
				Type: "INNER", Prefix: j.Prefix,
			}
			for i, pk := range j.FeatureGroup.pks() {
				on := pk
				if i < len(j.On) {
					on = j.On[i]
				}
				jj.LeftOn = append(jj.LeftOn, nameJSON{on})
				jj.RightOn = append(jj.RightOn, nameJSON{pk})
			}
			q.Joins = append(q.Joins, jj)
		}
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

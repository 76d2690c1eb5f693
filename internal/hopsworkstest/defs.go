package hopsworkstest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// FeatureGroupDef is a feature group. Its online table is
// `{lower(project)}`.`{Name}_{Version}`.
type FeatureGroupDef struct {
	ID      int64
	Name    string
	Version int
	// OfflineOnly marks a group that is not online-enabled: the server
	// refuses prepared statements for views that read it.
	OfflineOnly bool
	Features    []FeatureDef
	// Embedding makes it an embedding feature group
	// (FeaturegroupDTO.embeddingIndex); nil for a plain one.
	Embedding *EmbeddingDef
}

// EmbeddingDef is an embedding group's vector index (EmbeddingDTO).
type EmbeddingDef struct {
	IndexName, ColPrefix string
	Features             []EmbeddingFeatureDef
}

// EmbeddingFeatureDef is one embedding column (EmbeddingFeatureDTO).
// Similarity defaults to "L2".
type EmbeddingFeatureDef struct {
	Name       string
	Dimension  int
	Similarity string
}

// FeatureDef is a column of a feature group. Type is the Hive type
// ("bigint", "string", "double", "array<int>", "struct<a:int,b:string>",
// "decimal(10,2)"...); OnlineType the MySQL one (defaults to a mapping of
// Type: complex types are stored as varbinary Avro).
type FeatureDef struct {
	Name       string
	Type       string
	OnlineType string
	Primary    bool
}

// JoinDef is one feature group of a view's query. Joins[0] is the left
// group; the others are joined to it.
type JoinDef struct {
	FeatureGroup FeatureGroupDef
	// Prefix is prepended to the names of this group's features in the view.
	Prefix string
	// On lists, for each primary key of this group in order, the feature of
	// the left group it joins on. Empty means the same names.
	On []string
}

// ViewFeatureDef is one feature of a view. Index is its position in
// FeatureViewDef.Features.
type ViewFeatureDef struct {
	// Name in the view. Default: the join's Prefix + FeatureGroupFeatureName.
	Name string
	// Join is the index in FeatureViewDef.Joins of the group it comes from.
	Join int
	// FeatureGroupFeatureName is the column in the group. Default: Name.
	FeatureGroupFeatureName string
	// Type defaults to the group column's type.
	Type                                               string
	Label, InferenceHelperColumn, TrainingHelperColumn bool
}

// ServingKeyDef is a serving key; see FeatureViewDef.ServingKeys.
type ServingKeyDef struct {
	FeatureName string
	Join        int
	Prefix      string
	Required    bool
	JoinOn      string
}

// FeatureViewDef is a feature view as a test defines it.
type FeatureViewDef struct {
	Name        string
	Version     int
	Description string
	Joins       []JoinDef
	// Features in view order. Nil means every column of every join, in
	// join order, prefixed.
	Features []ViewFeatureDef
	// ServingKeys; nil means they are derived as FeatureViewController
	// does: the left group's primary keys are required; a joined group's
	// primary key is served through the left feature it joins on and is
	// required only when that feature is not a left primary key.
	ServingKeys []ServingKeyDef
}

func (d FeatureViewDef) clone() FeatureViewDef {
	out := d
	out.Joins = make([]JoinDef, len(d.Joins))
	for i, j := range d.Joins {
		j.FeatureGroup.Features = slices.Clone(j.FeatureGroup.Features)
		j.On = slices.Clone(j.On)
		out.Joins[i] = j
	}
	out.Features = slices.Clone(d.Features)
	out.ServingKeys = slices.Clone(d.ServingKeys)
	return out
}

func (d FeatureViewDef) validate() error {
	if d.Name == "" || d.Version < 1 {
		return errors.New("feature view needs a name and a version >= 1")
	}
	if len(d.Joins) == 0 {
		return errors.New("feature view needs at least one feature group (Joins[0])")
	}
	for i, j := range d.Joins {
		fg := j.FeatureGroup
		if fg.ID == 0 || fg.Name == "" || fg.Version < 1 {
			return fmt.Errorf("join %d: feature group needs an id, a name and a version", i)
		}
		if len(fg.pks()) == 0 {
			return fmt.Errorf("join %d: feature group %s has no primary key", i, fg.Name)
		}
	}
	for i, f := range d.Features {
		if f.Join < 0 || f.Join >= len(d.Joins) {
			return fmt.Errorf("feature %d: join %d out of range", i, f.Join)
		}
		col := f.FeatureGroupFeatureName
		if col == "" {
			col = f.Name
		}
		if _, ok := d.Joins[f.Join].FeatureGroup.column(col); !ok {
			return fmt.Errorf("feature %d: group %s has no column %q", i, d.Joins[f.Join].FeatureGroup.Name, col)
		}
	}
	return nil
}

func (fg FeatureGroupDef) pks() []string {
	var out []string
	for _, f := range fg.Features {
		if f.Primary {
			out = append(out, f.Name)
		}
	}
	return out
}

func (fg FeatureGroupDef) column(name string) (FeatureDef, bool) {
	for _, f := range fg.Features {
		if f.Name == name {
			return f, true
		}
	}
	return FeatureDef{}, false
}

// Table is the online table of the group: {name}_{version}
// (FeaturegroupController.getTblName).
func (fg FeatureGroupDef) Table() string { return fmt.Sprintf("%s_%d", fg.Name, fg.Version) }

// features returns the view's features with defaults filled in.
func (d FeatureViewDef) features() []ViewFeatureDef {
	if d.Features == nil {
		var out []ViewFeatureDef
		for ji, j := range d.Joins {
			for _, c := range j.FeatureGroup.Features {
				out = append(out, ViewFeatureDef{Name: j.Prefix + c.Name, Join: ji, FeatureGroupFeatureName: c.Name, Type: c.Type})
			}
		}
		return out
	}
	out := slices.Clone(d.Features)
	for i := range out {
		f := &out[i]
		j := d.Joins[f.Join]
		if f.FeatureGroupFeatureName == "" {
			f.FeatureGroupFeatureName = f.Name
		}
		if f.Name == "" {
			f.Name = j.Prefix + f.FeatureGroupFeatureName
		}
		if f.Type == "" {
			c, _ := j.FeatureGroup.column(f.FeatureGroupFeatureName)
			f.Type = c.Type
		}
	}
	return out
}

// servingKeys returns the view's serving keys, derived when not given as
// FeatureViewController.getServingKeys does
// (hopsworks-common/.../featurestore/featureview/FeatureViewController.java):
// for each join in order, a key per join condition whose right feature is
// a primary key (required unless it joins on a left primary key), then the
// group's other primary keys (required), with a collision-checked prefix;
// last, a key of a group that only contributes labels is not required,
// unless another key joins on it.
func (d FeatureViewDef) servingKeys() []ServingKeyDef {
	if d.ServingKeys != nil {
		return d.ServingKeys
	}
	var out []ServingKeyDef
	taken := map[string]bool{}
	leftPKs := d.Joins[0].FeatureGroup.pks()
	for ji, j := range d.Joins {
		temp := map[string]bool{}
		pks := j.FeatureGroup.pks()
		if ji > 0 {
			for i, pk := range pks {
				on := pk
				if i < len(j.On) {
					on = j.On[i]
				}
				k := ServingKeyDef{FeatureName: pk, Join: ji, JoinOn: on, Required: !slices.Contains(leftPKs, on)}
				if k.Required {
					k.Prefix = prefixNoCollision(taken, pk, j.Prefix)
				} else {
					k.Prefix = j.Prefix
				}
				temp[j.Prefix+pk] = true
				out = append(out, k)
			}
		}
		for _, pk := range pks {
			if temp[j.Prefix+pk] {
				continue
			}
			out = append(out, ServingKeyDef{FeatureName: pk, Join: ji, Prefix: prefixNoCollision(taken, pk, j.Prefix), Required: true})
			temp[j.Prefix+pk] = true
		}
		for k := range temp {
			taken[k] = true
		}
	}
	feats := d.features()
	labelOnly := func(ji int) bool {
		n := 0
		for _, f := range feats {
			if f.Join == ji {
				if !f.Label {
					return false
				}
				n++
			}
		}
		return n > 0
	}
	for i, k := range out {
		if !labelOnly(k.Join) {
			continue
		}
		joined := false
		for _, o := range out {
			if o.JoinOn != "" && o.JoinOn == k.Prefix+k.FeatureName {
				joined = true
			}
		}
		if !joined {
			out[i].Required = false
		}
	}
	return out
}

// prefixNoCollision is getPrefixCheckCollision: the join's prefix, or
// "0_"+prefix, "1_"+prefix... when prefix+name is taken.
func prefixNoCollision(taken map[string]bool, name, prefix string) string {
	if !taken[prefix+name] {
		return prefix
	}
	for i := 0; ; i++ {
		p := fmt.Sprintf("%d_%s", i, prefix)
		if !taken[p+name] {
			return p
		}
	}
}

func onlineType(f FeatureDef) string {
	if f.OnlineType != "" {
		return f.OnlineType
	}
	t := strings.ToLower(strings.TrimSpace(f.Type))
	switch {
	case t == "string":
		return "varchar(100)"
	case t == "":
		return "bigint"
	case strings.HasPrefix(t, "array") || strings.HasPrefix(t, "struct") || strings.HasPrefix(t, "map"):
		return "varbinary(100)"
	}
	return t
}

// Statement is a generated prepared statement, in its JSON shape.
type Statement struct {
	FeatureGroupID int64            `json:"featureGroupId"`
	Index          int              `json:"preparedStatementIndex"`
	Parameters     []StatementParam `json:"preparedStatementParameters"`
	QueryOnline    string           `json:"queryOnline"`
	Prefix         string           `json:"prefix,omitempty"`
}

// StatementParam is a bound parameter of a Statement.
type StatementParam struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
}

// StatementOptions are the query parameters of the preparedstatement
// endpoint (PreparedStatementResource.java).
type StatementOptions struct {
	// Batch asks for the IN ? form.
	Batch bool
	// InferenceHelperColumns selects the inference helper columns instead
	// of the features.
	InferenceHelperColumns bool
}

// Statements is StatementsFor without inference helper columns.
func Statements(project string, d FeatureViewDef, batch bool) ([]Statement, error) {
	return StatementsFor(project, d, StatementOptions{Batch: batch})
}

// StatementsFor generates the view's prepared statements the way Hopsworks'
// PreparedStatementBuilder.java does, for each join in order:
//
//   - it selects the join's features sorted by index, without labels,
//     inference helper or training helper columns; with
//     InferenceHelperColumns only the inference helper columns, in the
//     view's order. Each is `fg0`.`col` AS `prefix+col`.
//   - the batch form adds the primary keys not already selected, under the
//     prefix alias, so rows can be matched back to entries; it ends in
//     "`fg0`.`pk` IN ?" or "(`fg0`.`pk1`, `fg0`.`pk2`) IN ?".
//   - the single form binds each primary key with "= ?", joined by AND.
//   - a join that selects nothing has no statement (in the single form, a
//     group that only gives labels or no helper columns; the batch form
//     always selects its keys).
//
// Alias `fg0`, database = project in lower case, table = {fg}_{version},
// parameters are the primary keys numbered from 1, preparedStatementIndex
// is the join's index.
func StatementsFor(project string, d FeatureViewDef, o StatementOptions) ([]Statement, error) {
	db := strings.ToLower(project)
	feats := d.features()
	var out []Statement
	for ji, j := range d.Joins {
		fg := j.FeatureGroup
		if fg.OfflineOnly {
			// The server's message, lower-cased for Go.
			return nil, fmt.Errorf("inference vector is only available for training datasets generated by online enabled feature groups: feature group `%s` is not online enabled", fg.Name)
		}
		var sel []string
		selected := map[string]bool{}
		for _, f := range feats {
			switch {
			case f.Join != ji:
				continue
			case o.InferenceHelperColumns && !f.InferenceHelperColumn:
				continue
			case !o.InferenceHelperColumns && (f.Label || f.InferenceHelperColumn || f.TrainingHelperColumn):
				continue
			}
			sel = append(sel, fmt.Sprintf("`fg0`.`%s` AS `%s`", f.FeatureGroupFeatureName, j.Prefix+f.FeatureGroupFeatureName))
			selected[f.FeatureGroupFeatureName] = true
		}
		pks := fg.pks()
		if o.Batch {
			for _, pk := range pks {
				if !selected[pk] {
					sel = append(sel, fmt.Sprintf("`fg0`.`%s` AS `%s`", pk, j.Prefix+pk))
				}
			}
		}
		if len(sel) == 0 {
			continue
		}
		var where string
		switch {
		case !o.Batch:
			conds := make([]string, len(pks))
			for i, pk := range pks {
				conds[i] = fmt.Sprintf("`fg0`.`%s` = ?", pk)
			}
			where = strings.Join(conds, " AND ")
		case len(pks) == 1:
			where = fmt.Sprintf("`fg0`.`%s` IN ?", pks[0])
		default:
			cols := make([]string, len(pks))
			for i, pk := range pks {
				cols[i] = fmt.Sprintf("`fg0`.`%s`", pk)
			}
			where = "(" + strings.Join(cols, ", ") + ") IN ?"
		}
		params := make([]StatementParam, len(pks))
		for i, pk := range pks {
			params[i] = StatementParam{Name: pk, Index: i + 1}
		}
		out = append(out, Statement{
			FeatureGroupID: fg.ID,
			Index:          ji,
			Parameters:     params,
			QueryOnline: fmt.Sprintf("SELECT %s\nFROM `%s`.`%s` AS `fg0`\nWHERE %s",
				strings.Join(sel, ", "), db, fg.Table(), where),
			Prefix: j.Prefix,
		})
	}
	return out, nil
}

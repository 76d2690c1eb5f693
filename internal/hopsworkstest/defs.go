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
}

// FeatureDef is a column of a feature group. Type is the Hive type
// ("bigint", "string", "double"...); OnlineType the MySQL one (defaults to
// a mapping of Type).
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

// servingKeys returns the view's serving keys, derived when not given.
func (d FeatureViewDef) servingKeys() []ServingKeyDef {
	if d.ServingKeys != nil {
		return d.ServingKeys
	}
	var out []ServingKeyDef
	leftPKs := d.Joins[0].FeatureGroup.pks()
	for _, pk := range leftPKs {
		out = append(out, ServingKeyDef{FeatureName: pk, Join: 0, Prefix: d.Joins[0].Prefix, Required: true})
	}
	for ji := 1; ji < len(d.Joins); ji++ {
		j := d.Joins[ji]
		for i, pk := range j.FeatureGroup.pks() {
			on := pk
			if i < len(j.On) {
				on = j.On[i]
			}
			out = append(out, ServingKeyDef{
				FeatureName: pk, Join: ji, Prefix: j.Prefix,
				Required: !slices.Contains(leftPKs, on), JoinOn: on,
			})
		}
	}
	return out
}

func onlineType(f FeatureDef) string {
	if f.OnlineType != "" {
		return f.OnlineType
	}
	switch strings.ToLower(f.Type) {
	case "string":
		return "varchar(100)"
	case "":
		return "bigint"
	}
	return strings.ToLower(f.Type)
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

// Statements generates the view's prepared statements the way Hopsworks'
// PreparedStatementBuilder does: one per feature group that has features in
// the view, alias `fg0`, database = project in lower case, table =
// {fg}_{version}. The single form binds each primary key with "= ?"; the
// batch form ends in "IN ?" (the client expands it to a tuple list) and also
// selects the primary keys, aliased prefix+name, so rows can be matched
// back. Labels and helper columns are selected like any feature; the
// client drops them from vectors.
func Statements(project string, d FeatureViewDef, batch bool) ([]Statement, error) {
	db := strings.ToLower(project)
	feats := d.features()
	var out []Statement
	for ji, j := range d.Joins {
		fg := j.FeatureGroup
		if fg.OfflineOnly {
			return nil, fmt.Errorf("feature group %s is not online enabled", fg.Name)
		}
		var sel []string
		selected := map[string]bool{}
		for _, f := range feats {
			if f.Join != ji {
				continue
			}
			sel = append(sel, fmt.Sprintf("`fg0`.`%s` AS `%s`", f.FeatureGroupFeatureName, f.Name))
			selected[f.FeatureGroupFeatureName] = true
		}
		if len(sel) == 0 {
			continue
		}
		pks := fg.pks()
		if batch {
			for _, pk := range pks {
				if !selected[pk] {
					sel = append(sel, fmt.Sprintf("`fg0`.`%s` AS `%s`", pk, j.Prefix+pk))
				}
			}
		}
		var where string
		switch {
		case !batch:
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

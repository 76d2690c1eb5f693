package featurestore

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tandemfs/tandem/metadata"
	"github.com/tandemfs/tandem/online"
)

// offlineStore is an online store whose server is never dialled:
// buildPlan only prepares statements, which does no I/O.
func offlineStore(t *testing.T) *online.Store {
	t.Helper()
	s, err := online.New(online.Config{Local: "eu", Regions: []online.RegionConfig{
		{ID: "eu", Servers: []online.ServerConfig{{Addr: "127.0.0.1:1"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// labelView is the view of hsfs's fraud tutorial shape: transactions
// (key tid, left) give the features, labels (key cc_num, prefix "l_",
// joined on the transactions feature cc_num) only a label. The server
// gives the labels group no single statement and a batch statement that
// selects its key only (PreparedStatementBuilder), and a serving key that
// is not required and joins on cc_num (FeatureViewController.
// getServingKeys).
func labelView() (*metadata.FeatureView, []metadata.PreparedStatement, []metadata.PreparedStatement) {
	trans := &metadata.FeatureGroup{ID: 1, Name: "transactions", Version: 1, Features: []metadata.FeatureGroupFeature{
		{Name: "tid", Type: "bigint", Primary: true}, {Name: "cc_num", Type: "bigint"}, {Name: "amount", Type: "double"},
	}}
	labels := &metadata.FeatureGroup{ID: 2, Name: "labels", Version: 1, Features: []metadata.FeatureGroupFeature{
		{Name: "cc_num", Type: "bigint", Primary: true}, {Name: "fraud", Type: "int"},
	}}
	fv := &metadata.FeatureView{ID: 7, Name: "fraud", Version: 1,
		Features: []metadata.Feature{
			{Name: "tid", Index: 0, FeatureGroup: trans, FeatureGroupFeatureName: "tid"},
			{Name: "cc_num", Index: 1, FeatureGroup: trans, FeatureGroupFeatureName: "cc_num"},
			{Name: "amount", Index: 2, FeatureGroup: trans, FeatureGroupFeatureName: "amount"},
			{Name: "l_fraud", Index: 3, FeatureGroup: labels, FeatureGroupFeatureName: "fraud", Label: true},
		},
		ServingKeys: []metadata.ServingKey{
			{FeatureName: "tid", FeatureGroup: trans, Required: true, JoinIndex: 0},
			{FeatureName: "cc_num", FeatureGroup: labels, Prefix: "l_", Required: false, JoinOn: "cc_num", JoinIndex: 1},
		},
	}
	single := []metadata.PreparedStatement{{FeatureGroupID: 1, Index: 0, Parameters: []metadata.PreparedStatementParameter{{Name: "tid", Index: 1}},
		QueryOnline: "SELECT `fg0`.`tid` AS `tid`, `fg0`.`cc_num` AS `cc_num`, `fg0`.`amount` AS `amount`\nFROM `p`.`transactions_1` AS `fg0`\nWHERE `fg0`.`tid` = ?"}}
	batch := []metadata.PreparedStatement{
		{FeatureGroupID: 1, Index: 0, Parameters: []metadata.PreparedStatementParameter{{Name: "tid", Index: 1}},
			QueryOnline: "SELECT `fg0`.`tid` AS `tid`, `fg0`.`cc_num` AS `cc_num`, `fg0`.`amount` AS `amount`\nFROM `p`.`transactions_1` AS `fg0`\nWHERE `fg0`.`tid` IN ?"},
		{FeatureGroupID: 2, Index: 1, Prefix: "l_", Parameters: []metadata.PreparedStatementParameter{{Name: "cc_num", Index: 1}},
			QueryOnline: "SELECT `fg0`.`cc_num` AS `l_cc_num`\nFROM `p`.`labels_1` AS `fg0`\nWHERE `fg0`.`cc_num` IN ?"},
	}
	return fv, single, batch
}

// TestLabelOnlyGroup: {tid, cc_num} is a valid entry though the group of
// cc_num only contributes a label; its batch-only statement is ignored.
func TestLabelOnlyGroup(t *testing.T) {
	fv, single, batch := labelView()
	p, err := buildPlan(offlineStore(t), fv, single, batch, planOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.valid, []string{"cc_num", "tid"}) || len(p.groups) != 1 {
		t.Fatalf("valid keys %v, %d groups", p.valid, len(p.groups))
	}
	for _, e := range []map[string]any{{"tid": 1, "cc_num": 4467}, {"tid": 1}} {
		if _, err := p.resolve(e, nil, -1, make([]any, p.nkeys), false); err != nil {
			t.Fatalf("%v: %v", e, err)
		}
	}
}

// TestServingKeysAsHsfs: a required key is prefix+featureName, a key
// joined on a left primary key is that key; the plain column of a
// prefixed join is refused unless WithKeyAliases.
func TestServingKeysAsHsfs(t *testing.T) {
	fv, single, batch := fraudMeta()
	p, err := buildPlan(offlineStore(t), fv, single, batch, planOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"aid", "c_cc", "c_tier"}; !slices.Equal(p.valid, want) {
		t.Fatalf("valid %v, want %v", p.valid, want)
	}
	alias := map[string]any{"aid": 1, "cc": "SE", "tier": 1}
	if _, err := p.resolve(alias, nil, -1, make([]any, p.nkeys), false); !errors.Is(err, ErrUnknownServingKey) {
		t.Fatalf("plain column of a prefixed join: %v", err)
	}
	pa, err := buildPlan(offlineStore(t), fv, single, batch, planOptions{keyAliases: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pa.resolve(alias, nil, -1, make([]any, pa.nkeys), false); err != nil {
		t.Fatalf("with aliases: %v", err)
	}
}

// fraudMeta is the harness's fraud view as metadata: accounts (aid) and
// country_tier (cc, tier; prefix c_, joined on country and tier).
func fraudMeta() (*metadata.FeatureView, []metadata.PreparedStatement, []metadata.PreparedStatement) {
	acc := &metadata.FeatureGroup{ID: 11, Name: "accounts", Version: 1, Features: []metadata.FeatureGroupFeature{
		{Name: "aid", Type: "bigint", Primary: true}, {Name: "balance", Type: "double"}, {Name: "country", Type: "string"}, {Name: "tier", Type: "int"},
	}}
	ct := &metadata.FeatureGroup{ID: 12, Name: "country_tier", Version: 2, Features: []metadata.FeatureGroupFeature{
		{Name: "cc", Type: "string", Primary: true}, {Name: "tier", Type: "int", Primary: true}, {Name: "tax", Type: "double"},
	}}
	fv := &metadata.FeatureView{ID: 1, Name: "fraud", Version: 1,
		Features: []metadata.Feature{
			{Name: "balance", Index: 0, FeatureGroup: acc},
			{Name: "c_tax", Index: 1, FeatureGroup: ct, FeatureGroupFeatureName: "tax"},
			{Name: "aid", Index: 2, FeatureGroup: acc},
		},
		ServingKeys: []metadata.ServingKey{
			{FeatureName: "aid", FeatureGroup: acc, Required: true, JoinIndex: 0},
			{FeatureName: "cc", FeatureGroup: ct, Prefix: "c_", Required: true, JoinOn: "country", JoinIndex: 1},
			{FeatureName: "tier", FeatureGroup: ct, Prefix: "c_", Required: true, JoinOn: "tier", JoinIndex: 1},
		},
	}
	p1 := []metadata.PreparedStatementParameter{{Name: "aid", Index: 1}}
	p2 := []metadata.PreparedStatementParameter{{Name: "cc", Index: 1}, {Name: "tier", Index: 2}}
	single := []metadata.PreparedStatement{
		{FeatureGroupID: 11, Index: 0, Parameters: p1, QueryOnline: "SELECT `fg0`.`balance` AS `balance`, `fg0`.`aid` AS `aid` FROM `p`.`accounts_1` AS `fg0` WHERE `fg0`.`aid` = ?"},
		{FeatureGroupID: 12, Index: 1, Prefix: "c_", Parameters: p2, QueryOnline: "SELECT `fg0`.`tax` AS `c_tax` FROM `p`.`country_tier_2` AS `fg0` WHERE `fg0`.`cc` = ? AND `fg0`.`tier` = ?"},
	}
	batch := []metadata.PreparedStatement{
		{FeatureGroupID: 11, Index: 0, Parameters: p1, QueryOnline: "SELECT `fg0`.`balance` AS `balance`, `fg0`.`aid` AS `aid` FROM `p`.`accounts_1` AS `fg0` WHERE `fg0`.`aid` IN ?"},
		{FeatureGroupID: 12, Index: 1, Prefix: "c_", Parameters: p2, QueryOnline: "SELECT `fg0`.`tax` AS `c_tax`, `fg0`.`cc` AS `c_cc`, `fg0`.`tier` AS `c_tier` FROM `p`.`country_tier_2` AS `fg0` WHERE (`fg0`.`cc`, `fg0`.`tier`) IN ?"},
	}
	return fv, single, batch
}

// TestPlanChecksSelectLists: a statement that does not select a feature
// of the vector (or, in its batch form, a key column) fails the load with
// ErrInvalidPlan, never a later read.
func TestPlanChecksSelectLists(t *testing.T) {
	for _, tc := range []struct {
		name string
		mut  func(fv *metadata.FeatureView, single, batch []metadata.PreparedStatement)
		want string
	}{
		{"single lacks a feature", func(_ *metadata.FeatureView, single, _ []metadata.PreparedStatement) {
			single[1].QueryOnline = strings.Replace(single[1].QueryOnline, "`fg0`.`tax` AS `c_tax`", "`fg0`.`cc` AS `c_cc`", 1)
		}, "c_tax"},
		{"batch lacks a feature", func(_ *metadata.FeatureView, _, batch []metadata.PreparedStatement) {
			batch[0].QueryOnline = strings.Replace(batch[0].QueryOnline, "`fg0`.`balance` AS `balance`, ", "", 1)
		}, "balance"},
		{"batch lacks a key column", func(_ *metadata.FeatureView, _, batch []metadata.PreparedStatement) {
			batch[1].QueryOnline = strings.Replace(batch[1].QueryOnline, ", `fg0`.`tier` AS `c_tier`", "", 1)
		}, "tier"},
		{"no batch form", func(_ *metadata.FeatureView, _, batch []metadata.PreparedStatement) {
			batch[1].Index = 5
		}, "no batch form"},
		{"parameter without serving key", func(fv *metadata.FeatureView, _, _ []metadata.PreparedStatement) {
			fv.ServingKeys = fv.ServingKeys[:1]
		}, "no serving key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fv, single, batch := fraudMeta()
			tc.mut(fv, single, batch)
			_, err := buildPlan(offlineStore(t), fv, single, batch, planOptions{})
			if !errors.Is(err, ErrInvalidPlan) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrInvalidPlan naming %s", err, tc.want)
			}
		})
	}
	if _, err := buildPlan(offlineStore(t), nil, nil, nil, planOptions{}); !errors.Is(err, ErrInvalidPlan) {
		t.Fatalf("nil view: %v", err)
	}
}

func TestSelectedColumns(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want []string
		err  bool
	}{
		{"SELECT `fg0`.`tax` AS `c_tax`, `fg0`.`cc` FROM `p`.`t` AS `fg0` WHERE `fg0`.`cc` = ?", []string{"c_tax", "cc"}, false},
		{"select `fg0`.`a` `x`, b as y, `we``ird` from t", []string{"x", "y", "we`ird"}, false},
		{"SELECT DISTINCT a, (b + 1) AS c, COUNT(*) FROM t", []string{"a", "c", ""}, false},
		{"SELECT 'it''s, FROM' AS s, \"q\\\"x\" AS d FROM t", []string{"s", "d"}, false},
		{"SELECT /* FROM */ a -- FROM\n, b # FROM\nFROM t", []string{"a", "b"}, false},
		{"SELECT `fg0`.`a`\nFROM `fg0`", []string{"a"}, false},
		{"SELECT * FROM t", nil, true},
		{"SELECT a", nil, true},
		{"UPDATE t SET a = 1", nil, true},
		{"SELECT `a FROM t", nil, true},
		{"SELECT a) FROM t", nil, true},
	} {
		got, err := selectedColumns(tc.sql)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %q, %v; want %q (error %v)", tc.sql, got, err, tc.want, tc.err)
		}
	}
}

package tandemtest

import (
	"math"
	"math/rand/v2"

	"github.com/tandemfs/tandem/internal/hopsworkstest"
	"github.com/tandemfs/tandem/metadata"
)

// The demo feature view: a fraud model's features, keyed by card number.
// Both feature groups are keyed by cc_num, so an entry needs only
// {"cc_num": ...}.
const (
	// Project is the Hopsworks project of the sandbox; its online database
	// is the name in lower case.
	Project = "tandem"
	// Database is the project's online database: its name in lower case
	// (the fake Hopsworks generates SQL against it).
	Database = "tandem"
	// FeatureView and FeatureViewVersion name the demo feature view.
	FeatureView        = "fraud_features"
	FeatureViewVersion = 1
	// FirstKey is the smallest cc_num with rows; keys FirstKey to
	// FirstKey+Rows-1 exist in both regions.
	FirstKey int64 = 100001
	// DefaultRows is how many rows each feature group holds by default.
	DefaultRows = 1000
	// MaxRows caps Options.Rows: the embedded server scans the whole table
	// on a primary-key lookup (about 0.3 ms at 1k rows, 2 ms at 10k).
	MaxRows = 5000
)

// Feature group ids in the fake Hopsworks.
const (
	activityGroupID = 11
	profileGroupID  = 12
)

// activityGroup holds recent card activity. Its replica column names the
// region whose table holds the row: the tables of the two regions are
// identical except there, so a reader can see which region served a
// vector. Real RonDB tables have no such column.
var activityGroup = hopsworkstest.FeatureGroupDef{
	ID: activityGroupID, Name: "card_activity", Version: 1,
	Features: []hopsworkstest.FeatureDef{
		{Name: "cc_num", Type: "bigint", Primary: true},
		{Name: "tx_count_24h", Type: "bigint"},
		{Name: "amount_avg_7d", Type: "double"},
		{Name: "amount_max_24h", Type: "double"},
		{Name: "foreign_ratio", Type: "double"},
		{Name: "replica", Type: "string", OnlineType: "varchar(8)"},
	},
}

// profileGroup holds the card holder's profile.
var profileGroup = hopsworkstest.FeatureGroupDef{
	ID: profileGroupID, Name: "profiles", Version: 1,
	Features: []hopsworkstest.FeatureDef{
		{Name: "cc_num", Type: "bigint", Primary: true},
		{Name: "age", Type: "bigint"},
		{Name: "credit_limit", Type: "double"},
		{Name: "account_age_days", Type: "bigint"},
	},
}

// viewDef is the demo feature view: card_activity joined with profiles on
// cc_num. Features are listed so that cc_num appears once.
func viewDef() hopsworkstest.FeatureViewDef {
	return hopsworkstest.FeatureViewDef{
		Name: FeatureView, Version: FeatureViewVersion,
		Description: "Tandem sandbox: card activity and profile features for a fraud model",
		Joins: []hopsworkstest.JoinDef{
			{FeatureGroup: activityGroup},
			{FeatureGroup: profileGroup},
		},
		Features: []hopsworkstest.ViewFeatureDef{
			{Name: "cc_num", Join: 0},
			{Name: "tx_count_24h", Join: 0},
			{Name: "amount_avg_7d", Join: 0},
			{Name: "amount_max_24h", Join: 0},
			{Name: "foreign_ratio", Join: 0},
			{Name: "replica", Join: 0},
			{Name: "age", Join: 1},
			{Name: "credit_limit", Join: 1},
			{Name: "account_age_days", Join: 1},
		},
	}
}

// FeatureNames lists the demo view's features in vector order.
func FeatureNames() []string {
	d := viewDef()
	out := make([]string, len(d.Features))
	for i, f := range d.Features {
		out[i] = f.Name
	}
	return out
}

// activityRow and profileRow are one entity's rows; the generator is
// seeded, so every sandbox holds the same data.
type activityRow struct {
	ccNum        int64
	txCount      int64
	amountAvg    float64
	amountMax    float64
	foreignRatio float64
}

type profileRow struct {
	ccNum         int64
	age           int64
	creditLimit   float64
	accountAgeDay int64
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// demoRows generates n rows per group.
func demoRows(n int) ([]activityRow, []profileRow) {
	rng := rand.New(rand.NewPCG(2024, 6))
	acts := make([]activityRow, n)
	profs := make([]profileRow, n)
	for i := range n {
		k := FirstKey + int64(i)
		avg := round2(5 + rng.ExpFloat64()*40)
		acts[i] = activityRow{
			ccNum:        k,
			txCount:      int64(rng.IntN(30)),
			amountAvg:    avg,
			amountMax:    round2(avg * (1 + rng.Float64()*6)),
			foreignRatio: round2(rng.Float64() * rng.Float64()),
		}
		profs[i] = profileRow{
			ccNum:         k,
			age:           int64(18 + rng.IntN(70)),
			creditLimit:   float64(500 * (1 + rng.IntN(40))),
			accountAgeDay: int64(rng.IntN(3650)),
		}
	}
	return acts, profs
}

// Entry returns the lookup entry of the i-th entity (0 ≤ i < Rows), e.g.
// {"cc_num": 100001}.
func Entry(i int) map[string]any { return map[string]any{"cc_num": FirstKey + int64(i)} }

// ViewSpec describes a small feature view over the demo's card_activity
// group, for trying metadata writes (CreateFeatureView) against the
// sandbox. Each name and version can be created once.
func ViewSpec(name string, version int) metadata.FeatureViewSpec {
	left := make([]metadata.FeatureGroupFeature, 0, len(activityGroup.Features))
	for _, f := range activityGroup.Features {
		left = append(left, metadata.FeatureGroupFeature{Name: f.Name, Type: f.Type, Primary: f.Primary})
	}
	return metadata.FeatureViewSpec{
		Name: name, Version: version,
		Description: "created through the Tandem sandbox",
		Query: &metadata.Query{
			LeftFeatureGroup: &metadata.FeatureGroup{ID: activityGroupID, Name: activityGroup.Name, Version: activityGroup.Version, OnlineEnabled: true},
			LeftFeatures:     left,
		},
	}
}

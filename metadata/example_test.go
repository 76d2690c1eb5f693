package metadata_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/internal/hopsworkstest"
	"github.com/tandemfs/tandem/metadata"
)

// staticACA says eu is active. In production pass an *aca.Client.
type staticACA struct{}

func (staticACA) Current() (aca.State, bool) { return aca.State{Active: "eu", Secondary: "us"}, true }
func (staticACA) Refresh(context.Context) (aca.State, error) {
	return aca.State{Active: "eu", Secondary: "us"}, nil
}
func (staticACA) Staleness() time.Duration { return 0 }

func Example() {
	// Two fake regions sharing replicated metadata; eu is active.
	store := hopsworkstest.NewStore(hopsworkstest.StoreConfig{Project: "Demo"})
	eu := hopsworkstest.New(hopsworkstest.Options{Region: "eu", Active: true, Store: store})
	defer eu.Close()
	us := hopsworkstest.New(hopsworkstest.Options{Region: "us", Store: store})
	defer us.Close()
	store.AddFeatureView(hopsworkstest.FeatureViewDef{
		Name: "users", Version: 1,
		Joins: []hopsworkstest.JoinDef{{FeatureGroup: hopsworkstest.FeatureGroupDef{
			ID: 1, Name: "users", Version: 1,
			Features: []hopsworkstest.FeatureDef{{Name: "uid", Type: "bigint", Primary: true}, {Name: "age", Type: "int"}},
		}}},
	})

	c, err := metadata.New(metadata.Config{
		Local: "us",
		Regions: []metadata.RegionConfig{
			{ID: "eu", BaseURL: eu.URL()},
			{ID: "us", BaseURL: us.URL()},
		},
		APIKey:            hopsworkstest.DefaultAPIKey,
		Project:           "Demo",
		AllowInsecureHTTP: true, // the fakes serve http on loopback
	}, metadata.WithActiveSource(staticACA{}))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	fv, err := c.FeatureView(ctx, "users", 1)
	if err != nil {
		panic(err)
	}
	fmt.Println("view", fv.Name, "served by", fv.Region, "keys", fv.ServingKeys[0].FeatureName)

	stmts, err := c.PreparedStatements(ctx, "users", 1, false)
	if err != nil {
		panic(err)
	}
	fmt.Println(stmts[0].QueryOnline)

	// The local region (us) goes down: reads fall back to eu.
	us.Close()
	fv, err = c.FeatureView(ctx, "users", 1)
	fmt.Println("after the outage, served by", fv.Region, err)

	_, err = c.FeatureView(ctx, "nope", 1)
	fmt.Println(errors.Is(err, metadata.ErrNotFound))
	// Output:
	// view users served by us keys uid
	// SELECT `fg0`.`uid` AS `uid`, `fg0`.`age` AS `age`
	// FROM `demo`.`users_1` AS `fg0`
	// WHERE `fg0`.`uid` = ?
	// after the outage, served by eu <nil>
	// true
}

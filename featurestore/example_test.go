package featurestore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/internal/hopsworkstest"
)

// Example loads a feature view's serving plan from two (fake) Hopsworks
// regions and validates entries against its serving keys. Reading vectors
// needs the regions' MySQL servers, which this hermetic example does not
// start: see the package tests for lookups on real MariaDB.
func Example() {
	store := hopsworkstest.NewStore(hopsworkstest.StoreConfig{Project: "demo"})
	eu := hopsworkstest.New(hopsworkstest.Options{Region: "eu", Active: true, Store: store})
	defer eu.Close()
	us := hopsworkstest.New(hopsworkstest.Options{Region: "us", Store: store})
	defer us.Close()
	store.AddFeatureView(hopsworkstest.FeatureViewDef{
		Name: "fraud", Version: 1,
		Joins: []hopsworkstest.JoinDef{
			{FeatureGroup: hopsworkstest.FeatureGroupDef{ID: 1, Name: "accounts", Version: 1, Features: []hopsworkstest.FeatureDef{
				{Name: "aid", Type: "bigint", Primary: true}, {Name: "balance", Type: "double"},
				{Name: "country", Type: "string"}, {Name: "tier", Type: "int"},
			}}},
			{FeatureGroup: hopsworkstest.FeatureGroupDef{ID: 2, Name: "country_tier", Version: 1, Features: []hopsworkstest.FeatureDef{
				{Name: "cc", Type: "string", Primary: true}, {Name: "tier", Type: "int", Primary: true}, {Name: "tax", Type: "double"},
			}}, Prefix: "c_", On: []string{"country", "tier"}},
		},
	})

	// No MySQL server here: a closed local port stands in for them.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	mysqlAddr := ln.Addr().String()
	ln.Close()

	client, err := featurestore.New(featurestore.Config{
		Local: "us",
		Regions: []featurestore.RegionConfig{
			{ID: "eu", MySQL: []string{mysqlAddr}, HopsworksURL: eu.URL()},
			{ID: "us", MySQL: []string{mysqlAddr}, HopsworksURL: us.URL()},
		},
		APIKey:  hopsworkstest.DefaultAPIKey,
		Project: "demo",
		// The fake serves http on loopback; a deployment uses https.
		AllowInsecureHTTP: true,
	})
	if err != nil {
		panic(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	fv, err := client.FeatureView(ctx, "fraud", 1)
	if err != nil {
		panic(err)
	}
	fmt.Println("features:", fv.Features())
	fmt.Println("serving keys:", fv.ServingKeys())

	// Entries are checked before any read: half a composite key is a
	// typed error.
	_, err = fv.GetFeatureVector(ctx, map[string]any{"aid": 42, "c_cc": "SE"})
	fmt.Println(errors.Is(err, featurestore.ErrPartialCompositeKey))
	var ke *featurestore.KeyError
	if errors.As(err, &ke) {
		fmt.Println("key:", ke.Key, "group:", ke.FeatureGroup)
	}
	// Output:
	// features: [aid balance country tier c_cc c_tier c_tax]
	// serving keys: [aid c_cc c_tier]
	// true
	// key: c_tier group: country_tier
}

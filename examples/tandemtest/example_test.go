package tandemtest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/tandemfs/tandem/examples/tandemtest"
	"github.com/tandemfs/tandem/featurestore"
)

// A service test runs its client against the sandbox and kills a region.
func Example() {
	ctx := context.Background()
	sb, err := tandemtest.Start(ctx, tandemtest.Options{Rows: 100})
	if err != nil {
		log.Fatal(err)
	}
	defer sb.Close()

	client, err := featurestore.New(sb.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close() // before the sandbox
	fv, err := client.FeatureView(ctx, tandemtest.FeatureView, tandemtest.FeatureViewVersion)
	if err != nil {
		log.Fatal(err)
	}

	v, err := fv.GetFeatureVector(ctx, map[string]any{"cc_num": tandemtest.FirstKey})
	if err != nil {
		log.Fatal(err)
	}
	// Both regions are on loopback, so a hedge to us may win: the vector
	// names the region that served it, and its replica column agrees.
	replica, _ := v.Get("replica")
	fmt.Println("replica matches the serving region:", replica == string(v.Region))

	if err := sb.KillRegion(tandemtest.EU); err != nil {
		log.Fatal(err)
	}
	v, err = fv.GetFeatureVector(ctx, tandemtest.Entry(1))
	if err != nil {
		log.Fatal(err)
	}
	replica, _ = v.Get("replica")
	fmt.Println("served by", v.Region, "replica", replica)
	// Output:
	// replica matches the serving region: true
	// served by us replica us
}

// A test plants a difference between the regions, as replication lag
// would, and reads each region pinned.
func ExampleSandbox_SetFeature() {
	ctx := context.Background()
	sb, err := tandemtest.Start(ctx, tandemtest.Options{Rows: 10})
	if err != nil {
		log.Fatal(err)
	}
	defer sb.Close()
	if err := sb.SetFeature(ctx, tandemtest.US, tandemtest.FirstKey, "tx_count_24h", 99); err != nil {
		log.Fatal(err)
	}

	client, err := featurestore.New(sb.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	fv, err := client.FeatureView(ctx, tandemtest.FeatureView, tandemtest.FeatureViewVersion)
	if err != nil {
		log.Fatal(err)
	}
	for _, id := range sb.Regions() {
		v, err := fv.GetFeatureVector(ctx, tandemtest.Entry(0), featurestore.Pin(id))
		if err != nil {
			log.Fatal(err)
		}
		n, _ := v.Get("tx_count_24h")
		fmt.Println(id, "tx_count_24h", n)
	}
	// Output:
	// eu tx_count_24h 1
	// us tx_count_24h 99
}

// A test flips the ACA and checks that a metadata write follows it to
// the new active region.
func ExampleSandbox_FlipACA() {
	ctx := context.Background()
	sb, err := tandemtest.Start(ctx, tandemtest.Options{Rows: 10})
	if err != nil {
		log.Fatal(err)
	}
	defer sb.Close()
	client, err := featurestore.New(sb.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	st, err := sb.FlipACA()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ACA serves active", st.Active)
	// The client polls every Options.ACAInterval (100ms); Refresh asks now.
	if _, err := client.ACA().Refresh(ctx); err != nil {
		log.Fatal(err)
	}
	fv, err := client.CreateFeatureView(ctx, tandemtest.ViewSpec("after_flip", 1))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("write landed in", fv.Region, "- writes in us:", sb.Writes(tandemtest.US).Accepted, "in eu:", sb.Writes(tandemtest.EU).Accepted)
	// Output:
	// ACA serves active us
	// write landed in us - writes in us: 1 in eu: 0
}

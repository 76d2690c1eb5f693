package sandbox_test

import (
	"context"
	"fmt"
	"log"

	"github.com/tandemfs/tandem/examples/sandbox"
	"github.com/tandemfs/tandem/featurestore"
)

// A service test runs its client against the sandbox and kills a region.
func Example() {
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Options{Rows: 100})
	if err != nil {
		log.Fatal(err)
	}
	defer sb.Close()

	client, err := featurestore.New(sb.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close() // before the sandbox
	fv, err := client.FeatureView(ctx, sandbox.FeatureView, sandbox.FeatureViewVersion)
	if err != nil {
		log.Fatal(err)
	}

	v, err := fv.GetFeatureVector(ctx, map[string]any{"cc_num": sandbox.FirstKey})
	if err != nil {
		log.Fatal(err)
	}
	replica, _ := v.Get("replica")
	fmt.Println("served by", v.Region, "replica", replica)

	if err := sb.KillRegion(sandbox.EU); err != nil {
		log.Fatal(err)
	}
	v, err = fv.GetFeatureVector(ctx, sandbox.Entry(1))
	if err != nil {
		log.Fatal(err)
	}
	replica, _ = v.Get("replica")
	fmt.Println("served by", v.Region, "replica", replica)
	// Output:
	// served by eu replica eu
	// served by us replica us
}

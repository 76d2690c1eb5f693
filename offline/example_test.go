package offline_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/tandemfs/tandem/internal/flighttest"
	"github.com/tandemfs/tandem/offline"
	"github.com/tandemfs/tandem/region"
)

// Reading a feature view from whichever region is active. The example runs
// its own two query services (eu active, us standby), a fake ACA and a
// fake metadata service that signs batch queries; in production these are
// the regions' query services, the *aca.Client and the metadata client.
func Example() {
	signer := flighttest.NewSigner([]byte("secret"))
	servers := map[region.ID]*flighttest.Server{}
	var regions []offline.RegionConfig
	// A day of hourly sales.
	day := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "event_time", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	for h := range 24 {
		b.Field(0).(*array.Int64Builder).Append(int64(h))
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(day.Add(time.Duration(h) * time.Hour).UnixMilli()))
	}
	recs := []arrow.RecordBatch{b.NewRecordBatch()}
	b.Release()
	for _, r := range []region.ID{"eu", "us"} {
		s, err := flighttest.Start(flighttest.Config{Verify: signer.Verify})
		if err != nil {
			log.Fatal(err)
		}
		defer s.Close()
		if err := s.AddFeatureView("sales", 1, "event_time", schema, recs); err != nil {
			log.Fatal(err)
		}
		servers[r] = s
		regions = append(regions, offline.RegionConfig{ID: r, Addr: s.Addr(), Insecure: true})
	}
	for _, r := range recs {
		r.Release()
	}
	servers["us"].SetReady(false)
	acaClient := flighttest.NewArbiter("eu", "us")

	client, err := offline.New(offline.Config{Regions: regions}, acaClient,
		offline.WithQuerySource(flighttest.SignedQueries(signer)))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start, end := day.Add(6*time.Hour), day.Add(18*time.Hour) // 12 rows
	read := func() {
		tbl, err := client.ReadBatchAll(ctx, "sales", 1, start, end, offline.WithRetry(3))
		if err != nil {
			log.Fatal(err)
		}
		defer tbl.Release()
		fmt.Println(tbl.NumRows(), "rows,", tbl.NumCols(), "columns")
	}
	read()

	// The ACA flips to us; the next read follows it.
	servers["eu"].SetReady(false)
	servers["us"].SetReady(true)
	acaClient.Flip()
	read()
	fmt.Println("requests to eu:", servers["eu"].Count(), "to us:", servers["us"].Count())
	// Output:
	// 12 rows, 2 columns
	// 12 rows, 2 columns
	// requests to eu: 2 to us: 2
}

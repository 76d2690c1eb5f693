package offline_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/tandemfs/tandem/internal/flighttest"
	"github.com/tandemfs/tandem/offline"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

const (
	benchRows      = 1 << 20 // 1,048,576
	benchCols      = 10
	benchBatchRows = 16384
)

// benchTable is benchRows rows of an id, an event time and 8 float64s, in
// batches of benchBatchRows (1.3 MB each on the wire).
func benchTable() (*arrow.Schema, []arrow.RecordBatch) {
	fields := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "event_time", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	}
	for i := 2; i < benchCols; i++ {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("f%d", i), Type: arrow.PrimitiveTypes.Float64})
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	var recs []arrow.RecordBatch
	for i := 0; i < benchRows; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(base.UnixMilli() + int64(i)))
		for c := 2; c < benchCols; c++ {
			b.Field(c).(*array.Float64Builder).Append(float64(i * c))
		}
		if (i+1)%benchBatchRows == 0 || i == benchRows-1 {
			recs = append(recs, b.NewRecordBatch())
		}
	}
	return schema, recs
}

// BenchmarkReadBatch compares ReadBatch with arrow-go's own Flight client
// reading the same stream (GetFlightInfo with the same signed payload, then
// DoGet) from the same test server. "paired" alternates the two in one
// loop, so that noise from other work on the machine hits both alike, and
// reports their ratio.
func BenchmarkReadBatch(b *testing.B) {
	signer := flighttest.NewSigner([]byte("bench"))
	srv, err := flighttest.Start(flighttest.Config{Verify: signer.Verify})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	schema, recs := benchTable()
	if err := srv.AddFeatureView("bench", 1, "event_time", schema, recs); err != nil {
		b.Fatal(err)
	}
	for _, r := range recs {
		r.Release()
	}

	queries := flighttest.SignedQueries(signer)
	client, err := offline.New(offline.Config{Regions: []offline.RegionConfig{{ID: eu, Addr: srv.Addr(), Insecure: true}}},
		flighttest.NewArbiter(eu, us), offline.WithQuerySource(queries))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	direct, err := flight.NewClientWithMiddleware(srv.Addr(), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { direct.Close() })
	ctx := context.Background()

	readTandem := func(b *testing.B) int64 {
		rd, err := client.ReadBatch(ctx, "bench", 1, time.Time{}, time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		defer rd.Release()
		var n int64
		for rd.Next() {
			n += rd.RecordBatch().NumRows()
		}
		if err := rd.Err(); err != nil {
			b.Fatal(err)
		}
		return n
	}
	readDirect := func(b *testing.B) int64 {
		payload, sig, err := queries(ctx, eu, "bench", 1, time.Time{}, time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		cctx := metadata.AppendToOutgoingContext(ctx, offline.SignatureHeader, sig)
		info, err := direct.GetFlightInfo(cctx, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(payload)})
		if err != nil {
			b.Fatal(err)
		}
		stream, err := direct.DoGet(cctx, info.Endpoint[0].Ticket)
		if err != nil {
			b.Fatal(err)
		}
		rdr, err := flight.NewRecordReader(stream)
		if err != nil {
			b.Fatal(err)
		}
		defer rdr.Release()
		var n int64
		for rdr.Next() {
			n += rdr.RecordBatch().NumRows()
		}
		if err := rdr.Err(); err != nil {
			b.Fatal(err)
		}
		return n
	}
	// Warm both up (connection, server, heap) so the first timed read of
	// neither pays for it.
	readTandem(b)
	readDirect(b)

	run := func(read func(*testing.B) int64) func(*testing.B) {
		return func(b *testing.B) {
			var rows int64
			for b.Loop() {
				if n := read(b); n != benchRows {
					b.Fatalf("read %d rows, want %d", n, benchRows)
				}
				rows += benchRows
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		}
	}
	b.Run("tandem", run(readTandem))
	b.Run("direct", run(readDirect))
	b.Run("paired", func(b *testing.B) {
		var tTandem, tDirect time.Duration
		var rows int64
		for i := 0; b.Loop(); i++ {
			// Alternate which goes first, so neither always gets a warm
			// connection or a just-collected heap.
			first, second := readTandem, readDirect
			if i%2 == 1 {
				first, second = readDirect, readTandem
			}
			t0 := time.Now()
			first(b)
			t1 := time.Now()
			second(b)
			t2 := time.Now()
			if i%2 == 0 {
				tTandem += t1.Sub(t0)
				tDirect += t2.Sub(t1)
			} else {
				tDirect += t1.Sub(t0)
				tTandem += t2.Sub(t1)
			}
			rows += benchRows
		}
		b.ReportMetric(float64(rows)/tTandem.Seconds(), "tandem-rows/s")
		b.ReportMetric(float64(rows)/tDirect.Seconds(), "direct-rows/s")
		b.ReportMetric(tDirect.Seconds()/tTandem.Seconds(), "tandem/direct")
	})
}

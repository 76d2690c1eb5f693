package flighttest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/tandemfs/tandem/aca"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var day = time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)

func start(t *testing.T, v func([]byte, string) error) (*Server, flight.Client) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	s, err := Start(Config{Verify: v, Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "ts", Type: arrow.PrimitiveTypes.Int64}, // Unix ms
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	var recs []arrow.RecordBatch
	for i := range 48 {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.Int64Builder).Append(day.Add(time.Duration(i) * time.Hour).UnixMilli())
		if i%10 == 9 || i == 47 {
			recs = append(recs, b.NewRecordBatch())
		}
	}
	b.Release()
	if err := s.AddFeatureView("fv", 1, "ts", schema, recs); err != nil {
		t.Fatal(err)
	}
	if err := s.AddFeatureView("fv", 2, "missing", schema, recs); err == nil {
		t.Error("AddFeatureView accepted a missing event-time column")
	}
	for _, r := range recs {
		r.Release()
	}
	c, err := flight.NewClientWithMiddleware(s.Addr(), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		s.Close()
		mem.AssertSize(t, 0)
	})
	return s, c
}

func read(ctx context.Context, c flight.Client, payload []byte, sig string) ([]int64, error) {
	if sig != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, SignatureHeader, sig)
	}
	info, err := c.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: payload})
	if err != nil {
		return nil, err
	}
	stream, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		return nil, err
	}
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	var ids []int64
	for rdr.Next() {
		ids = append(ids, rdr.RecordBatch().Column(0).(*array.Int64).Int64Values()...)
	}
	return ids, rdr.Err()
}

func TestServerFiltersAndChecksSignatures(t *testing.T) {
	signer := NewSigner([]byte("k"))
	s, c := start(t, signer.Verify)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	q, _, _ := SignedQueries(signer)(ctx, "eu", "fv", 1, day.Add(5*time.Hour), day.Add(25*time.Hour))
	for _, tc := range []struct {
		name    string
		payload string
		sig     string
		code    codes.Code
		rows    int
	}{
		{"filtered across batches", q, signer.Sign([]byte(q)), codes.OK, 20},
		{"open range", `{"featureView":"fv","version":1}`, signer.Sign([]byte(`{"featureView":"fv","version":1}`)), codes.OK, 48},
		{"missing signature", q, "", codes.Unauthenticated, 0},
		{"bad signature", q, NewSigner([]byte("x")).Sign([]byte(q)), codes.PermissionDenied, 0},
		{"garbage", `{"featureView":`, signer.Sign([]byte(`{"featureView":`)), codes.InvalidArgument, 0},
		{"unknown field", `{"featureView":"fv","x":1}`, signer.Sign([]byte(`{"featureView":"fv","x":1}`)), codes.InvalidArgument, 0},
		{"unknown view", `{"featureView":"no","version":1}`, signer.Sign([]byte(`{"featureView":"no","version":1}`)), codes.NotFound, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, err := read(ctx, c, []byte(tc.payload), tc.sig)
			if status.Code(err) != tc.code {
				t.Fatalf("err = %v, want %v", err, tc.code)
			}
			if len(ids) != tc.rows {
				t.Errorf("%d rows, want %d", len(ids), tc.rows)
			}
			if tc.code == codes.OK && tc.rows == 20 && (ids[0] != 5 || ids[19] != 24) {
				t.Errorf("ids %v, want 5..24", ids)
			}
		})
	}
	if n := s.Count(); n < 7 {
		t.Errorf("recorded %d requests", n)
	}
}

func TestServerModes(t *testing.T) {
	s, c := start(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	p := []byte(`{"featureView":"fv","version":1}`)

	s.SetReady(false)
	if _, err := read(ctx, c, p, ""); status.Code(err) != codes.Unavailable {
		t.Errorf("standby: %v", err)
	}
	if rs := s.Requests(); len(rs) != 1 || rs[0].Ready {
		t.Errorf("requests %+v, want one made while not ready", rs)
	}
	s.SetReady(true)
	s.SetHealthy(false)
	stream, err := c.DoAction(ctx, &flight.Action{Type: "healthcheck"})
	if err == nil {
		err = flight.ReadUntilEOF(stream)
	}
	if status.Code(err) != codes.Internal {
		t.Errorf("unhealthy healthcheck: %v", err)
	}
	s.SetHealthy(true)

	s.SetHang(true)
	hctx, hcancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = read(hctx, c, p, "")
	// The call ends when its deadline passes. gRPC reports that as
	// DeadlineExceeded, or, when the server's reply to the client's
	// cancellation wins the race, as Canceled.
	if code := status.Code(err); code != codes.DeadlineExceeded && (code != codes.Canceled || hctx.Err() != context.DeadlineExceeded) {
		t.Errorf("hang: %v", err)
	}
	hcancel()
	s.SetHang(false)

	s.DropAfter(15, nil)
	ids, err := read(ctx, c, p, "")
	if status.Code(err) != codes.Unavailable || len(ids) != 20 {
		t.Errorf("drop: %d rows, %v; want 20 rows then Unavailable", len(ids), err)
	}
	if ids, err := read(ctx, c, p, ""); err != nil || len(ids) != 48 {
		t.Errorf("after a one-shot drop: %d rows, %v", len(ids), err)
	}

	// A stream stalled by HangAfter ends when the server closes.
	called := make(chan struct{})
	s.HangAfter(0, func() { close(called) })
	errc := make(chan error, 1)
	go func() { _, err := read(ctx, c, p, ""); errc <- err }()
	select {
	case <-called:
	case <-ctx.Done():
		t.Fatal("hook not called")
	}
	s.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("stalled read succeeded")
		}
	case <-ctx.Done():
		t.Fatal("stalled read outlived Close")
	}
}

func TestArbiter(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var a Arbiter
	if _, ok := a.Current(); ok {
		t.Error("zero Arbiter knows a state")
	}
	wctx, wcancel := context.WithCancel(ctx)
	ch := a.Watch(wctx)
	got := make(chan aca.State, 1)
	go func() {
		st, err := a.WaitReady(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- st
	}()
	a.Set(aca.State{Active: "eu", Secondary: "us", Epoch: 1})
	if st := <-got; st.Active != "eu" {
		t.Errorf("WaitReady = %+v", st)
	}
	if st := a.Flip(); st.Active != "us" || st.Epoch != 2 {
		t.Errorf("Flip = %+v", st)
	}
	if st := <-ch; st.Active != "us" {
		t.Errorf("Watch = %+v, want the latest state", st)
	}
	wcancel()
	for range ch { // closed once wctx ends
	}
	a.Clear()
	short, scancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer scancel()
	if _, err := a.WaitReady(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitReady after Clear: %v", err)
	}
}

func TestQueryJSON(t *testing.T) {
	s := NewSigner([]byte("k"))
	p, sig, err := SignedQueries(s)(t.Context(), "eu", "fv", 3, time.Time{}, day)
	if err != nil || s.Verify([]byte(p), sig) != nil {
		t.Fatal(err)
	}
	var q Query
	if err := json.Unmarshal([]byte(p), &q); err != nil || q.FeatureView != "fv" || q.Version != 3 || !q.Start.IsZero() || !q.End.Equal(day) {
		t.Errorf("payload %s -> %+v, %v", p, q, err)
	}
	if s.Verify([]byte(p), "zz") == nil {
		t.Error("Verify accepted a non-hex signature")
	}
}

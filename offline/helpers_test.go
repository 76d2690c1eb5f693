package offline_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/internal/flighttest"
	"github.com/tandemfs/tandem/internal/testutil"
	"github.com/tandemfs/tandem/offline"
	"github.com/tandemfs/tandem/region"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	eu = region.ID("eu")
	us = region.ID("us")

	testFV      = "sales"
	testVersion = 1
	testRows    = 1000
	testBatch   = 100
)

// base is the event time of row 0; row i is i minutes later.
var base = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "event_time", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
}, nil)

// testRecords builds testRows rows in batches of testBatch.
func testRecords(mem memory.Allocator) []arrow.RecordBatch {
	var recs []arrow.RecordBatch
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	for i := 0; i < testRows; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(base.Add(time.Duration(i) * time.Minute).UnixMilli()))
		b.Field(2).(*array.Float64Builder).Append(float64(i) / 2)
		if (i+1)%testBatch == 0 {
			recs = append(recs, b.NewRecordBatch())
		}
	}
	return recs
}

// testCerts are the project's stores the test query services accept.
var testCerts = offline.Certificates{KeyStore: []byte("jks key store \x00\xfe"), TrustStore: []byte("jks trust store"), Password: "pässwörd"}

const testServerVersion = "4.1.0-test"

func checkTestCerts(c flighttest.Certificates) error {
	if !c.Equal(flighttest.Certificates{KeyStore: testCerts.KeyStore, TrustStore: testCerts.TrustStore, Password: testCerts.Password}) {
		return errors.New("not the project's certificates")
	}
	return nil
}

func ctxT(t testing.TB, d time.Duration) context.Context { return testutil.Context(t, d) }

// queryLog is a QuerySource that records which region each batch query
// came from and delegates to a signing source.
type queryLog struct {
	next flighttest.QueryFunc
	mu   sync.Mutex
	asks []region.ID
}

func (q *queryLog) BatchQuery(ctx context.Context, r region.ID, fv string, v int, start, end time.Time) (string, string, error) {
	q.mu.Lock()
	q.asks = append(q.asks, r)
	q.mu.Unlock()
	return q.next(ctx, r, fv, v, start, end)
}

func (q *queryLog) regions() []region.ID {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.asks)
}

// pollOnly hides the Arbiter's Watch, as an ActiveSource that can only be
// polled.
type pollOnly struct{ a *flighttest.Arbiter }

func (p pollOnly) Current() (aca.State, bool) { return p.a.Current() }
func (p pollOnly) WaitReady(ctx context.Context) (aca.State, error) {
	return p.a.WaitReady(ctx)
}
func (p pollOnly) Staleness() time.Duration { return p.a.Staleness() }

// env is two regions, eu active and us standby, each with its own query
// service serving the same feature view, and a client over both.
type env struct {
	t       *testing.T
	arb     *flighttest.Arbiter
	signer  *flighttest.Signer
	queries *queryLog
	srv     map[region.ID]*flighttest.Server
	client  *offline.Client
	mem     *memory.CheckedAllocator
}

type envOpts struct {
	pollOnly bool
	// legacy makes the query services older ones without get-version,
	// which want the certificates registered.
	legacy bool
	// silentVersion makes them list get-version but answer it with no
	// result (with legacy).
	silentVersion bool
	queries       offline.QuerySource // replaces the signing source
	cfg           func(*offline.Config)
	opts          []offline.Option
}

func newEnv(t *testing.T, eo envOpts) *env {
	t.Helper()
	e := &env{
		t:      t,
		arb:    flighttest.NewArbiter(eu, us),
		signer: flighttest.NewSigner([]byte("region-shared-test-key")),
		srv:    make(map[region.ID]*flighttest.Server),
		mem:    memory.NewCheckedAllocator(memory.NewGoAllocator()),
	}
	e.queries = &queryLog{next: flighttest.SignedQueries(e.signer)}
	recs := testRecords(memory.DefaultAllocator)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	cfg := offline.Config{
		HealthcheckTimeout: 300 * time.Millisecond,
		InfoTimeout:        2 * time.Second,
		ReadTimeout:        10 * time.Second,
		RetryBackoff:       10 * time.Millisecond,
	}
	for _, r := range []region.ID{eu, us} {
		scfg := flighttest.Config{Verify: e.signer.Verify, CheckCertificates: checkTestCerts, Version: testServerVersion}
		if eo.legacy {
			scfg.Version, scfg.SilentVersion = "", eo.silentVersion
		}
		s, err := flighttest.Start(scfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		if err := s.AddFeatureView(testFV, testVersion, "event_time", testSchema, recs); err != nil {
			t.Fatal(err)
		}
		if err := s.AddTrainingDataset("td/sales_1", testSchema, recs); err != nil {
			t.Fatal(err)
		}
		e.srv[r] = s
		cfg.Regions = append(cfg.Regions, offline.RegionConfig{ID: r, Addr: s.Addr(), Insecure: true, Certificates: testCerts})
	}
	e.srv[us].SetReady(false) // the standby crash-loops
	if eo.cfg != nil {
		eo.cfg(&cfg)
	}
	var src offline.ActiveSource = e.arb
	if eo.pollOnly {
		src = pollOnly{e.arb}
	}
	var qs offline.QuerySource = e.queries
	if eo.queries != nil {
		qs = eo.queries
	}
	opts := append([]offline.Option{
		offline.WithQuerySource(qs),
		offline.WithAllocator(e.mem),
	}, eo.opts...)
	c, err := offline.New(cfg, src, opts...)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		e.mem.AssertSize(t, 0)
	})
	return e
}

// flipTo makes r the active region: the ACA flips, the old active region's
// query service becomes a standby and r's becomes ready.
func (e *env) flipTo(r region.ID) {
	for id, s := range e.srv {
		s.SetReady(id == r)
	}
	if st, _ := e.arb.Current(); st.Active != r {
		e.arb.Flip()
	}
}

// assertNoStandbyRequest checks on the server side that no server ever got
// a request while it was a standby.
func (e *env) assertNoStandbyRequest() {
	e.t.Helper()
	for id, s := range e.srv {
		for _, r := range s.Requests() {
			if !r.Ready {
				e.t.Errorf("region %s got %s while it was a standby", id, r.Method)
			}
		}
	}
}

// drain reads rd to its end and returns the ids it saw.
func drain(t *testing.T, rd *offline.Reader) ([]int64, error) {
	t.Helper()
	var ids []int64
	for rd.Next() {
		col := rd.RecordBatch().Column(0).(*array.Int64)
		ids = append(ids, col.Int64Values()...)
	}
	return ids, rd.Err()
}

func tableIDs(t *testing.T, tbl arrow.Table) []int64 {
	t.Helper()
	var ids []int64
	for _, ch := range tbl.Column(0).Data().Chunks() {
		ids = append(ids, ch.(*array.Int64).Int64Values()...)
	}
	return ids
}

func seq(from, to int64) []int64 {
	var out []int64
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

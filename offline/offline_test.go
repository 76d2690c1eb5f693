package offline_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/internal/flighttest"
	"github.com/tandemfs/tandem/offline"
	"github.com/tandemfs/tandem/region"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestReadBatchFromActiveRegionWithTimeFilter(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := ctxT(t, 10*time.Second)
	start, end := base.Add(100*time.Minute), base.Add(350*time.Minute)

	rd, err := e.client.ReadBatch(ctx, testFV, testVersion, start, end)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	if !rd.Schema().Equal(testSchema) {
		t.Errorf("schema = %v, want %v", rd.Schema(), testSchema)
	}
	if rd.Region() != eu {
		t.Errorf("Region() = %q, want eu", rd.Region())
	}
	ids, err := drain(t, rd)
	if err != nil {
		t.Fatal(err)
	}
	if want := seq(100, 350); !slices.Equal(ids, want) {
		t.Errorf("got %d ids %v..., want ids 100..349", len(ids), ids[:min(5, len(ids))])
	}

	// The batch query came from the active region's metadata, and the
	// query service saw the signed payload with the time range in it.
	if got := e.queries.regions(); !slices.Equal(got, []region.ID{eu}) {
		t.Errorf("batch queries asked of %v, want [eu]", got)
	}
	reqs := e.srv[eu].Requests()
	if len(reqs) != 2 || reqs[0].Method != flighttest.MethodGetFlightInfo || reqs[1].Method != flighttest.MethodDoGet {
		t.Fatalf("eu requests = %+v, want GetFlightInfo, DoGet", reqs)
	}
	// As hsfs: GetFlightInfo carries no header, DoGet the signature
	// alone.
	if reqs[0].Signature != "" || reqs[0].Certificates != nil {
		t.Errorf("GetFlightInfo carried headers: %+v", reqs[0])
	}
	if err := e.signer.Verify(reqs[0].Command, reqs[1].Signature); err != nil {
		t.Errorf("DoGet signature: %v", err)
	}
	if reqs[1].Certificates != nil || reqs[1].Ticket != "command" {
		t.Errorf("DoGet = %+v, want a command ticket without certificates", reqs[1])
	}
	if n := e.srv[us].Count(); n != 0 {
		t.Errorf("standby got %d requests", n)
	}
}

func TestHealthcheck(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := ctxT(t, 10*time.Second)
	if err := e.client.Healthcheck(ctx); err != nil {
		t.Fatal(err)
	}
	reqs := e.srv[eu].Requests()
	if len(reqs) != 1 || reqs[0].Method != flighttest.MethodDoAction || reqs[0].Action != "healthcheck" {
		t.Errorf("eu requests = %+v, want one healthcheck action", reqs)
	}
	e.flipTo(us)
	if err := e.client.Healthcheck(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.srv[us].Count(); n != 1 {
		t.Errorf("us got %d requests after the flip, want 1", n)
	}
	e.assertNoStandbyRequest()
}

func TestFlipBetweenReadsMovesToNewRegion(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := ctxT(t, 10*time.Second)

	read := func() (region.ID, []int64) {
		t.Helper()
		rd, err := e.client.ReadBatch(ctx, testFV, testVersion, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Release()
		ids, err := drain(t, rd)
		if err != nil {
			t.Fatal(err)
		}
		return rd.Region(), ids
	}
	r1, ids1 := read()
	if r1 != eu || len(ids1) != testRows {
		t.Fatalf("first read: region %q, %d rows", r1, len(ids1))
	}
	if n := e.srv[us].Count(); n != 0 {
		t.Fatalf("us (standby) got %d requests before the flip", n)
	}
	euBefore := e.srv[eu].Count()

	e.flipTo(us)
	r2, ids2 := read()
	if r2 != us || !slices.Equal(ids2, ids1) {
		t.Fatalf("second read: region %q, %d rows", r2, len(ids2))
	}
	if n := e.srv[eu].Count(); n != euBefore {
		t.Errorf("eu (now standby) got %d requests after the flip", n-euBefore)
	}
	if got := e.queries.regions(); !slices.Equal(got, []region.ID{eu, us}) {
		t.Errorf("batch queries asked of %v, want [eu us]", got)
	}
	e.assertNoStandbyRequest()
}

func TestFlipMidStreamIsRetryable(t *testing.T) {
	// The server's hooks wait until the client has its first batch, so that
	// the flip lands mid-stream and not before the read began.
	for _, tc := range []struct {
		name     string
		pollOnly bool
		arrange  func(e *env, first <-chan struct{})
		between  func(e *env) // after the first batch
	}{
		{
			name:     "stream drops after flip, polling source",
			pollOnly: true,
			arrange: func(e *env, first <-chan struct{}) {
				e.srv[eu].DropAfter(300, func() { wait(first); e.flipTo(us) })
			},
		},
		{
			name: "stream drops after flip, watching source",
			arrange: func(e *env, first <-chan struct{}) {
				e.srv[eu].DropAfter(300, func() { wait(first); e.flipTo(us) })
			},
		},
		{
			// Only the watcher can notice this one: the stream is alive
			// but stalled in the old region.
			name: "stream stalls after flip, watching source",
			arrange: func(e *env, first <-chan struct{}) {
				e.srv[eu].HangAfter(300, func() { wait(first); e.flipTo(us) })
			},
		},
		{
			name:     "flip between two batches of a healthy stream",
			pollOnly: true,
			between:  func(e *env) { e.flipTo(us) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{pollOnly: tc.pollOnly})
			ctx := ctxT(t, 10*time.Second)
			first := make(chan struct{})
			if tc.arrange != nil {
				tc.arrange(e, first)
			}
			rd, err := e.client.ReadBatch(ctx, testFV, testVersion, time.Time{}, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Release()
			if !rd.Next() {
				t.Fatalf("no first batch: %v", rd.Err())
			}
			n := rd.RecordBatch().NumRows()
			close(first)
			if tc.between != nil {
				tc.between(e)
			}
			for rd.Next() {
				n += rd.RecordBatch().NumRows()
			}
			err = rd.Err()
			var fe *offline.FlipError
			if !errors.As(err, &fe) || fe.From != eu || fe.To != us {
				t.Fatalf("err = %v, want a FlipError eu -> us", err)
			}
			if !errors.Is(err, offline.ErrRegionChanged) || !offline.IsRetryable(err) {
				t.Errorf("err = %v: want ErrRegionChanged and retryable", err)
			}
			if n >= testRows {
				t.Errorf("read %d rows, want a partial read", n)
			}
			if ctx.Err() != nil {
				t.Error("the read only ended with the test's timeout")
			}
			e.assertNoStandbyRequest()
		})
	}
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// wait waits for ch, at most 5s: a server hook must never hang a test.
func wait(ch <-chan struct{}) {
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
	}
}

func TestReadBatchAllRetriesWithoutDuplicates(t *testing.T) {
	// The hooks pause before the flip so that the first attempt has
	// collected rows by then: the test checks (through the spans) that
	// those rows were dropped, not kept and read again.
	pause := func() { time.Sleep(50 * time.Millisecond) }
	for _, tc := range []struct {
		name       string
		arrange    func(e *env)
		wantRegion region.ID
	}{
		{"flip mid-stream", func(e *env) { e.srv[eu].DropAfter(300, func() { pause(); e.flipTo(us) }) }, us},
		{"stall then flip", func(e *env) { e.srv[eu].HangAfter(500, func() { pause(); e.flipTo(us) }) }, us},
		{"unavailable, no flip", func(e *env) { e.srv[eu].DropAfter(300, pause) }, eu},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spans := tracetest.NewSpanRecorder()
			e := newEnv(t, envOpts{opts: []offline.Option{offline.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))}})
			ctx := ctxT(t, 10*time.Second)
			tc.arrange(e)
			tbl, err := e.client.ReadBatchAll(ctx, testFV, testVersion, time.Time{}, time.Time{}, offline.WithRetry(2))
			if err != nil {
				t.Fatal(err)
			}
			defer tbl.Release()
			ids := tableIDs(t, tbl)
			if !slices.Equal(ids, seq(0, testRows)) {
				t.Fatalf("got %d rows (want %d, each id once)", len(ids), testRows)
			}
			if got := e.queries.regions(); len(got) != 2 || got[1] != tc.wantRegion {
				t.Errorf("batch queries asked of %v, want a second one of %s", got, tc.wantRegion)
			}
			e.assertNoStandbyRequest()

			ended := spans.Ended()
			if len(ended) != 2 {
				t.Fatalf("%d spans, want one per attempt", len(ended))
			}
			first, second := attrs(ended[0]), attrs(ended[1])
			if first["tandem.rows"].AsInt64() == 0 || ended[0].Status().Code != otelcodes.Error {
				t.Errorf("first attempt: rows %v, status %v; want a failed attempt that had delivered rows", first["tandem.rows"], ended[0].Status())
			}
			if second["tandem.rows"].AsInt64() != testRows || second["tandem.region"].AsString() != string(tc.wantRegion) || second["tandem.attempt"].AsInt64() != 1 {
				t.Errorf("second attempt attributes %v", second)
			}
		})
	}

	t.Run("no retry option", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.srv[eu].DropAfter(300, func() { e.flipTo(us) })
		_, err := e.client.ReadBatchAll(ctxT(t, 10*time.Second), testFV, testVersion, time.Time{}, time.Time{})
		if !errors.Is(err, offline.ErrRegionChanged) {
			t.Fatalf("err = %v, want ErrRegionChanged", err)
		}
	})
}

func TestReadBatchRetriesBeforeFirstBatch(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := ctxT(t, 10*time.Second)
	e.srv[eu].DropAfter(0, func() { e.flipTo(us) })
	rd, err := e.client.ReadBatch(ctx, testFV, testVersion, time.Time{}, time.Time{}, offline.WithRetry(1))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	ids, err := drain(t, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Region() != us || !slices.Equal(ids, seq(0, testRows)) {
		t.Errorf("region %q, %d rows; want us, %d", rd.Region(), len(ids), testRows)
	}
	e.assertNoStandbyRequest()
}

func TestNoActiveRegion(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.arb.Clear()

	t.Run("fails fast", func(t *testing.T) {
		ctx := ctxT(t, 10*time.Second)
		began := time.Now()
		_, err := e.client.ReadBatch(ctx, testFV, testVersion, time.Time{}, time.Time{})
		if !errors.Is(err, aca.ErrNoActiveRegion) {
			t.Fatalf("err = %v, want ErrNoActiveRegion", err)
		}
		if !strings.HasPrefix(err.Error(), "offline: ") {
			t.Errorf("message %q lacks the offline: prefix", err)
		}
		if d := time.Since(began); d > time.Second {
			t.Errorf("took %v to fail", d)
		}
		if err := e.client.Healthcheck(ctx); !errors.Is(err, aca.ErrNoActiveRegion) {
			t.Errorf("Healthcheck: %v, want ErrNoActiveRegion", err)
		}
		if offline.IsRetryable(err) {
			t.Error("ErrNoActiveRegion reported retryable")
		}
	})
	t.Run("wait bounded by ctx", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := e.client.ReadBatch(ctx, testFV, testVersion, time.Time{}, time.Time{}, offline.WaitForActive(true))
		if !errors.Is(err, aca.ErrNoActiveRegion) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrNoActiveRegion and DeadlineExceeded", err)
		}
	})
	for id, s := range e.srv {
		if n := s.Count(); n != 0 {
			t.Errorf("%s got %d requests with no active region", id, n)
		}
	}
	if n := len(e.queries.regions()); n != 0 {
		t.Errorf("%d batch queries with no active region", n)
	}
	t.Run("wait until known", func(t *testing.T) {
		ctx := ctxT(t, 10*time.Second)
		timer := time.AfterFunc(50*time.Millisecond, func() { e.arb.Set(aState(eu, us)) })
		defer timer.Stop()
		tbl, err := e.client.ReadBatchAll(ctx, testFV, testVersion, time.Time{}, time.Time{}, offline.WaitForActive(true))
		if err != nil {
			t.Fatal(err)
		}
		defer tbl.Release()
		if tbl.NumRows() != testRows {
			t.Errorf("got %d rows", tbl.NumRows())
		}
	})
	e.assertNoStandbyRequest()
}

// TestStaleState checks the bound on the age of the ACA state: past
// Config.MaxStateAge (10s by default) every call fails with aca.ErrStale
// and sends nothing, and it works again once the state is fresh.
func TestStaleState(t *testing.T) {
	for _, tc := range []struct {
		name   string
		maxAge time.Duration // Config.MaxStateAge
		age    time.Duration // ActiveSource.Staleness
		stale  bool
	}{
		{"fresh", 0, time.Second, false},
		{"just under the default", 0, offline.DefaultMaxStateAge, false},
		{"over the default", 0, offline.DefaultMaxStateAge + time.Millisecond, true},
		{"over a configured bound", time.Second, 2 * time.Second, true},
		{"under a configured bound", time.Minute, 30 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{cfg: func(c *offline.Config) { c.MaxStateAge = tc.maxAge }})
			e.arb.SetStaleness(tc.age)
			ctx := ctxT(t, 10*time.Second)
			calls := map[string]func() error{
				"ReadBatch": func() error {
					rd, err := e.client.ReadBatch(ctx, testFV, testVersion, time.Time{}, time.Time{}, offline.WaitForActive(true), offline.WithRetry(2))
					if err == nil {
						rd.Release()
					}
					return err
				},
				"ReadTrainingDatasetAll": func() error {
					tbl, err := e.client.ReadTrainingDatasetAll(ctx, "td/sales_1", offline.WithRetry(2))
					if err == nil {
						tbl.Release()
					}
					return err
				},
				"Healthcheck": func() error { return e.client.Healthcheck(ctx) },
			}
			for name, call := range calls {
				err := call()
				if !tc.stale {
					if err != nil {
						t.Errorf("%s: %v", name, err)
					}
					continue
				}
				if !errors.Is(err, aca.ErrStale) || !strings.HasPrefix(err.Error(), "offline: ") {
					t.Errorf("%s: err = %v, want an offline: error wrapping aca.ErrStale", name, err)
				}
				if offline.IsRetryable(err) {
					t.Errorf("%s: a stale state reported retryable", name)
				}
			}
			if !tc.stale {
				return
			}
			for id, s := range e.srv {
				if n := s.Count(); n != 0 {
					t.Errorf("%s got %d requests on a stale state", id, n)
				}
			}
			if n := len(e.queries.regions()); n != 0 {
				t.Errorf("%d batch queries on a stale state", n)
			}
			e.arb.SetStaleness(0)
			if err := calls["ReadBatch"](); err != nil {
				t.Errorf("ReadBatch once fresh: %v", err)
			}
		})
	}
}

// freshening is an ActiveSource whose Refresh confirms the state again
// when fresh is set, as an *aca.Client whose endpoints answer again.
type freshening struct {
	*flighttest.Arbiter
	fresh     bool
	refreshes atomic.Int32
}

func (f *freshening) Refresh(context.Context) (aca.State, error) {
	f.refreshes.Add(1)
	if f.fresh {
		f.SetStaleness(0)
	}
	st, _ := f.Current()
	return st, nil
}

func TestStaleStateRefreshedOnce(t *testing.T) {
	for _, fresh := range []bool{true, false} {
		t.Run(fmt.Sprintf("refresh confirms=%v", fresh), func(t *testing.T) {
			e := newEnv(t, envOpts{})
			src := &freshening{Arbiter: e.arb, fresh: fresh}
			c, err := offline.New(offline.Config{Regions: []offline.RegionConfig{{ID: eu, Addr: e.srv[eu].Addr(), Insecure: true}}}, src)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			e.arb.SetStaleness(time.Hour)
			err = c.Healthcheck(ctxT(t, 10*time.Second))
			if fresh != (err == nil) || (!fresh && !errors.Is(err, aca.ErrStale)) {
				t.Fatalf("Healthcheck: %v", err)
			}
			if n := src.refreshes.Load(); n != 1 {
				t.Errorf("%d refreshes, want 1", n)
			}
		})
	}
}

func TestTypedErrors(t *testing.T) {
	otherSigner := flighttest.NewSigner([]byte("not the region's key"))
	errMetadata := errors.New("metadata: 270009: the feature view's query is no longer valid")
	for _, tc := range []struct {
		name      string
		eo        envOpts
		arrange   func(e *env)
		fv        string
		want      []error
		code      codes.Code // 0: no gRPC status expected
		retryable bool
	}{
		{
			name: "unknown feature view",
			fv:   "nope",
			want: []error{offline.ErrNotFound},
			code: codes.NotFound,
		},
		{
			name: "bad signature",
			eo:   envOpts{queries: flighttest.SignedQueries(otherSigner)},
			want: []error{offline.ErrUnauthorized},
			code: codes.PermissionDenied,
		},
		{
			name: "unhealthy server",
			arrange: func(e *env) {
				e.srv[eu].SetHealthy(false)
			},
			want: []error{offline.ErrServer},
			code: codes.Internal,
		},
		{
			name: "active query service not ready",
			arrange: func(e *env) {
				e.srv[eu].SetReady(false)
			},
			want:      []error{offline.ErrUnavailable},
			code:      codes.Unavailable,
			retryable: true,
		},
		{
			name: "query source fails",
			eo: envOpts{queries: flighttest.QueryFunc(func(context.Context, region.ID, string, int, time.Time, time.Time) (string, string, error) {
				return "", "", errMetadata
			})},
			want: []error{offline.ErrBatchQuery, errMetadata},
		},
		{
			name: "garbage payload, correctly signed",
			eo: envOpts{queries: flighttest.QueryFunc(func(context.Context, region.ID, string, int, time.Time, time.Time) (string, string, error) {
				p := `{"featureView": "sales", "version": 1, "start": "yesterday"`
				return p, flighttest.NewSigner([]byte("region-shared-test-key")).Sign([]byte(p)), nil
			})},
			want: []error{offline.ErrBadQuery},
			code: codes.InvalidArgument,
		},
		{
			name: "empty signature",
			eo: envOpts{queries: flighttest.QueryFunc(func(context.Context, region.ID, string, int, time.Time, time.Time) (string, string, error) {
				return `{"featureView":"sales","version":1}`, "", nil
			})},
			want: []error{offline.ErrBadQuery},
		},
		{
			name: "active region without endpoint",
			arrange: func(e *env) {
				e.arb.Set(aState("ap", "eu"))
			},
			want: []error{offline.ErrNoEndpoint},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.eo)
			if tc.arrange != nil {
				tc.arrange(e)
			}
			fv := testFV
			if tc.fv != "" {
				fv = tc.fv
			}
			ctx := ctxT(t, 10*time.Second)
			rd, err := e.client.ReadBatch(ctx, fv, testVersion, time.Time{}, time.Time{})
			if err == nil {
				rd.Release()
				t.Fatal("ReadBatch succeeded")
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("err = %v; want it to match %v", err, w)
				}
			}
			if tc.code != 0 {
				if got := status.Code(err); got != tc.code {
					t.Errorf("status.Code = %v, want %v (err %v)", got, tc.code, err)
				}
				var re *offline.RegionError
				if !errors.As(err, &re) || re.Region != eu {
					t.Errorf("err = %#v, want a RegionError for eu", err)
				}
			}
			if got := offline.IsRetryable(err); got != tc.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, tc.retryable)
			}
			if len(err.Error()) < 9 || err.Error()[:9] != "offline: " {
				t.Errorf("error %q lacks the offline: prefix", err)
			}
			if n := e.srv[us].Count(); n != 0 {
				t.Errorf("standby got %d requests", n)
			}
		})
	}
}

func aState(active, secondary region.ID) aca.State {
	return aca.State{Active: active, Secondary: secondary, Epoch: 9}
}

func TestHealthcheckErrors(t *testing.T) {
	t.Run("unhealthy", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.srv[eu].SetHealthy(false)
		err := e.client.Healthcheck(ctxT(t, 10*time.Second))
		if !errors.Is(err, offline.ErrUnhealthy) || !errors.Is(err, offline.ErrServer) || status.Code(err) != codes.Internal {
			t.Fatalf("err = %v, want ErrUnhealthy, ErrServer, Internal", err)
		}
		if n := e.srv[us].Count(); n != 0 {
			t.Errorf("standby got %d requests: the client must not fall back", n)
		}
	})
	t.Run("hangs", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.srv[eu].SetHang(true)
		began := time.Now()
		err := e.client.Healthcheck(ctxT(t, 10*time.Second))
		if !errors.Is(err, offline.ErrUnhealthy) || !errors.Is(err, offline.ErrTimeout) {
			t.Fatalf("err = %v, want ErrUnhealthy and ErrTimeout", err)
		}
		if d := time.Since(began); d > 5*time.Second {
			t.Errorf("took %v; HealthcheckTimeout is 300ms", d)
		}
	})
}

func TestCtxCancelledMidStream(t *testing.T) {
	e := newEnv(t, envOpts{pollOnly: true})
	e.srv[eu].HangAfter(300, nil)
	ctx, cancel := context.WithCancel(ctxT(t, 10*time.Second))
	defer cancel()
	rd, err := e.client.ReadBatch(ctx, testFV, testVersion, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	n := int64(0)
	for rd.Next() {
		n += rd.RecordBatch().NumRows()
		if n >= 300 {
			cancel()
		}
	}
	err = rd.Err()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if offline.IsRetryable(err) || errors.Is(err, offline.ErrRegionChanged) {
		t.Errorf("a cancelled read must not be retryable: %v", err)
	}
	if rd.RecordBatch() != nil {
		t.Error("RecordBatch after the end is not nil")
	}
}

func TestClose(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := ctxT(t, 10*time.Second)
	e.srv[eu].HangAfter(200, nil)
	rd, err := e.client.ReadBatch(ctx, testFV, testVersion, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	if !rd.Next() {
		t.Fatal(rd.Err())
	}
	if err := e.client.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.client.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for rd.Next() {
	}
	if err := rd.Err(); !errors.Is(err, offline.ErrClosed) {
		t.Errorf("open reader after Close: %v, want ErrClosed", err)
	}
	if _, err := e.client.ReadBatch(ctx, testFV, testVersion, time.Time{}, time.Time{}); !errors.Is(err, offline.ErrClosed) {
		t.Errorf("ReadBatch after Close: %v", err)
	}
	if _, err := e.client.ReadTrainingDatasetAll(ctx, "td/sales_1"); !errors.Is(err, offline.ErrClosed) {
		t.Errorf("ReadTrainingDatasetAll after Close: %v", err)
	}
	if err := e.client.Healthcheck(ctx); !errors.Is(err, offline.ErrClosed) {
		t.Errorf("Healthcheck after Close: %v", err)
	}
}

func TestInvalidArguments(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := ctxT(t, 10*time.Second)
	for name, f := range map[string]func() error{
		"empty feature view": func() error {
			_, err := e.client.ReadBatch(ctx, "", 1, time.Time{}, time.Time{})
			return err
		},
		"end before start": func() error {
			_, err := e.client.ReadBatch(ctx, testFV, 1, base, base.Add(-time.Hour))
			return err
		},
		"empty path": func() error {
			_, err := e.client.ReadTrainingDataset(ctx, "")
			return err
		},
	} {
		if err := f(); !errors.Is(err, offline.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	for id, s := range e.srv {
		if n := s.Count(); n != 0 {
			t.Errorf("%s got %d requests for invalid arguments", id, n)
		}
	}
}

func TestNewValidates(t *testing.T) {
	arb := flighttest.NewArbiter(eu, us)
	ok := []offline.RegionConfig{{ID: eu, Addr: "eu.example:5005"}}
	one := func(rg offline.RegionConfig) offline.Config {
		return offline.Config{Regions: []offline.RegionConfig{rg}}
	}
	for _, tc := range []struct {
		name   string
		cfg    offline.Config
		active offline.ActiveSource
	}{
		{"no active source", offline.Config{Regions: ok}, nil},
		{"no regions", offline.Config{}, arb},
		{"empty addr", one(offline.RegionConfig{ID: eu}), arb},
		{"no region id", one(offline.RegionConfig{Addr: "h"}), arb},
		{"bad region id", one(offline.RegionConfig{ID: "e u", Addr: "h"}), arb},
		{"same region twice", offline.Config{Regions: []offline.RegionConfig{{ID: "eu", Addr: "h"}, {ID: "EU", Addr: "h"}}}, arb},
		{"insecure with CA", one(offline.RegionConfig{ID: eu, Addr: "h", Insecure: true, Certificates: offline.Certificates{CAPEM: []byte("x")}}), arb},
		{"CAPEM without cert", one(offline.RegionConfig{ID: eu, Addr: "h", Certificates: offline.Certificates{CAPEM: []byte("not pem")}}), arb},
		{"missing CAFile", one(offline.RegionConfig{ID: eu, Addr: "h", Certificates: offline.Certificates{CAFile: "/nonexistent/ca.pem"}}), arb},
		{"negative timeout", offline.Config{Regions: ok, ReadTimeout: -1}, arb},
		{"negative MaxStateAge", offline.Config{Regions: ok, MaxStateAge: -1}, arb},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := offline.New(tc.cfg, tc.active)
			if err == nil {
				c.Close()
				t.Fatal("New accepted it")
			}
			if !errors.Is(err, offline.ErrInvalidConfig) {
				t.Errorf("err = %v, want ErrInvalidConfig", err)
			}
		})
	}
	t.Run("valid config does no I/O", func(t *testing.T) {
		// Nothing listens on these addresses: New must not care.
		c, err := offline.New(offline.Config{Regions: []offline.RegionConfig{{ID: "EU", Addr: "127.0.0.1"}, {ID: us, Addr: "127.0.0.1:1"}}}, arb)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		_, err = c.ReadTrainingDataset(t.Context(), "x")
		if !errors.Is(err, offline.ErrClosed) {
			t.Errorf("after Close: %v", err)
		}
		if _, err := c.ReadBatch(t.Context(), testFV, 1, time.Time{}, time.Time{}); !errors.Is(err, offline.ErrNoQuerySource) {
			t.Errorf("ReadBatch without QuerySource: %v", err)
		}
	})
}

package tandemtest

import (
	"context"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.uber.org/goleak"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/internal/testutil"
	"github.com/tandemfs/tandem/metadata"
	"github.com/tandemfs/tandem/online"
	"github.com/tandemfs/tandem/region"
)

func TestMain(m *testing.M) {
	// The driver logs the connections KillRegion resets.
	_ = mysql.SetLogger(&mysql.NopLogger{})
	goleak.VerifyTestMain(m)
}

// start starts a small sandbox that the test closes.
func start(t *testing.T, opts Options) *Sandbox {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sb, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return sb
}

func ctxT(t testing.TB, d time.Duration) context.Context { return testutil.Context(t, d) }

func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, d, what, cond)
}

// TestOnlineStores reads the demo view's statements from the fake
// Hopsworks and runs them on both regions' online stores, then kills and
// revives eu.
func TestOnlineStores(t *testing.T) {
	sb := start(t, Options{Rows: 200})
	ctx := ctxT(t, 20*time.Second)

	mc, err := metadata.New(sb.MetadataConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	stmts, err := mc.PreparedStatements(ctx, FeatureView, FeatureViewVersion, false)
	if err != nil {
		t.Fatalf("PreparedStatements: %v", err)
	}
	if len(stmts) != 2 {
		t.Fatalf("got %d statements, want 2", len(stmts))
	}

	st, err := online.New(sb.OnlineConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	calls := make([]online.Call, len(stmts))
	for i, ps := range stmts {
		p, err := st.Prepare(ps.QueryOnline)
		if err != nil {
			t.Fatalf("Prepare %q: %v", ps.QueryOnline, err)
		}
		calls[i] = online.Call{Stmt: p}
	}
	acts, profs := demoRows(sb.Rows())
	lookup := func(i int, opts ...online.CallOption) *online.Result {
		t.Helper()
		for j := range calls {
			calls[j].Args = []any{FirstKey + int64(i)}
		}
		res, err := st.QueryGroup(ctx, calls, opts...)
		if err != nil {
			t.Fatalf("lookup %d: %v", i, err)
		}
		return res
	}
	value := func(r *online.Rows, col string) any {
		t.Helper()
		if len(r.Values) != 1 {
			t.Fatalf("got %d rows, want 1", len(r.Values))
		}
		for k, c := range r.Columns {
			if c == col {
				return r.Values[0][k]
			}
		}
		t.Fatalf("no column %q in %v", col, r.Columns)
		return nil
	}

	for _, id := range sb.Regions() {
		t.Run("read from "+string(id), func(t *testing.T) {
			res := lookup(7, online.Pin(id))
			if res.Region != id {
				t.Errorf("served by %s, want %s", res.Region, id)
			}
			if got := value(res.Rows[0], "replica"); got != string(id) {
				t.Errorf("replica = %v, want %s", got, id)
			}
			if got, want := value(res.Rows[0], "amount_avg_7d"), acts[7].amountAvg; got != want {
				t.Errorf("amount_avg_7d = %v, want %v", got, want)
			}
			if got, want := value(res.Rows[1], "age"), profs[7].age; got != want {
				t.Errorf("age = %v, want %v", got, want)
			}
		})
	}

	if err := sb.KillRegion(EU); err != nil {
		t.Fatal(err)
	}
	if !sb.Killed(EU) {
		t.Error("Killed(eu) = false after KillRegion")
	}
	for i := range 20 {
		if res := lookup(i); res.Region != US {
			t.Fatalf("lookup %d with eu killed served by %s", i, res.Region)
		}
	}
	if err := sb.ReviveRegion(EU); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "reads to return to eu", func() bool { return lookup(1).Region == EU })
}

func TestFlipACA(t *testing.T) {
	sb := start(t, Options{Rows: 10})
	ctx := ctxT(t, 20*time.Second)

	ac, err := aca.New(sb.ACAConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	st, err := ac.WaitReady(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Active != EU || st.Secondary != US {
		t.Fatalf("state %+v, want eu active", st)
	}
	next, err := sb.FlipACA()
	if err != nil {
		t.Fatal(err)
	}
	if next.Active != US || sb.ACAState() != next {
		t.Fatalf("FlipACA = %+v, ACAState = %+v", next, sb.ACAState())
	}
	eventually(t, 5*time.Second, "the client to see us active", func() bool {
		a, err := ac.Active()
		return err == nil && a == US
	})
	if !sb.meta[US].Active() || sb.meta[EU].Active() {
		t.Fatal("Hopsworks roles did not follow the flip")
	}

	mc, err := metadata.New(sb.MetadataConfig(), metadata.WithActiveSource(ac))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	fv, err := mc.CreateFeatureView(ctx, ViewSpec("after_flip", 1))
	if err != nil {
		t.Fatalf("CreateFeatureView: %v", err)
	}
	if fv.Region != US {
		t.Errorf("write served by %s, want us", fv.Region)
	}
	if got := sb.Writes(US); got != (WriteCounts{Accepted: 1}) {
		t.Errorf("us writes = %+v, want 1 accepted", got)
	}
	if got := sb.Writes(EU); got != (WriteCounts{}) {
		t.Errorf("eu writes = %+v, want none", got)
	}
	if _, err := sb.FlipACA(); err != nil {
		t.Fatal(err)
	}
	if sb.ACAState().Active != EU {
		t.Fatal("second flip did not bring eu back")
	}
}

func TestErrors(t *testing.T) {
	if _, err := Start(context.Background(), Options{Rows: MaxRows + 1}); err == nil {
		t.Error("Start with too many rows: no error")
	}
	sb := start(t, Options{Rows: 1})
	if err := sb.KillRegion(region.ID("ap")); err == nil {
		t.Error("KillRegion(ap): no error")
	}
	if _, err := sb.OnlineAddr("EU"); err != nil {
		t.Errorf("OnlineAddr(EU): %v", err)
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.FlipACA(); err == nil {
		t.Error("FlipACA after Close: no error")
	}
}

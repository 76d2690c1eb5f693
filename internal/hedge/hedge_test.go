package hedge

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	errTransient = errors.New("transient")
	errFatal     = errors.New("fatal")
)

func classify(err error) Class {
	if errors.Is(err, errFatal) {
		return Fatal
	}
	return Transient
}

// step describes what attempt i does: sleep, then return err.
type step struct {
	sleep time.Duration
	err   error
}

func plan(steps []step, delay time.Duration, started *[4]atomic.Int64) Plan[int] {
	t0 := time.Now()
	return Plan[int]{
		Targets:  len(steps),
		Delay:    func(int) time.Duration { return delay },
		Classify: classify,
		Attempt: func(ctx context.Context, i int) (int, error) {
			if started != nil {
				started[i].Store(int64(time.Since(t0)))
			}
			select {
			case <-time.After(steps[i].sleep):
			case <-ctx.Done():
				return 0, ctx.Err()
			}
			return i, steps[i].err
		},
	}
}

func TestDo(t *testing.T) {
	for _, tc := range []struct {
		name       string
		steps      []step
		delay      time.Duration
		wantV      int
		wantErr    error
		wantLaunch int
		wantHedges int
		maxElapsed time.Duration
	}{
		{"fast primary, no hedge", []step{{sleep: 0}, {sleep: 0}}, 50 * time.Millisecond, 0, nil, 1, 0, 40 * time.Millisecond},
		{"slow primary, hedge wins", []step{{sleep: time.Second}, {sleep: 0}}, 10 * time.Millisecond, 1, nil, 2, 1, 500 * time.Millisecond},
		{"transient error fails over at once", []step{{err: errTransient}, {sleep: 0}}, time.Second, 1, nil, 2, 0, 500 * time.Millisecond},
		{"fatal error, no hedge", []step{{err: errFatal}, {sleep: 0}}, time.Second, 0, errFatal, 1, 0, 500 * time.Millisecond},
		{"all transient", []step{{err: errTransient}, {err: errTransient}}, time.Second, 0, errTransient, 2, 0, 500 * time.Millisecond},
		{"negative delay never hedges", []step{{sleep: 30 * time.Millisecond}, {sleep: 0}}, -1, 0, nil, 1, 0, 500 * time.Millisecond},
		{"three targets, two hedges", []step{{sleep: time.Second}, {sleep: time.Second}, {sleep: 0}}, 5 * time.Millisecond, 2, nil, 3, 2, 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{AttemptTimeout: 2 * time.Second})
			defer e.Close()
			start := time.Now()
			v, out, err := Do(context.Background(), e, plan(tc.steps, tc.delay, nil))
			checkDo(t, v, out, err, time.Since(start), tc.wantV, tc.wantErr, tc.wantLaunch, tc.wantHedges, tc.maxElapsed)
		})
	}
}

// checkDo checks what Do returned and how long it took.
func checkDo(t *testing.T, v int, out Outcome, err error, el time.Duration, wantV int, wantErr error, wantLaunch, wantHedges int, maxElapsed time.Duration) {
	t.Helper()
	if !errors.Is(err, wantErr) || (wantErr == nil && err != nil) {
		t.Fatalf("err %v, want %v", err, wantErr)
	}
	if err == nil && v != wantV {
		t.Fatalf("value %d, want %d", v, wantV)
	}
	if out.Launched != wantLaunch || out.Hedges != wantHedges {
		t.Fatalf("outcome %+v, want launched %d hedges %d", out, wantLaunch, wantHedges)
	}
	if el > maxElapsed {
		t.Fatalf("took %v, want ≤ %v", el, maxElapsed)
	}
}

func TestFailoverDoesNotWaitForDelay(t *testing.T) {
	e := New(Config{})
	defer e.Close()
	var started [4]atomic.Int64
	_, _, err := Do(context.Background(), e, plan([]step{{sleep: time.Millisecond, err: errTransient}, {}}, time.Second, &started))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(started[1].Load()); d > 200*time.Millisecond {
		t.Fatalf("second attempt started after %v; a transient error must fire it at once", d)
	}
}

func TestBudgetSuppressesOnlyTheHedge(t *testing.T) {
	e := New(Config{Budget: BudgetConfig{Ratio: 0.001, ReservePerSecond: 0.001, MaxTokens: 2, MaxConcurrent: 100}})
	defer e.Close()
	hedges, suppressed := 0, 0
	for i := 0; i < 10; i++ {
		v, out, err := Do(context.Background(), e, plan([]step{{sleep: 15 * time.Millisecond}, {sleep: 15 * time.Millisecond}}, time.Millisecond, nil))
		if err != nil {
			t.Fatalf("request %d failed: %v; a spent budget must only suppress the hedge", i, err)
		}
		_ = v
		hedges += out.Hedges
		if out.Suppressed {
			suppressed++
		}
	}
	if hedges != 2 || suppressed != 8 {
		t.Fatalf("hedges %d suppressed %d, want 2 and 8", hedges, suppressed)
	}
}

func TestBudgetConcurrencyCap(t *testing.T) {
	b := NewBudget(BudgetConfig{MaxTokens: 100, MaxConcurrent: 2})
	now := time.Now()
	for i := range 2 {
		if !b.TryAcquire(now) {
			t.Fatalf("hedge %d of 2 refused", i+1)
		}
	}
	if b.TryAcquire(now) {
		t.Fatal("third concurrent hedge must be refused")
	}
	b.Release()
	if !b.TryAcquire(now) {
		t.Fatal("a released slot must be usable")
	}
	if b.InFlight() != 2 {
		t.Fatalf("in flight %d", b.InFlight())
	}
}

func TestBudgetRatioAndReserve(t *testing.T) {
	b := NewBudget(BudgetConfig{Ratio: 0.1, ReservePerSecond: 10, MaxTokens: 5, MaxConcurrent: 1000})
	now := time.Unix(1000, 0)
	n := 0
	for b.TryAcquire(now) {
		n++
	}
	if n != 5 {
		t.Fatalf("full bucket gave %d hedges, want 5", n)
	}
	for i := 0; i < 30; i++ {
		b.Deposit()
	}
	n = 0
	for b.TryAcquire(now) {
		n++
	}
	if n != 3 {
		t.Fatalf("30 requests at 10%% gave %d hedges, want 3", n)
	}
	// 200 ms later the reserve added two.
	n = 0
	for b.TryAcquire(now.Add(200 * time.Millisecond)) {
		n++
	}
	if n != 2 {
		t.Fatalf("reserve after 200ms gave %d, want 2", n)
	}
}

func TestCallerCancelReturnsButLosersRunOn(t *testing.T) {
	e := New(Config{AttemptTimeout: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	var loserErr atomic.Value
	p := Plan[int]{
		Targets: 2,
		Delay:   func(int) time.Duration { return -1 }, // never hedge: one attempt, on a worker
		Attempt: func(actx context.Context, i int) (int, error) {
			select {
			case <-time.After(80 * time.Millisecond):
				return 1, nil
			case <-actx.Done():
				loserErr.Store(actx.Err())
				return 0, actx.Err()
			}
		},
	}
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	start := time.Now()
	_, _, err := Do(ctx, e, p)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 60*time.Millisecond {
		t.Fatalf("cancelled request returned after %v", el)
	}
	e.Close()
	if v := loserErr.Load(); v != nil {
		t.Fatalf("the attempt was cancelled (%v); losers must run on by default", v)
	}
}

func TestCancelLosers(t *testing.T) {
	e := New(Config{CancelLosers: true})
	var cancelled atomic.Bool
	p := Plan[int]{
		Targets: 2,
		Delay:   func(int) time.Duration { return time.Millisecond },
		Attempt: func(ctx context.Context, i int) (int, error) {
			if i == 1 {
				return 1, nil
			}
			<-ctx.Done()
			cancelled.Store(true)
			return 0, ctx.Err()
		},
	}
	if v, _, err := Do(context.Background(), e, p); err != nil || v != 1 {
		t.Fatalf("v %d err %v", v, err)
	}
	e.Close()
	if !cancelled.Load() {
		t.Fatal("loser was not cancelled with CancelLosers")
	}
}

func TestCallerDeadlineBoundsAttempts(t *testing.T) {
	e := New(Config{AttemptTimeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var got atomic.Value
	p := Plan[int]{Targets: 1, Attempt: func(actx context.Context, i int) (int, error) {
		d, _ := actx.Deadline()
		got.Store(d)
		return 0, nil
	}}
	if _, _, err := Do(ctx, e, p); err != nil {
		t.Fatal(err)
	}
	e.Close()
	want, _ := ctx.Deadline()
	if d := got.Load().(time.Time); !d.Equal(want) {
		t.Fatalf("attempt deadline %v, want the caller's %v", d, want)
	}
}

func TestNoTargetsAndCancelledContext(t *testing.T) {
	e := New(Config{})
	defer e.Close()
	if _, _, err := Do(context.Background(), e, Plan[int]{}); !errors.Is(err, ErrNoTargets) {
		t.Fatalf("err %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, out, err := Do(ctx, e, plan([]step{{}}, 0, nil)); !errors.Is(err, context.Canceled) || out.Launched != 0 {
		t.Fatalf("err %v launched %d; a cancelled ctx must start nothing", err, out.Launched)
	}
}

func BenchmarkDoNoHedge(b *testing.B) {
	e := New(Config{})
	p := Plan[int]{Targets: 2, Delay: func(int) time.Duration { return time.Second },
		Attempt: func(context.Context, int) (int, error) { return 1, nil }}
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = Do(context.Background(), e, p)
	}
	e.Close()
}

func TestInlineWhenNothingToHedge(t *testing.T) {
	e := New(Config{SelfBounded: true})
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls []int
	p := Plan[int]{
		Targets:  3,
		Classify: classify,
		Attempt: func(actx context.Context, i int) (int, error) {
			calls = append(calls, i) // no lock: inline attempts run on this goroutine
			if actx != ctx {
				t.Errorf("inline attempt %d did not get the caller's context", i)
			}
			if i < 2 {
				return 0, errTransient
			}
			return 7, nil
		},
	}
	v, out, err := Do(ctx, e, p)
	if err != nil || v != 7 || out.Winner != 2 || out.Launched != 3 || len(calls) != 3 {
		t.Fatalf("v %d out %+v err %v calls %v", v, out, err, calls)
	}
	p.Attempt = func(context.Context, int) (int, error) { return 0, errFatal }
	if _, out, err := Do(ctx, e, p); !errors.Is(err, errFatal) || out.Launched != 1 {
		t.Fatalf("fatal inline: out %+v err %v", out, err)
	}
}

func TestSuppressedHedgeIsAskedAgain(t *testing.T) {
	// One token, refilled at 200/s: the second request's hedge is refused
	// at first and allowed a few milliseconds later, well before the
	// stalled primary would answer.
	e := New(Config{Budget: BudgetConfig{Ratio: 0.0001, ReservePerSecond: 200, MaxTokens: 1, MaxConcurrent: 10}})
	defer e.Close()
	steps := []step{{sleep: 300 * time.Millisecond}, {}}
	if _, out, err := Do(context.Background(), e, plan(steps, time.Millisecond, nil)); err != nil || out.Hedges != 1 {
		t.Fatalf("first request: out %+v err %v", out, err)
	}
	start := time.Now()
	v, out, err := Do(context.Background(), e, plan(steps, time.Millisecond, nil))
	if err != nil || v != 1 || out.Hedges != 1 || !out.Suppressed {
		t.Fatalf("second request: v %d out %+v err %v; want a hedge after a refusal", v, out, err)
	}
	if el := time.Since(start); el > 150*time.Millisecond {
		t.Fatalf("took %v; the refused hedge was not asked for again", el)
	}
}

// runner is a Plan.Runner over steps.
type runner struct {
	steps       []step
	delay       time.Duration
	interrupted atomic.Bool
}

func (r *runner) Attempt(ctx context.Context, i int) (int, error) {
	select {
	case <-time.After(r.steps[i].sleep):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return i, r.steps[i].err
}

func (r *runner) Delay(int) time.Duration { return r.delay }
func (r *runner) Interrupt()              { r.interrupted.Store(true) }

// TestRunner: a Plan with a Runner hedges as one with functions, and
// NoDelay makes it try targets one after the other, after errors only.
func TestRunner(t *testing.T) {
	e := New(Config{AttemptTimeout: time.Second})
	defer e.Close()
	slow := []step{{sleep: 200 * time.Millisecond}, {sleep: time.Millisecond}}
	r := &runner{steps: slow, delay: 5 * time.Millisecond}
	v, out, err := Do(context.Background(), e, Plan[int]{Targets: 2, Classify: classify, Runner: r})
	if err != nil || v != 1 || out.Winner != 1 || out.Hedges != 1 {
		t.Fatalf("hedged runner: v %d out %+v err %v, want the hedge to win", v, out, err)
	}
	v, out, err = Do(context.Background(), e, Plan[int]{Targets: 2, Classify: classify, Runner: r, NoDelay: true})
	if err != nil || v != 0 || out.Launched != 1 || out.Hedges != 0 {
		t.Fatalf("NoDelay runner: v %d out %+v err %v, want the first target alone", v, out, err)
	}
	failing := &runner{steps: []step{{err: errTransient}, {}}, delay: time.Hour}
	v, out, err = Do(context.Background(), e, Plan[int]{Targets: 2, Classify: classify, Runner: failing, NoDelay: true})
	if err != nil || v != 1 || out.Launched != 2 {
		t.Fatalf("NoDelay failover: v %d out %+v err %v", v, out, err)
	}
	inline := &runner{steps: slow, delay: 5 * time.Millisecond}
	v, out, err = Do(context.Background(), e, Plan[int]{Targets: 2, Classify: classify, Runner: inline, Inline: true})
	if err != nil || v != 1 || !inline.interrupted.Load() {
		t.Fatalf("inline runner: v %d out %+v err %v interrupted %v; the winning hedge must interrupt attempt 0", v, out, err, inline.interrupted.Load())
	}
}

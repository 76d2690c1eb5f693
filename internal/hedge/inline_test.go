package hedge

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// inlinePlan is plan with attempt 0 on the caller's goroutine: it ends at
// once when interrupted, as a read whose socket deadline was pulled in.
func inlinePlan(steps []step, delay time.Duration, interrupts *atomic.Int64, caller *atomic.Bool) Plan[int] {
	p := plan(steps, delay, nil)
	intr := make(chan struct{})
	var once atomic.Bool
	p.Inline = true
	p.Interrupt = func() {
		interrupts.Add(1)
		if once.CompareAndSwap(false, true) {
			close(intr)
		}
	}
	inner := p.Attempt
	p.Attempt = func(ctx context.Context, i int) (int, error) {
		if i != 0 {
			return inner(ctx, i)
		}
		caller.Store(true)
		select {
		case <-time.After(steps[0].sleep):
			return 0, steps[0].err
		case <-intr:
			return 0, errors.New("interrupted")
		}
	}
	return p
}

func TestDoInline(t *testing.T) {
	for _, tc := range []struct {
		name           string
		steps          []step
		delay          time.Duration
		wantV          int
		wantErr        error
		wantLaunch     int
		wantHedges     int
		wantInterrupts int64
		maxElapsed     time.Duration
	}{
		{"fast primary, no hedge", []step{{sleep: 0}, {sleep: 0}}, 50 * time.Millisecond, 0, nil, 1, 0, 0, 40 * time.Millisecond},
		{"slow primary, hedge wins and interrupts it", []step{{sleep: time.Second}, {sleep: 0}}, 10 * time.Millisecond, 1, nil, 2, 1, 1, 500 * time.Millisecond},
		{"transient error fails over at once", []step{{err: errTransient}, {sleep: 0}}, time.Second, 1, nil, 2, 0, 0, 500 * time.Millisecond},
		{"fatal error, no hedge", []step{{err: errFatal}, {sleep: 0}}, time.Second, 0, errFatal, 1, 0, 0, 500 * time.Millisecond},
		{"all transient", []step{{err: errTransient}, {err: errTransient}}, time.Second, 0, errTransient, 2, 0, 0, 500 * time.Millisecond},
		{"negative delay never hedges", []step{{sleep: 30 * time.Millisecond}, {sleep: 0}}, -1, 0, nil, 1, 0, 0, 500 * time.Millisecond},
		{"three targets, two hedges", []step{{sleep: time.Second}, {sleep: time.Second}, {sleep: 0}}, 5 * time.Millisecond, 2, nil, 3, 2, 1, 500 * time.Millisecond},
		{"hedge fails fatally while primary runs", []step{{sleep: time.Second}, {err: errFatal}}, 5 * time.Millisecond, 0, errFatal, 2, 1, 1, 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{AttemptTimeout: 2 * time.Second})
			defer e.Close()
			var interrupts atomic.Int64
			var caller atomic.Bool
			start := time.Now()
			v, out, err := Do(context.Background(), e, inlinePlan(tc.steps, tc.delay, &interrupts, &caller))
			checkDo(t, v, out, err, time.Since(start), tc.wantV, tc.wantErr, tc.wantLaunch, tc.wantHedges, tc.maxElapsed)
			if n := interrupts.Load(); n != tc.wantInterrupts {
				t.Fatalf("attempt 0 interrupted %d times, want %d", n, tc.wantInterrupts)
			}
			if !caller.Load() {
				t.Fatal("attempt 0 did not run")
			}
		})
	}
}

// goid is the current goroutine's ID, from the header of its stack trace.
func goid() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// TestInlineRunsOnTheCallersGoroutine: attempt 0 of an Inline plan runs
// on the goroutine that called Do; without Inline it runs on a worker.
func TestInlineRunsOnTheCallersGoroutine(t *testing.T) {
	e := New(Config{})
	defer e.Close()
	for _, inline := range []bool{true, false} {
		var ran string
		p := Plan[int]{
			Targets:   2,
			Delay:     func(int) time.Duration { return time.Second },
			Inline:    inline,
			Interrupt: func() {},
			Attempt: func(context.Context, int) (int, error) {
				ran = goid()
				return 1, nil
			},
		}
		if _, out, err := Do(context.Background(), e, p); err != nil || out.Winner != 0 {
			t.Fatalf("out %+v err %v", out, err)
		}
		if same := ran == goid(); same != inline {
			t.Fatalf("inline=%v: attempt ran on goroutine %s, caller is %s", inline, ran, goid())
		}
	}
}

// TestInlineCallerCancel: the caller's cancel interrupts the inline
// attempt, Do returns the context's error at once, and no failover is
// started for the interrupted attempt.
func TestInlineCallerCancel(t *testing.T) {
	e := New(Config{})
	defer e.Close()
	var interrupts atomic.Int64
	var caller atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	start := time.Now()
	_, out, err := Do(ctx, e, inlinePlan([]step{{sleep: time.Second}, {}}, time.Second, &interrupts, &caller))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 300*time.Millisecond {
		t.Fatalf("cancelled request returned after %v", el)
	}
	if interrupts.Load() != 1 || out.Launched != 1 {
		t.Fatalf("interrupts %d, outcome %+v: want one interrupt and no failover", interrupts.Load(), out)
	}
}

// TestInlineWinnerIsNotInterrupted: attempt 0 that wins is never
// interrupted, also when a hedge was sent and is still running.
func TestInlineWinnerIsNotInterrupted(t *testing.T) {
	e := New(Config{})
	defer e.Close()
	var interrupts atomic.Int64
	var caller atomic.Bool
	v, out, err := Do(context.Background(), e, inlinePlan([]step{{sleep: 30 * time.Millisecond}, {sleep: 200 * time.Millisecond}}, 5*time.Millisecond, &interrupts, &caller))
	if err != nil || v != 0 || !out.Hedged() || out.Winner != 0 {
		t.Fatalf("v %d out %+v err %v", v, out, err)
	}
	e.Wait()
	if interrupts.Load() != 0 {
		t.Fatal("the winning inline attempt was interrupted")
	}
}

// BenchmarkDoHedgeable compares a request that could hedge (two targets,
// a delay that never expires) with attempt 0 on a worker and inline.
func BenchmarkDoHedgeable(b *testing.B) {
	for _, inline := range []bool{false, true} {
		name := "worker"
		if inline {
			name = "inline"
		}
		b.Run(name, func(b *testing.B) {
			e := New(Config{SelfBounded: true})
			defer e.Close()
			p := Plan[int]{
				Targets:   2,
				Delay:     func(int) time.Duration { return time.Second },
				Inline:    inline,
				Interrupt: func() {},
				Attempt:   func(context.Context, int) (int, error) { return 1, nil },
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Do(context.Background(), e, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// dueRunner is a Runner whose attempt 0 takes slow and attempt 1 fast,
// and which records HedgeDue calls.
type dueRunner struct {
	slow time.Duration
	due  atomic.Int64
}

func (r *dueRunner) Attempt(ctx context.Context, i int) (int, error) {
	if i == 0 {
		time.Sleep(r.slow)
	}
	return i, nil
}
func (r *dueRunner) Delay(int) time.Duration { return 5 * time.Millisecond }
func (r *dueRunner) Interrupt()              {}
func (r *dueRunner) HedgeDue(i int) bool     { r.due.Add(int64(i)); return true }

// TestHedgeDue: a Runner that is a DueNotifier hears of its hedge timer
// when it fires, also when the budget refuses the hedge, and never when
// attempt 0 ends before the delay.
func TestHedgeDue(t *testing.T) {
	for _, tc := range []struct {
		name       string
		slow       time.Duration
		budget     BudgetConfig
		wantDue    int64
		wantHedged bool
	}{
		{"fast attempt", 0, BudgetConfig{}, 0, false},
		{"slow attempt, hedged", 40 * time.Millisecond, BudgetConfig{}, 1, true},
		{"slow attempt, budget refuses", 40 * time.Millisecond, BudgetConfig{Ratio: 1e-9, ReservePerSecond: 1e-9, MaxTokens: 1e-9}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{Budget: tc.budget})
			defer e.Close()
			r := &dueRunner{slow: tc.slow}
			_, out, err := Do(context.Background(), e, Plan[int]{Targets: 2, Runner: r})
			if err != nil {
				t.Fatal(err)
			}
			e.Wait()
			// Budget re-asks call HedgeDue again for the same target.
			if got := r.due.Load(); (tc.wantDue == 0) != (got == 0) {
				t.Fatalf("HedgeDue sum %d, want %d", got, tc.wantDue)
			}
			if out.Hedged() != tc.wantHedged {
				t.Fatalf("hedged %v, want %v (%+v)", out.Hedged(), tc.wantHedged, out)
			}
		})
	}
}

// deferRunner holds its hedge back `hold` times (HedgeDue false), and
// notes when target 1 started. With release set, attempt 0 returns as
// soon as HedgeDue was first asked.
type deferRunner struct {
	slow    time.Duration
	hold    int
	asked   atomic.Int64
	release chan struct{}
	t0      time.Time
	started atomic.Int64 // ns after t0 that attempt 1 started; 0: never
}

func (r *deferRunner) Attempt(ctx context.Context, i int) (int, error) {
	if i == 0 {
		if r.release != nil {
			<-r.release
		} else {
			time.Sleep(r.slow)
		}
		return 0, nil
	}
	r.started.Store(int64(time.Since(r.t0)))
	return 1, nil
}
func (r *deferRunner) Delay(int) time.Duration { return 2 * time.Millisecond }
func (r *deferRunner) Interrupt()              {}
func (r *deferRunner) HedgeDue(int) bool {
	n := r.asked.Add(1)
	if n == 1 && r.release != nil {
		close(r.release)
	}
	return n > int64(r.hold)
}

// TestHedgeDeferred: a DueNotifier that answers false holds the hedge
// back by DeferStep each time, at most MaxDefers times; an attempt that
// finishes meanwhile is never hedged.
func TestHedgeDeferred(t *testing.T) {
	const step, maxDefers = time.Millisecond, 4
	for _, tc := range []struct {
		name         string
		slow         time.Duration
		hold         int
		release      bool
		wantHedged   bool
		wantDeferred int
	}{
		{"not held", 60 * time.Millisecond, 0, false, true, 0},
		{"held twice", 60 * time.Millisecond, 2, false, true, 2},
		{"held past the limit", 60 * time.Millisecond, 100, false, true, maxDefers},
		{"finishes while held", 0, 100, true, false, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{DeferStep: step, MaxDefers: maxDefers}
			if tc.release {
				cfg.DeferStep = time.Hour // attempt 0 surely ends first
			}
			e := New(cfg)
			defer e.Close()
			r := &deferRunner{slow: tc.slow, hold: tc.hold, t0: time.Now()}
			if tc.release {
				r.release = make(chan struct{})
			}
			v, out, err := Do(context.Background(), e, Plan[int]{Targets: 2, Runner: r})
			if err != nil {
				t.Fatal(err)
			}
			if out.Hedged() != tc.wantHedged {
				t.Fatalf("hedged %v, want %v (%+v)", out.Hedged(), tc.wantHedged, out)
			}
			if !tc.wantHedged {
				if v != 0 || out.Deferred != 1 {
					t.Fatalf("got %d, %+v: want attempt 0's answer after one deferral", v, out)
				}
				return
			}
			e.Wait()
			if out.Deferred != tc.wantDeferred {
				t.Fatalf("deferred %d, want %d", out.Deferred, tc.wantDeferred)
			}
			// The hedge went out no earlier than the delay plus the steps.
			min := 2*time.Millisecond + time.Duration(tc.wantDeferred)*step
			if got := time.Duration(r.started.Load()); got < min {
				t.Fatalf("hedge started %v after the request, want ≥ %v", got, min)
			}
		})
	}
}

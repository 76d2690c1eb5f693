package aca

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemfs/tandem/region"
)

// Short timings for the watchdog tests. FencingDelay exceeds StaleLimit +
// Timeout + tick + StopGrace (200 + 60 + 12.5 + 10 ms), as the type requires.
const (
	wdInterval = 20 * time.Millisecond
	wdTimeout  = 60 * time.Millisecond
	wdStale    = 200 * time.Millisecond
	wdFence    = 320 * time.Millisecond
)

// events records a watchdog's events for a test.
type events struct {
	ch chan Event
}

func newEvents() *events { return &events{ch: make(chan Event, 1024)} }

func (e *events) handler(ev Event) {
	select {
	case e.ch <- ev:
	default:
		panic("test event buffer full")
	}
}

// next waits for the next event of kind, skipping others, and returns it.
func (e *events) next(t *testing.T, kind EventKind) Event {
	t.Helper()
	timeout := time.After(testTimeout)
	for {
		select {
		case ev := <-e.ch:
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v event within %v", kind, testTimeout)
			return Event{}
		}
	}
}

// none fails if an event of kind comes within d.
func (e *events) none(t *testing.T, kind EventKind, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev := <-e.ch:
			if ev.Kind == kind {
				t.Fatalf("unexpected %v event: %+v", kind, ev)
			}
		case <-timeout:
			return
		}
	}
}

func newWatchdogClient(t *testing.T, url string, local region.ID) *Client {
	t.Helper()
	return newTestClient(t, Config{Endpoints: []string{url}, Interval: wdInterval, Timeout: wdTimeout, Local: local})
}

// runWatchdog runs w.Run(fn) until the test ends and checks what it returns.
func runWatchdog(t *testing.T, w *Watchdog, fn func(context.Context) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, fn) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(testTimeout):
				t.Fatal("Run did not return after its ctx ended")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// Two watchdogs, eu and us, on one ACA that flips back and forth: each
// region's work starts only after it became active and the fence passed,
// the old active's work stops before the new one's starts, and the two
// never run at once.
func TestWatchdogMutualExclusion(t *testing.T) {
	aca := newFakeACA(t, euBody)
	var (
		running  atomic.Int32
		overlaps atomic.Int32
		mu       sync.Mutex
		order    []region.ID
	)
	work := func(id region.ID) func(context.Context) error {
		return func(ctx context.Context) error {
			if running.Add(1) > 1 {
				overlaps.Add(1)
			}
			mu.Lock()
			order = append(order, id)
			mu.Unlock()
			<-ctx.Done()
			// Stopping takes a moment, as real work does.
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
			return ctx.Err()
		}
	}
	evs := map[region.ID]*events{"eu": newEvents(), "us": newEvents()}
	for _, id := range []region.ID{"eu", "us"} {
		c := newWatchdogClient(t, aca.URL, id)
		w, err := NewWatchdog(c, id, WatchdogConfig{FencingDelay: wdFence, StaleLimit: wdStale}, WithEventHandler(evs[id].handler))
		if err != nil {
			t.Fatal(err)
		}
		runWatchdog(t, w, work(id))
	}

	fencing := evs["eu"].next(t, EventFencing)
	started := evs["eu"].next(t, EventStarted)
	if d := started.Time.Sub(fencing.Time); d < wdFence || fencing.Delay != wdFence {
		t.Fatalf("eu started %v after it was seen active, want the fencing delay %v", d, wdFence)
	}
	for i, to := range []region.ID{"us", "eu", "us"} {
		from := region.ID("eu")
		if to == "eu" {
			from = "us"
		}
		flip := time.Now()
		aca.set(map[region.ID]string{"eu": euBody, "us": usBody}[to])
		stopped := evs[from].next(t, EventStopped)
		if stopped.Reason != StopNotActive {
			t.Fatalf("flip %d: %s stopped for %v, want %v", i, from, stopped.Reason, StopNotActive)
		}
		started := evs[to].next(t, EventStarted)
		if !stopped.Time.Before(started.Time) {
			t.Fatalf("flip %d: %s started at %v, before %s stopped at %v", i, to, started.Time, from, stopped.Time)
		}
		if d := started.Time.Sub(flip); d < wdFence {
			t.Fatalf("flip %d: %s started %v after the flip, before the fencing delay %v", i, to, d, wdFence)
		}
		t.Logf("flip %d to %s: old stopped after %v, new started after %v", i, to, stopped.Time.Sub(flip), started.Time.Sub(flip))
	}
	if n := overlaps.Load(); n != 0 {
		t.Fatalf("the two regions' work ran at the same time %d times", n)
	}
	// Started is emitted as the work is launched; let the last one record
	// itself.
	eventually(t, testTimeout, "the last start to be recorded", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) >= 4
	})
	mu.Lock()
	defer mu.Unlock()
	if want := []region.ID{"eu", "us", "eu", "us"}; !equalIDs(order, want) {
		t.Fatalf("work ran in the order %v, want %v", order, want)
	}
}

func equalIDs(a, b []region.ID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A standby region's work never starts.
func TestWatchdogStandbyNeverStarts(t *testing.T) {
	aca := newFakeACA(t, euBody)
	c := newWatchdogClient(t, aca.URL, "us")
	evs := newEvents()
	w, err := NewWatchdog(c, "US", WatchdogConfig{FencingDelay: wdFence, StaleLimit: wdStale}, WithEventHandler(evs.handler))
	if err != nil {
		t.Fatal(err)
	}
	var ran atomic.Bool
	runWatchdog(t, w, func(ctx context.Context) error { ran.Store(true); <-ctx.Done(); return nil })
	waitReady(t, c)
	evs.none(t, EventFencing, wdFence+100*time.Millisecond)
	if ran.Load() {
		t.Fatal("the standby region's work ran")
	}
}

// Unreachable ACA: the work stops "for safety" once the state is stale, and
// starts again (after the fence) when the ACA is back.
func TestWatchdogStopsWhenStale(t *testing.T) {
	aca := newFakeACA(t, euBody)
	c := newWatchdogClient(t, aca.URL, "eu")
	evs := newEvents()
	w, err := NewWatchdog(c, "eu", WatchdogConfig{FencingDelay: wdFence, StaleLimit: wdStale}, WithEventHandler(evs.handler))
	if err != nil {
		t.Fatal(err)
	}
	runWatchdog(t, w, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	evs.next(t, EventStarted)

	down := time.Now()
	aca.setFull(http.StatusBadGateway, "text/html", "<html>502</html>")
	stopped := evs.next(t, EventStopped)
	if stopped.Reason != StopStale || !errors.Is(stopped.Err, context.Canceled) {
		t.Fatalf("stopped for %v (%v), want %v", stopped.Reason, stopped.Err, StopStale)
	}
	// The other region cannot start earlier than FencingDelay after the
	// last state this one confirmed, so the work must be gone by then.
	if stopped.Staleness >= wdFence {
		t.Fatalf("stopped with the state %v stale: later than the other region's fence %v", stopped.Staleness, wdFence)
	}
	t.Logf("stopped %v after the ACA went down, state %v stale", stopped.Time.Sub(down), stopped.Staleness)
	if cur, ok := c.Current(); !ok || !cur.Equal(euState) {
		t.Fatalf("the client lost its state: %+v", cur)
	}
	evs.none(t, EventFencing, 3*wdStale) // no restart while the ACA is down

	aca.set(euBody)
	evs.next(t, EventFencing)
	evs.next(t, EventStarted)
}

// Flipping away during the fence aborts it; the work never starts.
func TestWatchdogFenceAborted(t *testing.T) {
	aca := newFakeACA(t, usBody)
	c := newWatchdogClient(t, aca.URL, "eu")
	evs := newEvents()
	w, err := NewWatchdog(c, "eu", WatchdogConfig{FencingDelay: time.Hour, StaleLimit: wdStale}, WithEventHandler(evs.handler))
	if err != nil {
		t.Fatal(err)
	}
	runWatchdog(t, w, func(ctx context.Context) error { t.Error("work started during the fence"); return nil })
	waitReady(t, c)
	aca.set(euBody)
	evs.next(t, EventFencing)
	aca.set(usBody)
	if ev := evs.next(t, EventFenceAborted); ev.Reason != StopNotActive {
		t.Fatalf("fence aborted for %v, want %v", ev.Reason, StopNotActive)
	}
}

// Work that returns by itself while the region stays active is restarted
// after RestartDelay, without another fence.
func TestWatchdogRestartsReturnedWork(t *testing.T) {
	aca := newFakeACA(t, euBody)
	c := newWatchdogClient(t, aca.URL, "eu")
	evs := newEvents()
	w, err := NewWatchdog(c, "eu", WatchdogConfig{StaleLimit: wdStale, RestartDelay: 10 * time.Millisecond},
		WithEventHandler(evs.handler))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	var calls atomic.Int32
	runWatchdog(t, w, func(ctx context.Context) error { calls.Add(1); return boom })
	evs.next(t, EventFencing)
	for i := range 2 {
		evs.next(t, EventStarted)
		ev := evs.next(t, EventStopped)
		if ev.Reason != StopReturned || !errors.Is(ev.Err, boom) {
			t.Fatalf("run %d: stopped for %v with %v, want %v with the work's error", i, ev.Reason, ev.Err, StopReturned)
		}
	}
	evs.none(t, EventFencing, 20*time.Millisecond) // restarts skip the fence
	if calls.Load() < 2 {
		t.Fatalf("work ran %d times, want a restart", calls.Load())
	}
}

func TestWatchdogRunEnds(t *testing.T) {
	t.Run("ctx ends", func(t *testing.T) {
		aca := newFakeACA(t, euBody)
		c := newWatchdogClient(t, aca.URL, "eu")
		evs := newEvents()
		w, err := NewWatchdog(c, "eu", WatchdogConfig{FencingDelay: wdFence, StaleLimit: wdStale}, WithEventHandler(evs.handler))
		if err != nil {
			t.Fatal(err)
		}
		var stoppedWork atomic.Bool
		stop := runWatchdog(t, w, func(ctx context.Context) error { <-ctx.Done(); stoppedWork.Store(true); return nil })
		evs.next(t, EventStarted)

		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if err := w.Run(ctx, func(context.Context) error { return nil }); !errors.Is(err, ErrWatchdogRunning) {
			t.Fatalf("second Run = %v, want ErrWatchdogRunning", err)
		}
		if err := stop(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		if !stoppedWork.Load() {
			t.Fatal("Run returned before the work did")
		}
		if ev := evs.next(t, EventStopped); ev.Reason != StopShutdown {
			t.Fatalf("stopped for %v, want %v", ev.Reason, StopShutdown)
		}
	})
	t.Run("client closes", func(t *testing.T) {
		aca := newFakeACA(t, euBody)
		c := newWatchdogClient(t, aca.URL, "eu")
		evs := newEvents()
		w, err := NewWatchdog(c, "eu", WatchdogConfig{FencingDelay: wdFence, StaleLimit: wdStale}, WithEventHandler(evs.handler))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- w.Run(t.Context(), func(ctx context.Context) error { <-ctx.Done(); return nil }) }()
		evs.next(t, EventStarted)
		_ = c.Close()
		select {
		case err := <-done:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("Run = %v, want ErrClosed", err)
			}
		case <-time.After(testTimeout):
			t.Fatal("Run did not return after the client closed")
		}
		if ev := evs.next(t, EventStopped); ev.Reason != StopClientClosed {
			t.Fatalf("stopped for %v, want %v", ev.Reason, StopClientClosed)
		}
	})
}

func TestNewWatchdog(t *testing.T) {
	c := newTestClient(t, Config{Endpoints: []string{"http://judge.invalid/"}, Interval: time.Second, Timeout: 500 * time.Millisecond})
	w, err := NewWatchdog(c, "EU", WatchdogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// The worked example of WatchdogConfig's doc: StaleLimit 2.25s,
	// StopGrace 500ms, tick 100ms; the old active stops within 3.35s, the
	// new one fences for 3.45s.
	want := WatchdogConfig{FencingDelay: 3450 * time.Millisecond, StaleLimit: 2250 * time.Millisecond,
		StopGrace: 500 * time.Millisecond, RestartDelay: time.Second}
	if got := w.Config(); got != want {
		t.Fatalf("defaults = %+v, want %+v", got, want)
	}
	if w.tick != 100*time.Millisecond {
		t.Fatalf("tick = %v, want 100ms", w.tick)
	}
	if w.local != "eu" {
		t.Fatalf("local = %q, want it parsed", w.local)
	}
	for name, tc := range map[string]struct {
		c     *Client
		local region.ID
		cfg   WatchdogConfig
	}{
		"nil client":            {nil, "eu", WatchdogConfig{}},
		"bad local":             {c, "", WatchdogConfig{}},
		"fence below staleness": {c, "eu", WatchdogConfig{FencingDelay: time.Second, StaleLimit: 2 * time.Second}},
		// The old default (hops: Interval + 1s) is shorter than the stop.
		"fence of the old default": {c, "eu", WatchdogConfig{FencingDelay: 2 * time.Second, StaleLimit: 1750 * time.Millisecond}},
		// Exactly the worst stop is not enough: it must be exceeded.
		"fence equal to the stop": {c, "eu", WatchdogConfig{FencingDelay: 3350 * time.Millisecond}},
		"negative":                {c, "eu", WatchdogConfig{RestartDelay: -1}},
	} {
		if _, err := NewWatchdog(tc.c, tc.local, tc.cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: NewWatchdog = %v, want ErrInvalidConfig", name, err)
		}
	}
	if err := w.Run(t.Context(), nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Run(nil) = %v", err)
	}
}

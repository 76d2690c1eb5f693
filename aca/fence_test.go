package aca

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFenceSteps(t *testing.T) {
	cfg := WatchdogConfig{FencingDelay: 3 * time.Second, RestartDelay: time.Second}
	t0 := simEpoch
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		at     time.Duration
		ok     bool
		why    StopReason
		want   action
		reason StopReason
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"fence then start", []step{
			{0, true, 0, actFence, 0},
			{2999 * time.Millisecond, true, 0, actNone, 0},
			{3 * time.Second, true, 0, actStart, 0},
			{4 * time.Second, true, 0, actNone, 0},
		}},
		{"abort when stale during the fence", []step{
			{0, true, 0, actFence, 0},
			{time.Second, false, StopStale, actAbort, StopStale},
			{2 * time.Second, true, 0, actFence, 0},
			{4999 * time.Millisecond, true, 0, actNone, 0},
			{5 * time.Second, true, 0, actStart, 0},
		}},
		{"stop when no longer active", []step{
			{0, true, 0, actFence, 0},
			{3 * time.Second, true, 0, actStart, 0},
			{4 * time.Second, false, StopNotActive, actStop, StopNotActive},
			{5 * time.Second, false, StopNotActive, actNone, 0},
		}},
		{"idle stays idle", []step{
			{0, false, StopNotActive, actNone, 0},
			{time.Hour, false, StopStale, actNone, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fence{cfg: cfg}
			for i, s := range tc.steps {
				got, reason := f.step(at(s.at), s.ok, s.why)
				if got != s.want || reason != s.reason {
					t.Fatalf("step %d at %v: %v %v, want %v %v", i, s.at, got, reason, s.want, s.reason)
				}
			}
		})
	}

	// A function that returned by itself restarts after RestartDelay,
	// without a new fence, unless the region stops being active.
	f := fence{cfg: cfg}
	f.step(at(0), true, 0)
	f.step(at(3*time.Second), true, 0)
	f.returned(at(4 * time.Second))
	if due, ok := f.wake(); !ok || !due.Equal(at(5*time.Second)) {
		t.Fatalf("wake after a return = %v %v, want 5s", due, ok)
	}
	if a, _ := f.step(at(5*time.Second), true, 0); a != actStart {
		t.Fatalf("restart: %v, want a start", a)
	}
	f.returned(at(6 * time.Second))
	if a, _ := f.step(at(6500*time.Millisecond), false, StopNotActive); a != actNone || f.ph != phaseIdle {
		t.Fatalf("not active while waiting to restart: %v in phase %v, want idle", a, f.ph)
	}
}

// A function that takes longer than StopGrace to return is logged: the
// other region's fence did not count on it.
func TestWatchdogWarnsPastStopGrace(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil))
	aca := newFakeACA(t, euBody)
	c := newTestClient(t, Config{Endpoints: []string{aca.URL}, Interval: wdInterval, Timeout: wdTimeout, Local: "eu"}, WithLogger(log))
	evs := newEvents()
	w, err := NewWatchdog(c, "eu", WatchdogConfig{StopGrace: time.Millisecond}, WithEventHandler(evs.handler))
	if err != nil {
		t.Fatal(err)
	}
	runWatchdog(t, w, func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // slower than StopGrace
		return nil
	})
	evs.next(t, EventStarted)
	aca.set(usBody)
	evs.next(t, EventStopped)
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(buf.String(), "longer than StopGrace") {
		t.Fatalf("no warning about StopGrace in the log:\n%s", buf.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

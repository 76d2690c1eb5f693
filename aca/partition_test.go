package aca

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemfs/tandem/region"
)

// judgeNet is three judges that each region reaches through its own
// servers, so a test can cut one region off from some judges only.
type judgeNet struct {
	mu   sync.Mutex
	body [3]string
	cut  [2][3]bool // region (0 eu, 1 us) × judge: answers 503
	urls [2][]string
}

func newJudgeNet(t *testing.T, body string) *judgeNet {
	t.Helper()
	n := &judgeNet{body: [3]string{body, body, body}}
	for r := range 2 {
		for j := range 3 {
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				n.mu.Lock()
				cut, b := n.cut[r][j], n.body[j]
				n.mu.Unlock()
				if cut {
					http.Error(w, "unreachable", http.StatusServiceUnavailable)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(b))
			}))
			t.Cleanup(s.Close)
			n.urls[r] = append(n.urls[r], s.URL)
		}
	}
	return n
}

// The split brain of issue 11 (case 1), on the real Client and Watchdog:
// the ACA flips to us, judge 2 stays stale (still eu), and eu is cut off
// from judges 0 and 1. eu must stop (its one answer is no quorum) before us
// starts, and the two never run at once. Before the fix eu confirmed eu
// from judge 2 alone and ran on while us started.
func TestWatchdogSplitBrainStaleJudge(t *testing.T) {
	n := newJudgeNet(t, euBody)
	var running, overlaps atomic.Int32
	work := func(ctx context.Context) error {
		if running.Add(1) > 1 {
			overlaps.Add(1)
		}
		<-ctx.Done()
		running.Add(-1)
		return ctx.Err()
	}
	evs := map[region.ID]*events{"eu": newEvents(), "us": newEvents()}
	for r, id := range []region.ID{"eu", "us"} {
		c := newTestClient(t, Config{Endpoints: n.urls[r], Interval: wdInterval, Timeout: wdTimeout, Local: id})
		// A generous StopGrace: the margin a loaded machine needs between
		// eu's stop and us's start.
		w, err := NewWatchdog(c, id, WatchdogConfig{StopGrace: 200 * time.Millisecond}, WithEventHandler(evs[id].handler))
		if err != nil {
			t.Fatal(err)
		}
		runWatchdog(t, w, work)
	}
	evs["eu"].next(t, EventStarted)

	n.mu.Lock()
	n.body[0], n.body[1] = usBody, usBody
	n.cut[0][0], n.cut[0][1] = true, true
	n.mu.Unlock()

	stopped := evs["eu"].next(t, EventStopped)
	if stopped.Reason != StopStale {
		t.Fatalf("eu stopped for %v, want %v: one answer of three is no quorum", stopped.Reason, StopStale)
	}
	started := evs["us"].next(t, EventStarted)
	if !stopped.Time.Before(started.Time) {
		t.Fatalf("us started at %v, before eu stopped at %v", started.Time, stopped.Time)
	}
	evs["eu"].none(t, EventStarted, 3*wdStale)
	if o := overlaps.Load(); o != 0 {
		t.Fatalf("eu and us ran at once %d times", o)
	}
}

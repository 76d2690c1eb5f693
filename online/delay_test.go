package online

import (
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/health"
)

// snapOf builds a latency window from (latency, count) pairs.
func snapOf(pairs ...any) *health.Snapshot {
	sk := health.NewSketch(1, time.Minute)
	now := time.Unix(0, 0)
	for i := 0; i < len(pairs); i += 2 {
		d, n := pairs[i].(time.Duration), pairs[i+1].(int)
		for range n {
			sk.Record(now, d)
		}
	}
	return sk.Snapshot(now, nil)
}

func TestAdaptiveDelay(t *testing.T) {
	h := HedgeConfig{Floor: time.Millisecond, Ceiling: 10 * time.Millisecond, MaxRate: 0.001}
	const remote = 20 * time.Millisecond
	for _, tc := range []struct {
		name   string
		snap   *health.Snapshot
		rtt    time.Duration
		lo, hi time.Duration
	}{
		{"too few samples: ceiling", snapOf(200*time.Microsecond, 50), remote, 10 * time.Millisecond, 10 * time.Millisecond},
		// Healthy with CPU jitter: 1% of reads at 2–4 ms. Hedging at
		// 1 ms would send 1% extra reads that never win against a 20 ms
		// remote; the delay must sit above the jitter (≤ 0.1% hedged).
		{"healthy with jitter", snapOf(200*time.Microsecond, 9900, 2*time.Millisecond, 50, 4*time.Millisecond, 50), remote, 4 * time.Millisecond, 4200 * time.Microsecond},
		// 2% of reads stall for 100 ms: the tail is all stalls, a hedge at
		// the floor wins every time.
		{"stalls", snapOf(200*time.Microsecond, 9800, 100*time.Millisecond, 200), remote, time.Millisecond, time.Millisecond},
		// Stalls plus jitter: still hedged early.
		{"stalls and jitter", snapOf(200*time.Microsecond, 9700, 2*time.Millisecond, 100, 100*time.Millisecond, 200), remote, time.Millisecond, 1100 * time.Microsecond},
		// A uniformly slow server (50 ms, beyond the 20 ms remote) must
		// not push the delay up (CASSANDRA-14293): every hedge wins, so
		// hedge at the floor and let the budget cap the load.
		{"slow server", snapOf(50*time.Millisecond, 1000), remote, time.Millisecond, 1100 * time.Microsecond},
		// Slow but not beyond the remote: hedges would lose, so the delay
		// stays at the ceiling, never above it.
		{"slowish server", snapOf(15*time.Millisecond, 1000), remote, 10 * time.Millisecond, 10 * time.Millisecond},
		// A local hedge target (0.2 ms away) makes a jittery tail worth
		// hedging at once.
		{"jitter, local target", snapOf(200*time.Microsecond, 9800, 3*time.Millisecond, 200), 200 * time.Microsecond, time.Millisecond, 1100 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := adaptiveDelay(tc.snap, tc.rtt, h)
			if d < tc.lo || d > tc.hi {
				t.Fatalf("delay %v, want in [%v, %v]", d, tc.lo, tc.hi)
			}
		})
	}
}

func TestSoftThreshold(t *testing.T) {
	h := HedgeConfig{SoftMultiplier: 10, SoftMin: 50 * time.Millisecond, SoftMax: 500 * time.Millisecond}
	if d := softThreshold(snapOf(300*time.Microsecond, 1000), h); d != 50*time.Millisecond {
		t.Fatalf("fast server: %v, want the 50ms floor", d)
	}
	if d := softThreshold(snapOf(20*time.Millisecond, 1000), h); d < 200*time.Millisecond || d > 220*time.Millisecond {
		t.Fatalf("20ms server: %v, want ~10×p99", d)
	}
	if d := softThreshold(snapOf(100*time.Millisecond, 1000), h); d != 500*time.Millisecond {
		t.Fatalf("slow server: %v, want the 500ms cap", d)
	}
}

// TestOnsetDelay: the first few hundred milliseconds of a brownout, seen
// by the recent window, bring the delay down although the main window is
// still made of health; the recent window of a healthy server never does.
func TestOnsetDelay(t *testing.T) {
	h := HedgeConfig{Floor: time.Millisecond, Ceiling: 10 * time.Millisecond, MaxRate: 0.001}
	const remote = 20 * time.Millisecond
	// 30 s of health on a loaded machine: jitter up to the ceiling.
	long := snapOf(300*time.Microsecond, 29000, 3*time.Millisecond, 300, 8*time.Millisecond, 100, 12*time.Millisecond, 40)
	if d := adaptiveDelay(long, remote, h); d != h.Ceiling {
		t.Fatalf("healthy main window: %v, want the ceiling (the premise of the test)", d)
	}
	for _, tc := range []struct {
		name   string
		recent *health.Snapshot
		lo, hi time.Duration
	}{
		// 250 ms into "2% of reads stall 100 ms" at ~1000 reads/s.
		{"onset", snapOf(300*time.Microsecond, 245, 100*time.Millisecond, 5), time.Millisecond, 1100 * time.Microsecond},
		// The same with some jitter: hedge above the jitter, well below the ceiling.
		{"onset with jitter", snapOf(300*time.Microsecond, 240, 3*time.Millisecond, 5, 100*time.Millisecond, 5), 3 * time.Millisecond, 3300 * time.Microsecond},
		{"healthy", snapOf(300*time.Microsecond, 990, 3*time.Millisecond, 9, 12*time.Millisecond, 1), h.Ceiling, h.Ceiling},
		{"one slow read", snapOf(300*time.Microsecond, 249, 100*time.Millisecond, 1), h.Ceiling, h.Ceiling},
		{"empty", snapOf(), h.Ceiling, h.Ceiling},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := min(adaptiveDelay(long, remote, h), onsetDelay(tc.recent, remote, h))
			if d < tc.lo || d > tc.hi {
				t.Fatalf("delay %v, want in [%v, %v]", d, tc.lo, tc.hi)
			}
		})
	}
}

// TestDelayMeetsTheOnsetOfStalls, on real MariaDB: a server whose 30 s
// window says "healthy, jittery up to the ceiling" starts stalling; the
// delay leaves the ceiling within about a second (the recent window, fed
// by the hedges that beat stalled attempts), not after the 30 s window
// has filled with stalls.
func TestDelayMeetsTheOnsetOfStalls(t *testing.T) {
	c := startCluster(t, 2)
	c.servers[1].Proxy().SetLatency(20 * time.Millisecond)
	cfg := c.config("eu", "eu", "us")
	cfg.Health.FailureThreshold = 1 << 20 // keep eu preferred however slow
	cfg.Hedge.Budget = BudgetConfig{Ratio: 1, MaxTokens: 1000, MaxConcurrent: 100}
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	if err := s.Warm(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	// 30 s of health on a loaded machine, as TestOnsetDelay's main window.
	now := time.Now()
	lat := s.servers[0].rs.Health.Latency()
	for _, p := range []struct {
		d time.Duration
		n int
	}{{300 * time.Microsecond, 29000}, {3 * time.Millisecond, 300}, {8 * time.Millisecond, 100}, {12 * time.Millisecond, 40}} {
		for range p.n {
			lat.Record(now, p.d)
		}
	}
	ceiling := cfg.normalizedCeiling()
	waitFor(t, 5*time.Second, "the delay to sit at the ceiling before the stalls", func() bool {
		return s.Stats().Servers[0].HedgeDelay == ceiling
	})
	c.servers[0].Proxy().SetStall(0.1, 100*time.Millisecond)
	defer c.servers[0].Proxy().SetStall(0, 0)
	onset := time.Now()
	var left time.Duration
	for i := 0; left == 0; i++ {
		if time.Since(onset) > 5*time.Second {
			t.Fatalf("the delay is still at the ceiling 5 s into the stalls: %+v", s.Stats().Servers[0])
		}
		if _, err := s.Query(ctxT(t, 5*time.Second), st, []any{i%nRows + 1}); err != nil {
			t.Fatal(err)
		}
		if s.Stats().Servers[0].HedgeDelay < ceiling {
			left = time.Since(onset)
		}
	}
	t.Logf("delay left the ceiling %v after the onset: %v", left, s.Stats().Servers[0].HedgeDelay)
	if left > 2*time.Second {
		t.Fatalf("the delay took %v to react to the stalls", left)
	}
}

// TestBeatenAttemptsRefreshTheDelayAtOnce: when a hedge beats a running
// attempt (noteBeaten), the background loop recomputes the delay at its
// next 10 ms tick, not at the next 100 ms refresh, so a brownout's first
// stalls lower the delay at once. Each trial starts at a random point of
// the refresh cycle; without the prompt refresh, the wait would be spread
// over 0–100 ms and five trials in a row would hardly all stay under 40 ms.
func TestBeatenAttemptsRefreshTheDelayAtOnce(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	ceiling := cfg.normalizedCeiling()
	var worst time.Duration
	for trial := range 5 {
		s := newStore(t, cfg)
		s.use()
		srv := s.servers[0]
		waitFor(t, 2*time.Second, "the delay at the ceiling", func() bool { return s.Stats().Servers[0].HedgeDelay == ceiling })
		time.Sleep(time.Duration(trial*17) * time.Millisecond)
		start := time.Now()
		for range onsetMinStalls + 1 {
			srv.noteBeaten(s.clock.Now(), 100*time.Millisecond)
		}
		waitFor(t, 2*time.Second, "the delay to leave the ceiling", func() bool { return s.Stats().Servers[0].HedgeDelay < ceiling })
		worst = max(worst, time.Since(start))
	}
	t.Logf("worst wait for the delay to leave the ceiling: %v", worst)
	if worst > 40*time.Millisecond {
		t.Fatalf("the delay left the ceiling %v after the stalls were noted; want within a few 10 ms ticks", worst)
	}
}

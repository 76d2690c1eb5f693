package online

import (
	"time"

	"github.com/tandemfs/tandem/internal/health"
)

// adaptiveDelay picks the hedge delay after an attempt on a server whose
// recent latencies are snap, when the hedge would go to a target that
// answers in about rtt.
//
// A fixed percentile fails both ways: p95–p99 fires on every CPU hiccup of
// a healthy server (the straightforward hedger sent 0.5% extra reads in S1
// and not one of those hedges won), while a server that stalls 2% of its
// requests drags p99 up to the stall itself, so hedging stops exactly when
// it is needed (CASSANDRA-14293). So the delay is the smallest D in
// [Floor, Ceiling] at which either
//
//   - the tail beyond D is at most MaxRate of the samples (few hedges,
//     whatever they win), or
//   - at least two thirds of the attempts still running at D run beyond
//     D + rtt + 1ms, i.e. a hedge sent at D would most likely win by a
//     margin: the tail is made of stalls, not of jitter.
//
// With too few samples to tell, it is the Ceiling.
func adaptiveDelay(snap *health.Snapshot, rtt time.Duration, h HedgeConfig) time.Duration {
	n := snap.Total()
	if n < 200 {
		return h.Ceiling
	}
	maxTail := int64(h.MaxRate * float64(n))
	d := h.Ceiling
	health.Steps(h.Floor, h.Ceiling, func(c time.Duration) bool {
		t := snap.Tail(c)
		if t <= maxTail {
			d = c
			return false
		}
		if w := snap.Tail(c + rtt + time.Millisecond); 3*w >= 2*t {
			d = c
			return false
		}
		return true
	})
	return d
}

// softThreshold is how long an attempt may run before it counts as a
// failure for the server's health: far beyond its normal latency, so a
// blackholed server is ejected within tens of milliseconds, yet above the
// stalls a hedge already covers.
func softThreshold(snap *health.Snapshot, h HedgeConfig) time.Duration {
	p99 := snap.Quantile(0.99)
	d := time.Duration(h.SoftMultiplier * float64(p99))
	return min(max(d, h.SoftMin), h.SoftMax)
}

// The recent window: the last second of a server's latencies, so that the
// delay reacts to a brownout's onset within a few hundred milliseconds.
// The main window holds 30 s, in which the first second of 2% stalls is a
// fraction of the jitter a healthy server had, so on its own the delay
// stays tuned for health (up to the Ceiling) for seconds while every
// stalled read waits for it.
const (
	recentSlots     = 4
	recentSlotWidth = 250 * time.Millisecond
	// onsetMinStalls is how many stalls the recent window must show before
	// it may lower the delay, so that one slow read cannot.
	onsetMinStalls = 3
)

// onsetDelay is the smallest D in [Floor, Ceiling] at which the recent
// window says the tail is made of stalls a hedge would beat: at least
// onsetMinStalls attempts ran beyond D + rtt + 1ms, and they are two
// thirds of those that ran beyond D (the same test as adaptiveDelay's
// second rule). It is the Ceiling when the window shows no such stalls.
// Only this rule is asked of the recent window: its few samples cannot
// tell a rare tail (the first rule) from none.
func onsetDelay(snap *health.Snapshot, rtt time.Duration, h HedgeConfig) time.Duration {
	d := h.Ceiling
	health.Steps(h.Floor, h.Ceiling, func(c time.Duration) bool {
		t := snap.Tail(c)
		if t < onsetMinStalls {
			return false // fewer beyond larger delays still
		}
		if w := snap.Tail(c + rtt + time.Millisecond); w >= onsetMinStalls && 3*w >= 2*t {
			d = c
			return false
		}
		return true
	})
	return d
}

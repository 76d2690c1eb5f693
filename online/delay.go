package online

import (
	"time"

	"github.com/tandemfs/tandem/region"
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
func adaptiveDelay(snap *region.Snapshot, rtt time.Duration, h HedgeConfig) time.Duration {
	n := snap.Total()
	if n < 200 {
		return h.Ceiling
	}
	maxTail := int64(h.MaxRate * float64(n))
	d := h.Ceiling
	region.Steps(h.Floor, h.Ceiling, func(c time.Duration) bool {
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
func softThreshold(snap *region.Snapshot, h HedgeConfig) time.Duration {
	p99 := snap.Quantile(0.99)
	d := time.Duration(h.SoftMultiplier * float64(p99))
	return min(max(d, h.SoftMin), h.SoftMax)
}

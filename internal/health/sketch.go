package health

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Sketch bucket layout: log-linear, like HdrHistogram with 2^subBits
// sub-buckets per power of two (about 3% relative error). Values are
// recorded in microseconds; [1µs, 2^maxExp µs) is covered, larger values
// land in the last bucket.
const (
	subBits    = 5
	subCount   = 1 << subBits
	maxExp     = 27 // 2^27 µs ≈ 134 s
	numBuckets = (maxExp + 1) * subCount
)

// Sketch is a sliding-window latency histogram. It keeps Slots buckets of
// SlotWidth each (default 6 × 5 s = 30 s, the window Finagle's backup
// requests use) and answers quantiles over the slots that fall inside the
// window.
//
// Record is lock-free, allocation-free and takes the time as an argument,
// so the hot path never reads a clock: callers already hold "now" from
// measuring the latency. A slot is reset by the first Record of a new
// period; a concurrent Record of the previous period may land in the
// freshly reset slot, which skews the estimate by at most a few samples.
//
// A Sketch must be created with [NewSketch]; it is safe for concurrent use.
type Sketch struct {
	slotNanos int64
	slots     []sketchSlot
}

type sketchSlot struct {
	period atomic.Int64 // which SlotWidth-period the counts belong to
	counts [numBuckets]atomic.Int64
}

// NewSketch returns a sketch over a window of slots × slotWidth. Zero or
// negative arguments mean the defaults (6 slots of 5 s).
func NewSketch(slots int, slotWidth time.Duration) *Sketch {
	if slots <= 0 {
		slots = 6
	}
	if slotWidth <= 0 {
		slotWidth = 5 * time.Second
	}
	return &Sketch{slotNanos: int64(slotWidth), slots: make([]sketchSlot, slots)}
}

func bucketOf(d time.Duration) int {
	us := uint64(d / time.Microsecond)
	if us < subCount {
		return int(us)
	}
	exp := bits.Len64(us) - subBits // ≥ 1
	if exp > maxExp {
		return numBuckets - 1
	}
	sub := int(us>>uint(exp-1)) & (subCount - 1)
	return exp*subCount + sub
}

// bucketValue returns the largest value that bucket i holds, the
// conservative value to report for a quantile that falls in it; for every
// bucket, bucketOf(bucketValue(i)) == i.
func bucketValue(i int) time.Duration {
	if i < subCount {
		return time.Duration(i+1)*time.Microsecond - 1
	}
	exp := i / subCount
	sub := i % subCount
	us := uint64(subCount+sub+1) << uint(exp-1)
	return time.Duration(us)*time.Microsecond - 1
}

// Record adds one latency observed at now. Negative latencies count as 0.
func (s *Sketch) Record(now time.Time, d time.Duration) {
	if d < 0 {
		d = 0
	}
	p := now.UnixNano() / s.slotNanos
	sl := &s.slots[int(uint64(p)%uint64(len(s.slots)))]
	if old := sl.period.Load(); old != p {
		if old < p && sl.period.CompareAndSwap(old, p) {
			for i := range sl.counts {
				sl.counts[i].Store(0)
			}
		} else if old > p {
			return // a sample from a period already rotated out
		}
	}
	sl.counts[bucketOf(d)].Add(1)
}

// Count returns the number of samples inside the window at now.
func (s *Sketch) Count(now time.Time) int64 {
	var n int64
	s.live(now, func(sl *sketchSlot) {
		for i := range sl.counts {
			n += sl.counts[i].Load()
		}
	})
	return n
}

func (s *Sketch) live(now time.Time, fn func(*sketchSlot)) {
	cur := now.UnixNano() / s.slotNanos
	oldest := cur - int64(len(s.slots)) + 1
	for i := range s.slots {
		sl := &s.slots[i]
		if p := sl.period.Load(); p >= oldest && p <= cur {
			fn(sl)
		}
	}
}

// Quantiles fills out[i] with the qs[i] quantile (0 < q ≤ 1) of the
// samples inside the window at now, and returns the number of samples. With
// no samples, out is left as it was. qs must be ascending.
func (s *Sketch) Quantiles(now time.Time, qs []float64, out []time.Duration) int64 {
	var merged [numBuckets]int64
	var total int64
	s.live(now, func(sl *sketchSlot) {
		for i := range sl.counts {
			if c := sl.counts[i].Load(); c != 0 {
				merged[i] += c
				total += c
			}
		}
	})
	if total == 0 {
		return 0
	}
	qi := 0
	var seen int64
	for i := 0; i < numBuckets && qi < len(qs); i++ {
		seen += merged[i]
		for qi < len(qs) && float64(seen) >= math.Ceil(qs[qi]*float64(total)) {
			out[qi] = bucketValue(i)
			qi++
		}
	}
	for ; qi < len(qs); qi++ {
		out[qi] = bucketValue(numBuckets - 1)
	}
	return total
}

// Quantile returns the q quantile at now and the number of samples it is
// based on (0 means no estimate).
func (s *Sketch) Quantile(now time.Time, q float64) (time.Duration, int64) {
	var out [1]time.Duration
	n := s.Quantiles(now, []float64{q}, out[:])
	return out[0], n
}

// Snapshot is a frozen copy of a sketch's window, for questions that need
// the whole distribution (such as the hedge delay's "would a hedge here
// win?"). It is not safe for concurrent use.
type Snapshot struct {
	counts [numBuckets]int64
	total  int64
	// above[i] is the number of samples in buckets beyond i, computed by
	// the first Tail after the snapshot was taken: the adaptive delay asks
	// Tail at every step, and summing the buckets each time made its
	// refresh quadratic.
	above   [numBuckets]int64
	aboveOK bool
}

// Snapshot copies the window at now into dst (allocated if nil) and
// returns it.
func (s *Sketch) Snapshot(now time.Time, dst *Snapshot) *Snapshot {
	if dst == nil {
		dst = new(Snapshot)
	}
	*dst = Snapshot{}
	s.live(now, func(sl *sketchSlot) {
		for i := range sl.counts {
			if c := sl.counts[i].Load(); c != 0 {
				dst.counts[i] += c
				dst.total += c
			}
		}
	})
	return dst
}

// Total is the number of samples.
func (s *Snapshot) Total() int64 { return s.total }

// Tail is the number of samples above d (at bucket precision: samples in
// d's own bucket count as not above it).
func (s *Snapshot) Tail(d time.Duration) int64 {
	if !s.aboveOK {
		var n int64
		for i := numBuckets - 1; i >= 0; i-- {
			s.above[i] = n
			n += s.counts[i]
		}
		s.aboveOK = true
	}
	return s.above[bucketOf(d)]
}

// Quantile returns the q quantile (0 with no samples).
func (s *Snapshot) Quantile(q float64) time.Duration {
	if s.total == 0 {
		return 0
	}
	want := int64(math.Ceil(q * float64(s.total)))
	var seen int64
	for i := range s.counts {
		seen += s.counts[i]
		if seen >= want && seen > 0 {
			return bucketValue(i)
		}
	}
	return bucketValue(numBuckets - 1)
}

// Steps calls fn with lo, then with each bucket boundary in (lo, hi],
// ascending, until fn returns false. lo comes first even when it is no
// boundary, so a delay chosen from the steps can be exactly its floor.
func Steps(lo, hi time.Duration, fn func(time.Duration) bool) {
	if lo > hi || !fn(lo) {
		return
	}
	for i := bucketOf(lo); i < numBuckets; i++ {
		v := bucketValue(i)
		if v <= lo {
			continue
		}
		if v > hi || !fn(v) {
			return
		}
	}
}

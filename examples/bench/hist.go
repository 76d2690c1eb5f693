package main

import (
	"math"
	"math/bits"
	"time"
)

// hist is a log-linear latency histogram in the spirit of HdrHistogram:
// values below 128 ns are exact, larger ones fall in buckets of 64 per
// power of two, so every recorded value is kept to within 1/64 (1.6%).
// It is not safe for concurrent use; each run merges per-worker events
// into one after the load has stopped.
type hist struct {
	counts   []int64
	n        int64
	min, max int64
	sum      float64
}

const (
	subBits  = 7
	subCount = 1 << subBits // exact values below this
	subHalf  = subCount / 2 // buckets per power of two above it
)

func newHist() *hist { return &hist{counts: make([]int64, subCount+64*subHalf), min: math.MaxInt64} }

func bucketOf(v int64) int {
	if v < subCount {
		return int(max(v, 0))
	}
	s := bits.Len64(uint64(v)) - subBits
	return subCount + (s-1)*subHalf + int(v>>s) - subHalf
}

// bucketHigh is the largest value that falls in bucket i.
func bucketHigh(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	s := (i-subCount)/subHalf + 1
	m := int64((i-subCount)%subHalf + subHalf)
	return (m+1)<<s - 1
}

func (h *hist) record(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += float64(v)
	h.min = min(h.min, v)
	h.max = max(h.max, v)
}

// quantile returns the q-quantile (0 ≤ q ≤ 1), as the upper edge of its
// bucket, clamped to the exact maximum; 0 without samples.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketHigh(i), h.max))
		}
	}
	return time.Duration(h.max)
}

func (h *hist) maxDur() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.max)
}

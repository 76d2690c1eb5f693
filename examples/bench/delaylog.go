package main

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
)

// delayLog samples Tandem's hedge delay after an attempt on eu-1 during a
// run whose fault starts at t0: how long after the onset it first reaches
// the floor (hedges fire at once), and its distribution over the run.
type delayLog struct {
	samples []time.Duration
	toFloor time.Duration // -1: never
}

// delaySampleEvery is the sampling period: finer than the Store's own
// refresh (100 ms), so the onset time is exact to a few milliseconds.
const delaySampleEvery = 5 * time.Millisecond

// sample polls the current contender until dur after t0, if it is Tandem.
func (l *delayLog) sample(ctx context.Context, cur *atomic.Pointer[contender], t0 time.Time, dur time.Duration) {
	l.toFloor = -1
	cp := cur.Load()
	if cp == nil {
		return
	}
	tc, ok := (*cp).(*tandemClient)
	if !ok {
		return
	}
	floor := time.Millisecond // online's default HedgeConfig.Floor
	t := time.NewTicker(delaySampleEvery)
	defer t.Stop()
	for time.Since(t0) < dur {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, s := range tc.st.Stats().Servers {
			if s.Name != "eu-1" {
				continue
			}
			l.samples = append(l.samples, s.HedgeDelay)
			if l.toFloor < 0 && s.HedgeDelay <= floor {
				l.toFloor = time.Since(t0)
			}
		}
	}
}

// cells writes the log into a run's table cells.
func (l *delayLog) cells(rs *runStats) {
	if len(l.samples) == 0 {
		rs.cells["onset → delay at floor"] = "-"
		rs.cells["delay p50 / p90 / p99 / max"] = "-"
		return
	}
	if l.toFloor < 0 {
		rs.cells["onset → delay at floor"] = "never"
	} else {
		rs.cells["onset → delay at floor"] = ms(l.toFloor)
	}
	s := slices.Clone(l.samples)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	rs.cells["delay p50 / p90 / p99 / max"] = fmt.Sprintf("%s / %s / %s / %s", ms(q(0.5)), ms(q(0.9)), ms(q(0.99)), ms(s[len(s)-1]))
}

package main

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/tandemfs/tandem/examples/tandemtest"
	"github.com/tandemfs/tandem/region"
)

// tally counts the lookups of one phase. It is safe for concurrent use.
type tally struct {
	name string

	mu        sync.Mutex
	lookups   int
	byRegion  map[region.ID]int
	hedged    int
	failed    int
	lastErr   error
	latencies []time.Duration
	firstEU   time.Time // first lookup served by eu
}

func newTally(name string) *tally { return &tally{name: name, byRegion: map[region.ID]int{}} }

// record adds one lookup: where it was served, whether a hedge was sent,
// how long it took and whether it failed.
func (t *tally) record(r region.ID, hedged bool, d time.Duration, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lookups++
	t.latencies = append(t.latencies, d)
	if err != nil {
		t.failed++
		t.lastErr = err
		return
	}
	t.byRegion[r]++
	if hedged {
		t.hedged++
	}
	if r == tandemtest.EU && t.firstEU.IsZero() {
		t.firstEU = time.Now()
	}
}

// snapshot is a copy of a tally's figures.
type snapshot struct {
	name           string
	lookups        int
	eu, us         int
	hedged, failed int
	p50, p99       time.Duration
	lastErr        error
	firstEU        time.Time
}

func (t *tally) snapshot() snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := snapshot{
		name: t.name, lookups: t.lookups, eu: t.byRegion[tandemtest.EU], us: t.byRegion[tandemtest.US],
		hedged: t.hedged, failed: t.failed, lastErr: t.lastErr, firstEU: t.firstEU,
	}
	s.p50, s.p99 = percentiles(t.latencies)
	return s
}

// merge sums several snapshots (the latencies are merged, not averaged).
func merge(name string, ts []*tally) snapshot {
	all := newTally(name)
	for _, t := range ts {
		t.mu.Lock()
		all.lookups += t.lookups
		all.hedged += t.hedged
		all.failed += t.failed
		for r, n := range t.byRegion {
			all.byRegion[r] += n
		}
		all.latencies = append(all.latencies, t.latencies...)
		if t.lastErr != nil {
			all.lastErr = t.lastErr
		}
		t.mu.Unlock()
	}
	return all.snapshot()
}

func percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50), at(0.99)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

const rowFormat = "  %-22s %8s %7s %7s %7s %7s %9s %9s  %s\n"

func header(w io.Writer) {
	fmt.Fprintf(w, rowFormat, "", "lookups", "eu", "us", "hedged", "failed", "p50", "p99", "servers")
}

func (s snapshot) row(w io.Writer, label, servers string) {
	fmt.Fprintf(w, rowFormat, label, fmt.Sprint(s.lookups), fmt.Sprint(s.eu), fmt.Sprint(s.us),
		fmt.Sprint(s.hedged), fmt.Sprint(s.failed), ms(s.p50), ms(s.p99), servers)
}

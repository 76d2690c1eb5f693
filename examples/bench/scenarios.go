package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemfs/tandem/region"
)

// runStats is one contender's measured run of one scenario.
type runStats struct {
	contender string
	load      loadResult
	hist      *hist // latency of successful operations
	ok, fail  int64
	eu, us    int64 // operations served wholly by one region
	mixed     int64
	hedged    int64
	hedgedUS  int64 // hedged and served by us: a cross-region hedge won
	extra     int64 // attempts beyond one per operation
	// Operations slower than 50 ms, hedged or not: tells a late or
	// suppressed hedge from a hedge that was slow itself.
	slowHedged, slowUnhedged int64
	perServer                map[string]int64
	srvReqs                  int64 // requests the servers' proxies saw during the phase
	// Scenario-specific cells, by column name.
	cells map[string]string
	// Second histogram for S5 (100 single lookups).
	hist2 *hist
	ok2   int64
	dur2  time.Duration
}

func (h *harness) summarize(name string, lr loadResult, srvReqs int64) *runStats {
	rs := &runStats{contender: name, load: lr, hist: newHist(), perServer: map[string]int64{}, srvReqs: srvReqs, cells: map[string]string{}}
	for _, e := range lr.events {
		if !e.ok() {
			rs.fail++
			continue
		}
		rs.ok++
		rs.hist.record(e.lat)
		switch {
		case e.mixed():
			rs.mixed++
		case e.onlyEU():
			rs.eu++
		case e.onlyUS():
			rs.us++
		}
		if e.hedged {
			rs.hedged++
			if e.onlyUS() {
				rs.hedgedUS++
			}
		}
		if e.lat > 50*time.Millisecond {
			if e.hedged {
				rs.slowHedged++
			} else {
				rs.slowUnhedged++
			}
		}
		if e.attempts > 1 {
			rs.extra += int64(e.attempts) - 1
		}
		rs.perServer[h.cluster.nodes[e.server].name]++
	}
	return rs
}

// newContender builds a contender by name for a topology: "s7" uses all
// four servers, anything else eu-1 and us-1.
func (h *harness) newContender(name string, s7 bool) (contender, error) {
	suffix := ""
	nodes := []*node{h.cluster.byName["eu-1"], h.cluster.byName["us-1"]}
	if s7 {
		suffix = "-s7"
		nodes = h.cluster.nodes
	}
	switch name {
	case "raw", "raw-concurrent":
		label := name
		if s7 {
			label += " (eu-1)"
		}
		return newSQLClient(label, h.cluster.byName["eu-1"].addr(), h.cfg.workers, h.cfg.batch, h.cfg.timeout, name == "raw-concurrent")
	case "haproxy", "haproxy-fast":
		if h.haproxy == nil {
			return nil, fmt.Errorf("haproxy is not running")
		}
		return newSQLClient(name, h.haproxy.binds[name+suffix], h.cfg.workers, h.cfg.batch, h.cfg.timeout, false)
	case "tandem":
		return newTandemClient(nodes)
	case "hedge-3ms":
		// Local first: in S7, eu-2 is the hedge target, as Tandem's local
		// hedge is; otherwise us-1.
		to := h.cluster.byName["us-1"]
		if s7 {
			to = h.cluster.byName["eu-2"]
		}
		return newHedgeClient(h.cluster.byName["eu-1"].addr(), to.addr(), h.cfg.workers, h.cfg.batch, h.cfg.timeout, 3*time.Millisecond)
	}
	return nil, fmt.Errorf("unknown contender %q", name)
}

// settle lifts every fault and waits until HAProxy sees every server up,
// so that one run's faults do not leak into the next.
func (h *harness) settle(ctx context.Context) error {
	h.cluster.reset()
	if h.haproxy != nil {
		if err := h.haproxy.waitUp(ctx, 15*time.Second); err != nil {
			return fmt.Errorf("haproxy did not see every server up again: %w", err)
		}
	}
	return nil
}

// vectorOp reads the vector of a random entity.
func (h *harness) vectorOp(c contender) op {
	n := int64(h.cfg.entities)
	return func(ctx context.Context, rng *rand.Rand) (outcome, error) {
		return c.vector(ctx, 1+rng.Int64N(n))
	}
}

// plan is what a steady or fault scenario does around the load.
type plan struct {
	s7     bool
	setup  func() // faults present from the start (before the warmup)
	dur    time.Duration
	script func(ctx context.Context, t0 time.Time, m *marks)
	// monitor samples eu-1's state during the run.
	monitor bool
}

// marks are the times (since the phase start) of a run's fault events.
type marks struct {
	mu sync.Mutex
	at map[string]time.Duration
}

func (m *marks) set(name string, t0 time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.at[name] = time.Since(t0)
}

func (m *marks) get(name string) (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.at[name]
	return d, ok
}

// monitorResult is what the monitor saw of eu-1.
type monitorResult struct {
	downAt    []time.Duration // times eu-1 turned ejected / DOWN
	upAt      []time.Duration // times it turned healthy / UP again
	maxOpenEU int64           // most connections open to eu-1's proxy while faulted
}

// measure runs one contender through a plan and returns its stats.
func (h *harness) measure(ctx context.Context, name string, p plan) (*runStats, *marks, *monitorResult, error) {
	if err := h.settle(ctx); err != nil {
		return nil, nil, nil, err
	}
	if p.setup != nil {
		p.setup()
	}
	c, err := h.newContender(name, p.s7)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	defer c.close()
	m := &marks{at: map[string]time.Duration{}}
	mon := &monitorResult{}
	var script func(ctx context.Context, t0 time.Time)
	var monStop atomic.Bool
	var monWG sync.WaitGroup
	if p.script != nil {
		script = func(ctx context.Context, t0 time.Time) {
			if p.monitor {
				monWG.Go(func() { h.monitor(c, t0, m, mon, &monStop) })
			}
			p.script(ctx, t0, m)
		}
	}
	h.current.Store(&c)
	defer h.current.Store(nil)
	reqs0 := h.cluster.requests()
	lr := h.runLoad(ctx, c, h.vectorOp(c), h.cfg.timeout, h.cfg.warmup, p.dur, script)
	monStop.Store(true)
	monWG.Wait()
	rs := h.summarize(c.name(), lr, h.cluster.requests()-reqs0)
	if tc, ok := c.(*tandemClient); ok {
		var parts []string
		for _, s := range tc.st.Stats().Servers {
			parts = append(parts, fmt.Sprintf("%s %s", s.Name, ms(s.HedgeDelay)))
		}
		rs.cells["hedge delay at end"] = strings.Join(parts, ", ")
		var pools []string
		for _, s := range tc.st.Stats().Servers {
			pools = append(pools, fmt.Sprintf("%s opened %d discarded %d open %d", s.Name, s.Opened, s.Discarded, s.Open))
		}
		h.logf("%s pools: %s; hedges deferred %d", name, strings.Join(pools, "; "), tc.st.Stats().HedgesDeferred)
	}
	return rs, m, mon, ctx.Err()
}

// monitor polls eu-1's state as the contender sees it (Tandem's health,
// HAProxy's check status) and eu-1's open connections, until stop.
func (h *harness) monitor(c contender, t0 time.Time, m *marks, mon *monitorResult, stop *atomic.Bool) {
	eu := h.cluster.byName["eu-1"]
	wasDown := false
	for !stop.Load() {
		down, known := false, false
		switch c := c.(type) {
		case *tandemClient:
			for _, s := range c.st.Stats().Servers {
				if s.Name == "eu-1" {
					down, known = s.State == region.Ejected, true
				}
			}
		case *sqlClient:
			if h.haproxy != nil && (c.label == "haproxy" || c.label == "haproxy-fast") {
				if st, err := h.haproxy.status(); err == nil {
					v, ok := st[c.label+"/eu-1"]
					down, known = ok && v != "UP" && v != "UP 1/2", ok
				}
			}
		}
		if known && down != wasDown {
			if down {
				mon.downAt = append(mon.downAt, time.Since(t0))
			} else {
				mon.upAt = append(mon.upAt, time.Since(t0))
			}
			wasDown = down
		}
		if _, faulted := m.get("fault"); faulted {
			if _, lifted := m.get("recover"); !lifted {
				mon.maxOpenEU = max(mon.maxOpenEU, openToEU(c, eu))
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// openToEU is how many connections the contender holds to eu-1: its own
// pool's count for Tandem and the raw driver; for HAProxy, eu-1's proxy
// count, which includes HAProxy's own health checks.
func openToEU(c contender, eu *node) int64 {
	switch c := c.(type) {
	case *tandemClient:
		for _, s := range c.st.Stats().Servers {
			if s.Name == eu.name {
				return int64(s.Open)
			}
		}
	case *sqlClient:
		if strings.HasPrefix(c.label, "raw") {
			return int64(c.db.Stats().OpenConnections)
		}
	}
	return eu.proxy().Stats().Open
}

// window is what the callers saw of the operations that overlapped
// [from, to): the q-quantiles of their latency, failed ones included (a
// timeout is latency too), and how many failed.
func window(evs []event, from, to time.Duration, qs ...float64) ([]time.Duration, int64) {
	hh := newHist()
	var fails int64
	for _, e := range evs {
		if e.at >= to || e.end() < from {
			continue
		}
		if !e.ok() {
			fails++
		}
		hh.record(e.lat)
	}
	out := make([]time.Duration, len(qs))
	for i, q := range qs {
		out[i] = hh.quantile(q)
	}
	return out, fails
}

// backOnEU is how long after `since` the traffic is back on eu: the start
// of the first 100 ms window (stepped by 10 ms) in which at least 90% of
// the operations that ended there were served by eu alone. -1 if never.
func backOnEU(evs []event, since, until time.Duration) time.Duration {
	const step, win = 10 * time.Millisecond, 100 * time.Millisecond
	n := int((until-since)/step) + 1
	if n <= 0 {
		return -1
	}
	tot := make([]int, n)
	eu := make([]int, n)
	for _, e := range evs {
		end := e.end()
		if end < since || end >= until {
			continue
		}
		i := int((end - since) / step)
		tot[i]++
		if e.ok() && e.onlyEU() {
			eu[i]++
		}
	}
	k := int(win / step)
	for i := 0; i+k <= n; i++ {
		t, u := 0, 0
		for j := i; j < i+k; j++ {
			t += tot[j]
			u += eu[j]
		}
		if t > 0 && u*10 >= t*9 {
			// The first operation that ended on eu in that window.
			for j := i; j < i+k; j++ {
				if eu[j] > 0 {
					return time.Duration(j) * step
				}
			}
		}
	}
	return -1
}

// firstOnUS is how long after `since` the first operation ended that us
// served.
func firstOnUS(evs []event, since time.Duration) time.Duration {
	best := time.Duration(-1)
	for _, e := range evs {
		if e.ok() && e.onlyUS() && e.end() >= since {
			if d := e.end() - since; best < 0 || d < best {
				best = d
			}
		}
	}
	return best
}

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// scenarioResult is one scenario's table.
type scenarioResult struct {
	id, title string
	goal      string
	runs      []*runStats
	cols      []string // scenario-specific columns, after the common ones
	batch     bool     // S5's own table
	table     string   // a table of its own (S6), instead of runs
	notes     []string
}

type scenarioDef struct {
	id, title, goal string
	needsS7         bool
	contenders      []string
	run             func(ctx context.Context, h *harness, d *scenarioDef) (*scenarioResult, error)
}

var allContenders = []string{"raw", "raw-concurrent", "haproxy", "haproxy-fast", "hedge-3ms", "tandem"}
var failoverContenders = []string{"raw", "haproxy", "haproxy-fast", "hedge-3ms", "tandem"}

var scenarios = []*scenarioDef{
	{id: "S1", title: "both regions healthy", contenders: allContenders, run: runSteady,
		goal: "Tandem p50 ≤ 1.05× raw (issue 8: ≤ 1.02× at 2 workers); extra load ≤ 2% (issue 8: ≤ 0.1%)"},
	{id: "S2", title: "eu stalls 2% of requests by 100 ms", contenders: allContenders, run: runSteady,
		goal: "Tandem p99.9 ≤ 0.3× raw and ≤ 0.3× HAProxy; extra load ≤ 5%; issue 8: p99.9 ≤ 25 ms, max ≤ 30 ms, 0 mixed vectors"},
	{id: "S3", title: "eu SIGKILLed under load, restarted 10 s later", contenders: failoverContenders, run: runKill,
		goal: "0 failed lookups; traffic on us within 0.1 s; back on eu within 1 s (issue 8: 0.2 s) of its restart"},
	{id: "S4", title: "eu blackholed (accepts, never answers), then lifted", contenders: failoverContenders, run: runBlackhole,
		goal: "0 failed lookups; eu ejected within 1 s (issue 8: 0.1 s); p99.9 ≤ 25 ms; open connections to eu under the cap; back on eu within 0.2 s"},
	{id: "S5", title: "batch of 100 entities vs 100 single lookups", contenders: []string{"raw", "haproxy", "tandem"}, run: runBatch,
		goal: "a batch of 100 takes ≤ 1/10 of the time of 100 single lookups"},
	{id: "S6", title: "ACA flips eu→us under metadata writes and offline reads", run: runACA,
		goal: "the flip is followed within one ACA poll interval; 0 writes reach the passive region"},
	{id: "S7", title: "two servers per region; eu-1 stalls 2% of requests by 100 ms", needsS7: true, contenders: allContenders, run: runSteady,
		goal: "Tandem p99.9 ≤ 5 ms (the local hedge to eu-2 wins)"},
}

func (d *scenarioDef) result() *scenarioResult {
	return &scenarioResult{id: d.id, title: d.title, goal: d.goal}
}

// runSteady is S1, S2 and S7: a fault (or none) present for the whole run.
func runSteady(ctx context.Context, h *harness, d *scenarioDef) (*scenarioResult, error) {
	res := d.result()
	res.cols = []string{"hedged", "cross-region hedges won", "> 50 ms hedged / not", "hedge delay at end"}
	if d.id == "S7" {
		res.cols = append(res.cols, "served by eu-1/eu-2/us")
	}
	if d.id != "S1" {
		res.cols = append(res.cols, "onset → delay at floor", "delay p50 / p90 / p99 / max")
	}
	for i, name := range h.lineup(d) {
		p := plan{dur: h.cfg.duration, s7: d.id == "S7"}
		var dl *delayLog
		switch d.id {
		case "S2", "S7":
			// The stalls start without warning inside the measured run,
			// after a healthy warm-up (docs/ARCHITECTURE.md, §6), so the
			// run measures how the contender meets their onset.
			dl = &delayLog{}
			p.script = func(ctx context.Context, t0 time.Time, m *marks) {
				h.cluster.byName["eu-1"].proxy().SetStall(0.02, 100*time.Millisecond)
				m.set("fault", t0)
				dl.sample(ctx, &h.current, t0, h.cfg.duration)
			}
		}
		rs, _, _, err := h.measure(ctx, name, p)
		if err != nil {
			return res, err
		}
		if dl != nil {
			dl.cells(rs)
		}
		rs.cells["hedged"] = pct(rs.hedged, rs.ok)
		rs.cells["cross-region hedges won"] = fmt.Sprint(rs.hedgedUS)
		rs.cells["> 50 ms hedged / not"] = fmt.Sprintf("%d / %d", rs.slowHedged, rs.slowUnhedged)
		if d.id == "S7" {
			rs.cells["served by eu-1/eu-2/us"] = fmt.Sprintf("%s / %s / %s", pct(rs.perServer["eu-1"], rs.ok), pct(rs.perServer["eu-2"], rs.ok), pct(rs.perServer["us-1"]+rs.perServer["us-2"], rs.ok))
		}
		h.logf("%s %-15s %s", d.id, name, brief(rs))
		h.label(rs, d, i)
		res.runs = append(res.runs, rs)
	}
	return res, nil
}

// runKill is S3.
func runKill(ctx context.Context, h *harness, d *scenarioDef) (*scenarioResult, error) {
	res := d.result()
	res.cols = []string{"failed after kill", "p99 first 2 s after kill*", "first vector on us", "eu marked down", "back on eu after restart"}
	eu := h.cluster.byName["eu-1"]
	for i, name := range h.lineup(d) {
		var killErr error
		p := plan{monitor: true, script: func(ctx context.Context, t0 time.Time, m *marks) {
			sleepCtx(ctx, h.cfg.pre)
			if ctx.Err() != nil {
				return
			}
			if killErr = eu.srv.Kill(); killErr != nil {
				return
			}
			m.set("fault", t0)
			sleepCtx(ctx, h.cfg.outage)
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			killErr = eu.srv.Restart(rctx)
			cancel()
			m.set("recover", t0)
			sleepCtx(ctx, h.cfg.post)
		}}
		rs, m, mon, err := h.measure(ctx, name, p)
		if err == nil {
			err = killErr
		}
		if err != nil {
			return res, err
		}
		kill, _ := m.get("fault")
		back, _ := m.get("recover")
		q, _ := window(rs.load.events, kill, kill+2*time.Second, 0.99)
		_, fails := window(rs.load.events, kill, rs.load.dur+time.Hour)
		rs.cells["failed after kill"] = fmt.Sprint(fails)
		rs.cells["p99 first 2 s after kill*"] = ms(q[0])
		rs.cells["first vector on us"] = since(firstOnUS(rs.load.events, kill))
		rs.cells["eu marked down"] = firstAfter(mon.downAt, kill)
		rs.cells["back on eu after restart"] = since(backOnEU(rs.load.events, back, rs.load.dur))
		h.logf("%s %-15s %s; kill→us %s, restart→eu %s", d.id, name, brief(rs), rs.cells["first vector on us"], rs.cells["back on eu after restart"])
		h.label(rs, d, i)
		res.runs = append(res.runs, rs)
	}
	res.notes = append(res.notes, windowNote, "The fault proxy stays up while mariadbd is dead, so the kill looks like a server that accepts a connection and resets it (not ECONNREFUSED).")
	return res, nil
}

// runBlackhole is S4.
func runBlackhole(ctx context.Context, h *harness, d *scenarioDef) (*scenarioResult, error) {
	res := d.result()
	res.cols = []string{"failed in blackhole", "p99 / p99.9 in blackhole*", "eu ejected after", "max open conns to eu", "back on eu after lift"}
	eu := h.cluster.byName["eu-1"]
	for i, name := range h.lineup(d) {
		p := plan{monitor: true, script: func(ctx context.Context, t0 time.Time, m *marks) {
			sleepCtx(ctx, h.cfg.pre)
			if ctx.Err() != nil {
				return
			}
			eu.proxy().SetBlackhole(true)
			m.set("fault", t0)
			sleepCtx(ctx, h.cfg.blackhole)
			eu.proxy().SetBlackhole(false)
			m.set("recover", t0)
			sleepCtx(ctx, h.cfg.post)
		}}
		rs, m, mon, err := h.measure(ctx, name, p)
		if err != nil {
			return res, err
		}
		from, _ := m.get("fault")
		to, _ := m.get("recover")
		q, fails := window(rs.load.events, from, to, 0.99, 0.999)
		rs.cells["failed in blackhole"] = fmt.Sprint(fails)
		rs.cells["p99 / p99.9 in blackhole*"] = ms(q[0]) + " / " + ms(q[1])
		rs.cells["eu ejected after"] = firstAfter(mon.downAt, from)
		switch name {
		case "tandem":
			rs.cells["max open conns to eu"] = fmt.Sprintf("%d (pool cap 16)", mon.maxOpenEU)
		case "raw":
			rs.cells["max open conns to eu"] = fmt.Sprintf("%d (pool, no cap)", mon.maxOpenEU)
		default:
			rs.cells["max open conns to eu"] = fmt.Sprintf("%d (at eu, incl. checks)", mon.maxOpenEU)
		}
		rs.cells["back on eu after lift"] = since(backOnEU(rs.load.events, to, rs.load.dur))
		h.logf("%s %-15s %s; ejected %s, back %s", d.id, name, brief(rs), rs.cells["eu ejected after"], rs.cells["back on eu after lift"])
		h.label(rs, d, i)
		res.runs = append(res.runs, rs)
	}
	res.notes = append(res.notes, windowNote)
	return res, nil
}

// runBatch is S5: the same entities read as one batch or as single
// vectors, one after the other.
func runBatch(ctx context.Context, h *harness, d *scenarioDef) (*scenarioResult, error) {
	res := d.result()
	res.batch = true
	n := h.cfg.batch
	ids := func(rng *rand.Rand) []int64 {
		seen := make(map[int64]bool, n)
		out := make([]int64, 0, n)
		for len(out) < n {
			id := 1 + rng.Int64N(int64(h.cfg.entities))
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
		return out
	}
	for i, name := range h.lineup(d) {
		if err := h.settle(ctx); err != nil {
			return res, err
		}
		c, err := h.newContender(name, false)
		if err != nil {
			return res, err
		}
		half := max(h.cfg.duration/2, 500*time.Millisecond)
		reqs0 := h.cluster.requests()
		lb := h.runLoad(ctx, c, func(ctx context.Context, rng *rand.Rand) (outcome, error) {
			return c.batch(ctx, ids(rng))
		}, h.cfg.timeout, h.cfg.warmup, half, nil)
		rs := h.summarize(c.name(), lb, h.cluster.requests()-reqs0)
		ls := h.runLoad(ctx, c, func(ctx context.Context, rng *rand.Rand) (outcome, error) {
			var last outcome
			for _, id := range ids(rng) {
				o, err := c.vector(ctx, id)
				if err != nil {
					return o, err
				}
				last = o
			}
			return last, nil
		}, 10*h.cfg.timeout, h.cfg.warmup/2, half, nil)
		c.close()
		singles := h.summarize(c.name(), ls, 0)
		rs.hist2, rs.ok2, rs.dur2 = singles.hist, singles.ok, ls.dur
		rs.fail += singles.fail
		h.logf("%s %-15s batch p50 %s, 100 singles p50 %s", d.id, name, ms(rs.hist.quantile(0.5)), ms(rs.hist2.quantile(0.5)))
		h.label(rs, d, i)
		res.runs = append(res.runs, rs)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	return res, nil
}

// windowNote explains the columns marked *.
const windowNote = "Columns marked * cover every lookup that overlapped the fault window, failed ones included at the time they took to fail (a timeout is latency too); the other latency columns cover successful lookups of the whole run. In a closed loop a hung client sends nothing, so a blackhole shows as few, slow, failed lookups."

func firstAfter(ts []time.Duration, t time.Duration) string {
	for _, x := range ts {
		if x >= t {
			return since(x - t)
		}
	}
	return "never"
}

func since(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return ms(d)
}

// lineup is the contenders d runs, in order: its own, or those of
// -contenders it has, repeated -rounds times.
func (h *harness) lineup(d *scenarioDef) []string {
	var one []string
	for _, n := range d.contenders {
		if len(h.cfg.contenders) == 0 || slices.Contains(h.cfg.contenders, n) {
			one = append(one, n)
		}
	}
	var out []string
	for range h.cfg.rounds {
		out = append(out, one...)
	}
	return out
}

// label names the i-th run of d's line-up "<contender> #<round>" when
// there are several rounds.
func (h *harness) label(rs *runStats, d *scenarioDef, i int) {
	if h.cfg.rounds < 2 {
		return
	}
	per := len(h.lineup(d)) / h.cfg.rounds
	rs.contender = fmt.Sprintf("%s #%d", rs.contender, i/per+1)
}

// baseName is a run's contender without its round.
func baseName(label string) string {
	if i := strings.LastIndex(label, " #"); i >= 0 {
		return label[:i]
	}
	return label
}

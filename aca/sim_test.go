package aca

// A deterministic simulation of the watchdog protocol, Jepsen-style: two
// regions' clients and watchdogs, 3–5 judges, a virtual clock and a seeded
// PRNG. Nothing here sleeps, reads the real time or opens a socket.
//
// The simulation does not copy the rules. It calls the functions the
// Client and the Watchdog call: readAnswer (status, content type, then
// ParseState) on every answer a judge sends, encodeState for every body a
// healthy judge serves, view.confirm (tally: a quorum of the configured
// endpoints, stamped with the round's start), nextWait for the loop's
// timing, resolveWatchdog for the fencing delay and tick, verdictOf, and
// the fence state machine. What it models is only what those functions
// leave to their drivers: when rounds start and end (Client.loop,
// beginRound), when the watchdog looks (Run: on a state change, on a tick,
// at the fence's due time, after a stop), and the network and the judges.
// The ETag cache is not modelled: a 304 reuses the endpoint's last state,
// which is what a 200 would have said.
//
// The invariant: the guarded work never runs in two regions at once. The
// liveness check: once a quorum of judges serves the last flip and the new
// active reaches them, its work runs within livenessBound. A failing seed is
// printed with the command that replays it:
//
//	go test ./aca -run 'TestSim$' -sim.seed=N -v
//
// -sim.n sets the number of seeded schedules (default 10000).

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/region"
)

var (
	simSeed = flag.Uint64("sim.seed", 0, "replay one seeded schedule of TestSim (0: run -sim.n of them)")
	simN    = flag.Int("sim.n", 10000, "number of seeded schedules TestSim runs")
)

// simEpoch is the virtual clock's zero.
var simEpoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// simRules are the decision functions a simulation drives: the package's own
// (newSimRules) or a transcription of the rules before issue 11
// (oldSimRules in sim_old_test.go), to show that the named schedules catch
// what those rules got wrong.
type simRules struct {
	name string
	// confirm applies the answers of a round that ran from start to end.
	confirm func(v *view, start, end time.Time, answers []State) (bool, error)
	// watchdog fills a WatchdogConfig and returns the tick.
	watchdog func(cc Config, wc WatchdogConfig) (WatchdogConfig, time.Duration, error)
	// endpoints validates the configured URLs as New does.
	endpoints func(urls []string) error
}

func newSimRules() simRules {
	return simRules{
		name: "current",
		confirm: func(v *view, start, _ time.Time, answers []State) (bool, error) {
			return v.confirm(start, answers)
		},
		watchdog: resolveWatchdog,
		endpoints: func(urls []string) error {
			_, _, err := Config{Endpoints: urls}.normalize()
			return err
		},
	}
}

// Link states between a region and a judge.
type link uint8

const (
	linkUp        link = iota
	linkBlackhole      // packets vanish: the poll times out
	linkRefused        // connection refused at once
)

// Judge modes.
type jmode uint8

const (
	modeOK      jmode = iota
	mode5xx           // 500/502/503, sometimes as an HTML page
	modeGarbage       // 200 with a body that is not a valid state
)

// garbage are bodies a broken judge or a proxy in front of it sends with
// 200. Each must be refused by readAnswer; TestSimGarbageIsRefused checks.
var garbage = []struct{ ct, body string }{
	{"application/json", `{"active": "eu"`},
	{"application/json", `{"active": "", "secondary": "us"}`},
	{"application/json", `{"active": "eu", "secondary": "eu"}`},
	{"application/json", `[]`},
	{"application/json", `{"active": 1, "secondary": "us"}`},
	{"application/json", `{"active": "us", "secondary": "eu", "epoch": -1}`},
	{"application/json", ``},
	{"text/html", `<html><body>502 Bad Gateway</body></html>`},
	{"application/json", `{"active": "eu", "secondary": "us"} {"active": "us"}`},
	{"", `active=eu`},
}

// timeline is a value that changes at given times; get returns the value in
// force at t (the zero value before the first change).
type timeline[T any] struct {
	at []time.Duration
	v  []T
}

func (tl *timeline[T]) set(at time.Duration, v T) {
	i, _ := slices.BinarySearch(tl.at, at)
	tl.at = slices.Insert(tl.at, i, at)
	tl.v = slices.Insert(tl.v, i, v)
}

// calmFrom makes v the value from t on, dropping every later change.
func (tl *timeline[T]) calmFrom(t time.Duration, v T) {
	i, _ := slices.BinarySearch(tl.at, t)
	tl.at, tl.v = tl.at[:i], tl.v[:i]
	tl.set(t, v)
}

func (tl *timeline[T]) get(t time.Duration) T {
	var zero T
	if len(tl.v) == 0 {
		return zero
	}
	i, found := slices.BinarySearch(tl.at, t)
	if found {
		return tl.v[i]
	}
	if i == 0 {
		return zero
	}
	return tl.v[i-1]
}

// scenario is one schedule: the configuration and everything the world does.
type scenario struct {
	name    string
	urls    []string // the configured endpoints
	judgeOf []int    // endpoint → judge (two URLs may name one judge)
	judges  int
	cfg     Config
	wd      WatchdogConfig

	values  [](timeline[State]) // per judge: the state it serves
	modes   [](timeline[jmode]) // per judge
	links   [2][]timeline[link] // per region, per judge
	refresh [2][]time.Duration  // Refresh calls per region
	offset  [2]time.Duration    // when each region's client and watchdog start
	returns [2][]time.Duration  // times at which a running fn returns by itself

	// poll draws how long a poll takes and when within it the judge reads
	// its state (0 = at the request's arrival, 1 = just before the answer).
	poll func(rng *rand.Rand, r, j int, at time.Duration) (d time.Duration, sample float64)
	// stopTime draws how long fn takes to return once cancelled.
	stopTime func(rng *rand.Rand) time.Duration

	// onRoundStart, if set, runs when region r starts a round (named
	// schedules use it to flip right after).
	onRoundStart func(s *sim, r int, at time.Duration)

	// Liveness: from calm on, final is the active region, a quorum of
	// judges serves it and final reaches them. calm < 0: no check.
	calm  time.Duration
	final int
	end   time.Duration
}

var simRegions = [2]region.ID{"eu", "us"}

// node is one region: its client's view and loop, and its watchdog.
type node struct {
	r       int
	id      region.ID
	v       view
	created time.Time

	inflight    bool
	roundSeq    int
	loopWaiting bool // the loop waits for the round under way
	queued      bool // a Refresh waits for a round after the one under way
	failures    int

	wc       WatchdogConfig
	tick     time.Duration
	t0       time.Duration // phase of the ticker
	f        fence
	dueSeq   time.Time // the due time an event is scheduled for
	stopping bool
	running  bool
	runSeq   int
	runStart time.Duration
	started  int // how many times fn started
}

type evKind uint8

const (
	evLoop evKind = iota
	evRoundEnd
	evCheck
	evDue
	evStopDone
	evReturn
	evRefresh
	evStartNode
)

type event struct {
	at   time.Duration
	seq  int
	kind evKind
	r    int
	arg  int
	ans  []State
	from time.Duration // evRoundEnd: the round's start
}

// evHeap is a min-heap of events by (at, seq), typed to spare the
// allocations of container/heap's interface.
type evHeap []event

func (h evHeap) less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}

func (h *evHeap) push(e event) {
	*h = append(*h, e)
	q := *h
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (h *evHeap) pop() event {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(q) && q.less(l, m) {
			m = l
		}
		if r := l + 1; r < len(q) && q.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	*h = q
	return top
}

// sim runs one scenario under one set of rules.
type sim struct {
	sc    *scenario
	rules simRules
	rng   *rand.Rand
	now   time.Duration
	q     evHeap
	seq   int
	nodes [2]*node
	memo  *answerMemo

	violation string
	trace     []string
	traceOn   bool
}

// simResult is what a run found.
type simResult struct {
	refused   error  // the configuration was refused (no run)
	violation string // two regions ran at once
	liveness  string // the new active did not start in time
	starts    [2]int
}

func (r simResult) failed() bool { return r.violation != "" || r.liveness != "" }

func (r simResult) String() string {
	switch {
	case r.refused != nil:
		return "refused: " + r.refused.Error()
	case r.violation != "":
		return "SAFETY: " + r.violation
	case r.liveness != "":
		return "LIVENESS: " + r.liveness
	}
	return fmt.Sprintf("ok (starts eu=%d us=%d)", r.starts[0], r.starts[1])
}

func (s *sim) at(d time.Duration) time.Time { return simEpoch.Add(d) }

func (s *sim) push(e event) {
	s.seq++
	e.seq = s.seq
	s.q.push(e)
}

func (s *sim) logf(format string, args ...any) {
	if s.traceOn {
		s.trace = append(s.trace, fmt.Sprintf("%9.3fs ", s.now.Seconds())+fmt.Sprintf(format, args...))
	}
}

func runSim(sc *scenario, rules simRules, seed uint64, trace bool) (simResult, []string) {
	if err := rules.endpoints(sc.urls); err != nil {
		return simResult{refused: err}, nil
	}
	s := &sim{sc: sc, rules: rules, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		memo: simMemo, traceOn: trace}
	cc, _, err := sc.cfg.normalizeTimings()
	if err != nil {
		return simResult{refused: err}, nil
	}
	for r := range 2 {
		wc, tick, err := rules.watchdog(cc, sc.wd)
		if err != nil {
			return simResult{refused: err}, nil
		}
		s.nodes[r] = &node{r: r, id: simRegions[r], wc: wc, tick: tick, f: fence{cfg: wc}}
		s.push(event{at: sc.offset[r], kind: evStartNode, r: r})
		for _, t := range sc.refresh[r] {
			s.push(event{at: t, kind: evRefresh, r: r})
		}
		for i, t := range sc.returns[r] {
			s.push(event{at: t, kind: evReturn, r: r, arg: -1 - i})
		}
	}
	sc.cfg = cc
	for len(s.q) > 0 && s.violation == "" {
		e := s.q.pop()
		if e.at > sc.end {
			break
		}
		s.now = e.at
		s.handle(e)
	}
	res := simResult{violation: s.violation, starts: [2]int{s.nodes[0].started, s.nodes[1].started}}
	if res.violation == "" && sc.calm >= 0 {
		s.now = sc.end
		n := s.nodes[sc.final]
		bound := livenessBound(cc, n.wc, n.tick)
		switch {
		case !n.running:
			res.liveness = fmt.Sprintf("%s not running %v after calm at %v (bound %v)", n.id, sc.end-sc.calm, sc.calm, bound)
		case n.runStart > sc.calm+bound:
			res.liveness = fmt.Sprintf("%s started at %v, %v after calm (bound %v)", n.id, n.runStart, n.runStart-sc.calm, bound)
		}
	}
	return res, s.trace
}

// livenessBound is how soon after a quorum of judges serves a flip, and the
// new active reaches them, its work runs: the round under way ends
// (Timeout), the loop waits (Interval), a round confirms (Timeout), the
// watchdog notices (a tick, when the state itself did not change), a stop
// under way ends (StopGrace) and the fence passes. docs/aca.md states it.
func livenessBound(cc Config, wc WatchdogConfig, tick time.Duration) time.Duration {
	return cc.Interval + 2*cc.Timeout + tick + wc.StopGrace + wc.FencingDelay
}

func (s *sim) handle(e event) {
	n := s.nodes[e.r]
	switch e.kind {
	case evStartNode:
		n.created = s.at(s.now)
		n.t0 = s.now
		s.startRound(n) // New runs a round at once
		n.loopWaiting = true
		s.check(n) // Run starts: Watch has nothing yet, it looks anyway
	case evLoop:
		if n.inflight {
			n.loopWaiting = true
		} else {
			s.startRound(n)
			n.loopWaiting = true
		}
	case evRefresh:
		if n.created.IsZero() {
			return
		}
		if n.inflight {
			n.queued = true
		} else {
			s.startRound(n)
		}
	case evRoundEnd:
		s.endRound(n, e)
	case evCheck:
		s.check(n)
	case evDue:
		if due, ok := n.f.wake(); ok && due.Equal(s.at(s.now)) {
			s.check(n)
		}
	case evStopDone:
		n.stopping = false
		n.running = false
		s.logf("%s fn returned (stopped)", n.id)
		s.check(n) // Run looks again at once
	case evReturn:
		// A running fn returns by itself (arg < 0: scheduled by the
		// scenario, for whatever run is under way then).
		if n.running && !n.stopping {
			n.running = false
			s.logf("%s fn returned by itself", n.id)
			n.f.returned(s.at(s.now))
			s.scheduleDue(n)
		}
	}
}

// startRound polls every endpoint of n at once. The answers are drawn now
// (the world is a function of time) and delivered at the round's end.
func (s *sim) startRound(n *node) {
	sc := s.sc
	n.inflight = true
	n.roundSeq++
	start := s.now
	if sc.onRoundStart != nil {
		sc.onRoundStart(s, n.r, start)
	}
	ans := make([]State, len(sc.urls))
	var longest time.Duration
	for i, j := range sc.judgeOf {
		st, d := s.pollOnce(n.r, j, start)
		ans[i] = st
		longest = max(longest, d)
	}
	s.push(event{at: start + longest, kind: evRoundEnd, r: n.r, arg: n.roundSeq, ans: ans, from: start})
}

// pollOnce is one poll from region r to judge j sent at t: the state it
// yields (zero when it fails) and how long it takes.
func (s *sim) pollOnce(r, j int, t time.Duration) (State, time.Duration) {
	sc := s.sc
	to := sc.cfg.Timeout
	switch sc.links[r][j].get(t) {
	case linkRefused:
		return State{}, time.Millisecond
	case linkBlackhole:
		return State{}, to
	}
	d, frac := sc.poll(s.rng, r, j, t)
	if d >= to {
		return State{}, to // timed out
	}
	if sc.links[r][j].get(t+d) != linkUp {
		return State{}, to // the link went down under the poll
	}
	read := t + time.Duration(frac*float64(d))
	var status int
	var ct, body string
	switch sc.modes[j].get(read) {
	case modeOK:
		return s.served(sc.values[j].get(read)), d
	case mode5xx:
		status, ct, body = []int{500, 502, 503}[s.rng.IntN(3)], "text/html", "<html>error</html>"
	case modeGarbage:
		g := garbage[s.rng.IntN(len(garbage))]
		status, ct, body = 200, g.ct, g.body
	}
	return s.answer(status, ct, body), d
}

// served is what the client reads from a healthy judge serving st: the
// Handler's encoding, then readAnswer; once per distinct state.
func (s *sim) served(st State) State {
	if got, ok := s.memo.ok[st]; ok {
		return got
	}
	got := s.answer(200, "application/json", string(encodeState(st)))
	s.memo.ok[st] = got
	return got
}

// answerMemo holds readAnswer's verdicts across runs: the answers are few
// and parsing them again would only cost time. Simulations run on one
// goroutine at a time, so it needs no lock.
type answerMemo struct {
	answers map[answerKey]State // the zero State for a refused answer
	ok      map[State]State     // by the state a healthy judge serves
}

var simMemo = &answerMemo{answers: map[answerKey]State{}, ok: map[State]State{}}

type answerKey struct {
	status   int
	ct, body string
}

// answer runs readAnswer, the client's own code, once per distinct answer.
func (s *sim) answer(status int, ct, body string) State {
	key := answerKey{status, ct, body}
	if st, ok := s.memo.answers[key]; ok {
		return st
	}
	st, err := readAnswer(status, ct, []byte(body))
	if err != nil {
		st = State{}
	}
	s.memo.answers[key] = st
	return st
}

func (s *sim) endRound(n *node, e event) {
	n.inflight = false
	changed, err := s.rules.confirm(&n.v, s.at(e.from), s.at(s.now), e.ans)
	if s.traceOn {
		s.logf("%s round [%v] %s → %v %+v", n.id, e.from, describe(e.ans), err == nil, n.v.state)
	}
	if err == nil {
		// Staleness passes StaleLimit after the stamp; the ticker notices
		// at its next tick.
		over := n.v.confirmedAt.Sub(simEpoch) + n.wc.StaleLimit
		s.push(event{at: s.nextTick(n, over), kind: evCheck, r: n.r})
	}
	// A confirmation that changes nothing wakes no Watch: Run sees the
	// fresher state at its next tick.
	s.push(event{at: s.nextTick(n, s.now), kind: evCheck, r: n.r})
	if changed {
		s.check(n)
	}
	if n.loopWaiting {
		n.loopWaiting = false
		if err != nil {
			n.failures++
		} else {
			n.failures = 0
		}
		s.push(event{at: s.now + nextWait(s.sc.cfg, n.failures, s.rng.Float64()), kind: evLoop, r: n.r})
	}
	if n.queued {
		n.queued = false
		s.startRound(n)
	}
}

// nextTick is the first tick of n's ticker strictly after t.
func (s *sim) nextTick(n *node, t time.Duration) time.Duration {
	if t < n.t0 {
		return n.t0 + n.tick
	}
	k := (t-n.t0)/n.tick + 1
	return n.t0 + k*n.tick
}

// check is one pass of Run's loop: the verdict, then the fence's action.
func (s *sim) check(n *node) {
	if n.stopping || n.created.IsZero() {
		return // Run is blocked in stopFn, or not started
	}
	now := s.at(s.now)
	ok, why := verdictOf(n.v.state, n.v.known, n.v.staleness(now, n.created), n.wc, n.id)
	act, reason := n.f.step(now, ok, why)
	switch act {
	case actFence:
		s.logf("%s fencing until %v", n.id, n.f.due.Sub(simEpoch))
	case actAbort:
		s.logf("%s fence aborted: %v", n.id, reason)
	case actStart:
		s.start(n)
	case actStop:
		n.stopping = true
		d := s.sc.stopTime(s.rng)
		s.logf("%s stopping (%v), fn returns in %v", n.id, reason, d)
		s.push(event{at: s.now + d, kind: evStopDone, r: n.r})
		return
	}
	s.scheduleDue(n)
}

func (s *sim) scheduleDue(n *node) {
	if due, ok := n.f.wake(); ok && !due.Equal(n.dueSeq) {
		n.dueSeq = due
		s.push(event{at: due.Sub(simEpoch), kind: evDue, r: n.r})
	}
}

func (s *sim) start(n *node) {
	other := s.nodes[1-n.r]
	n.running, n.runStart = true, s.now
	n.started++
	n.runSeq++
	s.logf("%s STARTED", n.id)
	if other.running {
		s.violation = fmt.Sprintf("%s started at %v while %s runs (since %v)", n.id, s.now, other.id, other.runStart)
	}
}

// normalizeTimings fills the Config's timing defaults without looking at
// the endpoints (the simulation's URLs need not parse).
func (cfg Config) normalizeTimings() (Config, []endpoint, error) {
	c := cfg
	c.Endpoints = []string{"http://sim.invalid/"}
	out, eps, err := c.normalize()
	out.Endpoints = cfg.Endpoints
	return out, eps, err
}

// ---- schedules ----

func judgeURLs(n int) []string {
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://judge%d.sim:8080/", i)
	}
	return urls
}

func identity(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// baseScenario has n healthy judges that serve st from the start, links up,
// quick polls, and fn stopping within StopGrace.
func baseScenario(name string, n int, cfg Config, st State) *scenario {
	sc := &scenario{name: name, urls: judgeURLs(n), judgeOf: identity(n), judges: n, cfg: cfg, calm: -1}
	sc.values = make([]timeline[State], n)
	sc.modes = make([]timeline[jmode], n)
	for j := range n {
		sc.values[j].set(0, st)
	}
	for r := range 2 {
		sc.links[r] = make([]timeline[link], n)
	}
	sc.poll = func(rng *rand.Rand, _, _ int, _ time.Duration) (time.Duration, float64) {
		return time.Millisecond + durN(rng, 10*time.Millisecond), rng.Float64()
	}
	sc.stopTime = func(rng *rand.Rand) time.Duration { return durN(rng, sc.cfg.Interval/2+1) }
	return sc
}

func stateOf(active int, epoch uint64) State {
	return State{Active: simRegions[active], Secondary: simRegions[1-active], Epoch: epoch}
}

// randomScenario draws a schedule from seed: the faults of issue 11's list
// and then a calm phase for the liveness check.
func randomScenario(seed uint64) *scenario {
	rng := rand.New(rand.NewPCG(seed, 0x51ed))
	pick := func(xs ...float64) float64 { return xs[rng.IntN(len(xs))] }
	iv := time.Duration(pick(1, 0.25, 0.1) * float64(time.Second))
	cfg := Config{
		Interval: iv,
		Timeout:  time.Duration(pick(0.5, 0.2, 1) * float64(iv)),
		Jitter:   pick(0.1, 0.5),
	}
	n := 3 + rng.IntN(3)
	epochs := rng.IntN(2) == 0
	var epoch uint64
	if epochs {
		epoch = 1 + uint64(rng.IntN(5))
	}
	sc := baseScenario("random", n, cfg, stateOf(0, epoch))
	if rng.IntN(3) == 0 {
		sc.wd.StopGrace = time.Duration(pick(0.1, 1) * float64(iv))
	}
	cc, _, _ := cfg.normalizeTimings()
	wc, _, _ := resolveWatchdog(cc, sc.wd)
	F := wc.FencingDelay
	unit := func(lo, hi float64) time.Duration {
		return time.Duration((lo + rng.Float64()*(hi-lo)) * float64(F))
	}
	sc.offset = [2]time.Duration{durN(rng, iv), durN(rng, iv)}
	sc.stopTime = func(rng *rand.Rand) time.Duration { return durN(rng, wc.StopGrace+1) }

	// Judges: flips with lag, a minority of them stale.
	lagMax := time.Duration(pick(0, 0.2, 1) * float64(F))
	quorum := n/2 + 1
	stale := rng.IntN(n - quorum + 1)
	flips := rng.IntN(4)
	chaosEnd := unit(3, 8)
	t := unit(1, 2.5)
	active := 0
	lastFlip := time.Duration(0)
	for range flips {
		active = 1 - active
		if epochs {
			epoch++
		}
		for j := range n {
			if j < stale {
				continue // a stale judge never follows
			}
			sc.values[j].set(t+durN(rng, lagMax+1), stateOf(active, epoch))
		}
		lastFlip = t
		// The ACA holds a state for at least a fence plus the lag before
		// it flips back (docs/aca.md, "Assumptions").
		t += F + lagMax + unit(0.1, 2)
	}
	chaosEnd = max(chaosEnd, lastFlip+lagMax)

	// 5xx and garbage periods; judge 0 may also poison with a huge epoch.
	poison := epochs && rng.IntN(4) == 0
	for j := range n {
		for range rng.IntN(4) {
			at := durN(rng, chaosEnd)
			sc.modes[j].set(at, jmode(1+rng.IntN(2)))
			sc.modes[j].set(at+unit(0.02, 0.5), modeOK)
		}
	}
	if poison {
		at := durN(rng, chaosEnd)
		lie := stateOf(rng.IntN(2), math.MaxUint64)
		sc.values[0].set(at, lie)
		sc.values[0].set(at+unit(0.1, 1), sc.values[0].get(at-1))
	}

	// Links: partitions (each region a different subset), flapping links,
	// blackholes and refusals.
	for range rng.IntN(4) {
		at, until := durN(rng, chaosEnd), unit(0.2, 2)
		for r := range 2 {
			reach := rng.Uint32()
			for j := range n {
				if reach&(1<<j) == 0 {
					sc.links[r][j].set(at, link(1+rng.IntN(2)))
					sc.links[r][j].set(at+until, linkUp)
				}
			}
		}
	}
	for range rng.IntN(3) {
		r, j := rng.IntN(2), rng.IntN(n)
		at := durN(rng, chaosEnd)
		period := time.Duration(pick(0.5, 1, 3) * float64(iv))
		for k := range 2 + rng.IntN(8) {
			l := linkUp
			if k%2 == 0 {
				l = link(1 + rng.IntN(2))
			}
			sc.links[r][j].set(at, l)
			at += period/2 + durN(rng, period)
		}
		sc.links[r][j].set(at, linkUp)
	}

	// Slow bodies up to Timeout, and some past it.
	slow := pick(0, 0.1, 0.4)
	sc.poll = func(rng *rand.Rand, r, _ int, at time.Duration) (time.Duration, float64) {
		to := sc.cfg.Timeout
		calm := sc.calm >= 0 && at >= sc.calm && r == sc.final
		x := rng.Float64()
		switch {
		case x < slow:
			return durN(rng, to), rng.Float64()
		case x < slow+0.05 && !calm:
			return to + time.Millisecond, 0
		}
		return time.Millisecond + durN(rng, min(20*time.Millisecond, to/2)), rng.Float64()
	}
	for r := range 2 {
		for range rng.IntN(4) {
			sc.refresh[r] = append(sc.refresh[r], durN(rng, chaosEnd))
		}
		if rng.IntN(4) == 0 {
			sc.returns[r] = append(sc.returns[r], durN(rng, chaosEnd))
		}
	}

	// Calm: the last flip is served by every judge that follows, and the
	// new active reaches them all, answering within Timeout.
	sc.calm = chaosEnd
	sc.final = active
	for j := range n {
		sc.modes[j].calmFrom(sc.calm, modeOK)
		if j == 0 && poison {
			sc.values[0].calmFrom(sc.calm, sc.values[n-1].get(sc.calm))
		}
		sc.links[active][j].calmFrom(sc.calm, linkUp)
	}
	tick := min(max(wc.StaleLimit/16, minTick), maxTick)
	sc.end = sc.calm + livenessBound(cc, wc, tick) + time.Millisecond
	return sc
}

// ---- tests ----

func TestSim(t *testing.T) {
	rules := newSimRules()
	if *simSeed != 0 {
		sc := randomScenario(*simSeed)
		res, trace := runSim(sc, rules, *simSeed, true)
		for _, l := range trace {
			t.Log(l)
		}
		if res.failed() || res.refused != nil {
			t.Fatalf("seed %d: %v", *simSeed, res)
		}
		t.Logf("seed %d: %v", *simSeed, res)
		return
	}
	n := *simN
	var starts, refused int
	for i := range n {
		seed := uint64(i + 1)
		sc := randomScenario(seed)
		res, _ := runSim(sc, rules, seed, false)
		if res.refused != nil {
			refused++
			continue
		}
		if res.failed() {
			t.Fatalf("seed %d: %v\nreplay: go test ./aca -run 'TestSim$' -sim.seed=%d -v", seed, res, seed)
		}
		starts += res.starts[0] + res.starts[1]
	}
	if refused > 0 {
		t.Fatalf("%d of %d generated schedules were refused at construction; the generator is broken", refused, n)
	}
	t.Logf("%d schedules, %d starts of the guarded work, no overlap, every new active started in time", n, starts)
}

// Every garbage body the simulation serves is one the client refuses.
func TestSimGarbageIsRefused(t *testing.T) {
	for _, g := range garbage {
		if st, err := readAnswer(200, g.ct, []byte(g.body)); err == nil {
			t.Errorf("readAnswer(%q, %q) = %+v, want an error", g.ct, g.body, st)
		}
	}
}

// The engine itself: one healthy schedule per config starts eu once and us
// never, so a sim that cannot start anything does not pass by accident.
func TestSimHealthy(t *testing.T) {
	for _, iv := range []time.Duration{time.Second, 100 * time.Millisecond} {
		sc := baseScenario("healthy", 3, Config{Interval: iv}, stateOf(0, 0))
		sc.end = 10 * iv * 10
		res, trace := runSim(sc, newSimRules(), 1, true)
		if res.failed() || res.starts != [2]int{1, 0} {
			t.Fatalf("interval %v: %v\n%s", iv, res, strings.Join(trace, "\n"))
		}
	}
}

// durN is a random duration in [0, d); 0 when d <= 0.
func durN(rng *rand.Rand, d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rng.Int64N(int64(d)))
}

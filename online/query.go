package online

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemfs/tandem/internal/health"
	"github.com/tandemfs/tandem/internal/hedge"
	"github.com/tandemfs/tandem/region"
)

// Call is one statement with its arguments.
type Call struct {
	Stmt *Stmt
	Args []any
}

// Result is the outcome of a read: the rows of each call, in order, and
// where they came from. All of a group's rows come from one server, so a
// vector never mixes data from two regions.
type Result struct {
	Rows []*Rows
	// Region and Server served the rows.
	Region region.ID
	Server string
	// Hedged reports that a hedge was sent for this read (whether or not
	// it won); Attempts counts the attempts started.
	Hedged   bool
	Attempts int
	// Winner is the position in the plan of the attempt that served the
	// read: 0 for the preferred server, 1 for the first hedge or failover
	// (another server of the same region when it has one), and so on.
	Winner int
	// Suppressed reports that a hedge was due but the hedge budget refused
	// it at least once.
	Suppressed bool
	// Latency is the logical latency the caller saw.
	Latency time.Duration
}

// CallOption changes one read.
type CallOption func(*callOpts)

type callOpts struct {
	pin     region.ID
	noHedge bool
}

// Pin sends the read to region r only (no cross-region hedge), for
// read-your-writes. Another server of the same region may still be
// hedged to.
func Pin(r region.ID) CallOption { return func(o *callOpts) { o.pin = r } }

// NoHedge sends no hedge for this read; a transient error still fails
// over to the next server or region at once.
func NoHedge() CallOption { return func(o *callOpts) { o.noHedge = true } }

// Query runs one statement with args. See [Store.QueryGroup].
func (s *Store) Query(ctx context.Context, st *Stmt, args []any, opts ...CallOption) (*Result, error) {
	return s.QueryGroup(ctx, []Call{{Stmt: st, Args: args}}, opts...)
}

// QueryGroup runs calls as one hedged unit: every attempt runs all of them
// concurrently on one server, and a hedge re-runs all of them on the next
// server, so the result never mixes regions. The preferred server is in
// the local region while it is healthy; a hedge goes first to another
// server of the same region, then to another region. The call's timeout
// is the ctx's deadline; attempts run on after a cancel, bounded by
// AttemptTimeout, so their connections go back to the pool.
func (s *Store) QueryGroup(ctx context.Context, calls []Call, opts ...CallOption) (*Result, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	s.use()
	if len(calls) == 0 {
		return &Result{}, nil
	}
	for i, c := range calls {
		if c.Stmt == nil || c.Stmt.store != s {
			return nil, fmt.Errorf("%w: call %d has no statement of this store", ErrInvalidStatement, i)
		}
		if len(c.Args) != c.Stmt.info.params {
			return nil, fmt.Errorf("%w: call %d gives %d, %q takes %d", ErrArgCount, i, len(c.Args), c.Stmt.query, c.Stmt.info.params)
		}
	}
	var o callOpts
	if len(opts) > 0 {
		o = applyOpts(opts)
	}
	if o.pin != "" {
		id, err := region.ParseID(string(o.pin))
		if err != nil || !s.topo.Has(id) {
			return nil, fmt.Errorf("%w: %q; the store knows %v", ErrUnknownRegion, o.pin, s.topo.Regions())
		}
		o.pin = id
	}
	start := time.Now()
	// One allocation holds the read's state: the plan, the interruptor
	// and the hedge engine's view of it (hedge.Runner).
	r := &read{s: s, calls: calls}
	r.plan = s.topo.Plan(o.pin, r.buf[:0])
	ctx, span := s.tel.start(ctx, len(calls))
	noHedge := o.noHedge || s.cfg.Hedge.NoHedge
	r.first = s.servers[r.plan[0].Index]
	hp := hedge.Plan[[]*Rows]{Targets: len(r.plan), Classify: classify, Runner: r, NoDelay: noHedge}
	// A server that is rarely hedged reads on the caller's goroutine (see
	// conn.go).
	if !noHedge && len(r.plan) > 1 && r.first.inline.Load() {
		r.ir = &r.irBuf
		r.ir.caller = ctx
		r.ir.conns = r.ir.connBuf[:0]
		hp.Inline = true
	}
	rows, out, err := hedge.Do(ctx, s.engine, hp)
	if out.Deferred > 0 {
		s.deferred.Add(int64(out.Deferred)) // the engine's count: it may ignore a last "not yet"
	}
	if err == nil && out.Winner > 0 && out.Hedges > 0 && r.soft[0].state.CompareAndSwap(attemptRunning, attemptBeaten) {
		r.first.noteBeaten(s.clock.Now(), time.Since(start))
	}
	res := &Result{Rows: rows, Hedged: out.Hedged(), Attempts: out.Launched, Winner: out.Winner,
		Suppressed: out.Suppressed, Latency: time.Since(start)}
	if out.Winner >= 0 {
		res.Region, res.Server = r.plan[out.Winner].Region, r.plan[out.Winner].Name
	}
	s.tel.finish(ctx, span, res, out, err)
	if err != nil {
		return nil, err
	}
	return res, nil
}

func applyOpts(opts []CallOption) callOpts {
	var o callOpts
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// read is one QueryGroup's state; it is the hedge engine's Runner.
type read struct {
	s     *Store
	calls []Call
	first *server
	plan  []*health.Server
	buf   [4]*health.Server
	ir    *interruptor // set when attempt 0 runs inline
	irBuf interruptor
	soft  [2]softWatch // the first two attempts'
	// answers follows attempt 0's connections (HedgeDue).
	answers answerWatch
	// hedgeArmed says a hedge timer for target 1 runs while attempt 0
	// does: attempt 0's soft timer is then armed only when it fires
	// (HedgeDue), since nearly every attempt ends well before.
	hedgeArmed bool
}

func (r *read) Attempt(ctx context.Context, i int) ([]*Rows, error) {
	var w *softWatch
	if i < len(r.soft) {
		w = &r.soft[i]
	}
	if i == 0 {
		return r.s.attempt(ctx, r.first, r.calls, r.ir, w, r.hedgeArmed, &r.answers)
	}
	return r.s.attempt(ctx, r.s.servers[r.plan[i].Index], r.calls, nil, w, false, nil)
}

func (r *read) Delay(i int) time.Duration {
	d := r.s.gap(r.first, r.plan, i)
	if i == 1 && d >= 0 {
		r.hedgeArmed = true
	}
	return d
}

// HedgeDue arms attempt 0's soft timer when the hedge timer for target 1
// fires (hedge.DueNotifier): attempt 0 has run the hedge delay, so it
// may run on past the soft threshold. It holds the hedge back while
// every unfinished call of attempt 0 has its answer waiting in its
// socket (answerWatch).
func (r *read) HedgeDue(i int) bool {
	if i != 1 {
		return true
	}
	r.soft[0].arm()
	return !r.answers.waiting(len(r.calls))
}

// answerWatch follows the connections of attempt 0's calls, so that a
// due hedge can tell a server that has not answered from an answer that
// waits for this process's CPU. On a busy machine the second is common:
// the server answered in time, but the goroutine that reads the answer
// has not run yet, and a hedge then only adds load (two more reads of a
// vector, on a machine that is already short of CPU).
type answerWatch struct {
	conns [maxWatched]atomic.Pointer[pconn]
	done  [maxWatched]atomic.Bool
}

// track records that call k's I/O runs on pc (nil: it ended); a nil
// watch or a call beyond maxWatched is not followed.
func (a *answerWatch) track(k int, pc *pconn) {
	if a != nil && k < maxWatched {
		a.conns[k].Store(pc)
	}
}

// finish records that call k returned.
func (a *answerWatch) finish(k int) {
	if a != nil && k < maxWatched {
		a.done[k].Store(true)
	}
}

// maxWatched is how many calls of an attempt are followed; a read with
// more is always hedged when due.
const maxWatched = 4

// waiting reports whether each of the n calls is done or has bytes of
// its answer in its socket.
func (a *answerWatch) waiting(n int) bool {
	if n > maxWatched {
		return false
	}
	for k := range n {
		if a.done[k].Load() {
			continue
		}
		pc := a.conns[k].Load()
		if pc == nil || !pc.sock.readable() {
			return false // no connection yet, or no answer yet
		}
	}
	return true
}

func (r *read) Interrupt() {
	if r.ir != nil {
		r.ir.fire()
	}
}

// gap is how long after attempt i-1 started attempt i is hedged. An
// ejected server is in the plan only as a last resort (every server of its
// region is ejected): it is tried after a failure, never hedged to on a
// timer, since a hedge to a dead region is refused at once and only costs
// a dial.
func (s *Store) gap(first *server, plan []*health.Server, i int) time.Duration {
	if !plan[i].Health.Available() {
		return -1
	}
	if d := s.cfg.Hedge.Delay; d > 0 {
		return d
	}
	d := time.Duration(first.hedgeNs.Load())
	if i == 1 {
		return d
	}
	// A later hedge crosses to another region: wait as long again, at
	// least; the adaptive delay of the second server tells how long its
	// own attempt is expected to take.
	return max(time.Duration(s.servers[plan[i-1].Index].hedgeNs.Load()), s.cfg.Hedge.Floor)
}

// attempt runs every call on srv, concurrently, and accounts for the
// server's health. An attempt that runs beyond the server's soft threshold
// counts as a failure at that moment, long before any timeout, so a
// blackholed server is ejected within tens of milliseconds.
//
// ir, if set, can interrupt the attempt (it runs on the caller's
// goroutine); an interrupted attempt is a loser the Store cut short, not
// a failure of the server.
//
// With lazy set, the soft timer is armed only when the hedge timer fires
// (softWatch.arm): a scheduler entry per attempt saved, about 2% of a
// local lookup's CPU.
func (s *Store) attempt(ctx context.Context, srv *server, calls []Call, ir *interruptor, soft *softWatch, lazy bool, aw *answerWatch) ([]*Rows, error) {
	h := srv.rs.Health
	h.Begin()
	defer h.End()
	start := time.Now()
	// The whole attempt, a wait for a connection included, ends by this
	// deadline, however the server paces its bytes.
	deadline := start.Add(s.cfg.AttemptTimeout)
	if soft == nil {
		soft = &softWatch{}
	}
	soft.begin(s, srv, start, lazy)
	rows, err := s.runCalls(ctx, srv, calls, ir, deadline, aw)
	soft.end()
	now := s.clock.Now()
	el := time.Since(start)
	switch {
	case err != nil && ir.interrupted():
		if !ir.byCaller() {
			// A hedge won while this attempt ran: it was slower than the
			// delay plus the winner's round trip, on a server that is
			// rarely so. Count it as the soft timer would have, had it
			// run on (a blackholed server is ejected after a few reads),
			// and record how long it ran at least, so the delay and the
			// choice to read inline see it.
			h.Latency().Record(now, el)
			if soft.state.CompareAndSwap(attemptRunning, attemptDone) {
				srv.noteBeaten(now, el)
			}
			if !soft.fired.Load() && h.Failure(now) {
				s.ejected(srv, "attempts outrun by hedges")
			}
		}
		return nil, &RegionError{Region: srv.rs.Region, Server: srv.rs.Name, Op: "query", Err: errInterrupted}
	case err == nil:
		h.Success(now, el)
		if soft.state.CompareAndSwap(attemptRunning, attemptDone) {
			srv.recent.Record(now, el)
		}
	case blamesServer(err) && !soft.fired.Load():
		if h.Failure(now) {
			s.ejected(srv, err.Error())
		}
	}
	// A failed attempt was not beaten by a hedge.
	soft.state.CompareAndSwap(attemptRunning, attemptDone)
	s.tel.attempt(srv, el, err)
	if err != nil {
		return nil, &RegionError{Region: srv.rs.Region, Server: srv.rs.Name, Op: "query", Err: err}
	}
	return rows, nil
}

// softWatch is an attempt's soft-failure timer state.
type softWatch struct {
	s     *Store
	srv   *server
	start time.Time
	fired atomic.Bool
	// mu orders arm, which may come from the timer goroutine, with the
	// attempt's end.
	mu      sync.Mutex
	started bool // begin ran
	due     bool // the hedge timer fired (maybe before begin)
	armed   bool
	ended   bool
	timer   hedge.Timer
	// state is attemptRunning until the attempt ends (attemptDone) or a
	// hedge beats it while it still runs (attemptBeaten); whichever comes
	// first records the attempt in the server's recent window.
	state atomic.Int32
}

const (
	attemptRunning int32 = iota
	attemptDone
	attemptBeaten
)

// begin records the attempt's start and arms the soft timer, at once
// unless lazy, or if the hedge timer already fired.
func (w *softWatch) begin(s *Store, srv *server, start time.Time, lazy bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.s, w.srv, w.start, w.started = s, srv, start, true
	if !lazy || w.due {
		w.armLocked()
	}
}

// arm starts the soft timer of an attempt the hedge delay found slow; it
// may come before begin, which then arms it.
func (w *softWatch) arm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.due = true
	if w.started {
		w.armLocked()
	}
}

// armLocked starts the soft timer, to fire at the attempt's start plus
// the server's soft threshold, unless the attempt ended or the timer
// runs. w.mu is held.
func (w *softWatch) armLocked() {
	if w.armed || w.ended {
		return
	}
	w.armed = true
	d := time.Duration(w.srv.softNs.Load()) - time.Since(w.start)
	w.timer = w.s.engine.AfterFunc(max(d, 0), softFire, w, 0)
}

// end stops the soft timer for an attempt that returned.
func (w *softWatch) end() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended = true
	if w.armed {
		w.timer.Stop()
	}
}

// noteBeaten records in srv's recent window an attempt that a hedge beat
// after el: it ran at least past the delay and the hedge's round trip,
// and probably far longer (a stall). Recording it when the hedge wins,
// not when the stalled attempt finally returns, is what lets the delay
// see a brownout's first stalls at once (delay.go).
//
// It also asks the background loop to recompute the delays at its next
// tick (10 ms) rather than at the next refresh (100 ms): at a brownout's
// onset every stalled vector waits for the delay, which still sits where
// the healthy server put it.
func (srv *server) noteBeaten(now time.Time, el time.Duration) {
	v := max(el, time.Duration(srv.hedgeNs.Load()+srv.targetRTTNs.Load())+2*time.Millisecond)
	srv.recent.Record(now, v)
	srv.beaten.Store(true)
}

// softFire counts a slow attempt as a failure of its server. It runs on
// the engine's timer goroutine, which must not block: an ejection is only
// counted here, and the background loop logs it.
func softFire(arg any, _ int) {
	w := arg.(*softWatch)
	w.mu.Lock()
	ended := w.ended
	w.mu.Unlock()
	if ended {
		return // it ended just as the timer fired
	}
	w.fired.Store(true)
	if w.srv.rs.Health.Failure(w.s.clock.Now()) {
		w.srv.softEjects.Add(1)
	}
}

func (s *Store) ejected(srv *server, why string) {
	s.log.Warn("online: server ejected", "region", srv.rs.Region, "server", srv.rs.Name, "reason", why)
	s.tel.ejected(srv)
}

func (s *Store) runCalls(ctx context.Context, srv *server, calls []Call, ir *interruptor, deadline time.Time, aw *answerWatch) ([]*Rows, error) {
	out := make([]*Rows, len(calls))
	if len(calls) == 1 {
		r, err := s.runOne(ctx, srv, calls[0], ir, deadline, aw, 0)
		out[0] = r
		return out, err
	}
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i := 1; i < len(calls); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = s.runOne(ctx, srv, calls[i], ir, deadline, aw, i)
		}()
	}
	out[0], errs[0] = s.runOne(ctx, srv, calls[0], ir, deadline, aw, 0)
	wg.Wait()
	// A fatal error (the statement's fault) wins over a transient one, so
	// the request is not retried elsewhere in vain.
	var first error
	for _, e := range errs {
		if e == nil {
			continue
		}
		if classify(e) == hedge.Fatal {
			return nil, e
		}
		if first == nil {
			first = e
		}
	}
	if first != nil {
		return nil, first
	}
	return out, nil
}

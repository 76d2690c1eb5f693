package hedge

import (
	"context"
	"errors"
	"sync"
	"time"
)

// race is one request with more than one target. Every event (an attempt
// returns, a hedge timer fires, the caller gives up) is handled under mu
// by whichever goroutine it happens on, so the caller's goroutine is free
// to run attempt 0 itself (Plan.Inline) and only waits, on fin, when it
// has nothing else to do.
type race[T any] struct {
	e        *Engine
	p        *Plan[T]
	actx     context.Context
	deadline time.Time

	mu      sync.Mutex
	over    bool // decided or abandoned: attempts still running are losers
	out     Outcome
	v       T
	err     error
	errs    []error
	next    int    // the next target to start
	running int    // attempts started and not yet returned
	inline0 bool   // attempt 0 is running on the caller's goroutine
	timer   *entry // the pending hedge timer, on the engine's scheduler
	// lastDelay and retries drive the re-asks of a hedge the budget
	// refused.
	lastDelay time.Duration
	retries   int
	defers    int           // times a DueNotifier held the hedge back
	fin       chan struct{} // closed once the request is decided
}

func runRace[T any](ctx context.Context, e *Engine, p *Plan[T], actx context.Context, deadline time.Time, cancelAll context.CancelFunc) (T, Outcome, error) {
	r := &race[T]{e: e, p: p, actx: actx, deadline: deadline, out: Outcome{Winner: -1}, fin: make(chan struct{})}
	inline := p.Inline && p.canInterrupt()
	r.mu.Lock()
	// The hedge timer is armed before the first attempt asks the pool for
	// a connection, so a slow dial or a drained pool is hedged too.
	r.next = 1
	r.arm()
	if inline {
		r.out.Launched, r.running, r.inline0 = 1, 1, true
	} else {
		r.launch(0, false)
	}
	r.mu.Unlock()

	if inline {
		// The caller's cancellation interrupts attempt 0, as the plain
		// driver would close its connection; nothing is registered for a
		// context that cannot be cancelled.
		var stop func() bool
		if ctx.Done() != nil {
			stop = context.AfterFunc(ctx, p.interrupt)
		}
		v, err := r.attempt(0)
		if stop != nil {
			stop()
		}
		if err != nil && ctx.Err() != nil {
			r.mu.Lock()
			r.running--
			r.inline0 = false
			r.mu.Unlock()
			return r.abandon(ctx.Err())
		}
		r.complete(0, v, err, true)
	}
	select {
	case <-r.fin:
	default:
		select {
		case <-r.fin:
		case <-ctx.Done():
			return r.abandon(ctx.Err())
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.v, r.out, r.err
}

// attempt runs attempt i under the attempt's own deadline.
func (r *race[T]) attempt(i int) (T, error) {
	c, cancel := r.actx, context.CancelFunc(nil)
	if !r.e.cfg.SelfBounded || r.e.cfg.CancelLosers {
		c, cancel = context.WithDeadline(r.actx, r.deadline)
	}
	start := time.Now()
	v, err := r.p.attempt(c, i)
	if cancel != nil {
		cancel()
	}
	if r.p.Done != nil {
		r.p.Done(i, v, err, time.Since(start))
	}
	return v, err
}

// abandon ends the request for a caller that gave up, unless an attempt
// decided it first.
func (r *race[T]) abandon(err error) (T, Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.fin:
		return r.v, r.out, r.err
	default:
	}
	r.over = true
	r.stopTimer()
	var zero T
	return zero, r.out, err
}

// launch starts attempt i on a worker. r.mu is held.
func (r *race[T]) launch(i int, hedged bool) {
	r.out.Launched++
	if hedged {
		r.out.Hedges++
	}
	r.running++
	r.next = i + 1
	e := r.e
	e.wg.Add(1)
	e.workers.run(func() {
		defer e.wg.Done()
		if hedged {
			defer e.budget.Release()
		}
		v, err := r.attempt(i)
		r.complete(i, v, err, false)
	})
}

// complete handles attempt i's result.
func (r *race[T]) complete(i int, v T, err error, inline bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running--
	if inline {
		r.inline0 = false
	}
	if r.over {
		return // a loser
	}
	switch {
	case err == nil:
		r.decide(i, v, nil)
	case r.p.Classify != nil && r.p.Classify(err) == Fatal:
		var zero T
		r.decide(i, zero, err)
	default:
		// A transient error: the next target now, without waiting for
		// the hedge delay (a failover, not a hedge: no budget).
		r.errs = append(r.errs, err)
		if r.next < r.p.Targets {
			r.stopTimer()
			r.launch(r.next, false)
			r.arm()
			return
		}
		if r.running == 0 {
			var zero T
			r.decide(-1, zero, errors.Join(r.errs...))
		}
	}
}

// decide ends the request with attempt i's result (i = -1: every attempt
// failed). r.mu is held.
func (r *race[T]) decide(i int, v T, err error) {
	r.over = true
	r.out.Winner = i
	r.v, r.err = v, err
	r.stopTimer()
	if r.inline0 && i != 0 {
		r.p.interrupt()
	}
	close(r.fin)
}

// arm starts the hedge timer for target r.next. r.mu is held.
func (r *race[T]) arm() {
	if r.next >= r.p.Targets || !r.p.hasDelay() {
		return
	}
	d := r.p.delay(r.next)
	if d < 0 {
		return
	}
	r.lastDelay = d
	r.startTimer(d)
}

// startTimer fires r.fire for target r.next after d. Engine.Wait counts a
// pending timer, so Close never returns under a timer still due to launch
// an attempt. r.mu is held.
func (r *race[T]) startTimer(d time.Duration) {
	r.stopTimer()
	i := r.next
	r.e.wg.Add(1)
	r.timer = r.e.sched.after(d, fireRace[T], r, i)
}

// fireRace is the scheduler's entry for a race's hedge timer.
func fireRace[T any](arg any, i int) {
	r := arg.(*race[T])
	defer r.e.wg.Done()
	r.fire(i)
}

// stopTimer stops a pending timer; a timer whose function already started
// finds its target taken or the request over. r.mu is held.
func (r *race[T]) stopTimer() {
	if r.timer != nil && r.timer.stop() {
		r.e.wg.Done()
	}
	r.timer = nil
}

// fire is the hedge timer for target i.
func (r *race[T]) fire(i int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.over || r.next != i {
		return // decided, or a failover already started target i
	}
	r.timer = nil
	if n, ok := r.p.Runner.(DueNotifier); ok && !n.HedgeDue(i) && r.defers < r.e.cfg.MaxDefers {
		r.defers++
		r.out.Deferred++
		r.startTimer(r.e.cfg.DeferStep)
		return
	}
	if !r.e.budget.TryAcquire(time.Now()) {
		r.out.Suppressed = true
		// Every request deposits into the budget, so it may allow this
		// hedge a little later: ask again after a growing wait, so an
		// attempt that is truly stuck is still rescued, just later, while
		// a burst of hedges stays capped.
		if r.retries < maxBudgetRetries {
			r.retries++
			r.lastDelay = max(2*r.lastDelay, time.Millisecond)
			r.startTimer(r.lastDelay)
		}
		return
	}
	r.launch(i, true)
	r.arm()
}

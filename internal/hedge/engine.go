package hedge

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Class says what an attempt's error means for the request.
type Class int

const (
	// Transient errors blame the target (dial failure, lost connection,
	// too many connections, read-only, shutdown): the next target is tried
	// at once, without waiting for the hedge delay.
	Transient Class = iota
	// Fatal errors blame the request (syntax, access denied, unknown
	// table): another target would fail the same way, so the request ends.
	Fatal
)

// Config tunes an [Engine]. The zero value means the defaults.
type Config struct {
	// AttemptTimeout bounds every attempt, the winner's and the losers'.
	// A caller's earlier deadline still ends the request, but not the
	// attempts, which run on so their connections go back to the pool.
	// Default: 2s.
	AttemptTimeout time.Duration
	// CancelLosers cancels the attempts still running once the request is
	// over (a winner, a fatal error, or the caller gave up). Default: false
	// (see docs/ARCHITECTURE.md#hedging, rule 6).
	CancelLosers bool
	// SelfBounded says the attempts bound themselves (for MySQL: the
	// driver's read and write timeouts, which are socket deadlines). The
	// engine then hands them a context that can neither be cancelled nor
	// expire, which matters for speed: database/sql starts a goroutine per
	// query to watch a cancellable context, and go-sql-driver wakes its
	// watcher goroutine, together about half the cost of a local lookup
	// on two cores. CancelLosers overrides it. Default: false.
	SelfBounded bool
	// Budget caps hedges; failovers after a transient error do not use it.
	Budget BudgetConfig
	// DeferStep and MaxDefers bound how long a DueNotifier can hold a
	// due hedge back. Defaults: 250µs and 4 (1 ms in all).
	DeferStep time.Duration
	MaxDefers int
}

// Engine runs hedged requests and tracks their attempts. Create it with
// [New]; it is safe for concurrent use. [Engine.Wait] blocks until every
// attempt started so far has returned.
type Engine struct {
	cfg     Config
	budget  *Budget
	wg      sync.WaitGroup
	workers *workers
	sched   *scheduler // hedge timers
}

// New returns an engine.
func New(cfg Config) *Engine {
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 2 * time.Second
	}
	if cfg.DeferStep <= 0 {
		cfg.DeferStep = 250 * time.Microsecond
	}
	if cfg.MaxDefers <= 0 {
		cfg.MaxDefers = 4
	}
	return &Engine{cfg: cfg, budget: NewBudget(cfg.Budget), workers: newWorkers(), sched: newScheduler()}
}

// Budget is the engine's hedge budget.
func (e *Engine) Budget() *Budget { return e.budget }

// Wait blocks until every attempt has returned. Attempts are bounded by
// AttemptTimeout, so Wait is too.
func (e *Engine) Wait() { e.wg.Wait() }

// Close waits for every attempt, then stops the engine's idle worker
// goroutines. Do must not be called after Close.
func (e *Engine) Close() {
	e.wg.Wait()
	e.sched.close()
	e.workers.close()
}

// Outcome describes how a request went.
type Outcome struct {
	// Winner is the index of the attempt whose result was returned, or -1.
	Winner int
	// Launched is how many attempts were started.
	Launched int
	// Hedges is how many attempts were started by a hedge timer (not by a
	// failover after an error).
	Hedges int
	// Suppressed reports that a hedge was due but the budget refused it.
	Suppressed bool
	// Deferred counts the times a due hedge was held back because the
	// attempt's answer was already there (DueNotifier).
	Deferred int
}

// Hedged reports whether any hedge was sent.
func (o Outcome) Hedged() bool { return o.Hedges > 0 }

// Plan describes one request.
type Plan[T any] struct {
	// Targets is the number of targets, tried in order (at least 1).
	Targets int
	// Delay returns how long after attempt i-1 started attempt i is
	// hedged (i ≥ 1). A negative delay never hedges attempt i by timer;
	// it is still tried after a transient failure.
	Delay func(i int) time.Duration
	// Classify maps an attempt's error to a Class. Context errors of the
	// caller are handled before Classify is asked.
	Classify func(error) Class
	// Attempt runs attempt i against target i. Its ctx carries the
	// attempt's own deadline.
	Attempt func(ctx context.Context, i int) (T, error)
	// Done, if set, is called in the attempt's goroutine when attempt i
	// returns, winner or loser, with its result. It lets the caller
	// account for losers (health, connection reuse) after Do returned.
	Done func(i int, v T, err error, elapsed time.Duration)
	// Inline runs attempt 0 on the caller's goroutine rather than on a
	// worker, which saves two goroutine hand-offs per request: on two
	// cores about a third of a local lookup. The caller's goroutine is
	// then busy while attempt 0 runs, so Interrupt must be set: the engine
	// calls it when attempt 0 has to stop at once (another attempt won,
	// or the caller gave up), and attempt 0 must then return promptly.
	// Interrupting usually costs attempt 0 its connection, so Inline suits
	// a target that is rarely hedged; a loser on a worker keeps its
	// connection (rule 6).
	Inline bool
	// Interrupt stops the inline attempt 0; see Inline. It may be called
	// from any goroutine, also after attempt 0 returned.
	Interrupt func()
	// Runner, if set, stands for Attempt, Delay and Interrupt: one value
	// for the whole request, so a caller allocates one state for it rather
	// than a closure per function.
	Runner Runner[T]
	// NoDelay, with Runner, sends no hedge on a timer, as a nil Delay
	// does: targets are tried one after the other, after errors only.
	NoDelay bool
}

// Runner runs the attempts of one request; see [Plan.Runner]. Its
// methods mean what Plan's functions of the same names mean.
type Runner[T any] interface {
	Attempt(ctx context.Context, i int) (T, error)
	Delay(i int) time.Duration
	Interrupt()
}

// DueNotifier is an optional interface of a [Runner]: HedgeDue(i) is
// called when the hedge timer for target i fires, before the budget is
// asked. It runs on the engine's timer goroutine, under the request's
// lock: it must be short and must not block. It lets a caller defer work
// that only a slow attempt needs (a timer of its own) until the hedge
// delay says the attempt is slow.
//
// It returns whether the hedge is still wanted. False means the attempt
// is about to finish (for MySQL: its answer already waits in the socket,
// and only this process's CPU stands between it and the caller), so a
// hedge would only add load: the engine asks again after
// Config.DeferStep, at most Config.MaxDefers times, and then hedges
// anyway.
type DueNotifier interface {
	HedgeDue(i int) bool
}

func (p *Plan[T]) attempt(ctx context.Context, i int) (T, error) {
	if p.Runner != nil {
		return p.Runner.Attempt(ctx, i)
	}
	return p.Attempt(ctx, i)
}

func (p *Plan[T]) hasDelay() bool { return (p.Runner != nil && !p.NoDelay) || p.Delay != nil }

func (p *Plan[T]) delay(i int) time.Duration {
	if p.Runner != nil {
		return p.Runner.Delay(i)
	}
	return p.Delay(i)
}

func (p *Plan[T]) canInterrupt() bool { return p.Runner != nil || p.Interrupt != nil }

func (p *Plan[T]) interrupt() {
	if p.Runner != nil {
		p.Runner.Interrupt()
		return
	}
	p.Interrupt()
}

// maxBudgetRetries is how many times a hedge the budget refused is asked
// for again, each after twice the previous wait.
const maxBudgetRetries = 4

// ErrNoTargets is returned by [Do] for a plan with no targets.
var ErrNoTargets = errors.New("hedge: no targets to try")

// Do runs p. It returns the first successful result, or the first fatal
// error, or all transient errors joined when every target failed, or the
// caller's context error. It never blocks on a loser.
func Do[T any](ctx context.Context, e *Engine, p Plan[T]) (T, Outcome, error) {
	var zero T
	out := Outcome{Winner: -1}
	if p.Targets <= 0 {
		return zero, out, ErrNoTargets
	}
	if err := ctx.Err(); err != nil {
		return zero, out, err
	}
	e.budget.Deposit()

	// Attempts run detached from the caller's cancellation but keep its
	// values (trace context) and, if sooner, its deadline.
	actx := ctx
	if ctx.Done() != nil {
		actx = context.WithoutCancel(ctx)
	}
	deadline := time.Now().Add(e.cfg.AttemptTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var cancelAll context.CancelFunc
	if e.cfg.CancelLosers {
		actx, cancelAll = context.WithCancel(actx)
		defer cancelAll()
	}

	if !p.hasDelay() || p.Targets == 1 {
		return doInline(ctx, e, p, actx, deadline)
	}
	return runRace(ctx, e, &p, actx, deadline, cancelAll)
}

// doInline runs a plan that cannot hedge (one target, or no Delay) on the
// caller's goroutine: each target in turn, the next one only after a
// transient error. Handing an attempt to another goroutine and back costs
// two scheduler wake-ups, a sizeable share of a sub-millisecond lookup, and
// buys nothing when there is no hedge to race it against. The caller's
// context is honoured by the attempt itself (for MySQL: a cancel closes
// the connection, as with the plain driver).
func doInline[T any](ctx context.Context, e *Engine, p Plan[T], actx context.Context, deadline time.Time) (T, Outcome, error) {
	var zero T
	out := Outcome{Winner: -1}
	var errs []error
	for i := 0; i < p.Targets; i++ {
		if err := ctx.Err(); err != nil {
			return zero, out, err
		}
		out.Launched++
		c, cancel := ctx, context.CancelFunc(nil)
		if e.cfg.CancelLosers || !e.cfg.SelfBounded {
			c, cancel = context.WithDeadline(ctx, deadline)
		}
		start := time.Now()
		v, err := p.attempt(c, i)
		if cancel != nil {
			cancel()
		}
		if p.Done != nil {
			p.Done(i, v, err, time.Since(start))
		}
		if err == nil {
			out.Winner = i
			return v, out, nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return zero, out, cerr
		}
		if p.Classify != nil && p.Classify(err) == Fatal {
			out.Winner = i
			return zero, out, err
		}
		errs = append(errs, err)
	}
	return zero, out, errors.Join(errs...)
}

package aca

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tandemfs/tandem/region"
)

// WatchdogConfig says when a [Watchdog] starts and stops its function. The
// zero value of each field means its default, computed from the client's
// [Config]. For two watchdogs never to run at once, FencingDelay must cover
// the time the other region needs to notice and stop: one Interval plus one
// Timeout to see a flip, StaleLimit when it cannot reach the ACA, and the
// time its function takes to return.
type WatchdogConfig struct {
	// FencingDelay is how long the local region must be seen active, with
	// a fresh state, before the function starts. Must exceed StaleLimit.
	// Default: the larger of Interval + 1s (the hops watchdog's delay) and
	// StaleLimit + Interval/4.
	FencingDelay time.Duration

	// StaleLimit stops the function "for safety" when the client has not
	// confirmed the state for longer than this (every endpoint down, or no
	// majority), because the other region may have become active meanwhile.
	// Set it above Interval + Timeout, the normal staleness, or the function
	// stops when one round is slow. Default: Interval + Timeout +
	// Interval/4.
	StaleLimit time.Duration

	// RestartDelay is how long the watchdog waits to start the function
	// again after it returned by itself while the local region stayed
	// active. Default: Interval.
	RestartDelay time.Duration
}

// EventKind says what a watchdog [Event] reports.
type EventKind int

const (
	// EventFencing: the local region is seen active; the function starts
	// after Event.Delay unless that changes.
	EventFencing EventKind = iota + 1
	// EventFenceAborted: during fencing the local region stopped being
	// active or the state went stale (Event.Reason says which).
	EventFenceAborted
	// EventStarted: the function was started.
	EventStarted
	// EventStopped: the function has returned (Event.Reason says why it was
	// stopped, Event.Err what it returned).
	EventStopped
)

func (k EventKind) String() string {
	switch k {
	case EventFencing:
		return "fencing"
	case EventFenceAborted:
		return "fence-aborted"
	case EventStarted:
		return "started"
	case EventStopped:
		return "stopped"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// StopReason says why a watchdog stopped its function or aborted a fence.
type StopReason int

const (
	// StopNotActive: the local region is no longer the active one, or no
	// state is known.
	StopNotActive StopReason = iota + 1
	// StopStale: the state was not confirmed for longer than StaleLimit.
	StopStale
	// StopReturned: the function returned by itself.
	StopReturned
	// StopShutdown: the context given to Run ended.
	StopShutdown
	// StopClientClosed: the Client was closed.
	StopClientClosed
)

func (r StopReason) String() string {
	switch r {
	case StopNotActive:
		return "not-active"
	case StopStale:
		return "stale"
	case StopReturned:
		return "returned"
	case StopShutdown:
		return "shutdown"
	case StopClientClosed:
		return "client-closed"
	}
	return fmt.Sprintf("StopReason(%d)", int(r))
}

// Event is one step of a watchdog, for logs and tests.
type Event struct {
	Kind      EventKind
	Time      time.Time
	Local     region.ID
	State     State         // the client's state; zero when none is known
	Staleness time.Duration // the client's staleness
	Delay     time.Duration // EventFencing: the fencing delay
	Reason    StopReason    // EventStopped and EventFenceAborted
	Err       error         // EventStopped: what the function returned
}

// WatchdogOption sets how a [Watchdog] reports.
type WatchdogOption func(*Watchdog)

// WithEventHandler calls fn with every event, synchronously on the goroutine
// of Run, so fn must not block. Default: events are only logged at Info to
// the client's logger.
func WithEventHandler(fn func(Event)) WatchdogOption {
	return func(w *Watchdog) { w.onEvent = fn }
}

// Watchdog runs a function only while the local region is active, with the
// semantics of the hops watchdog: the function starts after a fencing delay
// once the local region is seen active, its context is cancelled when the
// region becomes secondary or the state goes stale, and it starts again
// when the region is active again.
//
// A Watchdog runs no goroutine of its own outside [Watchdog.Run]. Its
// methods are safe for concurrent use, but only one Run may be under way at
// a time. The zero value is not usable: use [NewWatchdog].
type Watchdog struct {
	c       *Client
	local   region.ID
	cfg     WatchdogConfig
	tick    time.Duration // how often staleness is checked
	onEvent func(Event)
	running atomic.Bool
}

// NewWatchdog returns a Watchdog for local on c. It validates and does no
// I/O.
func NewWatchdog(c *Client, local region.ID, cfg WatchdogConfig, opts ...WatchdogOption) (*Watchdog, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil Client", ErrInvalidConfig)
	}
	id, err := region.ParseID(string(local))
	if err != nil {
		return nil, fmt.Errorf("%w: local region: %w", ErrInvalidConfig, err)
	}
	if cfg.FencingDelay < 0 || cfg.StaleLimit < 0 || cfg.RestartDelay < 0 {
		return nil, fmt.Errorf("%w: negative WatchdogConfig duration", ErrInvalidConfig)
	}
	iv, to := c.cfg.Interval, c.cfg.Timeout
	if cfg.StaleLimit == 0 {
		cfg.StaleLimit = iv + to + iv/4
	}
	if cfg.FencingDelay == 0 {
		cfg.FencingDelay = max(iv+time.Second, cfg.StaleLimit+iv/4)
	}
	if cfg.RestartDelay == 0 {
		cfg.RestartDelay = iv
	}
	if cfg.FencingDelay <= cfg.StaleLimit {
		return nil, fmt.Errorf("%w: FencingDelay %v must exceed StaleLimit %v, or a region cut off from the ACA may still run when the other starts",
			ErrInvalidConfig, cfg.FencingDelay, cfg.StaleLimit)
	}
	w := &Watchdog{c: c, local: id, cfg: cfg}
	// Staleness is noticed at most one tick late; a quarter of the margin
	// between StaleLimit and FencingDelay leaves the rest of it for fn to
	// return before the other region's fence ends.
	w.tick = max(time.Millisecond, min((cfg.FencingDelay-cfg.StaleLimit)/4, cfg.StaleLimit/2))
	for _, o := range opts {
		if o != nil {
			o(w)
		}
	}
	return w, nil
}

// Config returns the watchdog's configuration with the defaults filled in.
func (w *Watchdog) Config() WatchdogConfig { return w.cfg }

type phase int

const (
	phaseIdle    phase = iota // not active here, or stale
	phaseFencing              // active here; waiting FencingDelay
	phaseRunning              // fn runs
	phaseRestart              // fn returned by itself; waiting RestartDelay
)

// Run calls fn while the local region is active, as the type describes, and
// blocks until ctx ends or the client closes. fn must return soon after its
// context is cancelled: Run waits for it before it reports the stop (and
// before it can start fn again), which is what makes the fencing work.
//
// Run returns ctx's error once ctx has ended and fn has returned,
// [ErrClosed] when the client closes, and [ErrWatchdogRunning] when another
// Run of w is under way.
func (w *Watchdog) Run(ctx context.Context, fn func(ctx context.Context) error) error {
	if fn == nil {
		return fmt.Errorf("%w: nil function", ErrInvalidConfig)
	}
	if !w.running.CompareAndSwap(false, true) {
		return ErrWatchdogRunning
	}
	defer w.running.Store(false)

	watchCtx, cancelWatch := context.WithCancel(ctx)
	defer cancelWatch()
	updates := w.c.Watch(watchCtx)
	ticker := time.NewTicker(w.tick)
	defer ticker.Stop()
	timer := time.NewTimer(0)
	stopTimer(timer)
	defer timer.Stop()

	var (
		ph       = phaseIdle
		timerC   <-chan time.Time // timer.C while fencing or waiting to restart
		fnCancel context.CancelFunc
		fnDone   <-chan error // while running
	)
	startTimer := func(d time.Duration) {
		timer.Reset(d)
		timerC = timer.C
	}
	cancelTimer := func() {
		stopTimer(timer)
		timerC = nil
	}
	stopFn := func(reason StopReason) {
		fnCancel()
		err := <-fnDone
		fnCancel, fnDone = nil, nil
		ph = phaseIdle
		w.emit(Event{Kind: EventStopped, Reason: reason, Err: err})
	}
	startFn := func() {
		fnCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		fnCancel, fnDone = cancel, done
		// Run waits for this goroutine (stopFn reads done) before it
		// returns, so it never outlives Run.
		go func() { done <- fn(fnCtx) }()
	}
	shutdown := func(reason StopReason) {
		switch ph {
		case phaseRunning:
			stopFn(reason)
		case phaseFencing:
			w.emit(Event{Kind: EventFenceAborted, Reason: reason})
		}
	}

	for {
		// Decide on the client's state as it is now: Watch only wakes us.
		activeHere, why := w.verdict()
		switch ph {
		case phaseIdle:
			if activeHere {
				ph = phaseFencing
				startTimer(w.cfg.FencingDelay)
				w.emit(Event{Kind: EventFencing, Delay: w.cfg.FencingDelay})
			}
		case phaseFencing, phaseRestart:
			if !activeHere {
				cancelTimer()
				if ph == phaseFencing {
					w.emit(Event{Kind: EventFenceAborted, Reason: why})
				}
				ph = phaseIdle
			}
		case phaseRunning:
			if !activeHere {
				stopFn(why)
				continue // look again at once: the state may have come back
			}
		}

		select {
		case <-ctx.Done():
			shutdown(StopShutdown)
			return ctx.Err()
		case _, ok := <-updates:
			if !ok {
				updates = nil
				if ctx.Err() != nil {
					continue // the ctx case reports it
				}
				shutdown(StopClientClosed)
				return ErrClosed
			}
		case <-ticker.C:
		case <-timerC:
			timerC = nil
			if ok, _ := w.verdict(); !ok {
				continue // the next pass aborts or goes idle
			}
			ph = phaseRunning
			w.emit(Event{Kind: EventStarted})
			startFn()
		case err := <-fnDone:
			fnCancel()
			fnCancel, fnDone = nil, nil
			if ctx.Err() != nil {
				// fn's context derives from ctx: it returned because Run's
				// context ended, and select may pick this case first.
				w.emit(Event{Kind: EventStopped, Reason: StopShutdown, Err: err})
				return ctx.Err()
			}
			w.emit(Event{Kind: EventStopped, Reason: StopReturned, Err: err})
			ph = phaseRestart
			startTimer(w.cfg.RestartDelay)
		}
	}
}

// verdict reports whether fn may run now, and if not, why.
func (w *Watchdog) verdict() (bool, StopReason) {
	st, ok := w.c.Current()
	switch {
	case !ok || !st.Active.Equal(w.local):
		return false, StopNotActive
	case w.c.Staleness() > w.cfg.StaleLimit:
		return false, StopStale
	}
	return true, 0
}

func (w *Watchdog) emit(e Event) {
	e.Time = w.c.now()
	e.Local = w.local
	e.State, _ = w.c.Current()
	e.Staleness = w.c.Staleness()
	attrs := []any{slog.String("event", e.Kind.String()), slog.String("local", string(e.Local)),
		slog.String("active", string(e.State.Active)), slog.Duration("staleness", e.Staleness)}
	switch e.Kind {
	case EventFencing:
		attrs = append(attrs, slog.Duration("delay", e.Delay))
	case EventStopped, EventFenceAborted:
		attrs = append(attrs, slog.String("reason", e.Reason.String()))
		if e.Err != nil && !errors.Is(e.Err, context.Canceled) {
			attrs = append(attrs, slog.Any("error", e.Err))
		}
	}
	w.c.log.Info("aca: watchdog", attrs...)
	if w.onEvent != nil {
		w.onEvent(e)
	}
}

// stopTimer stops t; since Go 1.23 a stopped timer's channel holds no stale
// value, so no drain is needed.
func stopTimer(t *time.Timer) { t.Stop() }

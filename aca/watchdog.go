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
// [Config].
//
// Two watchdogs never run at once because FencingDelay exceeds the longest
// the old active may still run after the answers of its last confirmed
// state:
//
//	FencingDelay > StaleLimit + Timeout + tick + StopGrace
//
// where tick, the period of the staleness check, is StaleLimit/16 bounded to
// [1ms, 100ms]. [NewWatchdog] refuses a config where it does not, and the
// default FencingDelay is that sum plus one tick. With the defaults
// (Interval 1s, Timeout 500ms): StaleLimit = 1s + 2×500ms + 250ms = 2.25s,
// StopGrace = 500ms, tick = 100ms, so the old active stops within
// 2.25s + 0.5s + 0.1s + 0.5s = 3.35s and the new one fences for 3.45s.
// docs/aca.md derives the bound and the liveness bound (the new active
// starts within Interval + 2×Timeout + FencingDelay + tick + StopGrace
// of a reachable quorum serving the flip).
type WatchdogConfig struct {
	// FencingDelay is how long the local region must be seen active, with
	// a fresh state, before the function starts. Must exceed StaleLimit +
	// Timeout + tick + StopGrace. Default: that sum plus one tick.
	FencingDelay time.Duration

	// StaleLimit stops the function "for safety" when the client has not
	// confirmed the state for longer than this (endpoints down, or no
	// quorum), because the other region may have become active meanwhile.
	// Staleness is counted from the start of the confirming round, so it
	// normally reaches Interval + 2×Timeout (a slow round, the wait, another
	// slow round); set it above that, or the function stops when rounds are
	// slow. Default: Interval + 2×Timeout + Interval/4.
	StaleLimit time.Duration

	// StopGrace is the longest the function may take to return once its
	// context is cancelled. The fencing delay counts on it: a function
	// that takes longer may still run when the other region starts (the
	// watchdog logs a warning when one does). Default: Interval/2.
	StopGrace time.Duration

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
type WatchdogOption func(*watchdogOptions)

type watchdogOptions struct {
	onEvent func(Event)
}

// WithEventHandler calls fn with every event, synchronously on the goroutine
// of Run, so fn must not block. Default: events are only logged at Info to
// the client's logger.
func WithEventHandler(fn func(Event)) WatchdogOption {
	return func(o *watchdogOptions) { o.onEvent = fn }
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
	opts    watchdogOptions
	running atomic.Bool
}

// NewWatchdog returns a Watchdog for local on c. It validates, fills the
// defaults (see [WatchdogConfig] for the fencing rule it enforces) and does
// no I/O.
func NewWatchdog(c *Client, local region.ID, cfg WatchdogConfig, opts ...WatchdogOption) (*Watchdog, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil Client", ErrInvalidConfig)
	}
	id, err := region.ParseID(string(local))
	if err != nil {
		return nil, fmt.Errorf("%w: local region: %w", ErrInvalidConfig, err)
	}
	cfg, tick, err := resolveWatchdog(c.cfg, cfg)
	if err != nil {
		return nil, err
	}
	w := &Watchdog{c: c, local: id, cfg: cfg, tick: tick}
	for _, o := range opts {
		if o != nil {
			o(&w.opts)
		}
	}
	return w, nil
}

// Config returns the watchdog's configuration with the defaults filled in.
func (w *Watchdog) Config() WatchdogConfig { return w.cfg }

// Run calls fn while the local region is active, as the type describes, and
// blocks until ctx ends or the client closes. fn must return within
// [WatchdogConfig.StopGrace] of the cancel of its context, which the other
// region's fencing delay counts on. Run waits for it before it reports the
// stop (and before it can start fn again).
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
	timer.Stop()
	defer timer.Stop()

	// The machine's times are real, monotonic ones, as its timers are;
	// staleness comes from the client's clock.
	f := fence{cfg: w.cfg}
	var (
		fnCancel context.CancelFunc
		fnDone   <-chan error // while fn runs
	)
	stopFn := func(reason StopReason) {
		began := time.Now()
		fnCancel()
		err := <-fnDone
		fnCancel, fnDone = nil, nil
		if d := time.Since(began); d > w.cfg.StopGrace {
			w.c.log.Warn("aca: watchdog function took longer than StopGrace to return; the other region may have started before it did",
				slog.Duration("took", d), slog.Duration("stop_grace", w.cfg.StopGrace))
		}
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
		switch f.ph {
		case phaseRunning:
			stopFn(reason)
		case phaseFencing:
			w.emit(Event{Kind: EventFenceAborted, Reason: reason})
		}
	}

	for {
		// Decide on the client's state as it is now: Watch only wakes us.
		ok, why := w.verdict()
		switch act, reason := f.step(time.Now(), ok, why); act {
		case actFence:
			w.emit(Event{Kind: EventFencing, Delay: w.cfg.FencingDelay})
		case actAbort:
			w.emit(Event{Kind: EventFenceAborted, Reason: reason})
		case actStart:
			w.emit(Event{Kind: EventStarted})
			startFn()
		case actStop:
			stopFn(reason)
			continue // look again at once: the state may have come back
		}
		var timerC <-chan time.Time
		if due, ok := f.wake(); ok {
			timer.Reset(time.Until(due))
			timerC = timer.C
		} else {
			timer.Stop()
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
			f.returned(time.Now())
		}
	}
}

// verdict reports whether fn may run now, and if not, why.
func (w *Watchdog) verdict() (bool, StopReason) {
	st, ok := w.c.Current()
	return verdictOf(st, ok, w.c.Staleness(), w.cfg, w.local)
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
	if w.opts.onEvent != nil {
		w.opts.onEvent(e)
	}
}

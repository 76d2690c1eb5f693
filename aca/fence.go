package aca

import (
	"fmt"
	"time"

	"github.com/tandemfs/tandem/region"
)

// This file holds the watchdog's rules as pure functions and a state
// machine without clocks or goroutines, so that [Watchdog.Run] and the
// deterministic simulation (sim_test.go) run the same decisions.

// Bounds of the watchdog's staleness check: often enough to stop within a
// small part of StaleLimit, rarely enough to cost nothing.
const (
	minTick = time.Millisecond
	maxTick = 100 * time.Millisecond
)

// resolveWatchdog fills the zero fields of wc from the client's config and
// checks that the fencing delay covers the old active's worst stop time.
// It returns the filled config and the staleness check period (the tick).
func resolveWatchdog(cc Config, wc WatchdogConfig) (WatchdogConfig, time.Duration, error) {
	if wc.FencingDelay < 0 || wc.StaleLimit < 0 || wc.RestartDelay < 0 || wc.StopGrace < 0 {
		return WatchdogConfig{}, 0, fmt.Errorf("%w: negative WatchdogConfig duration", ErrInvalidConfig)
	}
	iv, to := cc.Interval, cc.Timeout
	if wc.StaleLimit == 0 {
		wc.StaleLimit = iv + 2*to + iv/4
	}
	if wc.StopGrace == 0 {
		wc.StopGrace = iv / 2
	}
	if wc.RestartDelay == 0 {
		wc.RestartDelay = iv
	}
	tick := min(max(wc.StaleLimit/16, minTick), maxTick)
	stop := worstStop(cc, wc, tick)
	if wc.FencingDelay == 0 {
		wc.FencingDelay = stop + tick
	}
	if wc.FencingDelay <= stop {
		return WatchdogConfig{}, 0, fmt.Errorf("%w: FencingDelay %v must exceed %v, the longest the old active may still run after its last confirmed state "+
			"(StaleLimit %v + Timeout %v + one check %v + StopGrace %v); otherwise both regions may run at once. Leave FencingDelay 0 for the smallest safe value",
			ErrInvalidConfig, wc.FencingDelay, stop, wc.StaleLimit, to, tick, wc.StopGrace)
	}
	return wc, tick, nil
}

// worstStop bounds how long after the answers of its last confirming round
// the old active's function may still run: its staleness passes StaleLimit
// (counted from the round's start, so no answer is older), the next check
// notices within one tick, and fn returns within StopGrace. One Timeout is
// added as a margin: it is what the bound lacked when rounds were stamped
// at their end, and it keeps the bound independent of when within a poll a
// judge produced its answer.
func worstStop(cc Config, wc WatchdogConfig, tick time.Duration) time.Duration {
	return wc.StaleLimit + cc.Timeout + tick + wc.StopGrace
}

// verdictOf says whether the function may run in local given the client's
// view, and if not, why.
func verdictOf(st State, known bool, staleness time.Duration, wc WatchdogConfig, local region.ID) (bool, StopReason) {
	switch {
	case !known || !st.Active.Equal(local):
		return false, StopNotActive
	case staleness > wc.StaleLimit:
		return false, StopStale
	}
	return true, 0
}

type phase int

const (
	phaseIdle    phase = iota // not active here, or stale
	phaseFencing              // active here; waiting FencingDelay
	phaseRunning              // fn runs
	phaseRestart              // fn returned by itself; waiting RestartDelay
)

// action is what the fence machine asks its driver to do.
type action int

const (
	actNone  action = iota
	actFence        // report EventFencing; wake at due
	actAbort        // report EventFenceAborted
	actStart        // start fn
	actStop         // stop fn and wait for it
)

// fence is the watchdog's state machine. Its driver calls step with the
// verdict whenever it may have changed (a state change, a tick, the due
// time) and does what step says; it calls returned when fn returns by
// itself.
type fence struct {
	cfg WatchdogConfig
	ph  phase
	due time.Time // end of the fence or of the restart wait
}

// step advances the machine at now given the verdict (ok, why). The reason
// it returns goes with actAbort and actStop.
func (f *fence) step(now time.Time, ok bool, why StopReason) (action, StopReason) {
	switch f.ph {
	case phaseIdle:
		if ok {
			f.ph, f.due = phaseFencing, now.Add(f.cfg.FencingDelay)
			return actFence, 0
		}
	case phaseFencing:
		switch {
		case !ok:
			f.ph = phaseIdle
			return actAbort, why
		case !now.Before(f.due):
			f.ph = phaseRunning
			return actStart, 0
		}
	case phaseRestart:
		switch {
		case !ok:
			f.ph = phaseIdle
		case !now.Before(f.due):
			f.ph = phaseRunning
			return actStart, 0
		}
	case phaseRunning:
		if !ok {
			f.ph = phaseIdle
			return actStop, why
		}
	}
	return actNone, 0
}

// returned records that fn returned by itself at now while running.
func (f *fence) returned(now time.Time) {
	f.ph, f.due = phaseRestart, now.Add(f.cfg.RestartDelay)
}

// wake returns the time the driver must call step again at the latest,
// other than ticks and state changes.
func (f *fence) wake() (time.Time, bool) {
	if f.ph == phaseFencing || f.ph == phaseRestart {
		return f.due, true
	}
	return time.Time{}, false
}

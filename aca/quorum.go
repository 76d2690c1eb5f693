package aca

import (
	"fmt"
	"time"
)

// This file holds the client's decision rules as pure functions, so that
// the Client and the deterministic simulation of the watchdog protocol
// (sim_test.go) run the same code. See docs/aca.md for why they are safe.

// tally decides one polling round. answers holds one entry per configured
// endpoint, the zero State for an endpoint that failed. A state wins only
// when more than half of the configured endpoints report it: a majority of
// those that answered is not enough, because a region cut off from most
// judges would then follow the one stale judge it still reaches while the
// other region follows the rest. The winner must not have an older epoch
// than cur (when known). It returns an error wrapping
// [ErrAllEndpointsFailed], [ErrNoMajority] or [ErrOlderEpoch] when the
// round confirms nothing.
func tally(cur State, known bool, answers []State) (State, error) {
	var (
		best     State
		bestN    int
		answered int
	)
	for i, a := range answers {
		if a.IsZero() {
			continue
		}
		answered++
		n := 0
		for _, b := range answers[i:] {
			if !b.IsZero() && a.Equal(b) {
				n++
			}
		}
		if n > bestN {
			best, bestN = a, n
		}
	}
	switch {
	case answered == 0:
		return State{}, ErrAllEndpointsFailed
	case 2*bestN <= len(answers):
		return State{}, &noQuorumError{best: bestN, answered: answered, answers: answers}
	case known && best.Epoch < cur.Epoch:
		return State{}, fmt.Errorf("%w: %d < %d", ErrOlderEpoch, best.Epoch, cur.Epoch)
	}
	return best, nil
}

// noQuorumError is tally's ErrNoMajority. Its message is formatted only
// when asked for: rounds without a quorum can be frequent, and most of
// their errors are never read.
type noQuorumError struct {
	best, answered int
	answers        []State
}

func (e *noQuorumError) Error() string {
	return fmt.Sprintf("%v: the most any state got is %d of %d configured endpoints (%d answered: %s); a quorum is %d",
		ErrNoMajority, e.best, len(e.answers), e.answered, describe(e.answers), len(e.answers)/2+1)
}

func (e *noQuorumError) Unwrap() error { return ErrNoMajority }

// view is what a client knows: the state it follows, whether it knows one,
// and the start of the round that last confirmed it.
type view struct {
	state State
	known bool
	// confirmedAt is the start of the last confirming round, not its end:
	// an answer can have been produced at any moment of the round, so the
	// start is the only time the state is known to hold at.
	confirmedAt time.Time
}

// confirm applies the answers of a round that started at start. It reports
// whether the state changed, and the round's error when it confirmed
// nothing (the view is then unchanged, so its staleness grows).
func (v *view) confirm(start time.Time, answers []State) (changed bool, err error) {
	w, err := tally(v.state, v.known, answers)
	if err != nil {
		return false, err
	}
	changed = !v.known || !w.Equal(v.state)
	v.state, v.known = w, true
	if start.After(v.confirmedAt) {
		v.confirmedAt = start
	}
	return changed, nil
}

// staleness is how long ago at now the state was last confirmed; before
// any state is known, how long since created. Never negative.
func (v *view) staleness(now, created time.Time) time.Duration {
	since := v.confirmedAt
	if !v.known {
		since = created
	}
	if d := now.Sub(since); d > 0 {
		return d
	}
	return 0
}

// nextWait is how long the loop waits after a round. rnd is in [0, 1) and
// failures counts the rounds in a row that confirmed nothing, this one
// included (0 after a confirming round). Jitter only shortens Interval, so
// a flip is still seen within one Interval (plus the rounds themselves);
// after a failed round the next comes sooner, backing off from 5ms up to
// Interval as the hops watchdog does, so a blip costs milliseconds of
// staleness rather than a whole Interval.
func nextWait(cfg Config, failures int, rnd float64) time.Duration {
	wait := cfg.Interval - time.Duration(cfg.Jitter*rnd*float64(cfg.Interval))
	if failures > 0 {
		wait = min(wait, retryMin<<min(failures-1, retryMaxShift))
	}
	return wait
}

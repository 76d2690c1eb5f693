package aca

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The named schedules of issue 11, cases 1–4. Each passes under the
// package's rules and fails under the rules before the fix (oldSimRules, a
// transcription of aca at commit 1b26156), so the simulation would have
// caught each bug. docs/aca.md tells the stories.

// namedSchedules returns fresh scenarios (runSim fills in their configs).
func namedSchedules() map[string]func() *scenario {
	return map[string]func() *scenario{
		"1 split brain with one stale judge":       splitBrainStaleJudge,
		"2 fencing shorter than the stop time":     fencingShorterThanStop,
		"3 epoch poisoning":                        epochPoisoning,
		"4 one judge two votes":                    oneJudgeTwoVotes,
		"5 flip while every region reaches 2 of 3": flipUnderPartialPartition,
	}
}

// Case 1: three judges; at 10s the ACA flips to us, judge 2 never follows
// (stale, still eu), and eu is cut off from judges 0 and 1. The old client
// followed the majority of the answers it got: judge 2 alone, so eu kept
// running while us started.
func splitBrainStaleJudge() *scenario {
	flip := 10 * time.Second
	sc := baseScenario("split brain", 3, Config{}, stateOf(0, 0))
	sc.values[0].set(flip, stateOf(1, 0))
	sc.values[1].set(flip, stateOf(1, 0))
	sc.links[0][0].set(flip, linkBlackhole)
	sc.links[0][1].set(flip, linkBlackhole)
	sc.calm, sc.final = flip, 1
	sc.end = flip + 10*time.Second
	return sc
}

// Case 2: the default timings; judge 2 answers eu slowly (just under
// Timeout), reading its state as the request arrives. The ACA flips right
// after one of eu's rounds starts, eu is cut off once it ends, and a
// caller in us refreshes at once. The old client stamped eu's round at its
// end, half a second after the answers, and the old fence (2s) was shorter
// than eu's stop (1.75s StaleLimit from that stamp, plus a check, plus the
// function's return).
func fencingShorterThanStop() *scenario {
	sc := baseScenario("fencing", 3, Config{}, stateOf(0, 0))
	sc.poll = func(rng *rand.Rand, r, j int, _ time.Duration) (time.Duration, float64) {
		if r == 0 && j == 2 {
			return DefaultTimeout - time.Millisecond, 0
		}
		return time.Millisecond + durN(rng, 5*time.Millisecond), 0
	}
	sc.stopTime = func(*rand.Rand) time.Duration { return DefaultInterval / 2 } // the whole StopGrace
	sc.end = time.Minute
	flipped := false
	sc.onRoundStart = func(s *sim, r int, at time.Duration) {
		if r != 0 || flipped || at < 10*time.Second {
			return
		}
		flipped = true
		flip := at + time.Millisecond
		for j := range 3 {
			sc.values[j].set(flip, stateOf(1, 0))
			sc.links[0][j].set(at+DefaultTimeout, linkBlackhole) // after this round

		}
		s.push(event{at: flip + time.Millisecond, kind: evRefresh, r: 1})
		sc.calm, sc.final = flip, 1
		sc.end = flip + 10*time.Second
	}
	return sc
}

// Case 3: while judges 1 and 2 answer 503, judge 0 answers us with epoch
// 2^64-1; then all three agree on eu at epoch 7. The old client took the
// lone answer as a majority, raised its epoch to 2^64-1 and refused eu@7
// for ever: eu never ran again.
func epochPoisoning() *scenario {
	bad, good := 10*time.Second, 15*time.Second
	sc := baseScenario("epoch poisoning", 3, Config{}, stateOf(0, 5))
	sc.values[0].set(bad, stateOf(1, math.MaxUint64))
	sc.modes[1].set(bad, mode5xx)
	sc.modes[2].set(bad, mode5xx)
	for j := range 3 {
		sc.values[j].set(good, stateOf(0, 7))
		sc.modes[j].set(good, modeOK)
	}
	sc.calm, sc.final = good, 0
	sc.end = good + 10*time.Second
	return sc
}

// Case 4: the endpoints name judge 0 twice (with and without the trailing
// slash) and judge 1 once. At 10s judge 1 flips to us, judge 0 lags, eu
// reaches only judge 0 and us only judge 1. Judge 0's two votes are a
// quorum of three for eu; us, under the old rules, followed its one answer.
// New refuses the configuration.
func oneJudgeTwoVotes() *scenario {
	flip := 10 * time.Second
	sc := baseScenario("two votes", 2, Config{}, stateOf(0, 0))
	sc.urls = []string{"http://judge0.sim:8080", "http://judge0.sim:8080/", "http://judge1.sim:8080/"}
	sc.judgeOf = []int{0, 0, 1}
	sc.values[1].set(flip, stateOf(1, 0))
	sc.links[0][1].set(flip, linkBlackhole)
	sc.links[1][0].set(flip, linkBlackhole)
	sc.end = flip + 10*time.Second
	return sc
}

// Not an issue case, a control: the ACA flips while eu reaches judges 0, 1
// and us reaches judges 1, 2, and judge 1 lags by 2s. Both rule sets must
// pass: the quorums still intersect.
func flipUnderPartialPartition() *scenario {
	flip := 10 * time.Second
	sc := baseScenario("partial", 3, Config{}, stateOf(0, 0))
	sc.values[0].set(flip, stateOf(1, 0))
	sc.values[1].set(flip+2*time.Second, stateOf(1, 0))
	sc.values[2].set(flip, stateOf(1, 0))
	sc.links[0][2].set(flip-time.Second, linkRefused)
	sc.links[1][0].set(flip-time.Second, linkRefused)
	sc.calm, sc.final = flip+2*time.Second, 1
	sc.end = sc.calm + 10*time.Second
	return sc
}

func TestSimNamed(t *testing.T) {
	for name, mk := range namedSchedules() {
		t.Run(name, func(t *testing.T) {
			res, trace := runSim(mk(), newSimRules(), 1, true)
			if res.failed() {
				t.Fatalf("%v\n%s", res, strings.Join(trace, "\n"))
			}
			if strings.HasPrefix(name, "4 ") {
				if !errors.Is(res.refused, ErrInvalidConfig) {
					t.Fatalf("%v, want the configuration refused with ErrInvalidConfig", res)
				}
				return
			}
			if res.refused != nil {
				t.Fatal(res)
			}
			t.Log(res)
		})
	}
}

// The named schedules of the issue fail under the old rules: the
// simulation catches each bug.
func TestSimNamedFailUnderOldRules(t *testing.T) {
	for name, mk := range namedSchedules() {
		t.Run(name, func(t *testing.T) {
			res, trace := runSim(mk(), oldSimRules(), 1, true)
			control := strings.HasPrefix(name, "5 ")
			if res.refused != nil || res.failed() == control {
				t.Fatalf("old rules: %v (want a failure: %v)\n%s", res, !control, strings.Join(trace, "\n"))
			}
			t.Logf("old rules: %v", res)
		})
	}
}

// Random schedules find the old rules' bugs too, not only the scripted
// ones; a simulation that finds nothing there would prove little.
func TestSimRandomFindsOldBugs(t *testing.T) {
	const n = 1000
	var safety, liveness int
	first := ""
	for i := range n {
		seed := uint64(i + 1)
		res, _ := runSim(randomScenario(seed), oldSimRules(), seed, false)
		switch {
		case res.violation != "":
			safety++
		case res.liveness != "":
			liveness++
		default:
			continue
		}
		if first == "" {
			first = fmt.Sprintf("seed %d: %v", seed, res)
		}
	}
	if safety == 0 {
		t.Fatalf("the old rules ran %d random schedules without two actives at once; the generator misses the bugs", n)
	}
	t.Logf("old rules, %d schedules: %d safety and %d liveness failures (first: %s)", n, safety, liveness, first)
}

// oldSimRules transcribes the decision rules of aca at commit 1b26156, the
// last before issue 11: the majority of the endpoints that answered, a
// confirmation stamped at the round's end, FencingDelay = max(Interval +
// 1s, StaleLimit + Interval/4) with StaleLimit = Interval + Timeout +
// Interval/4, and a duplicate check that told http://h:p from
// http://h:p/. The fence machine and the rest are shared: they did not
// change.
func oldSimRules() simRules {
	return simRules{
		name: "before issue 11",
		confirm: func(v *view, _, end time.Time, answers []State) (bool, error) {
			var got []State
			for _, a := range answers {
				if !a.IsZero() {
					got = append(got, a)
				}
			}
			var winner State
			ok := false
			for i, a := range got {
				n := 0
				for _, b := range got[i:] {
					if a.Equal(b) {
						n++
					}
				}
				if 2*n > len(got) {
					winner, ok = a, true
					break
				}
			}
			switch {
			case len(got) == 0:
				return false, ErrAllEndpointsFailed
			case !ok:
				return false, ErrNoMajority
			case v.known && winner.Epoch < v.state.Epoch:
				return false, ErrOlderEpoch
			}
			v.confirmedAt = end
			changed := !v.known || !winner.Equal(v.state)
			v.state, v.known = winner, true
			return changed, nil
		},
		watchdog: func(cc Config, wc WatchdogConfig) (WatchdogConfig, time.Duration, error) {
			iv, to := cc.Interval, cc.Timeout
			if wc.StaleLimit == 0 {
				wc.StaleLimit = iv + to + iv/4
			}
			if wc.FencingDelay == 0 {
				wc.FencingDelay = max(iv+time.Second, wc.StaleLimit+iv/4)
			}
			if wc.RestartDelay == 0 {
				wc.RestartDelay = iv
			}
			if wc.StopGrace == 0 {
				wc.StopGrace = iv / 2 // the function's stop time, the same in both worlds
			}
			if wc.FencingDelay <= wc.StaleLimit {
				return WatchdogConfig{}, 0, ErrInvalidConfig
			}
			tick := max(time.Millisecond, min((wc.FencingDelay-wc.StaleLimit)/4, wc.StaleLimit/2))
			return wc, tick, nil
		},
		endpoints: func(urls []string) error {
			seen := map[string]bool{}
			for _, raw := range urls {
				u, err := url.Parse(raw)
				if err != nil {
					return err
				}
				key := strings.ToLower(u.Scheme+"://"+u.Host) + u.EscapedPath() + "?" + u.RawQuery
				if seen[key] {
					return ErrInvalidConfig
				}
				seen[key] = true
			}
			return nil
		},
	}
}

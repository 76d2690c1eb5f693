package main

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// event is one operation of the closed loop.
type event struct {
	at       time.Duration // start, since the measured phase began
	lat      time.Duration
	server   int8 // index in the cluster of the server of statement 1; -1 failed
	regions  uint8
	hedged   bool
	attempts uint8
}

// Region bits of event.regions.
const (
	regEU uint8 = 1 << iota
	regUS
)

func (e event) ok() bool           { return e.server >= 0 }
func (e event) mixed() bool        { return e.regions == regEU|regUS }
func (e event) onlyEU() bool       { return e.regions == regEU }
func (e event) onlyUS() bool       { return e.regions == regUS }
func (e event) end() time.Duration { return e.at + e.lat }

// op is one operation of a worker: i counts the worker's operations.
type op func(ctx context.Context, rng *rand.Rand) (outcome, error)

// loadResult is the raw record of one measured phase.
type loadResult struct {
	events []event
	dur    time.Duration
	errs   map[string]int // a few error messages, by text
}

// runLoad runs workers in a closed loop: each starts its next operation
// when the last one ends. The warmup phase is not recorded. script, if
// set, runs alongside the measured phase with its start time, and the
// phase lasts at least dur and until the script returns.
func (h *harness) runLoad(ctx context.Context, c contender, o op, timeout, warmup, dur time.Duration, script func(ctx context.Context, t0 time.Time)) loadResult {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		res    = loadResult{errs: map[string]int{}}
		t0     time.Time
		phase  = make(chan struct{}) // closed when the measured phase starts
		stop   = make(chan struct{})
		srvIdx = map[string]int8{}
	)
	for i, n := range h.cluster.nodes {
		srvIdx[n.name] = int8(i)
	}
	for w := range h.cfg.workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w)+1, h.cfg.seed))
			var evs []event
			errs := map[string]int{}
			measuring := false
			for {
				select {
				case <-stop:
					mu.Lock()
					res.events = append(res.events, evs...)
					for k, v := range errs {
						res.errs[k] += v
					}
					mu.Unlock()
					return
				case <-phase:
					measuring = true
				default:
				}
				rctx, cancel := context.WithTimeout(ctx, timeout)
				start := time.Now()
				out, err := o(rctx, rng)
				lat := time.Since(start)
				cancel()
				if !measuring {
					if ctx.Err() != nil {
						<-stop
					}
					continue
				}
				ev := event{at: start.Sub(t0), lat: lat, server: -1, hedged: out.hedged, attempts: uint8(min(out.attempts, 255))}
				if err == nil {
					ev.server = srvIdx[out.src[0]]
					for _, s := range out.src {
						if strings.HasPrefix(s, "eu-") {
							ev.regions |= regEU
						} else if strings.HasPrefix(s, "us-") {
							ev.regions |= regUS
						}
					}
				} else if len(errs) < 20 {
					errs[shortErr(err)]++
				}
				evs = append(evs, ev)
				if ctx.Err() != nil {
					// Interrupted: keep what we have, wait for stop.
					<-stop
					mu.Lock()
					res.events = append(res.events, evs...)
					mu.Unlock()
					return
				}
			}
		})
	}
	sleepCtx(ctx, warmup)
	t0 = time.Now()
	close(phase)
	// The workers see phase at their next loop; events are stamped
	// against t0, which is set before phase is closed.
	if script != nil {
		done := make(chan struct{})
		go func() { defer close(done); script(ctx, t0) }()
		sleepCtx(ctx, dur)
		select {
		case <-done:
		case <-ctx.Done():
			<-done
		}
	} else {
		sleepCtx(ctx, dur)
	}
	res.dur = time.Since(t0)
	close(stop)
	wg.Wait()
	return res
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

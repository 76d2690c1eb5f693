package health

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemfs/tandem/region"
)

// normalize fills the zero fields of c with their defaults.
func normalize(c region.HealthConfig) region.HealthConfig {
	if c.FailureThreshold <= 0 {
		c.FailureThreshold = 3
	}
	if c.ProbeBase <= 0 {
		c.ProbeBase = 25 * time.Millisecond
	}
	if c.ProbeMax <= 0 {
		c.ProbeMax = 100 * time.Millisecond
	}
	if c.ProbeMax < c.ProbeBase {
		c.ProbeMax = c.ProbeBase
	}
	if c.ProbationSuccesses <= 0 {
		c.ProbationSuccesses = 5
	}
	return c
}

// Health tracks one server: its recent latency, its failures in a row and
// its ejection state. Create it with [NewHealth]. It is safe for concurrent
// use; [Health.Success] on a healthy server takes no lock.
type Health struct {
	cfg     region.HealthConfig
	latency *Sketch

	state    atomic.Int32
	consec   atomic.Int32
	inflight atomic.Int64
	ejects   atomic.Int64

	mu          sync.Mutex
	backoffs    int // ejections since the server was last fully healthy
	nextProbe   time.Time
	probing     bool
	probationOK int
}

// NewHealth returns the health of a healthy server.
func NewHealth(cfg region.HealthConfig) *Health {
	cfg = normalize(cfg)
	return &Health{cfg: cfg, latency: NewSketch(cfg.SketchSlots, cfg.SketchSlotWidth)}
}

// Latency is the sketch of the server's successful latencies.
func (h *Health) Latency() *Sketch { return h.latency }

// State returns the current state.
func (h *Health) State() region.State { return region.State(h.state.Load()) }

// Available reports whether the server takes regular traffic.
func (h *Health) Available() bool { return region.State(h.state.Load()) != region.Ejected }

// Ejections is how many times the server has been ejected.
func (h *Health) Ejections() int64 { return h.ejects.Load() }

// InFlight is the number of attempts the caller marked as running.
func (h *Health) InFlight() int64 { return h.inflight.Load() }

// Begin marks an attempt as running; End must follow.
func (h *Health) Begin() { h.inflight.Add(1) }

// End marks an attempt as finished.
func (h *Health) End() { h.inflight.Add(-1) }

// Success records a successful attempt that took d, finishing at now.
func (h *Health) Success(now time.Time, d time.Duration) {
	h.latency.Record(now, d)
	if h.consec.Load() == 0 && region.State(h.state.Load()) == region.Healthy {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.consec.Store(0)
	switch region.State(h.state.Load()) {
	case region.Probation:
		h.probationOK++
		if h.probationOK >= h.cfg.ProbationSuccesses {
			h.state.Store(int32(region.Healthy))
			h.backoffs = 0
		}
	case region.Ejected:
		// A late success of an attempt sent before the ejection (a loser
		// finishing) is not a probe; it proves nothing about now.
	}
}

// Failure records a failed attempt (an error that says the server, not the
// statement, is at fault, or an attempt that ran far beyond normal). It
// reports whether this failure ejected the server.
func (h *Health) Failure(now time.Time) (ejected bool) {
	n := h.consec.Add(1)
	st := region.State(h.state.Load())
	if st == region.Ejected || (st == region.Healthy && int(n) < h.cfg.FailureThreshold) {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch region.State(h.state.Load()) {
	case region.Healthy:
		if int(h.consec.Load()) < h.cfg.FailureThreshold {
			return false
		}
	case region.Ejected:
		return false
	}
	h.ejectLocked(now)
	return true
}

func (h *Health) ejectLocked(now time.Time) {
	h.state.Store(int32(region.Ejected))
	h.ejects.Add(1)
	h.nextProbe = now.Add(h.backoffLocked())
	h.backoffs++
	h.probing = false
	h.probationOK = 0
}

func (h *Health) backoffLocked() time.Duration {
	d := h.cfg.ProbeBase
	for i := 0; i < h.backoffs && d < h.cfg.ProbeMax; i++ {
		d *= 2
	}
	return min(d, h.cfg.ProbeMax)
}

// ProbeDue reports whether an ejected server should be probed now, and if
// so claims the probe: the caller must report it with [Health.ProbeResult].
func (h *Health) ProbeDue(now time.Time) bool {
	if region.State(h.state.Load()) != region.Ejected {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if region.State(h.state.Load()) != region.Ejected || h.probing || now.Before(h.nextProbe) {
		return false
	}
	h.probing = true
	return true
}

// ProbeResult reports a probe claimed by [Health.ProbeDue]. A success puts
// the server on probation; a failure schedules the next probe later.
func (h *Health) ProbeResult(now time.Time, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.probing = false
	if region.State(h.state.Load()) != region.Ejected {
		return
	}
	if ok {
		h.consec.Store(0)
		h.probationOK = 0
		h.state.Store(int32(region.Probation))
		return
	}
	h.nextProbe = now.Add(h.backoffLocked())
	h.backoffs++
}

package region

import "time"

// HealthConfig tunes ejection and probation. The zero value means the
// defaults, which aim at the bounds in docs/ARCHITECTURE.md#hedging: a dead server ejected
// within about 100 ms, a recovered one back within about 200 ms.
type HealthConfig struct {
	// FailureThreshold is how many failures in a row eject a server.
	// Default: 3.
	FailureThreshold int
	// ProbeBase is the wait between an ejection and the first probe; it
	// doubles with each failed probe. Default: 25ms.
	ProbeBase time.Duration
	// ProbeMax caps the wait between probes. Default: 100ms.
	ProbeMax time.Duration
	// ProbationSuccesses is how many successes in a row end probation.
	// Default: 5.
	ProbationSuccesses int
	// SketchSlots and SketchSlotWidth size the latency window.
	// Default: 6 slots of 5s (a 30 s window).
	SketchSlots     int
	SketchSlotWidth time.Duration
}

// State is a server's health state.
type State int32

// The health states.
const (
	Healthy   State = iota // takes traffic
	Ejected                // takes only probes (unless nothing else is left)
	Probation              // takes traffic; one failure ejects it again
)

func (s State) String() string {
	switch s {
	case Healthy:
		return "healthy"
	case Ejected:
		return "ejected"
	case Probation:
		return "probation"
	}
	return "unknown"
}

package aca

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers branch on them with [errors.Is]; the messages of
// the errors that wrap them add detail but are not part of the API.
var (
	// ErrNoActiveRegion reports that no active region is known: the client
	// has not yet seen a valid state. Writes and offline reads refuse with
	// it rather than guess (DESIGN.md §5).
	ErrNoActiveRegion = errors.New("aca: no active region is known")

	// ErrClosed is returned by calls on a [Client] after [Client.Close].
	ErrClosed = errors.New("aca: client is closed")

	// ErrInvalidState reports a body that is not a valid ACA state: not
	// JSON, not an object, a missing or empty "active", active equal to
	// secondary, a bad epoch, or a body over [MaxBodyBytes]. Every error
	// from [ParseState] wraps it.
	ErrInvalidState = errors.New("aca: invalid state")

	// ErrBodyTooLarge reports a body over [MaxBodyBytes]. Errors that wrap
	// it also wrap [ErrInvalidState].
	ErrBodyTooLarge = errors.New("aca: body too large")

	// ErrInvalidConfig reports a [Config], [WatchdogConfig] or option that
	// [New], [NewWatchdog] or [NewHandler] refuses.
	ErrInvalidConfig = errors.New("aca: invalid config")

	// ErrEndpoint reports that one poll of one endpoint failed: a transport
	// error, a timeout, a status other than 2xx or 304, or an invalid body.
	// See [EndpointError] for the details.
	ErrEndpoint = errors.New("aca: endpoint poll failed")

	// ErrAllEndpointsFailed reports a polling round in which no endpoint
	// answered with a valid state. The client keeps its last state (static
	// stability); see [Client.Staleness].
	ErrAllEndpointsFailed = errors.New("aca: every endpoint failed")

	// ErrNoMajority reports a polling round in which the endpoints that
	// answered disagreed and no state had more than half of the answers. The
	// client keeps its current state rather than follow one side.
	ErrNoMajority = errors.New("aca: endpoints disagree and no state has a majority")

	// ErrOlderEpoch reports a polling round whose majority state has an
	// older epoch than the current one. The client never goes back.
	ErrOlderEpoch = errors.New("aca: majority state has an older epoch than the current state")

	// ErrStale reports that the last confirmed state is older than the
	// caller's bound: writes and offline reads refuse with it instead of
	// trusting an old answer. See [Client.Staleness] for how age is measured.
	ErrStale = errors.New("aca: the last confirmed state is too old")

	// ErrWatchdogRunning is returned by [Watchdog.Run] when another Run of
	// the same Watchdog is under way: two would defeat the fencing.
	ErrWatchdogRunning = errors.New("aca: watchdog is already running")
)

// EndpointError is the failure of one poll of one endpoint. Endpoint is the
// URL without user info or query, so it is safe to log.
type EndpointError struct {
	Endpoint string
	// Status is the HTTP status, or 0 when no response was read.
	Status int
	Err    error
}

func (e *EndpointError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("aca: poll %s: status %d: %v", e.Endpoint, e.Status, e.Err)
	}
	return fmt.Sprintf("aca: poll %s: %v", e.Endpoint, e.Err)
}

// Unwrap returns both the cause and [ErrEndpoint], so that errors.Is works
// for either.
func (e *EndpointError) Unwrap() []error { return []error{ErrEndpoint, e.Err} }

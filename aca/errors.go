package aca

import (
	"errors"
	"fmt"

	"github.com/tandemfs/tandem/internal/httpx"
)

// Sentinel errors. Callers branch on them with [errors.Is]; the messages of
// the errors that wrap them add detail but are not part of the API.
var (
	// ErrNoActiveRegion reports that no active region is known: the client
	// has not yet seen a confirmed state. Writes and offline reads refuse
	// with it rather than guess (docs/aca.md, "Who follows the ACA"). It is
	// defined here once; the metadata, offline and featurestore packages
	// return errors that match it with errors.Is.
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
	// answered with a valid state (a refused redirect counts as a failure). The client keeps its last state (static
	// stability); see [Client.Staleness].
	ErrAllEndpointsFailed = errors.New("aca: every endpoint failed")

	// ErrNoMajority reports a polling round in which no state was reported
	// by more than half of the configured endpoints, because they disagreed
	// or too few answered (one answer of three is not a quorum). The client
	// keeps its current state, unconfirmed, rather than follow one side;
	// its staleness grows.
	ErrNoMajority = errors.New("aca: no state has a quorum of the configured endpoints")

	// ErrOlderEpoch reports a polling round whose quorum state has an older
	// epoch than the current one. The client never goes back; docs/aca.md
	// ("Epochs") says how an operator resets epochs.
	ErrOlderEpoch = errors.New("aca: the quorum state has an older epoch than the current state")

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

// RedirectError reports a redirect that the client refused to follow: an
// ACA endpoint answered with a 3xx, and the client never follows one (see
// internal/httpx for why). From and To are the endpoint and the Location it
// pointed to, without user info or query. It arrives wrapped in an
// [*EndpointError]; find it with errors.As. The metadata client returns the
// same type, so one errors.As matches both.
type RedirectError = httpx.RedirectError

package metadata

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/region"
)

// Sentinels callers branch on with errors.Is. Errors from the Client wrap
// them, usually inside an *APIError or a *RegionError.
var (
	// ErrNotFound: the project, feature store or feature view does not exist
	// (HTTP 404).
	ErrNotFound = errors.New("metadata: not found")
	// ErrUnauthorized: the API key was refused (HTTP 401 or 403), e.g. it
	// expired or lacks the feature store scope.
	ErrUnauthorized = errors.New("metadata: unauthorized: check that Config.APIKey is valid, not expired, and has the featurestore scope")
	// ErrInvalidQuery: the feature view's query is no longer valid
	// (Hopsworks error 270009), e.g. a feature group it reads was deleted.
	ErrInvalidQuery = errors.New("metadata: the feature view's query is no longer valid (270009): recreate the feature view")
	// ErrServer: Hopsworks answered with a 5xx.
	ErrServer = errors.New("metadata: server error")
	// ErrReadOnly: a region refused a write because it is passive
	// (read-only). The Client refreshes the ACA state and retries once on
	// the new active region before it returns this.
	ErrReadOnly = errors.New("metadata: the region refused the write as read-only (passive)")
	// ErrUnavailable: the region could not be reached, or it did not answer
	// within Config.Timeout.
	ErrUnavailable = errors.New("metadata: region unavailable")
	// ErrBodyTooLarge: a response body was larger than Config.MaxBodyBytes.
	ErrBodyTooLarge = errors.New("metadata: response body too large: raise Config.MaxBodyBytes if this view is really that big")
	// ErrMalformed: a response body was not the JSON Hopsworks sends.
	ErrMalformed = errors.New("metadata: malformed response from Hopsworks")
	// ErrNoActiveRegion: a write or an active-region read was asked for
	// while no region is known to be active. The Client never guesses.
	// errors.Is also matches it against aca.ErrNoActiveRegion.
	ErrNoActiveRegion error = noActiveRegion{}
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("metadata: client closed")
	// ErrInvalidArgument: a call's arguments or the Config are invalid.
	ErrInvalidArgument = errors.New("metadata: invalid argument")
)

// noActiveRegion is ErrNoActiveRegion: one sentinel that also answers to
// aca.ErrNoActiveRegion, so callers may test for either.
type noActiveRegion struct{}

func (noActiveRegion) Error() string {
	return "metadata: no active region known: check the ACA endpoints (and that WithActiveSource was given)"
}

func (noActiveRegion) Is(target error) bool { return target == aca.ErrNoActiveRegion }

// Hopsworks error codes that matter to Tandem.
const (
	// CodeQueryNotValid is Hopsworks' "query no longer valid" code for feature
	// views whose feature groups changed or were deleted.
	CodeQueryNotValid = 270009
)

// APIError is an error answer (non-2xx) from Hopsworks REST.
//
// Code, Msg and UsrMsg come from the Hopsworks error JSON (errorCode,
// errorMsg, usrMsg); Code is 0 when the body was not that JSON. Unwrap
// returns the sentinels the answer maps to (ErrNotFound, ErrUnauthorized,
// ErrInvalidQuery, ErrServer, ErrReadOnly).
type APIError struct {
	Region region.ID
	Op     string
	Status int
	Code   int
	Msg    string
	UsrMsg string

	write bool // the request was a write; only writes can be refused as read-only
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "metadata: %s in region %s: HTTP %d", e.Op, e.Region, e.Status)
	if e.Code != 0 {
		fmt.Fprintf(&b, ", error %d", e.Code)
	}
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	if e.UsrMsg != "" && e.UsrMsg != e.Msg {
		b.WriteString(" (")
		b.WriteString(e.UsrMsg)
		b.WriteString(")")
	}
	if hint := e.hint(); hint != "" {
		b.WriteString(": ")
		b.WriteString(hint)
	}
	return b.String()
}

func (e *APIError) hint() string {
	switch {
	case e.Code == CodeQueryNotValid:
		return "recreate the feature view; a feature group it reads changed or was deleted"
	case e.readOnly():
		return "the region is passive; writes go to the active region"
	case e.Status == http.StatusNotFound:
		return "check the project, feature view name and version"
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return "check that Config.APIKey is valid and not expired"
	case e.Status >= 500:
		return "Hopsworks failed; the call may be retried"
	}
	return ""
}

func (e *APIError) readOnly() bool {
	if !e.write {
		return false
	}
	if e.Status == http.StatusServiceUnavailable {
		return true
	}
	m := strings.ToLower(e.Msg + " " + e.UsrMsg)
	return strings.Contains(m, "read-only") || strings.Contains(m, "read only") || strings.Contains(m, "passive")
}

// Unwrap returns the sentinels this answer maps to.
func (e *APIError) Unwrap() []error {
	var errs []error
	switch {
	case e.Status == http.StatusNotFound:
		errs = append(errs, ErrNotFound)
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		errs = append(errs, ErrUnauthorized)
	case e.Status >= 500:
		errs = append(errs, ErrServer)
	}
	if e.Code == CodeQueryNotValid {
		errs = append(errs, ErrInvalidQuery)
	}
	if e.readOnly() {
		errs = append(errs, ErrReadOnly)
	}
	return errs
}

// RegionError is a failure that is not an HTTP answer: the region could not
// be reached (ErrUnavailable), or its answer was too large (ErrBodyTooLarge)
// or malformed (ErrMalformed). Err keeps the cause (e.g. a *url.Error).
type RegionError struct {
	Region region.ID
	Op     string
	Err    error
}

func (e *RegionError) Error() string {
	return fmt.Sprintf("metadata: %s in region %s: %v", e.Op, e.Region, e.Err)
}

func (e *RegionError) Unwrap() error { return e.Err }

// IsRetryable reports whether err may succeed if the call is made again
// later: server errors, unreachable regions, read-only refusals and a
// missing active region (the ACA may learn one). Not found, unauthorized,
// invalid queries, malformed or oversized bodies, bad arguments, a closed
// client and the caller's own cancellation are not retryable.
//
// A write that failed with ErrUnavailable may have been applied: check
// before retrying a create.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	switch {
	case errors.Is(err, ErrClosed), errors.Is(err, ErrInvalidArgument),
		errors.Is(err, ErrNotFound), errors.Is(err, ErrUnauthorized),
		errors.Is(err, ErrInvalidQuery), errors.Is(err, ErrMalformed),
		errors.Is(err, ErrBodyTooLarge):
		return false
	case errors.Is(err, ErrServer), errors.Is(err, ErrUnavailable),
		errors.Is(err, ErrReadOnly), errors.Is(err, ErrNoActiveRegion):
		return true
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests {
		return true
	}
	return false
}

// shouldFallback reports whether a read that failed in one region should be
// tried in another: only when the region is down or failing (transport
// error, timeout, 5xx), never for answers that would be the same elsewhere.
func shouldFallback(err error) bool {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrServer) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests
}

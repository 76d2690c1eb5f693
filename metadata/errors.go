package metadata

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/internal/httpx"
	"github.com/tandemfs/tandem/region"
)

// Sentinels callers branch on with errors.Is. Errors from the Client wrap
// them, usually inside an *APIError or a *RegionError. Which Hopsworks
// error code maps to which sentinel is in Codes (and docs/hopsworks.md).
//
// A missing active region is aca.ErrNoActiveRegion and a too-old ACA state
// is aca.ErrStale: the Client wraps the aca package's own sentinels.
var (
	// ErrNotFound: the project, feature store, feature view, storage
	// connector or variable does not exist. Hopsworks says so with an error
	// code (PROJECT_NOT_FOUND comes with HTTP 400, not 404); a 404 without
	// a Hopsworks code counts too.
	ErrNotFound = errors.New("metadata: not found")
	// ErrUnauthorized: the API key was refused (KEY_INVALID,
	// KEY_NOT_FOUND, a missing scope or role, or HTTP 401/403 without a
	// code), e.g. it was deleted or lacks the featurestore scope.
	ErrUnauthorized = errors.New("metadata: unauthorized: check that Config.APIKey is valid and has the featurestore scope")
	// ErrInvalidQuery: the feature view's query can no longer be built
	// because a feature group it reads was deleted: FEATUREGROUP_NOT_FOUND
	// (270009, HTTP 404) on the view, as hsfs reads it, or
	// QUERY_FAILED_FG_DELETED (270113, HTTP 400) on its statements.
	ErrInvalidQuery = errors.New("metadata: the feature view's query is no longer valid (a feature group was deleted): recreate the feature view")
	// ErrOnlineDisabled: the feature view reads a feature group that is
	// not online-enabled, or the cluster has no online feature store
	// (FEATURESTORE_ONLINE_NOT_ENABLED, 270064, HTTP 400).
	ErrOnlineDisabled = errors.New("metadata: online feature store not enabled for this feature view or cluster")
	// ErrAlreadyExists: a create named a feature view version that exists
	// (FEATURE_VIEW_ALREADY_EXISTS, 270179, HTTP 400).
	ErrAlreadyExists = errors.New("metadata: already exists")
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
	// ErrMalformed: a response body was not the JSON Hopsworks sends, or
	// lacked what Tandem needs.
	ErrMalformed = errors.New("metadata: malformed response from Hopsworks")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("metadata: client closed")
	// ErrInvalidArgument: a call's arguments or the Config are invalid.
	ErrInvalidArgument = errors.New("metadata: invalid argument")
)

// RedirectError is a redirect the Client refused to follow: it never
// follows one (a 3xx could carry the API key or a write to a host nobody
// configured). It is the same type as the other Tandem clients return.
type RedirectError = httpx.RedirectError

// Hopsworks error codes that matter to serving (the rows of Codes), from RESTCodes.java
// (hopsworks-rest-utils/src/main/java/io/hops/hopsworks/restutils/RESTCodes.java
// in logicalclocks/hopsworks): each enum adds its range to its number.
const (
	codeProjectNotFound          = 150004 // ProjectErrorCode.PROJECT_NOT_FOUND, HTTP 400
	codeProjectRoleForbidden     = 150068 // ProjectErrorCode.PROJECT_ROLE_FORBIDDEN, HTTP 403
	codeVariableNotFound         = 100050 // ServiceErrorCode.VARIABLE_NOT_FOUND, HTTP 404
	codeNotAuthorizedToAccess    = 120011 // GenericErrorCode.NOT_AUTHORIZED_TO_ACCESS, HTTP 400
	codeNoRoleFound              = 160000 // UserErrorCode.NO_ROLE_FOUND, HTTP 401
	codeFeatureStoreNotFound     = 270008 // FeaturestoreErrorCode.FEATURESTORE_NOT_FOUND, HTTP 404
	codeFeatureGroupNotFound     = 270009 // FeaturestoreErrorCode.FEATUREGROUP_NOT_FOUND, HTTP 404
	codeConnectorNotFound        = 270042 // FeaturestoreErrorCode.CONNECTOR_NOT_FOUND, HTTP 404
	codeOnlineNotEnabled         = 270064 // FeaturestoreErrorCode.FEATURESTORE_ONLINE_NOT_ENABLED, HTTP 400
	codeQueryFailedFGDeleted     = 270113 // FeaturestoreErrorCode.QUERY_FAILED_FG_DELETED, HTTP 400
	codeOnlineConnectorNotFound  = 270120 // FeaturestoreErrorCode.ONLINE_FEATURESTORE_JDBC_CONNECTOR_NOT_FOUND, HTTP 500
	codeFeatureViewAlreadyExists = 270179 // FeaturestoreErrorCode.FEATURE_VIEW_ALREADY_EXISTS, HTTP 400
	codeFeatureViewNotFound      = 270181 // FeaturestoreErrorCode.FEATURE_VIEW_NOT_FOUND, HTTP 404
	codeKeyNotFound              = 320002 // ApiKeyErrorCode.KEY_NOT_FOUND, HTTP 401
	codeKeyRoleControl           = 320003 // ApiKeyErrorCode.KEY_ROLE_CONTROL_EXCEPTION, HTTP 403
	codeKeyScopeControl          = 320004 // ApiKeyErrorCode.KEY_SCOPE_CONTROL_EXCEPTION, HTTP 403
	codeKeyInvalid               = 320012 // ApiKeyErrorCode.KEY_INVALID, HTTP 401
	codeKeyNotFoundInDatabase    = 320013 // ApiKeyErrorCode.KEY_NOT_FOUND_IN_DATABASE, HTTP 401
)

// Code is one row of the error-code table: a Hopsworks error code, the
// HTTP status the server sends it with, and the sentinel it maps to.
type Code struct {
	Code     int
	Name     string // the RESTCodes enum constant
	Status   int
	Sentinel error
}

// Codes is the error-code table (see docs/hopsworks.md). An answer whose
// code is here maps to its sentinel whatever its HTTP status; other
// answers map by status (404 ErrNotFound, 401/403 ErrUnauthorized, 5xx
// ErrServer). The slice is a copy; changing it changes nothing.
func Codes() []Code { return append([]Code(nil), codeTable...) }

var codeTable = []Code{
	{codeProjectNotFound, "PROJECT_NOT_FOUND", http.StatusBadRequest, ErrNotFound},
	{codeProjectRoleForbidden, "PROJECT_ROLE_FORBIDDEN", http.StatusForbidden, ErrUnauthorized},
	{codeVariableNotFound, "VARIABLE_NOT_FOUND", http.StatusNotFound, ErrNotFound},
	{codeNotAuthorizedToAccess, "NOT_AUTHORIZED_TO_ACCESS", http.StatusBadRequest, ErrUnauthorized},
	{codeNoRoleFound, "NO_ROLE_FOUND", http.StatusUnauthorized, ErrUnauthorized},
	{codeFeatureStoreNotFound, "FEATURESTORE_NOT_FOUND", http.StatusNotFound, ErrNotFound},
	{codeFeatureGroupNotFound, "FEATUREGROUP_NOT_FOUND", http.StatusNotFound, ErrInvalidQuery},
	{codeConnectorNotFound, "CONNECTOR_NOT_FOUND", http.StatusNotFound, ErrNotFound},
	{codeOnlineNotEnabled, "FEATURESTORE_ONLINE_NOT_ENABLED", http.StatusBadRequest, ErrOnlineDisabled},
	{codeQueryFailedFGDeleted, "QUERY_FAILED_FG_DELETED", http.StatusBadRequest, ErrInvalidQuery},
	{codeOnlineConnectorNotFound, "ONLINE_FEATURESTORE_JDBC_CONNECTOR_NOT_FOUND", http.StatusInternalServerError, ErrNotFound},
	{codeFeatureViewAlreadyExists, "FEATURE_VIEW_ALREADY_EXISTS", http.StatusBadRequest, ErrAlreadyExists},
	{codeFeatureViewNotFound, "FEATURE_VIEW_NOT_FOUND", http.StatusNotFound, ErrNotFound},
	{codeKeyNotFound, "KEY_NOT_FOUND", http.StatusUnauthorized, ErrUnauthorized},
	{codeKeyRoleControl, "KEY_ROLE_CONTROL_EXCEPTION", http.StatusForbidden, ErrUnauthorized},
	{codeKeyScopeControl, "KEY_SCOPE_CONTROL_EXCEPTION", http.StatusForbidden, ErrUnauthorized},
	{codeKeyInvalid, "KEY_INVALID", http.StatusUnauthorized, ErrUnauthorized},
	{codeKeyNotFoundInDatabase, "KEY_NOT_FOUND_IN_DATABASE", http.StatusUnauthorized, ErrUnauthorized},
}

func codeSentinel(code int) (error, bool) {
	for _, c := range codeTable {
		if c.Code == code {
			return c.Sentinel, true
		}
	}
	return nil, false
}

// APIError is an error answer (non-2xx) from Hopsworks REST.
//
// Code, Msg and UsrMsg come from the Hopsworks error JSON (errorCode,
// errorMsg, usrMsg of RESTApiJsonResponse); Code is 0 when the body was
// not that JSON. Unwrap returns the sentinels the answer maps to (see
// Codes), and ErrReadOnly for a write a passive region refused.
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
	switch s := e.sentinel(); {
	case e.readOnly():
		return "the region is passive; writes go to the active region"
	case s == ErrInvalidQuery:
		return "recreate the feature view; a feature group it reads was deleted"
	case s == ErrOnlineDisabled:
		return "every feature group of the view must be online-enabled"
	case s == ErrNotFound:
		return "check the project, feature view name and version"
	case s == ErrUnauthorized:
		return "check that Config.APIKey is valid and has the featurestore scope"
	case s == ErrServer:
		return "Hopsworks failed; the call may be retried"
	}
	return ""
}

// sentinel is the sentinel of the code table, or the one the status
// implies when the code is not in the table.
func (e *APIError) sentinel() error {
	if s, ok := codeSentinel(e.Code); ok {
		return s
	}
	switch {
	case e.Status == http.StatusNotFound:
		return ErrNotFound
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return ErrUnauthorized
	case e.Status >= 500:
		return ErrServer
	}
	return nil
}

// readOnly: Hopsworks has no public error code for a passive region, so a
// write refused with 503, or with a message saying read-only or passive,
// counts as refused by a passive region.
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
	if s := e.sentinel(); s != nil {
		errs = append(errs, s)
	}
	if e.Status >= 500 && !errors.Is(e.sentinel(), ErrServer) {
		errs = append(errs, ErrServer)
	}
	if e.readOnly() {
		errs = append(errs, ErrReadOnly)
	}
	return errs
}

// RegionError is a failure in one region that is not an HTTP error answer:
// the region could not be reached (ErrUnavailable), a redirect was refused
// (*RedirectError), or its answer was too large (ErrBodyTooLarge) or
// malformed (ErrMalformed). Err keeps the cause.
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
// later: server errors, unreachable regions, read-only refusals, a missing
// active region (the ACA may learn one) and a stale ACA state. Not found,
// unauthorized, invalid queries, refused redirects, malformed or oversized
// bodies, bad arguments, a closed client and the caller's own cancellation
// are not retryable.
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
		errors.Is(err, ErrInvalidQuery), errors.Is(err, ErrOnlineDisabled),
		errors.Is(err, ErrAlreadyExists), errors.Is(err, ErrMalformed),
		errors.Is(err, ErrBodyTooLarge), httpx.IsRedirect(err):
		return false
	case errors.Is(err, ErrServer), errors.Is(err, ErrUnavailable),
		errors.Is(err, ErrReadOnly), errors.Is(err, aca.ErrNoActiveRegion),
		errors.Is(err, aca.ErrStale):
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
// error, timeout, 5xx, 429), never for answers that would be the same
// elsewhere, nor for a refused redirect.
func shouldFallback(err error) bool {
	if httpx.IsRedirect(err) {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrServer) {
		return true
	}
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests
}

package offline

import (
	"errors"
	"fmt"

	"github.com/tandemfs/tandem/region"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors. Branch on them with [errors.Is]; the messages of the
// errors that wrap them add detail but are not part of the API.
var (
	// ErrClosed is returned by calls on a [Client] after [Client.Close],
	// and by a [Reader] whose Client was closed under it.
	ErrClosed = errors.New("offline: client is closed")

	// ErrNoEndpoint reports that the active region is not in
	// [Config.Regions].
	ErrNoEndpoint = errors.New("offline: no query service endpoint for the active region")

	// ErrRegionChanged reports a read that a flip of the active region
	// interrupted. Every [*FlipError] matches it. It is retryable.
	ErrRegionChanged = errors.New("offline: active region changed during the read")

	// ErrBatchQuery reports that the [QuerySource] failed to give a batch
	// query; its own error stays reachable with errors.Is and errors.As.
	ErrBatchQuery = errors.New("offline: batch query failed")

	// ErrBadQuery reports a batch query with an empty payload or
	// signature, or one the query service refused as malformed
	// (InvalidArgument).
	ErrBadQuery = errors.New("offline: malformed batch query")

	// ErrNotFound reports a feature view, version or training dataset the
	// query service does not know (NotFound).
	ErrNotFound = errors.New("offline: not found")

	// ErrUnauthorized reports a call the query service refused: a bad or
	// missing hopsworks-signature, or credentials it does not accept
	// (PermissionDenied, Unauthenticated).
	ErrUnauthorized = errors.New("offline: refused by the query service")

	// ErrUnavailable reports a query service that could not be reached or
	// is not ready (Unavailable). It is retryable.
	ErrUnavailable = errors.New("offline: query service unavailable")

	// ErrTimeout reports a call that ran past one of the Config timeouts
	// (DeadlineExceeded).
	ErrTimeout = errors.New("offline: query service call timed out")

	// ErrServer reports any other failure status from the query service.
	ErrServer = errors.New("offline: query service failed")

	// ErrUnhealthy is wrapped by every error of [Client.Healthcheck] that
	// comes from the query service (not from ctx, the ACA or Close).
	ErrUnhealthy = errors.New("offline: query service unhealthy")

	// ErrNoQuerySource is returned by ReadBatch on a Client built without
	// [WithQuerySource].
	ErrNoQuerySource = errors.New("offline: no QuerySource; build the Client WithQuerySource to read feature views")

	// ErrInvalidArgument reports a read whose arguments cannot be right: an
	// empty feature view name or path, a negative version, end before
	// start.
	ErrInvalidArgument = errors.New("offline: invalid argument")

	// ErrInvalidConfig reports a [Config] or option that [New] refuses.
	ErrInvalidConfig = errors.New("offline: invalid config")
)

// RegionError is the failure of one operation against one region's query
// service or metadata. Err wraps the sentinel the failure maps to
// ([ErrNotFound], [ErrUnauthorized], [ErrBadQuery], [ErrUnavailable],
// [ErrTimeout], [ErrServer], [ErrBatchQuery], [ErrUnhealthy] or
// [ErrClosed]) and its cause, so errors.Is sees both through Unwrap. The
// gRPC status, if any, stays reachable: status.FromError(err) and
// status.Code(err) see it through the wrap.
type RegionError struct {
	Region region.ID
	// Op is "healthcheck", "batch query", "certificates",
	// "GetFlightInfo", "DoGet" or "connect".
	Op  string
	Err error
}

func (e *RegionError) Error() string {
	return fmt.Sprintf("offline: %s in region %q: %v%s", e.Op, e.Region, e.Err, hint(e.Err))
}

// Unwrap returns Err.
func (e *RegionError) Unwrap() error { return e.Err }

// kinded is a cause that also matches the sentinel it maps to; its message
// is the cause's, so the sentinel's text does not repeat in every error.
type kinded struct{ kind, cause error }

func (k *kinded) Error() string   { return k.cause.Error() }
func (k *kinded) Unwrap() []error { return []error{k.kind, k.cause} }

// withKind makes cause match kind too; a nil kind leaves it as it is.
func withKind(kind, cause error) error {
	if kind == nil {
		return cause
	}
	return &kinded{kind: kind, cause: cause}
}

func hint(err error) string {
	switch {
	case errors.Is(err, ErrUnauthorized):
		return " (the signature is issued per region and per query: fetch a fresh batch query from the active region; for a training dataset, check RegionConfig.Certificates)"
	case errors.Is(err, ErrNotFound):
		return " (check the feature view name and version, or the training dataset path)"
	case errors.Is(err, ErrUnavailable):
		return " (the query service may be restarting or failing over; the read is retryable)"
	case errors.Is(err, ErrTimeout):
		return " (raise Config.InfoTimeout or Config.ReadTimeout if the query is just slow)"
	case errors.Is(err, ErrBadQuery):
		return " (the batch query is not one the query service accepts; check the metadata service)"
	}
	return ""
}

// FlipError reports a read that a change of the active region interrupted:
// the ACA named another region (or none) while the read was under way, so
// its rows cannot be trusted to be complete or current. Read again: the new
// read goes to the new active region. [Client.ReadBatchAll] and
// [WithRetry] do that for you.
//
// FlipError matches [ErrRegionChanged]; [IsRetryable] reports true for it.
type FlipError struct {
	From region.ID // the region the read went to
	To   region.ID // the active region now, "" if none is known
	Op   string
	// Err is what the read saw when the flip was noticed: nil when it was
	// noticed between two record batches, else the stream's error.
	Err error
}

func (e *FlipError) Error() string {
	to := "(none)"
	if e.To != "" {
		to = fmt.Sprintf("%q", e.To)
	}
	msg := fmt.Sprintf("offline: %s: active region changed from %q to %s during the read; read again to follow it", e.Op, e.From, to)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the stream's error, if any.
func (e *FlipError) Unwrap() error { return e.Err }

// Is reports whether target is ErrRegionChanged.
func (e *FlipError) Is(target error) bool { return target == ErrRegionChanged }

// IsRetryable reports whether running the same read again may succeed
// without any change by the caller: the active region changed
// ([ErrRegionChanged]) or the query service was unavailable
// ([ErrUnavailable]). As in hsfs, nothing else is retried: not timeouts,
// refusals or server errors, and never a cancelled ctx.
func IsRetryable(err error) bool {
	return errors.Is(err, ErrRegionChanged) || errors.Is(err, ErrUnavailable)
}

// kindOf maps a gRPC status code to the sentinel a RegionError matches.
func kindOf(err error) error {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return ErrServer
	}
	switch se.GRPCStatus().Code() {
	case codes.OK, codes.Canceled:
		return nil
	case codes.Unknown:
		if needsRegistration(err) {
			return ErrUnauthorized
		}
	case codes.NotFound:
		return ErrNotFound
	case codes.PermissionDenied, codes.Unauthenticated:
		return ErrUnauthorized
	case codes.InvalidArgument:
		return ErrBadQuery
	case codes.Unavailable:
		return ErrUnavailable
	case codes.DeadlineExceeded:
		return ErrTimeout
	}
	return ErrServer
}

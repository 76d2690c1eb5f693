package featurestore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/metadata"
	"github.com/tandemfs/tandem/online"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrClosed is returned by calls on a closed Client, and on the
	// FeatureView handles of a closed Client.
	ErrClosed = errors.New("featurestore: client is closed")
	// ErrInvalidConfig wraps every configuration error of New.
	ErrInvalidConfig = errors.New("featurestore: invalid config")
	// ErrInvalidPlan reports metadata that cannot be served: a prepared
	// statement that is not a single read-only SELECT, a parameter without
	// a serving key, a feature no statement selects. Recreating the
	// feature view usually fixes it.
	ErrInvalidPlan = errors.New("featurestore: the feature view's serving metadata cannot be served")

	// ErrUnknownServingKey: an entry names a key that is not a serving key
	// of the feature view. See KeyError.Valid for the keys it accepts.
	ErrUnknownServingKey = errors.New("featurestore: unknown serving key")
	// ErrMissingServingKey: an entry lacks a serving key the feature view
	// needs.
	ErrMissingServingKey = errors.New("featurestore: missing serving key")
	// ErrPartialCompositeKey: an entry gives part of a feature group's
	// composite key; give all of its columns or none.
	ErrPartialCompositeKey = errors.New("featurestore: partial composite key: give every column of the feature group's key, or none")
	// ErrKeyType: an entry's value has a Go type that does not fit the key
	// column (e.g. a string for a bigint), or is nil.
	ErrKeyType = errors.New("featurestore: wrong type for a serving key")
	// ErrUnknownFeature: a passed feature is not a feature of the view.
	ErrUnknownFeature = errors.New("featurestore: passed feature is not a feature of the view")

	// ErrUnsupported: the view needs something Tandem does not read yet,
	// such as an embedding feature group (hsfs reads those from the vector
	// database, not from RonDB). It also matches errors.ErrUnsupported;
	// the *UnsupportedError names the feature group.
	ErrUnsupported = fmt.Errorf("featurestore: unsupported: %w", errors.ErrUnsupported)

	// Errors of the packages that own them, re-exported so callers need
	// not import those packages; each is the same value there and here.
	ErrNotFound     = metadata.ErrNotFound
	ErrUnauthorized = metadata.ErrUnauthorized
	ErrInvalidQuery = metadata.ErrInvalidQuery
	ErrMalformed    = metadata.ErrMalformed
	ErrBodyTooLarge = metadata.ErrBodyTooLarge
	// ErrNoActiveRegion: a write with no active region known (the ACA's
	// sentinel; metadata's errors match it too).
	ErrNoActiveRegion = aca.ErrNoActiveRegion
	// ErrUnavailable: a region's metadata could not be reached, or no
	// server of any region could serve an online read (every attempt
	// failed with a transient error: a total online outage).
	ErrUnavailable = metadata.ErrUnavailable

	// ErrUnknownRegion: a Pin names a region the online store does not
	// know.
	ErrUnknownRegion = online.ErrUnknownRegion
)

// KeyError is a bad entry: an unknown, missing or mistyped serving key.
// It unwraps to one of ErrUnknownServingKey, ErrMissingServingKey,
// ErrPartialCompositeKey or ErrKeyType.
type KeyError struct {
	// FeatureView and Version name the view.
	FeatureView string
	Version     int
	// Key is the entry key at fault (for a missing key, the name it would
	// be given by).
	Key string
	// FeatureGroup is the feature group the key belongs to, if known.
	FeatureGroup string
	// Entry is the index of the entry in a batch, or -1 for a single vector.
	Entry int
	// Want is the column's type, and Got the Go type given (ErrKeyType).
	Want, Got string
	// Valid lists the keys the view accepts (ErrUnknownServingKey).
	Valid []string
	// Err is the sentinel.
	Err error
}

func (e *KeyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "featurestore: feature view %s v%d", e.FeatureView, e.Version)
	if e.Entry >= 0 {
		fmt.Fprintf(&b, ", entry %d", e.Entry)
	}
	fmt.Fprintf(&b, ": key %q", e.Key)
	if e.FeatureGroup != "" {
		fmt.Fprintf(&b, " (feature group %s)", e.FeatureGroup)
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "featurestore: "))
	switch {
	case errors.Is(e.Err, ErrKeyType):
		fmt.Fprintf(&b, ": the column is %s, got %s", e.Want, e.Got)
	case len(e.Valid) > 0:
		fmt.Fprintf(&b, "; the view accepts %s", strings.Join(e.Valid, ", "))
	}
	return b.String()
}

func (e *KeyError) Unwrap() error { return e.Err }

// UnsupportedError is a feature view that needs what Tandem does not read
// yet. It unwraps to ErrUnsupported (and so to errors.ErrUnsupported).
type UnsupportedError struct {
	// FeatureView and Version name the view.
	FeatureView string
	Version     int
	// FeatureGroup is the feature group Tandem cannot read.
	FeatureGroup string
	// Reason says why.
	Reason string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("featurestore: feature view %s v%d: feature group %s: %s", e.FeatureView, e.Version, e.FeatureGroup, e.Reason)
}

func (e *UnsupportedError) Unwrap() error { return ErrUnsupported }

// IsRetryable reports whether err may pass on a later try or elsewhere:
// an online read that every server failed transiently (online.IsRetryable)
// or a metadata request that failed transiently (metadata.IsRetryable:
// unreachable regions, timeouts, 5xx, 429). It is false for bad entries,
// invalid plans, unknown views, refused credentials, a closed Client and
// the caller's own cancellation.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) {
		return false
	}
	return errors.Is(err, ErrUnavailable) || online.IsRetryable(err) || metadata.IsRetryable(err)
}

// readError is an online read that failed: it names the view, keeps the
// online error (and the driver's) reachable, and matches ErrUnavailable
// when the failure was transient everywhere.
type readError struct {
	view        string
	version     int
	err         error
	unavailable bool
}

func (e *readError) Error() string {
	return fmt.Sprintf("featurestore: reading feature view %s v%d: %v", e.view, e.version, e.err)
}

func (e *readError) Unwrap() []error {
	if e.unavailable {
		return []error{e.err, ErrUnavailable}
	}
	return []error{e.err}
}
